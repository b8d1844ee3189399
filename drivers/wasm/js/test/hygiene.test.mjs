// Integrity and session hygiene (issue 10 §2) on the Node host: a RETR of a
// file truncated mid-transfer is 426, never 226; a transfer cut with its
// control connection is logged once; CWD into a directory the server cannot
// enter is 550; connections that never log in, or stall in the TLS
// handshake, are closed at --login-timeout.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { RawClient, run, startServer } from './host.mjs';

const BIG = 64 * 1024 * 1024;
let dir;
let root;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ftpwire-hygiene-'));
  root = path.join(dir, 'root');
  await fs.mkdir(root);
});
after(async () => {
  await fs.chmod(path.join(root, 'locked'), 0o755).catch(() => {});
  await fs.rm(dir, { recursive: true, force: true });
});

/** Logs in, TYPE I, EPSV; returns the client and a connected data socket. */
async function retrieveSetup(port) {
  const client = await RawClient.connect(port);
  assert.match(await client.login(), /^230/);
  await client.command('TYPE I');
  const epsv = await client.command('EPSV');
  const dataPort = Number(/\(\|\|\|(\d+)\|\)/.exec(epsv)[1]);
  const data = net.connect({ port: dataPort, host: '127.0.0.1' });
  await once(data, 'connect');
  return { client, data };
}

/**
 * Resolves with the first chunk the data socket delivers, and pauses it
 * there: the rest stays in the kernel's buffers, so the server is still
 * sending when the test acts.
 */
const firstChunk = (data) =>
  new Promise((resolve) => {
    data.once('data', (chunk) => {
      data.pause();
      resolve(chunk);
    });
  });

test('a RETR of a file truncated while it is sent reads 426 and is logged as failed', { timeout: 60_000 }, async () => {
  const file = path.join(root, 'big.bin');
  await fs.writeFile(file, Buffer.alloc(BIG, 7));
  const server = await startServer(['--listen', '127.0.0.1:0', '--root', root, '--user', 'alice:secret']);
  try {
    const { client, data } = await retrieveSetup(server.port);
    const arrived = firstChunk(data);
    data.pause();
    client.socket.write('RETR big.bin\r\n');
    assert.match(await client.reply(), /^150/);
    data.resume();
    let received = (await arrived).length;
    await fs.truncate(file, 2 * 1024 * 1024);
    data.on('data', (chunk) => {
      received += chunk.length;
    });
    data.resume();
    await once(data, 'close');
    assert.ok(received < BIG, 'every byte arrived: the truncation came too late');
    assert.match(await client.reply(), /^426 /);
    await server.logged(/RETR \/big\.bin failed/);
    assert.doesNotMatch(server.log(), /RETR \/big\.bin: /);
    client.close();
  } finally {
    await server.stop();
  }
});

test('a RETR cut together with its control connection is logged exactly once', { timeout: 60_000 }, async () => {
  await fs.writeFile(path.join(root, 'big2.bin'), Buffer.alloc(BIG, 7));
  const server = await startServer(['--listen', '127.0.0.1:0', '--root', root, '--user', 'alice:secret']);
  try {
    const { client, data } = await retrieveSetup(server.port);
    const arrived = firstChunk(data);
    client.socket.write('RETR big2.bin\r\n');
    assert.match(await client.reply(), /^150/);
    await arrived;
    client.close();
    data.destroy();
    await server.logged(/RETR \/big2\.bin failed/);
    const later = await RawClient.connect(server.port);
    assert.match(await later.login(), /^230/);
    assert.match(await later.command('QUIT'), /^221/);
    later.close();
    const lines = server.log().split('\n').filter((l) => l.includes('RETR /big2.bin'));
    assert.equal(lines.length, 1, server.log());
  } finally {
    await server.stop();
  }
});

test('CWD into a directory the server cannot enter (mode 000) is 550', async () => {
  await fs.mkdir(path.join(root, 'open'));
  await fs.mkdir(path.join(root, 'locked'));
  await fs.chmod(path.join(root, 'locked'), 0o000);
  await fs.chmod(dir, 0o755);
  // Root ignores mode 000: run the host as nobody.
  const wrapper = process.getuid() === 0 ? ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups'] : [];
  const server = await startServer(['--listen', '127.0.0.1:0', '--root', root, '--user', 'alice:secret'], { wrapper });
  try {
    const client = await RawClient.connect(server.port);
    await client.login();
    assert.match((await client.command('CWD open')) ?? server.log(), /^250/);
    assert.match(await client.command('CWD /locked'), /^550 /);
    assert.match(await client.command('PWD'), /"\/open"/);
    assert.match(await client.command('CDUP'), /^250/);
    client.close();
  } finally {
    await server.stop();
  }
});

test('--login-timeout: no login, a silent implicit-TLS handshake, a silent AUTH TLS: all closed', { timeout: 20_000 }, async () => {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  const made = await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-keyout', key, '-out', cert]);
  assert.equal(made.code, 0, `openssl must be installed: ${made.stderr}`);
  const server = await startServer(['--listen', '127.0.0.1:0', '--implicit-tls-listen', '127.0.0.1:0', '--root', root,
    '--user', 'alice:secret', '--tls-cert', cert, '--tls-key', key, '--login-timeout', '1'], { lines: 2 });
  try {
    const client = await RawClient.connect(server.port);
    assert.match(await client.command('USER alice'), /^331/);
    assert.match(await client.reply(), /^421 Login timeout/);
    assert.equal(await client.reply(), null, 'closed after the 421');

    const silent = net.connect({ port: server.ftpsPort, host: '127.0.0.1' });
    silent.on('error', () => {});
    await once(silent, 'close');

    const upgrading = await RawClient.connect(server.port);
    assert.match(await upgrading.command('AUTH TLS'), /^234/);
    assert.equal(await upgrading.reply(), null, 'a silent handshake is closed');
  } finally {
    await server.stop();
  }
});
