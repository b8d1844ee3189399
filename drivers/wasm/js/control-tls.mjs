// The control connection's TLS, with a way back to plain text (CCC, RFC
// 4217 §6). A Node TLSSocket cannot be taken off its socket, so it does not
// get the socket: it gets `wire`, a stream this file feeds with what the
// socket brings and whose output it writes to the socket. After CCC the
// socket's bytes are cut at TLS record boundaries: whole records go to TLS
// until the client speaks plain text (a byte that cannot start a record:
// no FTP command starts with 20..24), and everything from there on is the
// session's again. As drivers/backend/src/native/tls.rs does it
// (`ControlTls::receive_records`, `CCC_CLOSE_WAIT`).
import { Duplex } from 'node:stream';
import tls from 'node:tls';

/**
 * After CCC's `200`, how long the server waits for the client to start the
 * TLS closure before it sends its own close_notify: clients that close first
 * (lftp, Python's ftplib, curl `--ftp-ssl-ccc-mode active`) take a
 * close_notify arriving with the `200` for the end of the connection; curl's
 * default waits for the server's.
 */
export const CCC_CLOSE_WAIT_MS = 250;

/** Largest TLS record: header plus 2^14 bytes and expansion (RFC 8446 §5.2). */
const MAX_RECORD = 5 + 16384 + 256;

/** Whether `byte` can start a TLS record (content types 20..24). */
const startsRecord = (byte) => byte >= 20 && byte <= 24;

export class ControlTls {
  /**
   * TLS as server on the net.Socket `raw` with `secureContext`; `secure` is
   * the TLSSocket to read and write (its handshake starts at once). Until
   * `downgrade`, ending or destroying `secure` ends or destroys `raw`.
   */
  constructor(raw, secureContext) {
    this.raw = raw;
    /** 'tls', then after CCC 'downgrading', then 'plain' once handed back. */
    this.state = 'tls';
    /** After CCC: bytes of an incomplete record, or plain text not handed back yet. */
    this.partial = Buffer.alloc(0);
    /** Our close_notify: asked for (`secure.end()`), and handed to `raw`. */
    this.oursAsked = false;
    this.oursOut = false;
    /** The client's close_notify arrived: later records are dropped. */
    this.theirsSeen = false;
    /** Replies written while our close_notify is on its way: they follow it in plain text. */
    this.queued = [];
    /** `end()` during the closure: `raw` ends once our close_notify is out. */
    this.ending = false;
    this.timer = null;
    this.events = null;
    this.wire = new Duplex({
      read: () => {
        if (this.state === 'tls') raw.resume();
      },
      write: (chunk, _encoding, callback) => {
        if (raw.destroyed) return callback();
        if (raw.write(chunk)) callback();
        else raw.once('drain', () => callback());
      },
      // TLS has written everything it will (its close_notify last).
      final: (callback) => {
        if (this.state === 'tls') raw.end();
        else this.closureSent();
        callback();
      },
      destroy: (error, callback) => {
        if (this.state === 'tls') raw.destroy();
        else this.closureSent();
        callback(error);
      },
    });
    this.onRawData = (chunk) => this.fromRaw(chunk);
    this.onRawEnd = () => {
      if (this.state === 'tls') this.wire.push(null);
      else this.lost();
    };
    this.onRawClose = () => {
      if (this.state === 'tls') this.wire.destroy();
      else this.lost();
    };
    raw.on('data', this.onRawData);
    raw.on('end', this.onRawEnd);
    raw.on('close', this.onRawClose);
    this.secure = new tls.TLSSocket(this.wire, { isServer: true, secureContext });
    // A ClientHello already read and held by a paused socket flows now.
    raw.resume();
  }

  fromRaw(chunk) {
    if (this.state === 'tls') {
      // The TLS socket reads no faster than the session takes its input.
      if (!this.wire.push(chunk)) this.raw.pause();
      return;
    }
    this.partial = this.partial.length === 0 ? chunk : Buffer.concat([this.partial, chunk]);
    if (this.state === 'downgrading') this.records();
  }

