// The Node host takes ftpwire serve's flags and config file with the same
// meaning and defaults: session limits (421 with the same text as
// drivers/backend/src/native/limits.rs), --idle-timeout for sessions and data
// stalls, --config FILE.toml (values take effect, flags override them, a bad
// file is one clear line and a non-zero exit), --require-tls-session-reuse
// (curl resumes and is served; Python's ftplib and a session resumed from
// another control connection read 522), --allow-ccc (CCC and the TLS
// closure each way it can go, then plain text) and --driver.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { once } from 'node:events';
import { RawClient, curl, run, startServer } from './host.mjs';

const SERVER = new URL('../server.mjs', import.meta.url).pathname;
// argon2id of "correct horse" (m=19456, t=2, p=1), as in ftpwire's config tests (drivers/cli/config.rs).
const HASH = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$sDq4SJydHwxWnLTlXqq5ZzNDfmXrJUlaeTohxQaFrio';
const TOO_MANY = '421 Too many sessions; try again later.\r\n';
const TOO_MANY_FROM_IP = '421 Too many sessions from your address; try again later.\r\n';

let dir;
let root;
let cert;
let key;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ftpwire-flags-'));
  root = path.join(dir, 'root');
  await fs.mkdir(root);
  await fs.writeFile(path.join(root, 'hello.txt'), 'hello\n');
  cert = path.join(dir, 'cert.pem');
  key = path.join(dir, 'key.pem');
  const made = await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-keyout', key, '-out', cert]);
  assert.equal(made.code, 0, `openssl must be installed: ${made.stderr}`);
});
after(() => fs.rm(dir, { recursive: true, force: true }));

/** A control connection from `localAddress` (any of 127.0.0.0/8): the client and its first reply. */
async function connectFrom(port, localAddress = '127.0.0.1') {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  await once(socket, 'connect');
  const client = new RawClient(socket);
  return { client, first: await client.reply() };
}

/** Refused: the limit's 421, then the server closes the connection. */
async function assertRefused(port, localAddress, text) {
  const { client, first } = await connectFrom(port, localAddress);
  assert.equal(first, text);
  assert.equal(await client.reply(), null, 'closed after the 421');
}

const TLS_ARGS = () => ['--tls-cert', cert, '--tls-key', key];

describe('session limits', () => {
  test('--max-sessions-per-ip: one more from that IP reads 421 and is closed; other IPs and freed places go on', async () => {
    const server = await startServer(['--listen', '127.0.0.1:0', '--root', root, '--max-sessions-per-ip', '1']);
    try {
      const first = await connectFrom(server.port, '127.0.0.1');
      assert.match(first.first, /^220 /);
      await assertRefused(server.port, '127.0.0.1', TOO_MANY_FROM_IP);
      await server.logged(/connection refused: 1 sessions from this address are running \(--max-sessions-per-ip\)/);
      const other = await connectFrom(server.port, '127.0.0.2');
      assert.match(other.first, /^220 /);
      // The place is freed when the session ends (before its connection closes).
      assert.match(await first.client.command('QUIT'), /^221 /);
      assert.equal(await first.client.reply(), null);
      const again = await connectFrom(server.port, '127.0.0.1');
      assert.match(again.first, /^220 /);
      other.client.close();
      again.client.close();
    } finally {
      await server.stop();
    }
  });

  test('--max-sessions counts every IP, implicit-TLS connections (refused in clear text) included', async () => {
    const server = await startServer(['--listen', '127.0.0.1:0', '--root', root, '--max-sessions', '2',
      '--implicit-tls-listen', '127.0.0.1:0', ...TLS_ARGS()], { lines: 2 });
    try {
      const a = await connectFrom(server.port, '127.0.0.1');
      assert.match(a.first, /^220 /);
      // An implicit-TLS connection holds its place from the first byte.
      const secure = tls.connect({ port: server.ftpsPort, host: '127.0.0.1', localAddress: '127.0.0.2', rejectUnauthorized: false });
      await once(secure, 'secureConnect');
      const b = new RawClient(secure);
      assert.match(await b.reply(), /^220 /);
      await assertRefused(server.port, '127.0.0.3', TOO_MANY);
      await assertRefused(server.ftpsPort, '127.0.0.3', TOO_MANY);
      await server.logged(/connection refused: 2 sessions are running \(--max-sessions\)/);
      a.client.close();
      b.close();
    } finally {
      await server.stop();
    }
  });

  test('the per-IP default is 50, as ftpwire serve', async () => {
    const server = await startServer(['--listen', '127.0.0.1:0', '--root', root]);
    const clients = [];
    try {
      for (let i = 0; i < 50; i++) {
        const { client, first } = await connectFrom(server.port);
        assert.match(first, /^220 /, `session ${i + 1}`);
        clients.push(client);
      }
      await assertRefused(server.port, '127.0.0.1', TOO_MANY_FROM_IP);
    } finally {
      for (const client of clients) client.close();
      await server.stop();
    }
  });
});

