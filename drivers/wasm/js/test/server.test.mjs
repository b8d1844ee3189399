// The Node host (server.mjs) end to end on loopback, driven by curl and a raw
// control client: EPSV, PASV, active mode, 20 MiB up and down with checksums,
// file commands, resume and append, the passive-address policy, refusals,
// explicit and implicit FTPS with protected data connections, and the
// graceful shutdown on SIGTERM.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { RawClient, curl, run, startServer } from './host.mjs';

const MiB = 1024 * 1024;
const sha256 = (data) => createHash('sha256').update(data).digest('hex');
const USER = ['-u', 'alice:secret'];

let dir;
let root;
let big; // 20 MiB of random bytes, on disk outside the root
let bigSum;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ftpwire-node-'));
  root = path.join(dir, 'root');
  await fs.mkdir(root);
  await fs.mkdir(path.join(dir, 'outside'));
  await fs.writeFile(path.join(dir, 'outside', 'secret'), 'top secret\n');
  await fs.symlink(path.join(dir, 'outside'), path.join(root, 'escape'));
  await fs.writeFile(path.join(root, 'hello.txt'), 'hello\nworld\n');
  const data = randomBytes(20 * MiB);
  big = path.join(dir, 'big.bin');
  bigSum = sha256(data);
  await fs.writeFile(big, data);
});

