// A small Promise-based FTP/FTPS client on the module's ClientSession: the
// session decides every command and reads every reply (EPSV first, PASV
// only if refused, a 227 naming a private address replaced with a warning);
// this file only moves bytes. The sockets come from the host through two
// functions, so the same client runs on Node (`net`/`tls`, the defaults),
// Deno or a Worker's `connect()`:
//
//   connect(host, port) -> Promise<duplex>      a TCP connection
//   secure(duplex, { servername, session }) -> Promise<duplex>  TLS on it
//
// A duplex here is a Node-style stream ('data', 'end', 'close', 'error',
// write(), end(), destroy()); `secure` resolves once the handshake is done,
// and its result may carry `getSession()` and `isSessionReused()`.
//
//   const ftp = await FtpClient.connect({ host, port, user, password, security: 'explicit' });
//   const names = await ftp.list('/');          // MLSD facts, parsed
//   const bytes = await ftp.get('/file.bin');   // Uint8Array
//   await ftp.put('/up.bin', bytes);
//   await ftp.quit();
import net from 'node:net';
import tls from 'node:tls';
import { ClientSession } from './client-module.mjs';

const now = () => performance.now();

/** Node's sockets, the defaults. */
export const nodeSockets = {
  connect(host, port) {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port }, () => resolve(socket));
      socket.once('error', reject);
    });
  },
  secure(socket, { servername, session, rejectUnauthorized, ca }) {
    return new Promise((resolve, reject) => {
      const secured = tls.connect({ socket, servername, session, rejectUnauthorized, ca }, () => resolve(secured));
      secured.once('error', reject);
    });
  },
};

