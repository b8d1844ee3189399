// One control connection: the host loop around a wasm Session. Bytes in,
// outputs polled until the session says `timeout` (arm a timer) or `closed`,
// every event answered by its id — now or when the I/O is done.
import dns from 'node:dns/promises';
import { startsWithProxyHeader } from './module.mjs';
import { ControlTls } from './control-tls.mjs';
import { PassiveListener } from './data.mjs';
import { runTransfer, failureCode, Steps } from './transfer.mjs';

const now = () => performance.now();

export class ControlConnection {
  /** `server` provides config, storage, login(user, password), newSecureContext(),
   *  requireTlsSessionReuse, idleTimeoutMs, passiveRange, log, and the set of open
   *  `sessions` with `sessionEnded(connection)` (for shutdown). `socket`: the TCP
   *  connection; on an implicit-TLS listener `tls` is its ControlTls (handshake done)
   *  and `secureContext` that handshake's; `release` frees the session's place (limits). */
  constructor(server, socket, { implicitTls = false, tls = null, secureContext = null, release = () => {}, client = null } = {}) {
    this.server = server;
    this.storage = server.storage;
    this.tlsContext = secureContext;
    /** The control channel's TLS (ControlTls) while it is on: replies go through it. */
    this.tls = tls;
    this.release = release;
    this.localAddress = socket.localAddress;
    // `client`: the real client a load balancer's PROXY header named; it
    // stands for the socket's peer (the balancer) everywhere.
    const peer = client ?? { address: socket.remoteAddress ?? '?', port: socket.remotePort };
    this.peerName = `${peer.address.includes(':') ? `[${peer.address}]` : peer.address}:${peer.port}`;
    this.controlPeer = peer.address;
    const local = { address: socket.localAddress, port: socket.localPort };
    // The Session class of the module server.config comes from.
    const { Session } = server.wasm;
    this.session = implicitTls
      ? Session.implicitTls(server.config, local, peer, now())
      : new Session(server.config, local, peer, now());
    if (client) this.session.setThroughBalancer();
    /** Nothing has come from the client yet (a PROXY header there is refused). */
    this.firstInput = true;
    this.timer = null;
    this.passive = null;
    this.transfer = null; // {id, controller}
    this.pumping = false;
    this.again = false;
    this.closed = false;
    this.upgrading = false;
    /** The server is stopping: 421 once no transfer runs. */
    this.stopping = false;
    this.lastWrite = Promise.resolve();
    this.onData = (chunk) => this.received(chunk);
    this.onEnd = () => this.peerClosed();
    this.onError = (error) => {
      this.log(`control connection error: ${error.message}`);
      this.peerClosed();
    };
    this.attach(tls ? tls.secure : socket);
    server.sessions.add(this);
    this.pump();
  }

  /** This connection's TLS context (its own session cache and ticket keys), made at first use. */
  get secureContext() {
    this.tlsContext ??= this.server.newSecureContext();
    return this.tlsContext;
  }

  /** The server stops: the session ends with 421 as soon as no transfer runs. */
  shutDown() {
    this.stopping = true;
    this.pump();
  }

  log(line) {
    this.server.log(`${this.peerName} ${line}`);
  }

  attach(stream) {
    this.stream = stream;
    stream.on('data', this.onData);
    stream.on('end', this.onEnd);
    stream.on('close', this.onEnd);
    stream.on('error', this.onError);
  }

  detach(stream) {
    stream.removeListener('data', this.onData);
    stream.removeListener('end', this.onEnd);
    stream.removeListener('close', this.onEnd);
    stream.removeListener('error', this.onError);
  }

  received(chunk) {
    if (this.firstInput) {
      this.firstInput = false;
      if (startsWithProxyHeader(chunk)) {
        this.server.log(
          `${this.peerName}: sent a PROXY header but is not a configured load balancer (--proxy-protocol-from): closing`,
        );
        this.session.handlePeerClosed();
        this.pump();
        return;
      }
    }
    // The session keeps what it cannot run yet; past its input limit it
    // wants no more, and a paused socket lets TCP push back on the client.
    this.session.handleInput(now(), chunk);
    if (!this.session.wantsInput()) this.stream.pause();
    this.pump();
  }

