// The JavaScript client (js/client.mjs, on the module's ClientSession)
// against the Node reference server and against `ftpwire serve` (the Rust
// binary of this workspace, target/debug/ftpwire, or $FTPWIRE_BIN): lists,
// round trips with checksums, resume, FTPS explicit and implicit, and the
// 227 warning. Loopback only.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FtpClient } from '../client.mjs';
import { makeCertificate, startServer } from './host.mjs';

const BIN = process.env.FTPWIRE_BIN ?? new URL('../../../../target/debug/ftpwire', import.meta.url).pathname;
const PAYLOAD = new Uint8Array(3_000_000).map((_, i) => (i * 31 + (i >> 9)) & 0xff);
const sha = (bytes) => createHash('sha256').update(bytes).digest('hex');
let dir;
let cert;
let key;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ftpwire-js-client-'));
  ({ cert, key } = await makeCertificate(dir));
});

after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** `ftpwire serve ARGS`; resolves with its ports once it printed its listening lines. */
async function startRust(args, lines = 1) {
  await fs.access(BIN).catch(() => {
    throw new Error(`${BIN} is not built: run cargo build (or set FTPWIRE_BIN)`);
  });
  const child = spawn(BIN, ['serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stderr.on('data', (chunk) => {
    log += chunk;
  });
  const urls = [];
  await new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`ftpwire serve exited (${code}): ${log}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      urls.push(line);
      if (urls.length === lines) resolve();
    });
  });
  child.removeAllListeners('exit');
  const port = (scheme) => Number(/:(\d+)$/.exec(urls.find((l) => l.startsWith(`listening ${scheme}://`)))[1]);
  return { port: port('ftp'), ftpsPort: lines > 1 ? port('ftps') : undefined, log: () => log, stop: () => child.kill() };
}

const hosts = {
  node: async (args, lines) => {
    const server = await startServer(args, { lines });
    return { ...server, stop: () => server.stop() };
  },
  rust: startRust,
};

for (const [name, start] of Object.entries(hosts)) {
  describe(`the JS client against the ${name} server`, () => {
    let root;
    let server;

    before(async () => {
      root = await fs.mkdtemp(path.join(dir, `${name}-root-`));
      await fs.mkdir(path.join(root, 'sub'));
      await fs.writeFile(path.join(root, 'sub', 'inner.txt'), 'inner\n');
      server = await start(['--listen', '127.0.0.1:0', '--root', root, '--user', 'alice:secret',
        '--tls-cert', cert, '--tls-key', key, '--implicit-tls-listen', '127.0.0.1:0',
        '--passive-address', '127.0.0.9'], 2);
    });

    after(() => server.stop());

    const login = (security = 'plain', port = server.port) =>
      FtpClient.connect({ host: '127.0.0.1', port, user: 'alice', password: 'secret', security, rejectUnauthorized: false });

    test('put, list, get and resume, with checksums', async () => {
      const ftp = await login();
      await ftp.put('/up.bin', PAYLOAD);
      assert.equal(sha(await fs.readFile(path.join(root, 'up.bin'))), sha(PAYLOAD));
      assert.equal(await ftp.size('/up.bin'), PAYLOAD.length);
      const entries = await ftp.list('/');
      assert.deepEqual(entries.map((e) => [e.name, e.type]).sort(), [['sub', 'dir'], ['up.bin', 'file']]);
      assert.equal(entries.find((e) => e.name === 'up.bin').size, PAYLOAD.length);
      assert.equal(sha(await ftp.get('/up.bin')), sha(PAYLOAD));
      assert.equal(sha(await ftp.get('/up.bin', { offset: 1_000_001 })), sha(PAYLOAD.subarray(1_000_001)));
      // A resumed upload: the server keeps its first bytes.
      await fs.writeFile(path.join(root, 'half.bin'), PAYLOAD.subarray(0, 1_500_000));
      await ftp.put('/half.bin', PAYLOAD.subarray(1_500_000), { offset: 1_500_000 });
      assert.equal(sha(await fs.readFile(path.join(root, 'half.bin'))), sha(PAYLOAD));
      // EPSV names no address: the wrong --passive-address never showed.
      assert.deepEqual(ftp.warnings, []);
      await assert.rejects(ftp.get('/missing'), /the server refused RETR: 550/);
      assert.equal((await ftp.command('NOOP')).code, 200);
      await ftp.quit();
    });

    test('a PASV 227 naming another address is replaced, with a warning', async () => {
      const ftp = await FtpClient.connect({ host: '127.0.0.1', port: server.port, user: 'alice', password: 'secret', dataMode: 'pasv' });
      await fs.writeFile(path.join(root, 'p.txt'), 'through the control address\n');
      // Nothing listens at 127.0.0.9: the transfer works only because the
      // client dialled the control peer instead, and it says so.
      assert.equal(new TextDecoder().decode(await ftp.get('/p.txt')), 'through the control address\n');
      assert.equal(ftp.warnings.length, 1, ftp.warnings.join('\n'));
      assert.match(ftp.warnings[0], /the server's 227 named 127\.0\.0\.9:\d+, a loopback address, not 127\.0\.0\.1 .*connecting to 127\.0\.0\.1:\d+ instead/);
      await ftp.quit();
    });

    test('explicit and implicit FTPS protect the transfer', async () => {
      for (const [security, port] of [['explicit', server.port], ['implicit', server.ftpsPort]]) {
        const ftp = await login(security, port);
        await ftp.put(`/${security}.bin`, PAYLOAD.subarray(0, 500_000));
        assert.equal(sha(await ftp.get(`/${security}.bin`)), sha(PAYLOAD.subarray(0, 500_000)), security);
        await ftp.quit();
      }
    });

    test('a wrong password fails the connection with the reply', async () => {
      await assert.rejects(
        FtpClient.connect({ host: '127.0.0.1', port: server.port, user: 'alice', password: 'wrong' }),
        /the server refused the login: 530/,
      );
    });
  });
}