after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('plain FTP', () => {
  let server;
  let url;
  before(async () => {
    server = await startServer(['--listen', '127.0.0.1:0', '--root', root, '--user', 'alice:secret']);
    url = `ftp://127.0.0.1:${server.port}`;
  });
  after(() => server.stop());

  test('prints the listening line with the real port', () => {
    assert.match(server.urls[0], /^listening ftp:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(server.port, 0);
  });

  for (const [mode, flags] of [
    ['EPSV', []],
    ['PASV', ['--disable-epsv']],
    ['active', ['--ftp-port', '127.0.0.1']],
  ]) {
    test(`20 MiB up and down in ${mode} mode, checksums equal`, async () => {
      const name = `big-${mode}.bin`;
      const up = await curl(...USER, ...flags, '-T', big, `${url}/${name}`);
      assert.equal(up.code, 0, up.stderr);
      assert.equal(sha256(await fs.readFile(path.join(root, name))), bigSum);
      const copy = path.join(dir, `down-${mode}.bin`);
      const down = await curl(...USER, ...flags, '-o', copy, `${url}/${name}`);
      assert.equal(down.code, 0, down.stderr);
      assert.equal(sha256(await fs.readFile(copy)), bigSum);
      await server.logged(new RegExp(`RETR /${name}: ${20 * MiB} bytes`));
    });
  }

  test('LIST, NLST and MLSD', async () => {
    const list = await curl(...USER, `${url}/`);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^-rw-r--r-- +1 ftp +ftp +12 \w{3} [ \d]\d [\d:]{5} hello\.txt\r?$/m);
    const names = await curl(...USER, '-l', `${url}/`);
    assert.ok(names.stdout.split(/\r?\n/).includes('hello.txt'), names.stdout);
    const mlsd = await curl(...USER, '-X', 'MLSD', `${url}/`);
    assert.match(mlsd.stdout, /^type=file;size=12;modify=\d{14};perm=radfw; hello\.txt\r?$/m);
  });

  test('TYPE A sends CRLF line ends and stores LF ones', async () => {
    const client = await RawClient.connect(server.port);
    await client.login();
    assert.match(await client.command('TYPE A'), /^200 /);
    const transfer = async (line, send) => {
      const port = Number(/\|\|\|(\d+)\|/.exec(await client.command('EPSV'))[1]);
      const data = net.connect({ host: '127.0.0.1', port });
      const chunks = [];
      data.on('data', (chunk) => chunks.push(chunk));
      await once(data, 'connect');
      assert.match(await client.command(line), /^150 /);
      if (send !== undefined) data.end(send);
      await once(data, 'close');
      assert.match(await client.reply(), /^226 /);
      return Buffer.concat(chunks).toString('latin1');
    };
    assert.equal(await transfer('RETR hello.txt'), 'hello\r\nworld\r\n');
    await transfer('STOR ascii.txt', 'one\r\ntwo\r\n');
    assert.equal(await fs.readFile(path.join(root, 'ascii.txt'), 'latin1'), 'one\ntwo\n');
    client.close();
  });

  test('MKD, RNFR/RNTO, DELE and RMD', async () => {
    await fs.writeFile(path.join(root, 'victim.txt'), 'x');
    const result = await curl(
      ...USER,
      '-Q', 'MKD newdir',
      '-Q', 'RNFR victim.txt',
      '-Q', 'RNTO newdir/moved.txt',
      `${url}/`,
      '-o', '/dev/null',
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await fs.readFile(path.join(root, 'newdir', 'moved.txt'), 'utf8'), 'x');
    const cleanup = await curl(...USER, '-Q', 'DELE newdir/moved.txt', '-Q', 'RMD newdir', `${url}/`, '-o', '/dev/null');
    assert.equal(cleanup.code, 0, cleanup.stderr);
    await assert.rejects(fs.stat(path.join(root, 'newdir')), { code: 'ENOENT' });
    const missing = await curl(...USER, '-Q', 'DELE nothing-here', `${url}/`, '-o', '/dev/null');
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /550/);
  });

  test('REST resumes a download and APPE appends', async () => {
    const whole = await fs.readFile(path.join(root, 'big-EPSV.bin'));
    const partial = path.join(dir, 'partial.bin');
    await fs.writeFile(partial, whole.subarray(0, 3 * MiB + 17));
    const resumed = await curl(...USER, '-C', '-', '-o', partial, `${url}/big-EPSV.bin`);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(sha256(await fs.readFile(partial)), bigSum);
    await server.logged(new RegExp(`RETR /big-EPSV.bin: ${20 * MiB - (3 * MiB + 17)} bytes`));

    const tail = path.join(dir, 'tail.txt');
    await fs.writeFile(tail, 'appended\n');
    await fs.writeFile(path.join(root, 'log.txt'), 'first\n');
    const appended = await curl(...USER, '--append', '-T', tail, `${url}/log.txt`);
    assert.equal(appended.code, 0, appended.stderr);
    assert.equal(await fs.readFile(path.join(root, 'log.txt'), 'utf8'), 'first\nappended\n');
  });

  test('paths cannot leave the root, by .. or by symlink; the server keeps serving', async () => {
    for (const target of ['escape/secret', '../outside/secret', '%2e%2e/%2e%2e/etc/passwd']) {
      const result = await curl(...USER, `${url}/${target}`);
      assert.notEqual(result.code, 0, target);
      assert.doesNotMatch(result.stdout, /top secret|root:/);
    }
    const put = await curl(...USER, '-T', path.join(root, 'hello.txt'), `${url}/escape/planted.txt`);
    assert.notEqual(put.code, 0);
    assert.deepEqual(await fs.readdir(path.join(dir, 'outside')), ['secret']);
    assert.equal((await curl(...USER, `${url}/hello.txt`)).stdout, 'hello\nworld\n');
  });

  test('a data connection from another address is refused; the peer still gets its own', async () => {
    const client = await RawClient.connect(server.port);
    await client.login();
    const epsv = await client.command('EPSV');
    const port = Number(/\|\|\|(\d+)\|/.exec(epsv)[1]);
    const intruder = net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' });
    intruder.on('error', () => {});
    await once(intruder, 'close');
    await server.logged(/data connection from 127\.0\.0\.2 refused/);
    const data = net.connect({ host: '127.0.0.1', port });
    const chunks = [];
    data.on('data', (chunk) => chunks.push(chunk));
    await once(data, 'connect');
    assert.match(await client.command('TYPE I'), /^200 /);
    assert.match(await client.command('RETR hello.txt'), /^150 /);
    await once(data, 'close');
    assert.equal(Buffer.concat(chunks).toString(), 'hello\nworld\n');
    assert.match(await client.reply(), /^226 /);
    client.close();
  });

  test('PORT to another host or a privileged port is refused (RFC 2577)', async () => {
    const client = await RawClient.connect(server.port);
    await client.login();
    assert.match(await client.command('PORT 127,0,0,2,200,10'), /^504 .*not the client's own/);
    assert.match(await client.command('EPRT |1|127.0.0.1|80|'), /^504 .*below 1024/);
    assert.match(await client.command('NOOP'), /^200 /);
    client.close();
  });

  test('ABOR stops a running download: 426 then 226', async () => {
    const client = await RawClient.connect(server.port);
    await client.login();
    await client.command('TYPE I');
    const port = Number(/\|\|\|(\d+)\|/.exec(await client.command('EPSV'))[1]);
    const data = net.connect({ host: '127.0.0.1', port });
    data.on('error', () => {});
    await once(data, 'connect');
    data.pause(); // never read: the server's writes back up
    assert.match(await client.command('RETR big-EPSV.bin'), /^150 /);
    assert.match(await client.command('ABOR'), /^426 /);
    assert.match(await client.reply(), /^226 /);
    assert.match(await client.command('NOOP'), /^200 /);
    data.destroy();
    client.close();
  });

  test('three wrong passwords close the session, slowly', async () => {
    const client = await RawClient.connect(server.port);
    const started = performance.now();
    for (let attempt = 1; attempt <= 3; attempt++) {
      assert.match(await client.login('alice', 'wrong'), /^530 /);
    }
    assert.ok(performance.now() - started >= 2900, 'each failure is answered after a delay');
    assert.match(await client.reply(), /^421 /);
    assert.equal(await client.reply(), null, 'closed');
  });
});

