// The JavaScript API of the module beyond the shared scripts: argument
// checking, answers by id, bytes that are not UTF-8, timeouts, TYPE A
// codecs, listing formats and the RFC 2577 peer check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AsciiDecoder, AsciiEncoder, ServerConfig, Session, sameHost } from '../module.mjs';

const LOCAL = { address: '127.0.0.1', port: 21 };
const PEER = { address: '127.0.0.1', port: 40000 };
const text = (bytes) => Buffer.from(bytes).toString('latin1');

/** Polls until `timeout`, returning transmitted text and events. */
function drain(session) {
  let out = '';
  const events = [];
  for (;;) {
    const output = session.pollOutput();
    if (output.type === 'transmit') out += text(output.data);
    else if (output.type === 'timeout' || output.type === 'closed') return { out, events, last: output };
    else events.push(output);
  }
}

function loggedIn(config = new ServerConfig()) {
  const session = new Session(config, LOCAL, PEER, 0);
  session.handleInput(0, Buffer.from('USER alice\r\nPASS secret\r\n'));
  const { events } = drain(session);
  session.answer(events.find((e) => e.type === 'login').id, 'login', { accepted: true, readOnly: false });
  assert.equal(drain(session).out, '230 Login successful.\r\n');
  return session;
}

function epsvTransfer(session, line) {
  session.handleInput(1, Buffer.from('EPSV\r\n'));
  const open = drain(session).events[0];
  session.answer(open.id, 'passiveOpened', { port: 50000 });
  drain(session);
  session.handleInput(2, Buffer.from(line));
  return drain(session).events.find((e) => e.type === 'transfer');
}

test('configuration errors say what is wrong and how to fix it', () => {
  const config = new ServerConfig();
  assert.throws(() => config.set('passiveAddress', 'not a host'), /passive address "not a host".*neither an IP address nor a DNS name/);
  assert.throws(() => config.addLocalNetwork('10.0.0.0/33'), /local network "10.0.0.0\/33".*prefix.*use CIDR/);
  assert.throws(() => new Session(config, { address: 'nope', port: 21 }, PEER, 0), /"nope" is not an IP address/);
  assert.throws(() => new Session(config, { port: 21 }, PEER, 0), /local must be an object \{address, port\}/);
  assert.throws(() => new Session(config, { address: '127.0.0.1', port: 70000 }, PEER, 0), /port must be a whole number/);
  config.set('passiveAddress', 'ftp.example.com');
  config.addLocalNetwork('10.0.0.0/8');
});

test('settings are fixed once a session uses them: a change then throws, and a new ServerConfig takes it', () => {
  const config = new ServerConfig();
  config.set('greeting', 'first');
  const session = new Session(config, LOCAL, PEER, 0);
  assert.equal(drain(session).out, '220 first\r\n');
  assert.throws(() => config.set('greeting', 'second'), /in use by a session: change them before creating sessions, or use a new ServerConfig/);
  assert.throws(() => config.addLocalNetwork('10.0.0.0/8'), /in use by a session/);
  const next = new ServerConfig();
  next.set('greeting', 'second');
  assert.equal(drain(new Session(next, LOCAL, PEER, 0)).out, '220 second\r\n');
  // Once its sessions are freed, the first can change again.
  session.free();
  config.set('greeting', 'third');
  assert.equal(drain(new Session(config, LOCAL, PEER, 0)).out, '220 third\r\n');
});

test('a passive port map advertises the mapped port while the listener is bound on another', () => {
  const config = new ServerConfig();
  assert.throws(() => config.set('passivePortMap', '50000'), /passive port map "50000".*BOUND:ADVERTISED/);
  config.set('passivePortMap', '50000-50009:30000');
  const session = loggedIn(config);
  session.handleInput(1, Buffer.from('PASV\r\n'));
  session.answer(drain(session).events[0].id, 'passiveOpened', { port: 50003 });
  assert.equal(drain(session).out, '227 Entering Passive Mode (127,0,0,1,117,51).\r\n');
  session.handleInput(2, Buffer.from('EPSV\r\n'));
  session.answer(drain(session).events.find((e) => e.type === 'openPassive').id, 'passiveOpened', { port: 50003 });
  assert.equal(drain(session).out, '229 Entering Extended Passive Mode (|||30003|)\r\n');
});

