// The reference host: an FTP/FTPS server on Node's net, tls and fs/promises
// whose every protocol decision is made by the ftpwire WebAssembly module.
import net from 'node:net';
import tls from 'node:tls';
import { createHash, timingSafeEqual } from 'node:crypto';
import { ServerConfig } from './module.mjs';
import { LocalFs } from './local-fs.mjs';
import { ControlConnection } from './control.mjs';

const digest = (bytes) => createHash('sha256').update(bytes).digest();

/**
 * Settings, as `ftpwire serve` takes them:
 *   root, users: [{name, password}], anonymous, passiveRange: {first, last} | null,
 *   passiveAddress, tlsPassiveAddress, localNetworks: [cidr], tls: {cert, key} (PEM) | null,
 *   requireTls, implicitTlsProtP, showDotFiles, shareDotFiles, loginTimeoutMs (default 30 s:
 *   not logged in by then, TLS handshake included, reads 421), log(line).
 */
export class FtpServer {
  static async create(options) {
    const storage = await LocalFs.open(options.root);
    return new FtpServer(options, storage);
  }

  constructor(options, storage) {
    this.storage = storage;
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.passiveRange = options.passiveRange ?? null;
    this.anonymous = Boolean(options.anonymous);
    this.users = (options.users ?? []).map(({ name, password }) => ({
      name: Buffer.from(name),
      password: digest(Buffer.from(password)),
    }));
    this.tlsOptions = options.tls ? { cert: options.tls.cert, key: options.tls.key } : null;
    this.secureContext = this.tlsOptions ? tls.createSecureContext(this.tlsOptions) : null;
    const config = new ServerConfig();
    config.tls = this.secureContext !== null;
    config.requireTls = Boolean(options.requireTls);
    config.showDotFiles = Boolean(options.showDotFiles);
    config.shareDotFiles = Boolean(options.shareDotFiles);
    config.implicitTlsProtP = Boolean(options.implicitTlsProtP);
    this.loginTimeoutMs = options.loginTimeoutMs ?? 30_000;
    config.loginTimeoutMs = this.loginTimeoutMs;
    if (options.passiveAddress) config.setPassiveAddress(options.passiveAddress);
    if (options.tlsPassiveAddress) config.setTlsPassiveAddress(options.tlsPassiveAddress);
    for (const cidr of options.localNetworks ?? []) config.addLocalNetwork(cidr);
    this.config = config;
    this.servers = [];
    /** Open control connections, for shutdown. */
    this.sessions = new Set();
    this.allEnded = null;
  }

  /** A control connection closed. */
  sessionEnded(connection) {
    this.sessions.delete(connection);
    if (this.sessions.size === 0) this.allEnded?.();
  }

  /**
   * Stops the server: no new connections; idle sessions get 421 now, the
   * others once their transfer ends. Resolves when every session has ended.
   */
  shutdown() {
    this.close();
    const ended = new Promise((resolve) => {
      this.allEnded = resolve;
    });
    if (this.sessions.size === 0) this.allEnded();
    for (const connection of [...this.sessions]) connection.shutDown();
    return ended;
  }

  /** The host's answer to a login: accounts from --user, read-only anonymous with --anonymous. */
  login(user, password) {
    const given = digest(password);
    const account = this.users.find((u) => u.name.equals(Buffer.from(user)));
    if (account) return { accepted: timingSafeEqual(account.password, given), readOnly: false };
    const name = Buffer.from(user).toString().toLowerCase();
    if (this.anonymous && (name === 'anonymous' || name === 'ftp')) return { accepted: true, readOnly: true };
    return { accepted: false, readOnly: false };
  }

  /** Starts a listener; resolves with its real address once it accepts connections. */
  listen({ host, port }, { implicitTls = false } = {}) {
    const onSocket = (socket) => {
      socket.setNoDelay(true);
      try {
        new ControlConnection(this, socket, { implicitTls });
      } catch (error) {
        this.log(`cannot start a session: ${error.message}`);
        socket.destroy();
      }
    };
    const server = implicitTls
      ? // The implicit-TLS handshake runs before the session exists: bound it by the login timeout.
        tls.createServer({ ...this.tlsOptions, handshakeTimeout: this.loginTimeoutMs }, onSocket)
      : net.createServer(onSocket);
    // A failed or timed-out implicit handshake: Node reports it here and
    // leaves the socket open, so close it.
    server.on('tlsClientError', (error, socket) => {
      this.log(`${socket.remoteAddress ?? '?'}:${socket.remotePort} TLS handshake failed: ${error.message}`);
      socket.destroy();
    });
    this.servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port }, () => {
        server.removeListener('error', reject);
        server.on('error', (error) => this.log(`listener error: ${error.message}`));
        resolve(server.address());
      });
    });
  }

  close() {
    for (const server of this.servers) server.close();
  }
}