test('IPv6: EPSV and EPRT on [::1]', async (t) => {
  const probe = net.createServer();
  const ipv6 = await new Promise((resolve) => {
    probe.once('error', () => resolve(false));
    probe.listen({ host: '::1', port: 0 }, () => probe.close(() => resolve(true)));
  });
  if (!ipv6) return t.skip('no IPv6 loopback on this machine');
  const server = await startServer(['--listen', '[::1]:0', '--root', root, '--user', 'alice:secret']);
  try {
    assert.match(server.urls[0], /^listening ftp:\/\/\[::1\]:\d+$/);
    const url = `ftp://[::1]:${server.port}/hello.txt`;
    for (const flags of [[], ['--ftp-port', '::1']]) {
      const got = await curl('-g', ...USER, ...flags, url);
      assert.equal(got.stdout, 'hello\nworld\n', got.stderr);
    }
  } finally {
    await server.stop();
  }
});

describe('the passive-address policy', () => {
  test('PASV advertises --passive-address to outside peers; EPSV and --ftp-skip-pasv-ip still work', async () => {
    const server = await startServer(['--listen', '127.0.0.1:0', '--root', root, '--user', 'alice:secret',
      '--passive-address', '203.0.113.7', '--passive-ports', '40000-40100']);
    try {
      const client = await RawClient.connect(server.port);
      await client.login();
      const pasv = await client.command('PASV');
      // Never dialled: 203.0.113.7 is a documentation address.
      const [, p1, p2] = /\(203,0,113,7,(\d+),(\d+)\)/.exec(pasv);
      const port = Number(p1) * 256 + Number(p2);
      assert.ok(port >= 40000 && port <= 40100, `port ${port} is in the range`);
      client.close();
      const url = `ftp://127.0.0.1:${server.port}/hello.txt`;
      const skip = await curl(...USER, '--disable-epsv', '--ftp-skip-pasv-ip', url);
      assert.equal(skip.stdout, 'hello\nworld\n', skip.stderr);
      assert.equal((await curl(...USER, url)).stdout, 'hello\nworld\n');
    } finally {
      await server.stop();
    }
  });

  test('peers inside --local-network get the local address', async () => {
    const server = await startServer(['--listen', '127.0.0.1:0', '--root', root, '--user', 'alice:secret',
      '--passive-address', '203.0.113.7', '--local-network', '127.0.0.0/8']);
    try {
      const client = await RawClient.connect(server.port);
      await client.login();
      assert.match(await client.command('PASV'), /^227 .*\(127,0,0,1,\d+,\d+\)/);
      client.close();
      const pasv = await curl(...USER, '--disable-epsv', `ftp://127.0.0.1:${server.port}/hello.txt`);
      assert.equal(pasv.stdout, 'hello\nworld\n', pasv.stderr);
    } finally {
      await server.stop();
    }
  });
});