test('an answer needs the id of a pending event of its type, once', () => {
  const session = new Session(new ServerConfig(), LOCAL, PEER, 0);
  session.handleInput(0, Buffer.from('USER a\r\nPASS b\r\n'));
  const login = drain(session).events[0];
  assert.equal(login.type, 'login');
  assert.throws(() => session.answer(login.id, 'statFailed', 'ENOENT'), /no pending stat event has id/);
  assert.throws(() => session.answer(login.id + 1, 'login', { accepted: true, readOnly: false }), /no pending login event has id/);
  session.answer(login.id, 'login', { accepted: true, readOnly: false });
  assert.throws(() => session.answer(login.id, 'login', { accepted: true, readOnly: false }), /answer each event once/);
  assert.equal(drain(session).out, '230 Login successful.\r\n');
});

test('answers and settings are checked by name and value', () => {
  const session = new Session(new ServerConfig(), LOCAL, PEER, 0);
  session.handleInput(0, Buffer.from('USER a\r\nPASS b\r\n'));
  const login = drain(session).events[0];
  assert.throws(() => session.answer(login.id, 'loggedIn', true), /unknown answer "loggedIn"/);
  session.answer(login.id, 'login', { accepted: false });
  const { last } = drain(session); // the 530 waits for the failed-login delay
  session.handleTimeout(last.at);
  assert.match(drain(session).out, /^530 /);
  session.handleInput(last.at, Buffer.from('USER a\r\nPASS b\r\n'));
  session.answer(drain(session).events[0].id, 'login', { accepted: true });
  assert.equal(drain(session).out, '230 Login successful.\r\n');
  session.handleInput(last.at, Buffer.from('EPSV\r\n'));
  const open = drain(session).events[0];
  assert.throws(() => session.answer(open.id, 'passiveOpened', { port: 65536 }), /port must be a whole number from 0 to 65535/);
  assert.throws(() => session.answer(open.id, 'passiveOpened', {}), /port must be a whole number/);
  session.answer(open.id, 'passiveOpened', { port: 50001 });
  assert.equal(drain(session).out, '229 Entering Extended Passive Mode (|||50001|)\r\n');

  const config = new ServerConfig();
  assert.throws(() => config.set('tlsOn', true), /unknown setting "tlsOn"/);
  assert.throws(() => config.set('tls', 'yes'), /setting tls must be a boolean/);
  assert.throws(() => config.set('idleTimeoutMs', '5'), /setting idleTimeoutMs must be a number/);
  assert.throws(() => config.set('greeting', 1), /setting greeting must be a string/);
  config.set('greeting', 'hello');
  config.set('maxLoginFailures', 1);
  const greeted = new Session(config, LOCAL, PEER, 0);
  assert.equal(drain(greeted).out, '220 hello\r\n');
});

test('unknown error names are refused with the list of known ones', () => {
  const session = loggedIn();
  session.handleInput(1, Buffer.from('SIZE a\r\n'));
  const stat = drain(session).events[0];
  assert.throws(() => session.answer(stat.id, 'statFailed', 'gone'), /unknown error "gone": use one of notFound/);
  assert.throws(() => session.answer(stat.id, 'statDone', { kind: 'fifo', size: 1, mode: 0 }), /unknown file kind "fifo"/);
  assert.throws(() => session.answer(stat.id, 'statDone', { kind: 'file', size: -1, mode: 0 }), /file size must be a number >= 0/);
  // Any errno code works, and unknown ones are a local error (451).
  session.answer(stat.id, 'statFailed', 'EACCES');
  assert.equal(drain(session).out, '550 Permission denied.\r\n');
});

test('paths and user names that are not UTF-8 stay bytes', () => {
  const session = new Session(new ServerConfig(), LOCAL, PEER, 0);
  drain(session);
  // Invalid UTF-8 (0xff would be Telnet IAC: a literal one is sent doubled).
  session.handleInput(0, Buffer.from([...Buffer.from('USER '), 0xc3, 0x28, 0xff, 0xff, 13, 10]));
  drain(session);
  session.handleInput(0, Buffer.from('PASS x\r\n'));
  const login = drain(session).events[0];
  assert.deepEqual([...login.user], [0xc3, 0x28, 0xff]);
  session.answer(login.id, 'login', { accepted: true, readOnly: false });
  drain(session);
  session.handleInput(1, Buffer.from([...Buffer.from('MKD caf'), 0xe9, 13, 10]));
  const change = drain(session).events[0];
  assert.equal(change.type, 'fileChange');
  assert.equal(change.change, 'makeDirectory');
  assert.deepEqual([...change.path], [...Buffer.from('/caf'), 0xe9]);
  session.answer(change.id, 'changeDone');
  assert.equal(drain(session).out, '257 "/caf\xe9" created.\r\n');
});

