// The --target web builds (ES modules for browsers and edge runtimes) run
// the same sessions: initialised from the module's bytes, as a host without
// a file system would after fetching it; the server and the client module
// each hold only their half.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

test('the web build initialises from bytes and runs a session', async () => {
  const web = await import(new URL('../../pkg/web/ftpwire_wasm.js', import.meta.url));
  await web.default({ module_or_path: readFileSync(new URL('../../pkg/web/ftpwire_wasm_bg.wasm', import.meta.url)) });
  assert.equal(web.ClientSession, undefined, 'the server module leaves the client half out');
  assert.equal(web.Balancers, undefined, 'the server module leaves the PROXY protocol out');
  assert.equal(web.startsWithProxyHeader(new TextEncoder().encode('PROXY TCP4 ')), true, 'but still refuses a header');
  const session = new web.Session(new web.ServerConfig(), { address: '::1', port: 21 }, { address: '::1', port: 5000 }, 0);
  session.handleInput(0, new TextEncoder().encode('USER a\r\nPASS b\r\n'));
  const outputs = [];
  for (let output = session.pollOutput(); output.type !== 'timeout'; output = session.pollOutput()) outputs.push(output);
  const login = outputs.find((o) => o.type === 'login');
  session.answer(login.id, 'login', { accepted: true, readOnly: true });
  session.handleInput(1, new TextEncoder().encode('PASV\r\n'));
  const text = [];
  for (let output = session.pollOutput(); output.type !== 'timeout'; output = session.pollOutput()) {
    if (output.type === 'transmit') text.push(new TextDecoder().decode(output.data));
  }
  assert.equal(
    text.join(''),
    '230 Login successful.\r\n522 PASV cannot carry an IPv6 address; use EPSV (RFC 2428).\r\n',
  );
});

test('the web server module with the PROXY protocol initialises from bytes and reads a header', async () => {
  const web = await import(new URL('../../pkg/web-proxy/ftpwire_wasm.js', import.meta.url));
  await web.default({ module_or_path: readFileSync(new URL('../../pkg/web-proxy/ftpwire_wasm_bg.wasm', import.meta.url)) });
  assert.equal(web.ClientSession, undefined, 'the server module leaves the client half out');
  assert.equal(new web.Balancers(['10.0.0.0/8']).contains('10.1.2.3'), true);
  const proxied = new web.ProxyHeaderReader().push(new TextEncoder().encode('PROXY TCP4 203.0.113.9 10.0.0.2 40000 21\r\nUSER'));
  assert.deepEqual(proxied.client, { address: '203.0.113.9', port: 40000 });
  assert.equal(new TextDecoder().decode(proxied.rest), 'USER');
  const session = new web.Session(new web.ServerConfig(), { address: '10.0.0.2', port: 21 }, proxied.client, 0);
  const greeting = session.pollOutput();
  assert.equal(new TextDecoder().decode(greeting.data), '220 ftpwire ready\r\n');
});

test('the web client module initialises from bytes and runs a client session', async () => {
  const web = await import(new URL('../../pkg/web-client/ftpwire_wasm.js', import.meta.url));
  await web.default({ module_or_path: readFileSync(new URL('../../pkg/web-client/ftpwire_wasm_bg.wasm', import.meta.url)) });
  assert.equal(web.Session, undefined, 'the client module leaves the server half out');
  const client = new web.ClientSession('ann', 'pw', 'plain', { address: '::1', port: 5000 }, { address: '::1', port: 21 }, 0);
  client.handleInput(0, new TextEncoder().encode('220 ready\r\n'));
  const output = client.pollOutput();
  assert.equal(output.type, 'transmit');
  assert.equal(new TextDecoder().decode(output.data), 'USER ann\r\n');
});