describe('--idle-timeout', () => {
  test('a session without a command reads 421 and is closed', async () => {
    const server = await startServer(['--listen', '127.0.0.1:0', '--root', root, '--user', 'alice:secret', '--idle-timeout', '1']);
    try {
      const { client, first } = await connectFrom(server.port);
      assert.match(first, /^220 /);
      assert.match(await client.login(), /^230 /);
      assert.equal(await client.reply(), '421 Idle timeout; closing the connection.\r\n');
      assert.equal(await client.reply(), null);
    } finally {
      await server.stop();
    }
  });

  test('a data connection that moves nothing for that long is cut: 426, then the idle 421', { timeout: 60_000 }, async () => {
    // Bigger than every socket buffer between the two ends: the server is
    // stuck writing while the client reads nothing.
    await fs.writeFile(path.join(root, 'big.bin'), Buffer.alloc(32 * 1024 * 1024, 1));
    const server = await startServer(['--listen', '127.0.0.1:0', '--root', root, '--user', 'alice:secret', '--idle-timeout', '1']);
    try {
      const { client } = await connectFrom(server.port);
      assert.match(await client.login(), /^230 /);
      await client.command('TYPE I');
      const epsv = await client.command('EPSV');
      const data = net.connect({ port: Number(/\(\|\|\|(\d+)\|\)/.exec(epsv)[1]), host: '127.0.0.1' });
      data.on('error', () => {});
      await once(data, 'connect');
      data.pause();
      assert.match(await client.command('RETR big.bin'), /^150 /);
      assert.match(await client.reply(), /^426 /);
      assert.equal(await client.reply(), '421 Idle timeout; closing the connection.\r\n');
      await server.logged(/RETR \/big\.bin failed/);
      data.destroy();
    } finally {
      await server.stop();
    }
  });
});