test('timeouts are host milliseconds, rounded up, and fire the failed-login delay', () => {
  const session = new Session(new ServerConfig(), LOCAL, PEER, 500.25);
  const { last } = drain(session);
  // Not logged in yet: the login timeout (30 s by default) comes first.
  assert.deepEqual(last, { type: 'timeout', at: 30501 });
  assert.equal(session.pollTimeout(), 30501);
  session.handleInput(600, Buffer.from('USER a\r\nPASS wrong\r\n'));
  const login = drain(session).events[0];
  session.answer(login.id, 'login', { accepted: false });
  const delayed = drain(session);
  assert.equal(delayed.out, '');
  assert.equal(delayed.last.at, 1600);
  session.handleTimeout(1599);
  assert.equal(drain(session).out, '');
  session.handleTimeout(1600);
  assert.equal(drain(session).out, '530 Login incorrect.\r\n');
});

test('a transfer runs step by step, each step named by the transfer id; ABOR ends it', () => {
  const session = loggedIn();
  const transfer = epsvTransfer(session, 'RETR big\r\n');
  session.answer(transfer.id, 'storageOpened', { size: 100 }, 3);
  const connect = drain(session).events[0];
  assert.deepEqual(connect, { type: 'connectData', id: transfer.id, data: { mode: 'passive', peer: '127.0.0.1' }, protected: false });
  assert.throws(() => session.answer(transfer.id, 'dataMoved', 1, 3), /no pending moveData event has id/);
  session.answer(transfer.id, 'dataConnected', undefined, 3);
  const started = drain(session);
  assert.equal(started.out, '150 Opening data connection.\r\n');
  assert.deepEqual(started.events, [{ type: 'closePassive' }, { type: 'moveData', id: transfer.id }]);
  session.answer(transfer.id, 'dataProgress', 10, 3);
  session.handleInput(3, Buffer.from('ABOR\r\n'));
  const aborted = drain(session);
  assert.equal(aborted.out, '426 Transfer aborted.\r\n226 ABOR successful.\r\n');
  assert.deepEqual(aborted.events.slice(0, 1), [{ type: 'abortTransfer', id: transfer.id }]);
  assert.match(aborted.events[1].message, /^RETR \/big failed: transfer aborted \(10 bytes in \d+ ms\) \(alice\)$/);
  assert.throws(() => session.answer(transfer.id, 'transferFailed', 'aborted', 4), /no pending transfer event has id/);
});

test('transfer events carry everything the host needs', () => {
  const config = new ServerConfig();
  config.set('tls', true);
  const session = loggedIn(config);
  session.handleInput(1, Buffer.from('PORT 127,0,0,1,200,10\r\nTYPE I\r\nREST 7\r\n'));
  drain(session);
  session.handleInput(2, Buffer.from('RETR /x/../y.bin\r\n'));
  const transfer = drain(session).events[0];
  assert.deepEqual(
    { ...transfer, path: text(transfer.path), id: undefined },
    { type: 'transfer', id: undefined, kind: 'retrieve', plan: 'read', path: '/y.bin', offset: 7, ascii: false },
  );
  session.answer(transfer.id, 'storageOpened', { size: 20 }, 3);
  assert.deepEqual(drain(session).events, [
    { type: 'connectData', id: transfer.id, data: { mode: 'active', address: '127.0.0.1', port: 51210 }, protected: false },
  ]);
});