describe('behind a load balancer (PROXY protocol) and auto-ban', () => {
  /** A raw control connection from `localAddress`, optionally sending `first` before the greeting. */
  async function connectFrom(port, localAddress, first = null) {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    await once(socket, 'connect');
    if (first) socket.write(first);
    return new RawClient(socket);
  }
  const v1 = (client, port, serverPort) => `PROXY TCP4 ${client} 127.0.0.1 ${port} ${serverPort}\r\n`;

  test('a balancer\'s header names the client: logs, EPSV refused, PASV data from the client', async () => {
    const server = await startServer(['--listen', '127.0.0.1:0', '--root', root, '--user', 'alice:secret',
      '--proxy-protocol-from', '127.0.0.1']);
    try {
      const client = await connectFrom(server.port, '127.0.0.1', v1('127.0.0.7', 40001, server.port));
      assert.match(await client.reply(), /^220 /);
      assert.match(await client.login(), /^230 /);
      assert.match(await client.command('EPSV'), /^502 EPSV cannot work through this server's load balancer/);
      assert.doesNotMatch(await client.command('FEAT'), / EPSV\r\n/);
      const [, p1, p2] = /\(127,0,0,1,(\d+),(\d+)\)/.exec(await client.command('PASV'));
      const data = net.connect({ port: Number(p1) * 256 + Number(p2), host: '127.0.0.1', localAddress: '127.0.0.7' });
      await once(data, 'connect');
      const chunks = [];
      data.on('data', (chunk) => chunks.push(chunk));
      const ended = once(data, 'end');
      assert.match(await client.command('RETR hello.txt'), /^150 /);
      await ended;
      assert.match(await client.reply(), /^226 /);
      assert.equal(Buffer.concat(chunks).toString(), 'hello\r\nworld\r\n');
      await server.logged(/127\.0\.0\.7:40001 login ok: alice/);
      client.close();
    } finally {
      await server.stop();
    }
  });

  test('a header from a client that is no balancer, and none from a balancer, close the connection', async () => {
    const server = await startServer(['--listen', '127.0.0.1:0', '--root', root, '--user', 'alice:secret',
      '--proxy-protocol-from', '127.0.0.1']);
    try {
      const forger = await connectFrom(server.port, '127.0.0.2');
      assert.match(await forger.reply(), /^220 /);
      forger.socket.write(v1('127.0.0.11', 40006, server.port));
      assert.equal(await forger.reply(), null, 'closed without a reply');
      await server.logged(/sent a PROXY header but is not a configured load balancer/);
      const bare = await connectFrom(server.port, '127.0.0.1', 'USER alice\r\n');
      assert.equal(await bare.reply(), null, 'no greeting, closed');
      await server.logged(/no PROXY header from a load balancer/);
      assert.doesNotMatch(server.log(), /127\.0\.0\.11/);
    } finally {
      await server.stop();
    }
  });

  test('failed logins ban the real address, behind the balancer too', async () => {
    const server = await startServer(['--listen', '127.0.0.1:0', '--root', root, '--user', 'alice:secret',
      '--proxy-protocol-from', '127.0.0.1', '--ban-after', '3']);
    try {
      const guesser = await connectFrom(server.port, '127.0.0.1', v1('127.0.0.13', 40010, server.port));
      assert.match(await guesser.reply(), /^220 /);
      for (let i = 0; i < 3; i++) assert.match(await guesser.login('alice', 'wrong'), /^530 /);
      await server.logged(/127\.0\.0\.13: banned for 900 s after 3 failed logins within 600 s/);
      const again = await connectFrom(server.port, '127.0.0.1', v1('127.0.0.13', 40011, server.port));
      assert.match(await again.reply(), /^421 Too many failed logins from your address/);
      const other = await connectFrom(server.port, '127.0.0.1', v1('127.0.0.14', 40012, server.port));
      assert.match(await other.reply(), /^220 /);
      assert.match(await other.login(), /^230 /);
      other.close();
      guesser.close();
    } finally {
      await server.stop();
    }
  });
});

describe('--log-format json', () => {
  test('every log line is one JSON object, the client as a field', async () => {
    const server = await startServer(['--listen', '127.0.0.1:0', '--root', root, '--user', 'alice:secret',
      '--log-format', 'json']);
    try {
      const client = await RawClient.connect(server.port);
      assert.match(await client.login(), /^230 /);
      await server.logged(/login ok: alice/);
      client.close();
      const lines = server.log().trim().split('\n').map((line) => JSON.parse(line));
      const login = lines.find((l) => l.message === 'login ok: alice');
      assert.ok(login, server.log());
      assert.match(login.client, /^127\.0\.0\.1:\d+$/);
      assert.ok(lines.every((l) => typeof l.time === 'string' && typeof l.level === 'string'), server.log());
    } finally {
      await server.stop();
    }
  });
});

describe('the silent fallback to active mode', () => {
  test('PORT after a passive listener no connection reached is logged, with what to check', async () => {
    const server = await startServer(['--listen', '127.0.0.1:0', '--root', root, '--user', 'alice:secret']);
    const listener = net.createServer(() => {});
    await new Promise((resolve) => listener.listen(0, '127.0.0.1', resolve));
    try {
      const port = listener.address().port;
      const clean = await RawClient.connect(server.port);
      await clean.login();
      assert.match(await clean.command(`PORT 127,0,0,1,${port >> 8},${port & 255}`), /^200 /);
      assert.match(await clean.command('NOOP'), /^200 /);
      clean.close();
      const client = await RawClient.connect(server.port);
      await client.login();
      assert.match(await client.command('PASV'), /^227 /);
      // The client never reaches the passive port, then tries active mode.
      assert.match(await client.command(`PORT 127,0,0,1,${port >> 8},${port & 255}`), /^200 /);
      await server.logged(/switched to active mode \(PORT\).*--passive-address/);
      assert.equal(server.log().match(/switched to active mode/g).length, 1, server.log());
      client.close();
    } finally {
      listener.close();
      await server.stop();
    }
  });
});

describe('FTPS', () => {
  let server;
  before(async () => {
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    const made = await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
      '-subj', '/CN=localhost', '-keyout', key, '-out', cert]);
    assert.equal(made.code, 0, `openssl must be installed: ${made.stderr}`);
    server = await startServer(['--listen', '127.0.0.1:0', '--implicit-tls-listen', '127.0.0.1:0', '--root', root,
      '--user', 'alice:secret', '--tls-cert', cert, '--tls-key', key], { lines: 2 });
  });
  after(() => server?.stop());

  test('explicit FTPS: LIST in PASV, 20 MiB up and down in EPSV over protected data connections', async () => {
    const url = `ftp://127.0.0.1:${server.port}`;
    const list = await curl('-v', '--ssl-reqd', '-k', ...USER, '--disable-epsv', `${url}/`);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /hello\.txt/);
    assert.match(list.stderr, /< 234 AUTH TLS ok/);
    assert.match(list.stderr, /< 200 Data connections will be protected/);
    await server.logged(/LIST \/: \d+ bytes in \d+ ms \(\w+, TLS\)/);

    const up = await curl('--ssl-reqd', '-k', ...USER, '-T', big, `${url}/tls.bin`);
    assert.equal(up.code, 0, up.stderr);
    assert.equal(sha256(await fs.readFile(path.join(root, 'tls.bin'))), bigSum);
    const copy = path.join(dir, 'tls-down.bin');
    const down = await curl('--ssl-reqd', '-k', ...USER, '-o', copy, `${url}/tls.bin`);
    assert.equal(down.code, 0, down.stderr);
    assert.equal(sha256(await fs.readFile(copy)), bigSum);
    await server.logged(new RegExp(`STOR /tls.bin: ${20 * MiB} bytes in \\d+ ms \\(alice, TLS\\)`));
    await server.logged(new RegExp(`RETR /tls.bin: ${20 * MiB} bytes in \\d+ ms \\(alice, TLS\\)`));
  });

  test('implicit FTPS on its own listener', async () => {
    assert.match(server.urls[1], /^listening ftps:\/\/127\.0\.0\.1:\d+$/);
    const got = await curl('-k', ...USER, `ftps://127.0.0.1:${server.ftpsPort}/hello.txt`);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.stdout, 'hello\nworld\n');
  });
});