  /** Writes reply bytes: under TLS until our close_notify is asked for, then in plain text after it. */
  write(data, callback) {
    if (this.state === 'tls' || !this.oursAsked) return this.secure.write(data, callback);
    if (this.oursOut) return this.raw.write(data, callback);
    this.queued.push([data, callback]);
    return true;
  }

  /** Ends the connection: close_notify (unless CCC sent it), then FIN. */
  end() {
    if (this.state === 'tls') {
      this.secure.end();
      return;
    }
    this.ending = true;
    this.sendOurs();
    if (this.oursOut) this.raw.end();
  }

  destroy() {
    clearTimeout(this.timer);
    this.secure.destroy();
    this.raw.destroy();
  }

  /**
   * CCC: its `200` is written to `secure`. The TLS closure starts; `events`:
   * `data(chunk)`: a command still sent under TLS; `plain(bytes)`: the
   * closure is over and the client speaks plain text (`bytes`, then `raw`'s
   * own data events, are the session's; `secure` is destroyed); `closed()`:
   * the client went away or broke TLS during the closure.
   */
  downgrade(events) {
    this.events = events;
    this.state = 'downgrading';
    this.secure.on('data', (chunk) => this.events.data(chunk));
    this.secure.on('end', () => {
      // The client's close_notify: ours answers it at once.
      this.theirsSeen = true;
      this.sendOurs();
    });
    // TLS broken during the closure (a record after the client's
    // close_notify): nothing more can be read under it, and the destroyed
    // socket writes nothing more; plain text still ends the closure.
    this.secure.on('error', () => {
      this.theirsSeen = true;
    });
    this.raw.resume();
    this.timer = setTimeout(() => this.sendOurs(), CCC_CLOSE_WAIT_MS);
    this.records();
  }

  /** Whole records to TLS, one at a time, until plain text starts. */
  records() {
    while (this.partial.length > 0) {
      if (!startsRecord(this.partial[0])) {
        // Plain text: the closure is over (or the client skipped its part).
        this.sendOurs();
        this.state = 'plain';
        this.handOver();
        return;
      }
      if (this.partial.length < 5) return;
      const length = 5 + this.partial.readUInt16BE(3);
      if (length > MAX_RECORD) {
        this.lost();
        return;
      }
      if (this.partial.length < length) return;
      const record = this.partial.subarray(0, length);
      this.partial = this.partial.subarray(length);
      // After the client's close_notify (an alert more): nothing to read in it.
      if (!this.theirsSeen && !this.wire.destroyed) this.wire.push(record);
    }
  }

  /** Our close_notify, once: `secure.end()` writes it, then the wire's final. */
  sendOurs() {
    if (this.oursAsked) return;
    this.oursAsked = true;
    clearTimeout(this.timer);
    this.secure.end();
  }

  /** Our close_notify is written to `raw` (or TLS is gone): plain text may follow it. */
  closureSent() {
    if (this.oursOut) return;
    this.oursAsked = true;
    this.oursOut = true;
    clearTimeout(this.timer);
    for (const [data, callback] of this.queued.splice(0)) this.raw.write(data, callback);
    if (this.ending) this.raw.end();
    this.handOver();
  }

  /** Plain text has come and our close_notify is out: the socket is the session's again. */
  handOver() {
    if (this.state !== 'plain' || !this.oursOut || this.events === null) return;
    const { plain } = this.events;
    this.events = null;
    this.raw.removeListener('data', this.onRawData);
    this.raw.removeListener('end', this.onRawEnd);
    this.raw.removeListener('close', this.onRawClose);
    this.secure.destroy();
    const rest = this.partial;
    this.partial = Buffer.alloc(0);
    plain(rest);
  }

  /** The client went away, or broke TLS, before the closure was over. */
  lost() {
    if (this.events === null) return;
    const { closed } = this.events;
    this.events = null;
    clearTimeout(this.timer);
    closed();
  }
}
