// Test helpers: the Node host as a child process, curl, and a raw FTP
// control client. Loopback only.
import { spawn, execFile } from 'node:child_process';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import net from 'node:net';

const SERVER = new URL('../server.mjs', import.meta.url).pathname;

/** Starts `node server.mjs ARGS`; resolves once it printed its `listening` line(s). */
export async function startServer(args, { lines = 1, wrapper = [] } = {}) {
  // `wrapper` (e.g. setpriv --reuid=nobody ...) runs node as its last argument.
  const [file, ...rest] = [...wrapper, process.execPath, SERVER, ...args];
  const child = spawn(file, rest, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stderr.on('data', (chunk) => {
    log += chunk;
  });
  const urls = [];
  const stdout = createInterface({ input: child.stdout });
  await new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`server exited (${code}) before listening: ${log}`)));
    stdout.on('line', (line) => {
      urls.push(line);
      if (urls.length === lines) resolve();
    });
  });
  child.removeAllListeners('exit');
  const port = (scheme) => {
    const line = urls.find((l) => l.startsWith(`listening ${scheme}://`));
    return Number(/:(\d+)$/.exec(line)[1]);
  };
  return {
    urls,
    port: port('ftp'),
    ftpsPort: lines > 1 ? port('ftps') : undefined,
    log: () => log,
    /** Waits until the server's log matches `pattern` (the log line is written after the reply). */
    /** Waits until the log matches `pattern`; fails (instead of hanging) after `ms`. */
    async logged(pattern, ms = 30_000) {
      const deadline = Date.now() + ms;
      while (!pattern.test(log)) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`not logged within ${ms} ms: ${pattern}\n${log}`);
        let timer;
        const bound = new Promise((resolve) => {
          timer = setTimeout(resolve, left);
        });
        await Promise.race([once(child.stderr, 'data'), bound]);
        clearTimeout(timer);
      }
    },
    /** Sends `signal`; resolves with the exit code (null if killed by a signal). */
    async terminate(signal = 'SIGTERM') {
      const exited = once(child, 'exit');
      child.kill(signal);
      const [code] = await exited;
      return code;
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
    },
  };
}

/** Runs a CLI to completion: {code, stdout, stderr}. */
export function run(file, args) {
  return new Promise((resolve) => {
    execFile(file, args, { encoding: 'buffer', maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? (error.code ?? 1) : 0, stdout: stdout.toString(), stderr: stderr.toString() });
    });
  });
}

/** A self-signed certificate for localhost in `dir`: `{ cert, key }` paths. */
export async function makeCertificate(dir) {
  const cert = `${dir}/cert.pem`;
  const key = `${dir}/key.pem`;
  const made = await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-keyout', key, '-out', cert]);
  if (made.code !== 0) throw new Error(`openssl must be installed: ${made.stderr}`);
  return { cert, key };
}

/** curl, silent but showing errors, bounded in time. */
export const curl = (...args) => run('curl', ['-sS', '--max-time', '60', ...args]);

/** A control connection driven line by line. */
export class RawClient {
  static async connect(port, host = '127.0.0.1') {
    const socket = net.connect({ port, host });
    await once(socket, 'connect');
    const client = new RawClient(socket);
    await client.reply(); // 220
    return client;
  }

  constructor(socket) {
    this.socket = socket;
    this.buffer = '';
    this.ended = false;
    this.waiters = [];
    socket.setEncoding('latin1');
    socket.on('data', (text) => {
      this.buffer += text;
      this.wake();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  wake() {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  /** The next complete reply (multi-line replies whole), or null at end of stream. */
  async reply() {
    for (;;) {
      const match = /^(\d{3})-[\s\S]*?\r\n\1 .*\r\n|^\d{3} .*\r\n/.exec(this.buffer);
      if (match) {
        this.buffer = this.buffer.slice(match[0].length);
        return match[0];
      }
      if (this.ended) return null;
      await new Promise((resolve) => this.waiters.push(resolve));
    }
  }

  async command(line) {
    this.socket.write(`${line}\r\n`);
    return this.reply();
  }

  async login(user = 'alice', password = 'secret') {
    await this.command(`USER ${user}`);
    return this.command(`PASS ${password}`);
  }

  close() {
    this.socket.destroy();
  }
}
