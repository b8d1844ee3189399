// Data connections: passive listeners (a port from the operator's range,
// accepting only the control connection's peer) and active connections
// (PORT/EPRT), optionally wrapped in TLS (PROT P). Which address to bind,
// advertise or dial is the core's decision; this file only opens sockets.
import net from 'node:net';
import tls from 'node:tls';
import { randomInt } from 'node:crypto';
import { sameHost } from './module.mjs';

/** An inclusive passive port range `LO-HI`; throws a clear error if malformed. */
export function parsePortRange(text) {
  const match = /^(\d{1,5})-(\d{1,5})$/.exec(text);
  const [first, last] = match ? [Number(match[1]), Number(match[2])] : [0, 0];
  if (!match) throw new Error(`passive port range "${text}" is not LO-HI (e.g. 50000-50100)`);
  if (first < 1 || first > last || last > 65535) {
    throw new Error(`passive port range "${text}" must have 1 <= LO <= HI <= 65535`);
  }
  return { first, last };
}

function listenOn(server, host, port) {
  return new Promise((resolve, reject) => {
    const onError = (error) => {
      server.removeListener('listening', onListening);
      reject(error);
    };
    const onListening = () => {
      server.removeListener('error', onError);
      resolve(server.address().port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host, port, exclusive: true, backlog: 8 });
  });
}

function abortError() {
  return Object.assign(new Error('transfer aborted'), { code: 'ABORT_ERR' });
}

/**
 * Things that arrive (data connections, a transfer's steps), taken one at a
 * time by one waiter at most; a wait rejects when its signal aborts.
 */
export class Arrivals {
  constructor() {
    this.queue = [];
    this.waiter = null;
  }

  /** Whether someone waits: `push` then hands the item over at once. */
  get awaited() {
    return this.waiter !== null;
  }

  push(item) {
    if (this.waiter) {
      const { resolve } = this.waiter;
      this.waiter = null;
      resolve(item);
    } else this.queue.push(item);
  }

  /** The next item; rejects when `signal` aborts. */
  next(signal) {
    if (signal.aborted) return Promise.reject(abortError());
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift());
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.waiter = null;
        reject(abortError());
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiter = {
        resolve: (item) => {
          signal.removeEventListener('abort', onAbort);
          resolve(item);
        },
      };
    });
  }

  /** Everything not taken yet, removed. */
  drain() {
    return this.queue.splice(0);
  }
}

/** A passive data listener for one session. */
export class PassiveListener {
  /**
   * Binds `bind` on a free port of `range` (any port if none), starting at a
   * random one so concurrent sessions rarely collide. Connections whose source
   * is not `peer` are closed at once (RFC 2577) and reported to `onRefused`.
   */
  static async open(bind, range, peer, onRefused, secureContext = null) {
    const listener = new PassiveListener(peer, onRefused, secureContext);
    if (!range) {
      listener.port = await listenOn(listener.server, bind, 0);
      return listener;
    }
    const count = range.last - range.first + 1;
    const start = randomInt(count);
    for (let i = 0; i < count; i++) {
      const port = range.first + ((start + i) % count);
      try {
        listener.port = await listenOn(listener.server, bind, port);
        return listener;
      } catch (error) {
        if (error.code !== 'EADDRINUSE' && error.code !== 'EACCES') throw error;
      }
    }
    throw Object.assign(new Error('no free port in the passive range'), { code: 'EADDRINUSE' });
  }

  /**
   * `secureContext` under PROT P: a connection that arrives before its
   * transfer command has its TLS handshake answered at once, for clients
   * (aioftp) that finish it before they send the command.
   */
  constructor(peer, onRefused, secureContext = null) {
    this.peer = peer;
    this.secureContext = secureContext;
    this.arrivals = new Arrivals();
    this.server = net.createServer({ pauseOnConnect: false }, (socket) => this.onConnection(socket, onRefused));
    this.server.on('error', () => {});
  }

  onConnection(socket, onRefused) {
    socket.on('error', () => {});
    if (!sameHost(socket.remoteAddress ?? '', this.peer)) {
      onRefused?.(socket.remoteAddress);
      socket.destroy();
      return;
    }
    if (!this.arrivals.awaited) {
      // Before its command: a TLS server speaks only after the client's
      // ClientHello, so a client that waits for the 150 first (ftplib) is
      // served the same way.
      if (this.secureContext) socket.earlyTls = startTls(socket, this.secureContext);
    }
    this.arrivals.push(socket);
  }

  /** The next data connection from the peer; rejects when `signal` aborts. */
  accept(signal) {
    return this.arrivals.next(signal);
  }

  close() {
    this.server.close();
    for (const socket of this.arrivals.drain()) {
      socket.earlyTls?.secure.destroy();
      socket.destroy();
    }
  }
}

/** Connects to the client for PORT/EPRT from the control connection's local IP. */
export function connectActive(address, port, localAddress, signal) {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortError());
    const socket = net.connect({ host: address, port, localAddress });
    const onAbort = () => {
      socket.destroy();
      reject(abortError());
    };
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      signal.removeEventListener('abort', onAbort);
      socket.removeAllListeners('error');
      socket.on('error', () => {});
      resolve(socket);
    });
    socket.once('error', (error) => {
      signal.removeEventListener('abort', onAbort);
      reject(Object.assign(error, { code: 'noDataConnection' }));
    });
  });
}

/**
 * Starts the TLS handshake (as server, RFC 4217) on a data connection:
 * `{ secure, done }`, `done` resolving to the TLS socket once it is up.
 */
function startTls(socket, secureContext) {
  const secure = new tls.TLSSocket(socket, { isServer: true, secureContext });
  const done = new Promise((resolve, reject) => {
    secure.once('secure', () => {
      secure.removeAllListeners('error');
      secure.on('error', () => {});
      // 'secure' is emitted from inside OpenSSL's handshake, before a TLS 1.3
      // server has written its NewSessionTickets; promise callbacks still run
      // inside it. Anything written then (a listing needs no file read first)
      // goes out ahead of the tickets, and the close_notify after it is lost
      // (SSL_shutdown while still in the handshake): Python's ssl then fails
      // its unwrap() with SHUTDOWN_WHILE_IN_INIT. Once this call has
      // returned, the tickets are out: data and close_notify follow them.
      setImmediate(() => resolve(secure));
    });
    secure.once('error', (error) => {
      secure.destroy();
      // The core's one reply for it (425 TLS negotiation failed), as on std and smol.
      reject(Object.assign(error, { code: 'tlsFailed' }));
    });
  });
  done.catch(() => {});
  return { secure, done };
}

/**
 * The TLS handshake on a data connection: the one started when it arrived
 * before its command, or a new one; rejects when `signal` aborts.
 */
export function secureData(socket, secureContext, signal) {
  const { secure, done } = socket.earlyTls ?? startTls(socket, secureContext);
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      secure.destroy();
      return reject(abortError());
    }
    const onAbort = () => {
      secure.destroy();
      reject(abortError());
    };
    signal.addEventListener('abort', onAbort, { once: true });
    done.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