describe('--config FILE.toml', () => {
  let config;
  before(async () => {
    const conf = path.join(dir, 'conf');
    await fs.mkdir(path.join(conf, 'files'), { recursive: true });
    await fs.mkdir(path.join(conf, 'tls'));
    await fs.copyFile(cert, path.join(conf, 'tls', 'cert.pem'));
    await fs.copyFile(key, path.join(conf, 'tls', 'key.pem'));
    await fs.writeFile(path.join(conf, 'files', 'in-config-root.txt'), 'from the config root\n');
    config = path.join(conf, 'ftpwire.toml');
    await fs.writeFile(config, `# relative paths are relative to this file
listen = "127.0.0.1:0"
root = "files"
max_sessions_per_ip = 1
idle_timeout = 2
tls_cert = "tls/cert.pem"
tls_key = "tls/key.pem"
require_tls_session_reuse = true
show_dot_files = true

[[users]]
name = "alice"
password = "secret"

[[users]]
name = "bob"
password_hash = "${HASH}"
read_only = true
`);
    await fs.writeFile(path.join(conf, 'files', '.hidden'), 'dot\n');
  });

  test('its values take effect: root, users (plain and argon2, read-only), limits, timeouts, TLS', { timeout: 60_000 }, async () => {
    const server = await startServer(['--config', config]);
    try {
      const url = `ftp://127.0.0.1:${server.port}`;
      const got = await curl('--user', 'alice:secret', `${url}/in-config-root.txt`);
      assert.equal(got.code, 0, got.stderr);
      assert.equal(got.stdout, 'from the config root\n');
      const hashed = await curl('--user', 'bob:correct horse', `${url}/in-config-root.txt`);
      assert.equal(hashed.code, 0, hashed.stderr);
      assert.equal(hashed.stdout, 'from the config root\n');
      const wrong = await curl('--user', 'bob:wrong horse', `${url}/in-config-root.txt`);
      assert.match(wrong.stderr, /530/);
      // No anonymous logins once users are configured.
      const anonymous = await curl(`${url}/in-config-root.txt`);
      assert.match(anonymous.stderr, /530/);
      // read_only = true
      const write = await curl('--user', 'bob:correct horse', '-T', path.join(root, 'hello.txt'), `${url}/up.txt`);
      assert.notEqual(write.code, 0);
      assert.match(write.stderr, /550/);
      // show_dot_files = true
      const list = await curl('--user', 'alice:secret', '--list-only', `${url}/`);
      assert.match(list.stdout, /^\.hidden\r?$/m);
      // TLS from tls_cert/tls_key relative to the file.
      const secure = await curl('--ssl-reqd', '-k', '--user', 'alice:secret', `${url}/in-config-root.txt`);
      assert.equal(secure.code, 0, secure.stderr);
      // max_sessions_per_ip = 1 and idle_timeout = 2.
      const { client, first } = await connectFrom(server.port);
      assert.match(first, /^220 /);
      await assertRefused(server.port, '127.0.0.1', TOO_MANY_FROM_IP);
      assert.equal(await client.reply(), '421 Idle timeout; closing the connection.\r\n');
    } finally {
      await server.stop();
    }
  });

  test('flags override it (lists add to it)', { timeout: 60_000 }, async () => {
    const server = await startServer(['--config', config, '--root', root, '--max-sessions-per-ip', '2',
      '--user', 'carol:pw', '--anonymous']);
    try {
      const url = `ftp://127.0.0.1:${server.port}`;
      const got = await curl('--user', 'carol:pw', `${url}/hello.txt`);
      assert.equal(got.code, 0, got.stderr);
      assert.equal(got.stdout, 'hello\n');
      const fromFile = await curl('--user', 'alice:secret', `${url}/hello.txt`);
      assert.equal(fromFile.code, 0, fromFile.stderr);
      const anonymous = await curl(`${url}/hello.txt`);
      assert.equal(anonymous.code, 0, anonymous.stderr);
      const a = await connectFrom(server.port);
      const b = await connectFrom(server.port);
      assert.match(a.first, /^220 /);
      assert.match(b.first, /^220 /);
      await assertRefused(server.port, '127.0.0.1', TOO_MANY_FROM_IP);
      a.client.close();
      b.client.close();
    } finally {
      await server.stop();
    }
  });

  describe('a bad file is one clear line naming the file and line, and exit 2', () => {
    const cases = [
      ['an unknown key', 'root = "/"\nrot = "/"\n', /bad\.toml, line 2: unknown field `rot`/],
      ['an unknown user key', '[[users]]\nname = "a"\npasword = "x"\n', /bad\.toml, line 3: unknown field `pasword`/],
      ['not TOML', 'listen = \n', /bad\.toml, line 1: /],
      ['an unknown table', 'root = "/"\n\n[tls]\ncert = "x"\n', /bad\.toml, line 3: unknown field `tls`/],
      ['a user without a name', '[[users]]\nname = "a"\npassword = "b"\n[[users]]\npassword = "c"\n', /bad\.toml, line 4: missing field `name`/],
      ['a bad range', 'root = "/"\npassive_ports = "9-1"\n', /bad\.toml, line 2: .*LO <= HI/],
      ['a wrong type', '\nmax_sessions = "many"\n', /bad\.toml, line 2: invalid type: string "many", expected a non-negative integer/],
      ['a zero timeout', 'idle_timeout = 0\n', /bad\.toml, line 1: must be at least 1 second/],
      ['a bad address', 'listen = "localhost"\n', /bad\.toml, line 1: .*"localhost" is not HOST:PORT/],
      ['a bad network', 'local_networks = ["10.0.0.0/40"]\n', /bad\.toml, line 1: "10\.0\.0\.0\/40": /],
      ['a user without a password', '[[users]]\nname = "a"\n', /^ftpwire: user "a": needs a password or a password_hash$/m],
      ['a user with both', `[[users]]\nname = "a"\npassword = "x"\npassword_hash = "${HASH}"\n`, /user "a": give either password or password_hash, not both/],
      ['a hash that is not argon2', '[[users]]\nname = "a"\npassword_hash = "nope"\n', /user "a": password_hash is not an argon2 PHC string/],
      ['a user twice', '[[users]]\nname = "a"\npassword = "x"\n[[users]]\nname = "a"\npassword = "y"\n', /user "a": configured twice/],
      ['a TLS setting without a certificate', 'require_tls_session_reuse = true\n', /--require-tls-session-reuse needs a certificate: give --tls-cert FILE\.pem and --tls-key FILE\.pem/],
      ['allow_ccc without a certificate', 'allow_ccc = true\n', /--allow-ccc needs a certificate/],
    ];
    for (const [what, text, pattern] of cases) {
      test(what, async () => {
        const file = path.join(dir, 'bad.toml');
        await fs.writeFile(file, text);
        const result = await run(process.execPath, [SERVER, '--config', file]);
        assert.equal(result.code, 2);
        assert.equal(result.stdout, '');
        assert.match(result.stderr, pattern);
        assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      });
    }
    test('a file that cannot be read', async () => {
      const result = await run(process.execPath, [SERVER, '--config', path.join(dir, 'none.toml')]);
      assert.equal(result.code, 2);
      assert.match(result.stderr, /^ftpwire: cannot read config file .*none\.toml: ENOENT/);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    });
    test('allow_ccc with require_tls', async () => {
      const file = path.join(dir, 'ccc.toml');
      await fs.writeFile(file, `tls_cert = "${cert}"\ntls_key = "${key}"\nallow_ccc = true\nrequire_tls = true\n`);
      const result = await run(process.execPath, [SERVER, '--config', file]);
      assert.equal(result.code, 2);
      assert.match(result.stderr, /^ftpwire: --allow-ccc conflicts with --require-tls/);
    });
  });
});

