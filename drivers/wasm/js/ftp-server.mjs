// The reference host: an FTP/FTPS server on Node's net, tls and fs/promises
// whose every protocol decision is made by the ftpwire WebAssembly module.
import net from 'node:net';
import tls from 'node:tls';
import { createHash, timingSafeEqual } from 'node:crypto';
import { serverModule } from './module.mjs';
import { Bans, DEFAULT_BAN_POLICY } from './bans.mjs';
import { LocalFs } from './local-fs.mjs';
import { ControlConnection } from './control.mjs';
import { ControlTls } from './control-tls.mjs';

const digest = (bytes) => createHash('sha256').update(bytes).digest();

/**
 * A valid argon2id hash whose password does not matter: when hashed users
 * exist, an unknown user is checked against it, so the time a wrong login
 * takes does not tell whether the user exists (as ftpwire's UserDb does).
 */
const DECOY_HASH = '$argon2id$v=19$m=19456,t=2,p=1$ZnR3aXJlLWRlY295LXNhbHQ$Jd6JU45hiC9KUjVhOvih8zQCm+lFYoTCQsiuWySmDNw';

/** `::ffff:a.b.c.d` is the IPv4 client a.b.c.d: one client, one count (as the core's canonical_ip). */
const canonicalIp = (ip) => (/^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(ip) ? ip.slice(7) : ip);

/**
 * Settings, as `ftpwire serve` takes them:
 *   root, users: [{name, password | passwordHash (argon2 PHC), readOnly}], anonymous,
 *   passiveRange: {first, last} | null, passiveAddress, tlsPassiveAddress, localNetworks: [cidr],
 *   tls: {cert, key} (PEM) | null, requireTls, requireTlsSessionReuse, allowCcc, implicitTlsProtP,
 *   showDotFiles, shareDotFiles, loginTimeoutMs (default 30 s: not logged in by then, TLS
 *   handshake included, reads 421), idleTimeoutMs (default 300 s: no command, or a data
 *   connection that moves nothing, for this long), maxSessions (1000), maxSessionsPerIp (50),
 *   log(line).
 */
export class FtpServer {
  static async create(options) {
    const storage = await LocalFs.open(options.root);
    let argon2 = null;
    if ((options.users ?? []).some((user) => user.passwordHash)) {
      try {
        argon2 = await import('@node-rs/argon2');
      } catch {
        throw new Error('password_hash needs the npm package @node-rs/argon2: run `npm ci` in drivers/wasm (or install ftpwire-wasm with npm)');
      }
    }
    return new FtpServer(options, storage, argon2);
  }