describe('bad configuration fails at start with one clear line', () => {
  for (const [args, pattern] of [
    [['--passive-ports', '50100-50000'], /passive port range "50100-50000" must have 1 <= LO <= HI/],
    [['--passive-address', 'not a host'], /passive address "not a host"/],
    [['--local-network', '10.0.0.0/40'], /local network "10.0.0.0\/40"/],
    [['--root', '/nonexistent/ftpwire'], /--root \/nonexistent\/ftpwire: ENOENT/],
    [['--listen', 'localhost'], /--listen "localhost" is not HOST:PORT/],
    [['--tls-cert', '/nonexistent.pem', '--tls-key', '/nonexistent.pem'], /--tls-cert \/nonexistent.pem: ENOENT/],
    [['--user', 'nopassword'], /--user "nopassword" is not NAME:PASSWORD/],
    [['--metrics-listen', '127.0.0.1:0'], /the Node host serves no Prometheus metrics; run ftpwire serve/],
    [['--log-format', 'xml'], /unknown variant `xml`, expected `text` or `json`/],
    [['--proxy-protocol-from', '10.0.0.0/40'], /--proxy-protocol-from: /],
  ]) {
    test(args.join(' '), async () => {
      const result = await run(process.execPath, [new URL('../server.mjs', import.meta.url).pathname,
        '--listen', '127.0.0.1:0', '--root', '.', ...args]);
      assert.equal(result.code, 2);
      assert.equal(result.stdout, '');
      assert.match(result.stderr, pattern);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    });
  }
});