export class FtpClient {
  /**
   * Connects, secures (`security`: 'plain', 'explicit' or 'implicit') and
   * logs in. `rejectUnauthorized: false` accepts a self-signed certificate;
   * `dataMode` is 'passive' (EPSV, then PASV if refused), 'epsv' or 'pasv'.
   */
  static async connect({
    host,
    port = 21,
    user = 'anonymous',
    password = 'ftpwire@',
    security = 'plain',
    sockets = nodeSockets,
    rejectUnauthorized = true,
    ca,
    onWarning = () => {},
    dataMode = 'passive',
  }) {
    const client = new FtpClient(host, sockets, { rejectUnauthorized, ca }, onWarning);
    let control = await sockets.connect(host, port);
    if (security === 'implicit') {
      control = await sockets.secure(control, client.#tlsOptions());
    }
    const local = { address: control.localAddress ?? '0.0.0.0', port: control.localPort ?? 0 };
    const peer = { address: control.remoteAddress ?? host, port: control.remotePort ?? port };
    client.#session = new ClientSession(user, password, security, local, peer, now());
    client.#session.setDataMode(dataMode);
    client.#attach(control);
    await client.#ready;
    return client;
  }

  #session;
  #control;
  #controlTls;
  #host;
  #sockets;
  #tlsSettings;
  #onWarning;
  #timer;
  #ready;
  #readyResolve;
  #readyReject;
  #failed;
  /** request number -> { resolve, reject, sink: chunks[], source: bytes } */
  #requests = new Map();
  #data;
  /** Warnings the session gave, as text. */
  warnings = [];

  constructor(host, sockets, tlsSettings, onWarning) {
    this.#host = host;
    this.#sockets = sockets;
    this.#tlsSettings = tlsSettings;
    this.#onWarning = onWarning;
    this.#ready = new Promise((resolve, reject) => {
      this.#readyResolve = resolve;
      this.#readyReject = reject;
    });
  }

  #tlsOptions() {
    const servername = net.isIP(this.#host) ? undefined : this.#host;
    return { servername, session: this.#controlTls?.getSession?.(), ...this.#tlsSettings };
  }

  #attach(socket) {
    this.#control = socket;
    socket.on('data', (chunk) => {
      this.#session.handleInput(now(), chunk);
      this.#pump();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      if (this.#control !== socket) return;
      this.#session.handlePeerClosed();
      this.#pump();
    });
  }

  /** Runs the session's output until it waits; events needing I/O start it and pump again when done. */
  #pump() {
    clearTimeout(this.#timer);
    for (;;) {
      const out = this.#session.pollOutput();
      switch (out.type) {
        case 'transmit':
          this.#control.write(out.data);
          break;
        case 'ready':
          this.#readyResolve();
          break;
        case 'upgradeTls':
          this.#upgrade(out.id);
          return;
        case 'connectData':
          this.#connectData(out);
          return;
        case 'secureData':
          this.#secureData(out.id);
          return;
        case 'moveData':
          this.#moveData(out);
          return;
        case 'abortData':
          this.#data?.destroy();
          this.#data = undefined;
          break;
        case 'done': {
          const request = this.#requests.get(out.request);
          this.#requests.delete(out.request);
          if (request) {
            if (out.ok) request.resolve(out);
            else request.reject(new Error(out.error));
          }
          break;
        }
        case 'warning':
          this.warnings.push(out.message);
          this.#onWarning(out.message);
          break;
        case 'failed':
          this.#failed = new Error(out.error);
          this.#readyReject(this.#failed);
          break;
        case 'timeout':
          this.#timer = setTimeout(() => {
            this.#session.handleTimeout(now());
            this.#pump();
          }, Math.max(0, out.at - now()));
          return;
        case 'idle':
          return;
        case 'closed':
          this.#control.end();
          for (const request of this.#requests.values()) request.reject(this.#failed ?? new Error('the connection closed'));
          this.#requests.clear();
          return;
        default:
          throw new Error(`unknown client output ${out.type}`);
      }
    }
  }

  async #upgrade(id) {
    const plain = this.#control;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    try {
      const secured = await this.#sockets.secure(plain, this.#tlsOptions());
      this.#controlTls = secured;
      this.#attach(secured);
      this.#session.tlsEstablished(id);
    } catch (error) {
      this.#failed = new Error(`the TLS handshake failed: ${error.message}`);
      this.#session.handlePeerClosed();
    }
    this.#pump();
  }

  async #connectData({ id, address, port }) {
    try {
      this.#data = await this.#sockets.connect(address, port);
      this.#session.dataConnected(id, now());
    } catch (error) {
      this.#session.dataConnectFailed(id, error.message, now());
    }
    this.#pump();
  }

  async #secureData(id) {
    try {
      const secured = await this.#sockets.secure(this.#data, {
        ...this.#tlsOptions(),
        session: this.#controlTls?.getSession?.(),
      });
      this.#data = secured;
      this.#session.dataSecured(id, secured.isSessionReused?.() ?? false, now());
    } catch (error) {
      this.#session.dataTlsFailed(id, error.message, now());
    }
    this.#pump();
  }

  async #moveData({ id, request, direction }) {
    const data = this.#data;
    const entry = this.#requests.get(request);
    try {
      let moved = 0;
      if (direction === 'download') {
        await new Promise((resolve, reject) => {
          data.on('data', (chunk) => {
            moved += chunk.length;
            entry?.sink.push(chunk);
          });
          data.once('error', reject);
          data.once('close', resolve);
          data.once('end', () => data.end());
        });
      } else {
        const bytes = entry?.source ?? new Uint8Array();
        // Send, close our side, and read until the server closes its own:
        // closing at once would reset the connection if the server still
        // sends (TLS 1.3 session tickets), and a reset can cost the upload.
        await new Promise((resolve, reject) => {
          data.once('error', reject);
          data.once('close', resolve);
          data.resume();
          data.end(bytes);
        });
        moved = bytes.length;
      }
      this.#session.dataDone(id, moved, now());
    } catch (error) {
      this.#session.dataFailed(id, error.message, now());
    }
    this.#data = undefined;
    this.#pump();
  }

  /** Queues a request; resolves with its `done` output (the data lands in `sink`). */
  #request(kind, path = '', { offset = 0, source, sink = [] } = {}) {
    const bytes = new TextEncoder().encode(path);
    return new Promise((resolve, reject) => {
      if (this.#failed) return reject(this.#failed);
      const number = this.#session.request(kind, bytes, offset);
      this.#requests.set(number, { resolve, reject, sink, source });
      this.#pump();
    });
  }

  async #download(kind, path, { offset = 0 } = {}) {
    const sink = [];
    const done = await this.#request(kind, path, { offset, sink });
    const out = new Uint8Array(sink.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const chunk of sink) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return { done, bytes: out };
  }

  /** RETR: the file's bytes (from `offset`, with REST). */
  async get(path, { offset = 0 } = {}) {
    return (await this.#download('retrieve', path, { offset })).bytes;
  }

  /** STOR (from `offset` with REST when not 0). */
  async put(path, bytes, { offset = 0 } = {}) {
    return this.#request('store', path, { offset, source: bytes });
  }

  /** MLSD, parsed: [{ name, type, size }] (the listed directory itself left out). */
  async list(path = '') {
    const { bytes } = await this.#download('mlsd', path);
    const text = new TextDecoder().decode(bytes);
    return text
      .split('\r\n')
      .filter((line) => line.includes('; '))
      .map((line) => {
        const space = line.indexOf(' ');
        const facts = Object.fromEntries(
          line
            .slice(0, space)
            .split(';')
            .filter(Boolean)
            .map((fact) => fact.split('=').map((s, i) => (i === 0 ? s.toLowerCase() : s))),
        );
        return { name: line.slice(space + 1), type: facts.type, size: facts.size === undefined ? undefined : Number(facts.size) };
      })
      .filter((entry) => entry.type !== 'cdir' && entry.type !== 'pdir');
  }

  /** SIZE: the number the server says. */
  async size(path) {
    const done = await this.#request('size', path);
    return Number(done.text.trim());
  }

  /** Any other command line: its final reply `{ code, text }`. */
  async command(line) {
    return this.#request('command', line);
  }

  /** QUIT, then the connection closes. */
  async quit() {
    return this.#request('quit');
  }
}