describe('bad new flags fail at start with one clear line', () => {
  for (const [args, pattern] of [
    [['--max-sessions', 'many'], /--max-sessions "many" is not a number/],
    [['--max-sessions-per-ip', '-1'], /--max-sessions-per-ip/],
    [['--idle-timeout', '0'], /--idle-timeout "0" is not a number of seconds above 0/],
    [['--driver', 'tokio'], /--driver "tokio" is not smol or std/],
    [['--require-tls-session-reuse'], /--require-tls-session-reuse needs a certificate/],
    // A PEM file that is not a certificate is the certificate's fault, not the root's.
    [['--tls-cert', SERVER, '--tls-key', SERVER], /^ftpwire: configuration: --tls-cert\/--tls-key: the certificate or key cannot be used: /],
  ]) {
    test(args.join(' '), async () => {
      const result = await run(process.execPath, [SERVER, '--listen', '127.0.0.1:0', '--root', root, ...args]);
      assert.equal(result.code, 2);
      assert.equal(result.stdout, '');
      assert.match(result.stderr, pattern);
    });
  }
});

test('--driver smol|std is accepted and ignored (said once on stderr); --help lists every flag', async () => {
  const server = await startServer(['--listen', '127.0.0.1:0', '--root', root, '--driver', 'std']);
  try {
    await server.logged(/--driver std ignored/);
    const got = await curl(`ftp://127.0.0.1:${server.port}/hello.txt`);
    assert.equal(got.stdout, 'hello\n');
  } finally {
    await server.stop();
  }
  const help = await run(process.execPath, [SERVER, '--help']);
  assert.equal(help.code, 0);
  for (const flag of ['--config FILE.toml', '--driver smol|std', '--max-sessions N', '--max-sessions-per-ip N',
    '--idle-timeout SECONDS', '--require-tls-session-reuse', '--allow-ccc']) {
    assert.ok(help.stdout.includes(flag), `${flag} in the usage: ${help.stdout}`);
  }
});

/** A control connection turned to TLS with AUTH TLS, logged in as alice, PBSZ 0, PROT P, TYPE I. */
async function tlsControl(port) {
  const { client: plain, first } = await connectFrom(port);
  assert.match(first, /^220 /);
  assert.match(await plain.command('AUTH TLS'), /^234 /);
  plain.socket.removeAllListeners('data');
  const secure = tls.connect({ socket: plain.socket, rejectUnauthorized: false });
  // TLS 1.3 tickets come after the handshake: wait for one to resume with.
  const session = once(secure, 'session').then(([ticket]) => ticket);
  await once(secure, 'secureConnect');
  const client = new RawClient(secure);
  assert.match(await client.login(), /^230 /);
  assert.match(await client.command('PBSZ 0'), /^200 /);
  assert.match(await client.command('PROT P'), /^200 /);
  assert.match(await client.command('TYPE I'), /^200 /);
  return { client, session: await session };
}

/** RETR hello.txt over EPSV with a TLS data connection that offers `session`: the final reply and the data. */
async function retrieveResuming(client, session) {
  const epsv = await client.command('EPSV');
  const port = Number(/\(\|\|\|(\d+)\|\)/.exec(epsv)[1]);
  const raw = net.connect({ port, host: '127.0.0.1' });
  raw.on('error', () => {});
  await once(raw, 'connect');
  assert.match(await client.command('RETR hello.txt'), /^150 /);
  const closed = once(raw, 'close');
  const data = tls.connect({ socket: raw, session, rejectUnauthorized: false });
  data.on('error', () => {});
  let resumed = null;
  data.once('secureConnect', () => {
    resumed = data.isSessionReused();
  });
  let received = '';
  data.on('data', (chunk) => {
    received += chunk;
  });
  const reply = await client.reply();
  await closed;
  return { reply, received, resumed };
}