  constructor(options, storage, argon2 = null) {
    this.storage = storage;
    this.argon2 = argon2;
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.passiveRange = options.passiveRange ?? null;
    this.anonymous = Boolean(options.anonymous);
    this.users = (options.users ?? []).map(({ name, password, passwordHash, readOnly }) => {
      if (passwordHash && !argon2) throw new Error(`user ${JSON.stringify(name)}: password_hash needs FtpServer.create`);
      return {
        name: Buffer.from(name),
        password: passwordHash ? null : digest(Buffer.from(password)),
        passwordHash: passwordHash || null,
        readOnly: Boolean(readOnly),
      };
    });
    this.hashedUsers = this.users.some((user) => user.passwordHash);
    this.tlsOptions = options.tls ? { cert: options.tls.cert, key: options.tls.key } : null;
    // Fails now (one clear error) if the certificate or key cannot be used.
    if (this.tlsOptions) {
      try {
        tls.createSecureContext(this.tlsOptions);
      } catch (error) {
        // No `code` on this error: the caller would take it for the root's.
        throw new Error(`--tls-cert/--tls-key: the certificate or key cannot be used: ${error.message}`);
      }
    }
    this.requireTlsSessionReuse = Boolean(options.requireTlsSessionReuse);
    const balancers = options.proxyProtocolFrom ?? [];
    /** The server module: the one with the PROXY protocol only behind load balancers. */
    this.wasm = serverModule(balancers.length > 0);
    const config = new this.wasm.ServerConfig();
    config.set('tls', this.tlsOptions !== null);
    config.set('requireTls', Boolean(options.requireTls));
    config.set('allowCcc', Boolean(options.allowCcc));
    config.set('showDotFiles', Boolean(options.showDotFiles));
    config.set('shareDotFiles', Boolean(options.shareDotFiles));
    config.set('implicitTlsProtP', Boolean(options.implicitTlsProtP));
    this.loginTimeoutMs = options.loginTimeoutMs ?? 30_000;
    config.set('loginTimeoutMs', this.loginTimeoutMs);
    // The session's idle timeout, and (as on the Rust drivers) how long a
    // data connection may move nothing before the transfer is cut.
    this.idleTimeoutMs = options.idleTimeoutMs ?? 300_000;
    config.set('idleTimeoutMs', this.idleTimeoutMs);
    config.set('dataStallTimeoutMs', this.idleTimeoutMs);
    config.set('requireTlsSessionReuse', this.requireTlsSessionReuse);
    if (options.passiveAddress) config.set('passiveAddress', options.passiveAddress);
    if (options.tlsPassiveAddress) config.set('tlsPassiveAddress', options.tlsPassiveAddress);
    for (const cidr of options.localNetworks ?? []) config.addLocalNetwork(cidr);
    this.config = config;
    this.maxSessions = options.maxSessions ?? 1000;
    this.maxSessionsPerIp = options.maxSessionsPerIp ?? 50;
    /** Sessions holding a place, in total and per client IP (drivers/backend/src/native/limits.rs). */
    this.placesTaken = 0;
    this.placesPerIp = new Map();
    /** Load balancers whose connections start with a PROXY header (--proxy-protocol-from). */
    this.balancers = balancers.length > 0 ? new this.wasm.Balancers(balancers) : null;
    this.bans = new Bans(options.banPolicy ?? DEFAULT_BAN_POLICY, (line) => this.log(line));
    /** TCP keepalive on control connections after this long idle; 0: off. */
    this.controlKeepaliveMs = options.controlKeepaliveMs ?? 60_000;
    this.servers = [];
    /** Open control connections, for shutdown. */
    this.sessions = new Set();
    this.allEnded = null;
  }

  /**
   * The TLS of one control connection and its data connections. A context
   * of their own gives them a session cache and ticket keys of their own,
   * so a data connection that resumed a TLS session resumed one of *this*
   * control connection (what --require-tls-session-reuse checks, RFC 4217
   * §10.2), never another client's.
   */
  newSecureContext() {
    return tls.createSecureContext(this.tlsOptions);
  }

