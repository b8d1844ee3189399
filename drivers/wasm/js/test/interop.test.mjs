// What other clients expect of the Node host, as of the Rust drivers: a
// passive listener outlives a transfer refused before its data connection
// (suppaftp's tests connect after the command), and --implicit-tls-prot-p
// protects implicit sessions' data without PBSZ/PROT (suppaftp's implicit mode);
// a protected data connection secured before its command (aioftp) is served,
// and the 150 goes out before the TLS handshake (ftplib reads it first).
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { once } from 'node:events';
import { Duplex } from 'node:stream';
import { RawClient, makeCertificate, run, startServer } from './host.mjs';

const CONTENT = 'kept listener\n'.repeat(1000);
let dir;
let root;
let cert;
let key;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ftpwire-node-interop-'));
  root = path.join(dir, 'root');
  await fs.mkdir(root);
  await fs.writeFile(path.join(root, 'here.txt'), CONTENT);
  ({ cert, key } = await makeCertificate(dir));
});

after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** Reads `socket` to its end. */
async function readAll(socket) {
  const chunks = [];
  socket.on('data', (chunk) => chunks.push(chunk));
  await once(socket, 'close');
  return Buffer.concat(chunks).toString('latin1');
}

const epsvPort = (reply) => Number(/\|\|\|(\d+)\|/.exec(reply)[1]);

/**
 * A TLS client's transport over `socket` that sends its first write (the
 * ClientHello) and holds back the rest (its Finished) until `release()`:
 * 'held' says the client has the server's flight and is finishing.
 */