describe('--require-tls-session-reuse', () => {
  let server;
  before(async () => {
    server = await startServer(['--listen', '127.0.0.1:0', '--root', root, '--user', 'alice:secret',
      '--require-tls-session-reuse', ...TLS_ARGS()]);
  });
  after(() => server?.stop());

  test('curl resumes the control connection\'s session: RETR and STOR go through', async () => {
    const url = `ftp://127.0.0.1:${server.port}`;
    const got = await curl('--ssl-reqd', '-k', '--user', 'alice:secret', `${url}/hello.txt`);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.stdout, 'hello\n');
    const up = await curl('--ssl-reqd', '-k', '--user', 'alice:secret', '-T', path.join(root, 'hello.txt'), `${url}/curl-up.txt`);
    assert.equal(up.code, 0, up.stderr);
    assert.equal(await fs.readFile(path.join(root, 'curl-up.txt'), 'utf8'), 'hello\n');
  });

  test('Python\'s ftplib (never resumes) reads 522 and gets no data; the refusal is logged', async () => {
    const script = `
import ftplib, sys
f = ftplib.FTP_TLS()
f.connect('127.0.0.1', int(sys.argv[1]), timeout=30)
f.login('alice', 'secret')
f.prot_p()
got = []
try:
    f.retrbinary('RETR hello.txt', got.append)
    print('retr ok')
except Exception as e:
    print('retr error', e)
try:
    print('pwd', f.pwd())
except Exception as e:
    print('pwd error', e)
print('received', len(b''.join(got)))
`;
    const result = await run('python3', ['-c', script, String(server.port)]);
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stdout, /retr ok/);
    assert.match(result.stdout, /522 The data connection must resume the control connection's TLS session\./);
    assert.match(result.stdout, /received 0$/m);
    await server.logged(/RETR \/hello\.txt failed: the data connection did not resume the control connection's TLS session/);
  });

  test('a session resumed from another control connection reads 522; its own is served', async () => {
    const victim = await tlsControl(server.port);
    const other = await tlsControl(server.port);
    const stolen = await retrieveResuming(victim.client, other.session);
    assert.equal(stolen.reply, '522 The data connection must resume the control connection\'s TLS session.\r\n');
    assert.equal(stolen.received, '');
    assert.equal(stolen.resumed, false, 'the other connection\'s session cannot be resumed here');
    const own = await retrieveResuming(victim.client, victim.session);
    assert.ok(own.resumed, 'the data connection resumed the control connection\'s session');
    assert.match(own.reply, /^226 /);
    assert.equal(own.received, 'hello\n');
    victim.client.close();
    other.client.close();
  });
});

test('without --require-tls-session-reuse a data connection that does not resume is served', async () => {
  const server = await startServer(['--listen', '127.0.0.1:0', '--root', root, '--user', 'alice:secret', ...TLS_ARGS()]);
  try {
    const control = await tlsControl(server.port);
    const fresh = await retrieveResuming(control.client, undefined);
    assert.equal(fresh.resumed, false);
    assert.match(fresh.reply, /^226 /);
    assert.equal(fresh.received, 'hello\n');
    control.client.close();
  } finally {
    await server.stop();
  }
});

test('--allow-ccc reaches the session: CCC reads 200 with it, 534 without', async () => {
  for (const [flags, reply] of [[['--allow-ccc'], /^200 /], [[], /^534 CCC is disabled/]]) {
    const server = await startServer(['--listen', '127.0.0.1:0', '--root', root, '--user', 'alice:secret',
      ...TLS_ARGS(), ...flags]);
    try {
      const control = await tlsControl(server.port);
      assert.match(await control.client.command('CCC'), reply);
      control.client.close();
    } finally {
      await server.stop();
    }
  }
});