  peerClosed() {
    if (this.closed) return;
    this.session.handlePeerClosed();
    this.pump();
  }

  /** Runs the session until it waits for input, an answer or the clock. */
  pump() {
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.again = false;
        this.run();
      } while (this.again);
    } finally {
      this.pumping = false;
    }
  }

  run() {
    const session = this.session;
    for (;;) {
      if (this.closed) return;
      if (this.stream.isPaused() && !this.upgrading && session.wantsInput()) this.stream.resume();
      const output = session.pollOutput();
      switch (output.type) {
        case 'transmit':
          this.write(output.data);
          break;
        case 'timeout':
          if (this.stopping && !this.upgrading) {
            // 421 now, or once the running transfer is over: the core waits.
            this.stopping = false;
            session.shutDown(now());
            break;
          }
          this.arm(output.at);
          return;
        case 'closed':
          this.close();
          return;
        default:
          this.handle(output);
      }
    }
  }

  write(data) {
    // After 234 nothing goes out in clear text (RFC 4217): a reply queued
    // while the handshake runs (the login timeout's 421) has no channel.
    if (this.upgrading) return;
    const channel = this.tls ?? this.stream;
    this.lastWrite = new Promise((resolve) => channel.write(data, () => resolve()));
  }

  arm(at) {
    clearTimeout(this.timer);
    const delay = Math.min(Math.max(0, at - now()), 2 ** 31 - 1);
    this.timer = setTimeout(() => {
      const transfer = this.transfer;
      if (transfer && transfer.progress.bytes !== transfer.reported) {
        // What moved since the last deadline: a moving transfer is not stalled.
        transfer.reported = transfer.progress.bytes;
        try {
          this.session.answer(transfer.id, 'dataProgress', transfer.reported, now());
        } catch {
          // Not moving bytes (yet): nothing to report.
        }
      }
      this.session.handleTimeout(now());
      this.pump();
    }, delay);
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    this.passive?.close();
    this.passive = null;
    this.transfer?.controller.abort();
    // TLS: close_notify, then FIN (after CCC's closure: FIN).
    const stream = this.tls ?? this.stream;
    stream.end();
    setTimeout(() => stream.destroy(), 5000).unref();
    this.release();
    this.server.sessionEnded(this);
  }

  /** Calls `answer` (a session method call) unless the session is over, then pumps. */
  answer(answer) {
    if (this.closed) return;
    try {
      answer();
    } catch (error) {
      this.log(`answer refused: ${error.message}`);
    }
    this.pump();
  }

  /** Runs `work` (async I/O) and answers with its result. */
  later(work, answerOk, answerError) {
    // A synchronous throw is answered like a rejection: the server must not crash.
    Promise.resolve().then(work).then(
      (value) => this.answer(() => answerOk(value)),
      (error) => this.answer(() => answerError(error)),
    );
  }

  handle(event) {
    const session = this.session;
    const storage = this.storage;
    const code = (error) => failureCode(error, false);
    switch (event.type) {
      case 'login':
        this.later(
          () => this.server.loginFrom(this.controlPeer, event.user, event.password),
          ({ accepted, readOnly }) => session.answer(event.id, 'login', { accepted, readOnly }),
          () => session.answer(event.id, 'login', { accepted: false }),
        );
        break;
      case 'openPassive':
        this.later(
          () => this.openPassive(event),
          ({ port, resolved }) => session.answer(event.id, 'passiveOpened', { port, resolved }),
          (error) => session.answer(event.id, 'passiveFailed', error.code === 'unresolved' ? 'unresolved' : 'noFreePort'),
        );
        break;
      case 'closePassive':
        this.passive?.close();
        this.passive = null;
        break;
      case 'stat':
        this.later(
          () => storage.stat(event.path),
          (facts) => session.answer(event.id, 'statDone', facts),
          (error) => session.answer(event.id, 'statFailed', code(error)),
        );
        break;
      case 'enterDirectory':
        this.later(
          () => storage.enterDirectory(event.path),
          () => session.answer(event.id, 'directoryEntered'),
          (error) => session.answer(event.id, 'enterDirectoryFailed', code(error)),
        );
        break;
      case 'fileChange': {
        const change = {
          makeDirectory: () => storage.makeDirectory(event.path),
          removeDirectory: () => storage.removeDirectory(event.path),
          delete: () => storage.delete(event.path),
          rename: () => storage.rename(event.from, event.to),
          setModified: () => storage.setModified(event.path, event.modified),
          setPermissions: () => storage.setPermissions(event.path, event.mode),
        }[event.change];
        this.later(
          change,
          () => session.answer(event.id, 'changeDone'),
          (error) => session.answer(event.id, 'changeFailed', code(error)),
        );
        break;
      }
      case 'transfer': {
        const controller = new AbortController();
        const transfer = { id: event.id, controller, steps: new Steps(), progress: { bytes: 0 }, reported: 0 };
        this.transfer = transfer;
        runTransfer(this, event, transfer.steps, transfer.progress, controller.signal)
          .catch((error) => this.log(`transfer error: ${error.message}`))
          .finally(() => {
            if (this.transfer === transfer) this.transfer = null;
          });
        break;
      }
      case 'connectData':
      case 'secureData':
      case 'moveData':
      case 'closeData':
        if (this.transfer?.id === event.id) this.transfer.steps.push(event);
        break;
      case 'abortTransfer':
        if (this.transfer?.id === event.id) {
          this.transfer.controller.abort();
          this.transfer = null;
        }
        break;
      case 'upgradeTls':
        this.upgrade(event.id);
        break;
      case 'downgradeTls':
        this.downgrade();
        break;
      case 'notice':
        this.log(event.message);
        break;
      default:
        this.log(`unknown event ${event.type}`);
    }
  }

  /** A listener on the address the core chose; the hostname (if any) resolved now, at each PASV. */
  async openPassive(event) {
    this.passive?.close();
    this.passive = null;
    let resolved;
    if (event.resolve !== null) {
      const family = event.bind.includes(':') ? 6 : 4;
      try {
        resolved = (await dns.lookup(event.resolve, { family })).address;
      } catch {
        // Unresolved: the core answers 425 and suggests EPSV.
        resolved = undefined;
      }
    }
    const early = this.session.dataProtected() ? this.secureContext : null;
    const listener = await PassiveListener.open(
      event.bind,
      this.server.passiveRange,
      this.controlPeer,
      (from) => this.log(`data connection from ${from} refused: not the control connection's peer`),
      early,
    );
    if (this.closed) {
      listener.close();
      throw new Error('session closed');
    }
    this.passive = listener;
    return { port: listener.port, resolved };
  }

  /** AUTH TLS: the 234 is written; hand the socket to a TLS server handshake. */
  async upgrade(id) {
    const raw = this.stream;
    this.upgrading = true;
    // Stop reading plain text: the ClientHello stays buffered for the TLS socket.
    this.detach(raw);
    raw.pause();
    // Plain text received after AUTH TLS was dropped by the session (RFC 4217 §4).
    await this.lastWrite;
    const channel = new ControlTls(raw, this.secureContext);
    const secure = channel.secure;
    const failed = (error) => {
      this.log(`TLS handshake failed: ${error.message}`);
      secure.destroy();
      this.stream = secure;
      this.peerClosed();
    };
    secure.once('error', failed);
    secure.once('secure', () => {
      secure.removeListener('error', failed);
      this.upgrading = false;
      this.tls = channel;
      this.attach(secure);
      this.answer(() => this.session.answer(id, 'tlsEstablished'));
    });
  }

  /**
   * CCC (--allow-ccc): the core's 200 is written under TLS. The TLS closure
   * runs (close_notify both ways, ours at once after the client's or after
   * CCC_CLOSE_WAIT_MS), then the session reads and writes plain text on the
   * same TCP connection; commands that still come under TLS before it are
   * the session's as usual.
   */
  downgrade() {
    const channel = this.tls;
    if (!channel) return;
    this.detach(channel.secure);
    channel.downgrade({
      data: this.onData,
      closed: this.onEnd,
      plain: (rest) => {
        if (this.closed) return;
        this.tls = null;
        this.attach(channel.raw);
        this.log('control connection back to plain text (CCC)');
        if (rest.length > 0) this.received(rest);
        else this.pump();
      },
    });
  }
}