describe('shutdown', () => {
  /** A logged-in session with a 20 MiB RETR running: its data connection is
   *  not read, and 20 MiB cannot fit in the socket buffers, so the transfer
   *  is still running until `data` is resumed. */
  async function runningRetr(server, name) {
    await fs.copyFile(big, path.join(root, name));
    const busy = await RawClient.connect(server.port);
    assert.match(await busy.login(), /^230 /);
    assert.match(await busy.command('TYPE I'), /^200 /);
    const port = Number(/\(\|\|\|(\d+)\|\)/.exec(await busy.command('EPSV'))[1]);
    const data = net.connect({ port, host: '127.0.0.1' });
    data.pause();
    await once(data, 'connect');
    assert.match(await busy.command(`RETR ${name}`), /^150 /);
    return { busy, data };
  }

  test('SIGTERM: an idle session reads 421, a running RETR finishes first, exit 0', async () => {
    const server = await startServer(['--listen', '127.0.0.1:0', '--root', root, '--user', 'alice:secret']);
    const idle = await RawClient.connect(server.port);
    assert.match(await idle.login(), /^230 /);
    const { busy, data } = await runningRetr(server, 'shutdown.bin');

    const exited = server.terminate('SIGTERM');
    assert.match(await idle.reply(), /^421 /);
    assert.equal(await idle.reply(), null, 'the idle session is closed after 421');
    // The listener is closed: nobody new gets in.
    const refused = net.connect({ port: server.port, host: '127.0.0.1' });
    const [error] = await once(refused, 'error');
    assert.equal(error.code, 'ECONNREFUSED');

    const chunks = [];
    data.on('data', (chunk) => chunks.push(chunk));
    data.resume();
    await once(data, 'end');
    assert.equal(sha256(Buffer.concat(chunks)), bigSum, 'every byte of the running RETR');
    assert.match(await busy.reply(), /^226 /);
    assert.match(await busy.reply(), /^421 /);
    assert.equal(await exited, 0);
  });

  test('a second signal exits at once', async () => {
    const server = await startServer(['--listen', '127.0.0.1:0', '--root', root, '--user', 'alice:secret']);
    const { busy, data } = await runningRetr(server, 'stuck.bin');
    const exited = server.terminate('SIGINT');
    await server.logged(/shutting down/);
    const code = server.terminate('SIGINT');
    assert.equal(await code, 130);
    assert.equal(await exited, 130);
    data.destroy();
    busy.close();
  });
});