test('listings come out in the format the client asked for', () => {
  const session = loggedIn();
  const facts = { kind: 'file', size: 5, modified: 0, mode: 0o600 };
  let transfer = epsvTransfer(session, 'NLST\r\n');
  const odd = Buffer.from([0x61, 0xff, 0x62]);
  assert.deepEqual([...session.formatListing(transfer.id, [{ name: odd, facts }], 0)], [0x61, 0xff, 0x62, 13, 10]);
  session.answer(transfer.id, 'transferFailed', 'noDataConnection', 3);
  drain(session);
  transfer = epsvTransfer(session, 'LIST\r\n');
  assert.equal(
    text(session.formatListing(transfer.id, [{ name: 'old.txt', facts }], 400 * 86400)),
    '-rw-------   1 ftp      ftp                 5 Jan  1  1970 old.txt\r\n',
  );
  assert.throws(() => session.formatListing(transfer.id, [{ name: 5, facts }], 0), /entry.name must be a Uint8Array or a string/);
  assert.throws(
    () => session.formatListing(transfer.id, [{ name: 'l', facts, linkTarget: 5 }], 0),
    /entry.linkTarget must be a Uint8Array, a string or null/,
  );
  // A getter that throws reads as a missing property, and the session goes on.
  const throwing = { get name() { throw new Error('no name'); }, facts };
  assert.throws(() => session.formatListing(transfer.id, [throwing], 0), /entry.name must be a Uint8Array or a string/);
  assert.throws(() => session.formatListing(transfer.id, [{ name: 'x', facts: { kind: 'fifo', size: 1 } }], 0), /unknown file kind "fifo"/);
  assert.throws(() => session.formatListing(transfer.id, [{ name: 'x', facts: { kind: 'file' } }], 0), /facts.size must be a number/);
  assert.throws(() => session.formatListing(transfer.id, 'not a list', 0), /entries must be an array/);
  // A link, and a dot file this LIST (no -a) leaves out.
  assert.equal(
    text(session.formatListing(transfer.id, [{ name: '.hidden', facts }, { name: 'l', facts, linkTarget: 'old.txt' }], 400 * 86400)),
    'lrwxrwxrwx   1 ftp      ftp                 7 Jan  1  1970 l -> old.txt\r\n',
  );
  session.answer(transfer.id, 'transferFailed', 'noDataConnection', 3);
  drain(session);
  transfer = epsvTransfer(session, 'RETR a\r\n');
  assert.throws(() => session.formatListing(transfer.id, [{ name: 'a', facts }], 0), /not a listing/);
});

test('TYPE A codecs convert line ends across chunk boundaries', () => {
  const encoder = new AsciiEncoder();
  assert.equal(text(encoder.encode(Buffer.from('a\nb\r'))) + text(encoder.encode(Buffer.from('\nc\n'))), 'a\r\nb\r\nc\r\n');
  const decoder = new AsciiDecoder();
  const parts = [decoder.decode(Buffer.from('a\r\nb\r')), decoder.decode(Buffer.from('\nc\r')), decoder.finish()];
  assert.equal(parts.map(text).join(''), 'a\nb\nc\r');
});

test('sameHost treats IPv4-mapped IPv6 addresses as IPv4', () => {
  assert.equal(sameHost('::ffff:127.0.0.1', '127.0.0.1'), true);
  assert.equal(sameHost('127.0.0.2', '127.0.0.1'), false);
  assert.equal(sameHost('fe80::1%eth0', 'fe80::1'), true);
  assert.throws(() => sameHost('x', '127.0.0.1'), /"x" is not an IP address/);
});

test('implicit-TLS sessions start secured; AUTH TLS sessions after the handshake', () => {
  const config = new ServerConfig();
  config.set('tls', true);
  assert.equal(Session.implicitTls(config, LOCAL, PEER, 0).isSecured(), true);
  const session = new Session(config, LOCAL, PEER, 0);
  drain(session);
  session.handleInput(0, Buffer.from('AUTH TLS\r\nUSER injected\r\n'));
  const { out, events } = drain(session);
  assert.equal(out, '234 AUTH TLS ok; start the TLS handshake.\r\n');
  assert.equal(events[0].type, 'upgradeTls');
  assert.equal(session.wantsInput(), true, 'plain text is handed over and dropped during the upgrade');
  session.handleInput(0, Buffer.from('PASS x\r\n'));
  assert.equal(session.heldInput(), 0, 'dropped, not held');
  assert.equal(session.isSecured(), false);
  session.answer(events[0].id, 'tlsEstablished');
  assert.equal(session.isSecured(), true);
  session.handleInput(1, Buffer.from('PWD\r\n'));
  assert.equal(drain(session).out, '530 Please log in with USER and PASS first.\r\n');
});