// CCC (RFC 4217 §6) on a client whose TLS is a memory BIO, so each way the
// TLS closure can go is exercised: `first` sends its close_notify at once
// and waits for the server's (lftp, ftplib); `pipelined` sends close_notify
// and its next command in one write; `waits` waits for the server's and
// never answers it (curl's default). Then PWD and NOOP in plain text, and a
// RETR under PROT P. Prints what it saw, one fact a line.
const CCC_CLIENT = `
import socket, ssl, sys
port, mode, implicit = int(sys.argv[1]), sys.argv[2], sys.argv[3] == 'implicit'
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
sock = socket.create_connection(('127.0.0.1', port), timeout=10)
plain = b''
def line():
    global plain
    while b'\\r\\n' not in plain:
        got = sock.recv(65536)
        if not got:
            raise EOFError('closed')
        plain += got
    text, plain = plain.split(b'\\r\\n', 1)
    return text.decode()
def command(text):
    sock.sendall(text.encode() + b'\\r\\n')
    return line()
if not implicit:
    line()
    assert command('AUTH TLS').startswith('234')
incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
tls = context.wrap_bio(incoming, outgoing, server_hostname='localhost')
def pump():
    data = outgoing.read()
    if data:
        sock.sendall(data)
def feed():
    got = sock.recv(65536)
    if not got:
        incoming.write_eof()
    incoming.write(got)
while True:
    try:
        tls.do_handshake()
        break
    except ssl.SSLWantReadError:
        pump()
        feed()
pump()
buffered = b''
def tls_line():
    global buffered
    while b'\\r\\n' not in buffered:
        try:
            buffered += tls.read(65536)
        except ssl.SSLWantReadError:
            feed()
    text, buffered = buffered.split(b'\\r\\n', 1)
    return text.decode()
def tls_command(text):
    tls.write(text.encode() + b'\\r\\n')
    pump()
    return tls_line()
if implicit:
    tls_line()
for text in ['USER alice', 'PASS secret', 'PBSZ 0', 'PROT P']:
    tls_command(text)
print('ccc', tls_command('CCC'))
def their_close_notify():
    while True:
        try:
            if tls.read(65536) == b'':
                return
        except ssl.SSLZeroReturnError:
            return
        except ssl.SSLWantReadError:
            feed()
if mode == 'first':
    try:
        tls.unwrap()
    except ssl.SSLWantReadError:
        pass
    pump()
    their_close_notify()
elif mode == 'pipelined':
    try:
        tls.unwrap()
    except ssl.SSLWantReadError:
        pass
    sock.sendall(outgoing.read() + b'PWD\\r\\n')
    their_close_notify()
else:
    their_close_notify()
print('close_notify', 'received')
# What came after the server's close_notify is plain text already.
plain = incoming.read()
pwd = line() if mode == 'pipelined' else command('PWD')
print('pwd', pwd)
print('noop', command('NOOP'))
reply = command('EPSV')
data_port = int(reply.split('|||')[1].split('|')[0])
data = socket.create_connection(('127.0.0.1', data_port), timeout=10)
print('retr', command('RETR hello.txt'))
secure = context.wrap_socket(data, server_hostname='localhost')
received = b''
while True:
    got = secure.recv(65536)
    if not got:
        break
    received += got
secure.close()
print('data', received.decode().strip())
print('end', line())
print('quit', command('QUIT'))
`;

describe('--allow-ccc: CCC, the TLS closure, then plain text on the same connection', () => {
  let server;
  before(async () => {
    server = await startServer(['--listen', '127.0.0.1:0', '--implicit-tls-listen', '127.0.0.1:0', '--root', root,
      '--user', 'alice:secret', '--tls-cert', cert, '--tls-key', key, '--allow-ccc'], { lines: 2 });
  });
  after(() => server.stop());

  for (const [mode, listener] of [['first', 'explicit'], ['pipelined', 'explicit'], ['waits', 'explicit'], ['first', 'implicit']]) {
    test(`${listener} FTPS, the client's close_notify ${{ first: 'first', pipelined: 'with its next command', waits: 'never' }[mode]}`, async () => {
      const port = listener === 'implicit' ? server.ftpsPort : server.port;
      const result = await run('python3', ['-c', CCC_CLIENT, String(port), mode, listener]);
      assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}\n${server.log()}`);
      const lines = result.stdout.trim().split('\n');
      assert.match(lines[0], /^ccc 200 /);
      assert.equal(lines[1], 'close_notify received');
      assert.match(lines[2], /^pwd 257 "\/"/);
      assert.match(lines[3], /^noop 200 /);
      assert.match(lines[4], /^retr 150 /);
      assert.equal(lines[5], 'data hello');
      assert.match(lines[6], /^end 226 /);
      assert.match(lines[7], /^quit 221 /);
    });
  }
});