  /**
   * A place for a session from `ip`: `{ release }` (frees it; once), or
   * `{ refused, reply }` (the log reason and the 421's text) when
   * --max-sessions or --max-sessions-per-ip is reached.
   */
  admit(ip) {
    const key = canonicalIp(ip);
    const banned = this.bans.banned(key, Date.now());
    if (banned > 0) {
      return {
        refused: `banned for failed logins, ${Math.floor(banned / 1000)} s to go`,
        reply: 'Too many failed logins from your address; try again later.',
      };
    }
    const fromIp = this.placesPerIp.get(key) ?? 0;
    if (this.placesTaken >= this.maxSessions) {
      return { refused: `${this.maxSessions} sessions are running (--max-sessions)`, reply: 'Too many sessions; try again later.' };
    }
    if (fromIp >= this.maxSessionsPerIp) {
      return {
        refused: `${this.maxSessionsPerIp} sessions from this address are running (--max-sessions-per-ip)`,
        reply: 'Too many sessions from your address; try again later.',
      };
    }
    this.placesTaken += 1;
    this.placesPerIp.set(key, fromIp + 1);
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        this.placesTaken -= 1;
        const left = this.placesPerIp.get(key) - 1;
        if (left === 0) this.placesPerIp.delete(key);
        else this.placesPerIp.set(key, left);
      },
    };
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

  /**
   * The host's answer to a login (a promise: an argon2 check runs on
   * libuv's thread pool): accounts from --user and the config file,
   * read-only anonymous with --anonymous.
   */
  /** A login's outcome after the bans: a failure counts against `ip`, a banned `ip` logs in no more. */
  async loginFrom(ip, user, password) {
    const key = canonicalIp(ip);
    const outcome = await this.login(user, password);
    if (outcome.accepted && this.bans.banned(key, Date.now()) > 0) {
      this.log(`${ip}: login refused: the address is banned`);
      return { accepted: false, readOnly: false };
    }
    if (!outcome.accepted) this.bans.recordFailure(key, Date.now());
    return outcome;
  }

  async login(user, password) {
    const account = this.users.find((u) => u.name.equals(Buffer.from(user)));
    if (account?.passwordHash) {
      const accepted = await this.argon2.verify(account.passwordHash, Buffer.from(password)).catch(() => false);
      return { accepted, readOnly: account.readOnly };
    }
    if (account) return { accepted: timingSafeEqual(account.password, digest(password)), readOnly: account.readOnly };
    const name = Buffer.from(user).toString().toLowerCase();
    if (this.anonymous && (name === 'anonymous' || name === 'ftp')) return { accepted: true, readOnly: true };
    if (this.hashedUsers) await this.argon2.verify(DECOY_HASH, Buffer.from(password)).catch(() => false);
    return { accepted: false, readOnly: false };
  }

  /** Starts a listener; resolves with its real address once it accepts connections. */
  listen({ host, port }, { implicitTls = false } = {}) {
    const start = (socket, release, origin, channel = null, secureContext = null) => {
      try {
        new ControlConnection(this, socket, { implicitTls, tls: channel, secureContext, release, client: origin.client });
        // A balancer's header was read off a paused socket: what followed it
        // goes first, then the socket flows into its new listeners.
        if (origin.rest?.length) socket.unshift(Buffer.from(origin.rest));
        socket.resume();
      } catch (error) {
        this.log(`cannot start a session: ${error.message}`);
        release();
        socket.destroy();
      }
    };
    const name = (address, port) => `${address?.includes(':') ? `[${address}]` : address}:${port}`;
    const serve = (raw, origin) => {
      const client = origin.client ?? { address: raw.remoteAddress ?? '', port: raw.remotePort };
      const peer = name(client.address, client.port);
      // Counted from the first byte, TLS handshake included, as on the Rust
      // drivers; a refused client reads the 421 in clear text even on the
      // implicit-TLS port (as std and smol send it).
      const place = this.admit(client.address);
      if (!place.release) {
        this.log(`${peer}: connection refused: ${place.refused}`);
        raw.end(`421 ${place.reply}\r\n`);
        setTimeout(() => raw.destroy(), 5000).unref();
        return;
      }
      raw.once('close', place.release);
      if (!implicitTls) {
        start(raw, place.release, origin);
        return;
      }
      const secureContext = this.newSecureContext();
      if (origin.rest?.length) {
        raw.unshift(Buffer.from(origin.rest));
        origin = { ...origin, rest: null };
      }
      const channel = new ControlTls(raw, secureContext);
      const secure = channel.secure;
      raw.resume();
      // The implicit-TLS handshake runs before the session exists: bound it by the login timeout.
      const timer = setTimeout(() => secure.destroy(new Error('timed out')), this.loginTimeoutMs);
      secure.once('error', (error) => {
        clearTimeout(timer);
        this.log(`${peer} TLS handshake failed: ${error.message}`);
        secure.destroy();
        raw.destroy();
      });
      secure.once('secure', () => {
        clearTimeout(timer);
        secure.removeAllListeners('error');
        start(raw, place.release, origin, channel, secureContext);
      });
    };
    const server = net.createServer((raw) => {
      raw.setNoDelay(true);
      if (this.controlKeepaliveMs > 0) raw.setKeepAlive(true, this.controlKeepaliveMs);
      raw.on('error', () => {});
      raw.pause();
      if (!this.balancers?.contains(raw.remoteAddress ?? '')) {
        serve(raw, {});
        return;
      }
      // A balancer: its PROXY header names the client the limits count.
      const balancer = name(raw.remoteAddress, raw.remotePort);
      const reader = new this.wasm.ProxyHeaderReader();
      const onEnd = () => fail('the load balancer closed the connection before its PROXY header ended');
      const fail = (why) => {
        clearTimeout(timer);
        raw.removeAllListeners('data');
        raw.removeListener('end', onEnd);
        reader.free();
        this.log(`${balancer}: ${why}: closing`);
        raw.destroy();
      };
      const timer = setTimeout(() => fail('no complete PROXY header within 10s'), 10_000);
      raw.on('data', (chunk) => {
        let proxied;
        try {
          proxied = reader.push(chunk);
        } catch (error) {
          fail(error.message);
          return;
        }
        if (proxied === undefined) return;
        clearTimeout(timer);
        raw.removeAllListeners('data');
        raw.removeListener('end', onEnd);
        raw.pause();
        reader.free();
        serve(raw, { client: proxied.client, rest: proxied.rest });
      });
      raw.once('end', onEnd);
      raw.resume();
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