class HoldingTransport extends Duplex {
  constructor(socket) {
    // Its end is the TLS socket's end, both ways, as a socket's would be.
    super({ allowHalfOpen: false });
    this.socket = socket;
    this.writes = 0;
    this.held = [];
    this.released = false;
    socket.on('data', (chunk) => {
      if (!this.push(chunk)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (error) => this.destroy(error));
    socket.on('close', () => this.destroy());
  }

  _read() {
    this.socket.resume();
  }

  _write(chunk, encoding, done) {
    this.writes += 1;
    if (this.writes === 1 || this.released) return this.socket.write(chunk, done);
    this.held.push([chunk, done]);
    if (this.held.length === 1) this.emit('held');
  }

  release() {
    this.released = true;
    for (const [chunk, done] of this.held) this.socket.write(chunk, done);
    this.held = [];
  }

  _final(done) {
    this.socket.end(done);
  }

  _destroy(error, done) {
    this.socket.destroy();
    done(error);
  }
}

test('a RETR refused with 550 keeps the passive listener for the next RETR', async () => {
  const server = await startServer(['--listen', '127.0.0.1:0', '--root', root, '--user', 'alice:secret']);
  try {
    const client = await RawClient.connect(server.port);
    await client.login();
    assert.match(await client.command('TYPE I'), /^200 /);
    const port = epsvPort(await client.command('EPSV'));
    assert.match(await client.command('RETR missing.txt'), /^550 /);
    const data = net.connect({ host: '127.0.0.1', port });
    await once(data, 'connect');
    const received = readAll(data);
    assert.match(await client.command('RETR here.txt'), /^150 /);
    assert.equal(await received, CONTENT);
    assert.match(await client.reply(), /^226 /);
    // Used up now: the next transfer needs a new EPSV.
    assert.match(await client.command('RETR here.txt'), /^425 /);
    client.close();
  } finally {
    await server.stop();
  }
});

describe('implicit FTPS data protection', () => {
  /**
   * Logged in over implicit TLS (no PBSZ/PROT), EPSV and a connection to it.
   */
  async function implicitData(extra) {
    const server = await startServer(['--listen', '127.0.0.1:0', '--implicit-tls-listen', '127.0.0.1:0',
      '--root', root, '--user', 'alice:secret', '--tls-cert', cert, '--tls-key', key, ...extra], { lines: 2 });
    const control = tls.connect({ host: '127.0.0.1', port: server.ftpsPort, rejectUnauthorized: false });
    await once(control, 'secureConnect');
    const client = new RawClient(control);
    assert.match(await client.reply(), /^220 /);
    assert.match(await client.login(), /^230 /);
    assert.match(await client.command('TYPE I'), /^200 /);
    const port = epsvPort(await client.command('EPSV'));
    const data = net.connect({ host: '127.0.0.1', port });
    await once(data, 'connect');
    return { server, client, data };
  }

  /** [`implicitData`], then RETR sent; `started` is its first reply. */
  async function implicitRetr(extra) {
    const { server, client, data } = await implicitData(extra);
    const started = client.command('RETR here.txt');
    return { server, client, data, started };
  }

  test('the 150 comes before the TLS handshake on the data connection (ftplib)', { timeout: 20000 }, async () => {
    const { server, client, data, started } = await implicitRetr(['--implicit-tls-prot-p']);
    try {
      assert.match(await started, /^150 /);
      const secure = tls.connect({ socket: data, rejectUnauthorized: false });
      await once(secure, 'secureConnect');
      assert.equal(await readAll(secure), CONTENT);
      assert.match(await client.reply(), /^226 /);
      client.close();
    } finally {
      await server.stop();
    }
  });

  test('a data connection secured before its command carries RETR and STOR (aioftp)', { timeout: 20000 }, async () => {
    const { server, client, data } = await implicitData(['--implicit-tls-prot-p']);
    try {
      const secure = tls.connect({ socket: data, rejectUnauthorized: false });
      await once(secure, 'secureConnect');
      assert.match(await client.command('RETR here.txt'), /^150 /);
      assert.equal(await readAll(secure), CONTENT);
      assert.match(await client.reply(), /^226 /);

      const port = epsvPort(await client.command('EPSV'));
      const raw = net.connect({ host: '127.0.0.1', port });
      await once(raw, 'connect');
      const upload = tls.connect({ socket: raw, rejectUnauthorized: false });
      await once(upload, 'secureConnect');
      assert.match(await client.command('STOR early.txt'), /^150 /);
      upload.end(CONTENT);
      assert.match(await client.reply(), /^226 /);
      assert.equal(await fs.readFile(path.join(root, 'early.txt'), 'latin1'), CONTENT);
      client.close();
    } finally {
      await server.stop();
    }
  });

  test('a handshake in flight when RETR comes is finished, then RETR served', { timeout: 20000 }, async () => {
    const { server, client, data } = await implicitData(['--implicit-tls-prot-p']);
    try {
      const transport = new HoldingTransport(data);
      const secure = tls.connect({ socket: transport, rejectUnauthorized: false });
      secure.on('error', () => {});
      await once(transport, 'held');
      const started = client.command('RETR here.txt');
      // Time for the command to arrive mid-handshake. A host that dropped
      // the handshake then refuses now; this one may send its 150 first
      // (the Rust drivers send it once the handshake ends).
      const early = await Promise.race([started, new Promise((resolve) => setTimeout(resolve, 500, null))]);
      if (early !== null) assert.match(early, /^150 /, 'a reply before the handshake ended');
      transport.release();
      assert.match(await started, /^150 /);
      assert.equal(await readAll(secure), CONTENT);
      assert.match(await client.reply(), /^226 /);
      client.close();
    } finally {
      await server.stop();
    }
  });

  test('--implicit-tls-prot-p: the data connection is TLS without PBSZ or PROT', async () => {
    const { server, client, data, started } = await implicitRetr(['--implicit-tls-prot-p']);
    try {
      const secure = tls.connect({ socket: data, rejectUnauthorized: false });
      await once(secure, 'secureConnect');
      assert.match(await started, /^150 /);
      assert.equal(await readAll(secure), CONTENT);
      assert.match(await client.reply(), /^226 /);
      client.close();
    } finally {
      await server.stop();
    }
  });

  test('without it the data connection of an implicit session is clear text', async () => {
    const { server, client, data, started } = await implicitRetr([]);
    try {
      assert.match(await started, /^150 /);
      assert.equal(await readAll(data), CONTENT);
      assert.match(await client.reply(), /^226 /);
      client.close();
    } finally {
      await server.stop();
    }
  });
});

// ftplib's abort() sends `ABOR\r\n` as TCP urgent data; Node cannot read
// urgent data inline, so the LF never reaches the host: the core ends the
// ABOR at its CR. Then 426, 226, and the session stays in step.
const FTPLIB_ABORT = `
import ftplib, sys
ftp = ftplib.FTP()
ftp.connect('127.0.0.1', int(sys.argv[1]), timeout=20)
ftp.login('alice', 'secret')
ftp.voidcmd('TYPE I')
conn = ftp.transfercmd('RETR big.bin')
assert conn.recv(65536)
print(ftp.abort())
print(ftp.getline())
conn.close()
print(ftp.voidcmd('NOOP'))
ftp.quit()
`;

test('ftplib abort() (urgent ABOR) during a RETR: 426, 226, and the session goes on', async () => {
  await fs.writeFile(path.join(root, 'big.bin'), Buffer.alloc(64 << 20, 7));
  const server = await startServer(['--listen', '127.0.0.1:0', '--root', root, '--user', 'alice:secret']);
  try {
    const { code, stdout, stderr } = await run('python3', ['-c', FTPLIB_ABORT, String(server.port)]);
    assert.equal(code, 0, stderr);
    const lines = stdout.trim().split('\n');
    assert.match(lines[0], /^426 /);
    assert.match(lines[1], /^226 /);
    assert.match(lines[2], /^200 NOOP/);
  } finally {
    await server.stop();
    await fs.rm(path.join(root, 'big.bin'));
  }
});

// ftplib reads a protected listing to its end, then unwrap()s the data
// connection: the listing and our close_notify must come after the TLS 1.3
// session tickets, or Python's ssl fails with SHUTDOWN_WHILE_IN_INIT.
const FTPLIB_TLS_LISTINGS = `
import ftplib, ssl, sys
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
ftp = ftplib.FTP_TLS(context=context)
ftp.connect('127.0.0.1', int(sys.argv[1]), timeout=20)
ftp.login('alice', 'secret')
ftp.prot_p()
lines = []
ftp.retrlines('LIST', lines.append)
print('LIST', any('here.txt' in line for line in lines))
print('NLST', 'here.txt' in ftp.nlst())
print('MLSD', 'here.txt' in [name for name, facts in ftp.mlsd()])
print(ftp.pwd())
ftp.quit()
`;

test('ftplib\'s protected LIST, NLST and MLSD end cleanly (close_notify after the TLS 1.3 tickets)', async () => {
  const server = await startServer(['--listen', '127.0.0.1:0', '--root', root, '--user', 'alice:secret',
    '--tls-cert', cert, '--tls-key', key]);
  try {
    const { code, stdout, stderr } = await run('python3', ['-c', FTPLIB_TLS_LISTINGS, String(server.port)]);
    assert.equal(code, 0, stderr);
    assert.deepEqual(stdout.trim().split('\n'), ['LIST True', 'NLST True', 'MLSD True', '/']);
  } finally {
    await server.stop();
  }
});
