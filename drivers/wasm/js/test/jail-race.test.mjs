// The jail holds while sessions rename directories under each other's feet
// (the race of tests/jail_race.rs, against the Node host). The tree has a
// real `p/d/` and `q/d -> ../../outside`; one session swaps `p` and `q` with
// pipelined renames while others run MKD, STOR, SIZE and RETR under `p/d/`.
// Nothing outside the root may be created, changed or read. Bounded by
// FTPWIRE_RACE_SECONDS (15 s by default) and by a count of operations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { RawClient, startServer } from './host.mjs';

const SECONDS = Number(process.env.FTPWIRE_RACE_SECONDS ?? 15);
const MARKER = 'OUTSIDE-SECRET!';
const SECRET = MARKER.repeat(600).slice(0, 7777);
const INSIDE = 'inside the root';
const HAMMERS = 3;
const MAX_ROUNDS = 100_000;

async function dataConnection(client) {
  const reply = await client.command('EPSV');
  const port = Number(/\(\|\|\|(\d+)\|\)/.exec(reply)[1]);
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  await once(socket, 'connect');
  return socket;
}

async function store(client, file) {
  const data = await dataConnection(client);
  const reply = await client.command(`STOR ${file}`);
  if (!/^1\d\d/.test(reply)) {
    data.destroy();
    return;
  }
  data.end('planted by a racing session');
  const done = await client.reply();
  assert.match(done, /^(226|250|426|451|550)/, `STOR end: ${done}`);
}

async function retrieve(client, file) {
  const data = await dataConnection(client);
  const chunks = [];
  data.on('data', (chunk) => chunks.push(chunk));
  const ended = once(data, 'close');
  const reply = await client.command(`RETR ${file}`);
  if (!/^1\d\d/.test(reply)) {
    data.destroy();
    return '';
  }
  await ended;
  const done = await client.reply();
  assert.match(done, /^(226|250|426|451)/, `RETR end: ${done}`);
  return Buffer.concat(chunks).toString('latin1');
}

test('renaming parents never moves an operation out of the root', { timeout: (SECONDS + 60) * 1000 }, async () => {
  const top = await fs.mkdtemp(path.join(os.tmpdir(), 'ftpwire-race-'));
  const root = path.join(top, 'root');
  const outside = path.join(top, 'outside');
  await fs.mkdir(path.join(root, 'p', 'd'), { recursive: true });
  await fs.mkdir(path.join(root, 'q'));
  await fs.mkdir(outside);
  await fs.writeFile(path.join(outside, 'secret'), SECRET);
  await fs.writeFile(path.join(root, 'p', 'd', 'secret'), INSIDE);
  await fs.symlink('../../outside', path.join(root, 'q', 'd'));
  const server = await startServer(['--listen', '127.0.0.1:0', '--root', root, '--user', 'alice:secret']);
  const tally = { swaps: 0, operations: 0, secretReads: 0, secretSizes: 0, insideReads: 0 };
  const deadline = Date.now() + SECONDS * 1000;
  try {
    const renamer = (async () => {
      const client = await RawClient.connect(server.port);
      await client.login();
      const script = 'RNFR p\r\nRNTO t\r\nRNFR q\r\nRNTO p\r\nRNFR p\r\nRNTO q\r\nRNFR t\r\nRNTO p\r\n';
      while (Date.now() < deadline) {
        client.socket.write(script);
        for (const expected of ['350', '250', '350', '250', '350', '250', '350', '250']) {
          const reply = await client.reply();
          assert.equal(reply?.slice(0, 3), expected, `rename step: ${reply}`);
        }
        tally.swaps++;
      }
      client.close();
    })();
    const hammers = Array.from({ length: HAMMERS }, async (_, n) => {
      const client = await RawClient.connect(server.port);
      await client.login();
      await client.command('TYPE I');
      for (let i = 0; i < MAX_ROUNDS && Date.now() < deadline; i++) {
        await client.command(`MKD p/d/m${n}-${i}`);
        const size = await client.command('SIZE p/d/secret');
        if (size.startsWith('213') && size.trim().endsWith(String(SECRET.length))) tally.secretSizes++;
        await store(client, `p/d/s${n}-${i}`);
        const bytes = await retrieve(client, 'p/d/secret');
        if (bytes.includes(MARKER)) tally.secretReads++;
        else if (bytes === INSIDE) tally.insideReads++;
        tally.operations += 4;
      }
      client.close();
    });
    await Promise.all([renamer, ...hammers]);
    const created = (await fs.readdir(outside, { recursive: true })).filter((name) => name !== 'secret');
    console.log(
      `node: ${tally.swaps} swaps of p and q, ${tally.operations} operations under p/d, ` +
        `${tally.insideReads} reads of p/d/secret inside the root; outside it: ${created.length} entries created, ` +
        `${tally.secretReads} reads and ${tally.secretSizes} SIZEs of the secret`,
    );
    assert.ok(tally.swaps > 0, 'the renaming session never completed a swap');
    assert.ok(tally.insideReads > 0, 'no RETR of p/d/secret ever succeeded: the sessions never raced the renames');
    assert.deepEqual(created.slice(0, 20), [], `entries created outside the root (${created.length})`);
    assert.equal(await fs.readFile(path.join(outside, 'secret'), 'latin1'), SECRET, 'the outside file was changed');
    assert.equal(tally.secretReads, 0, 'RETR returned the outside file');
    assert.equal(tally.secretSizes, 0, "SIZE answered with the outside file's size");
  } finally {
    await server.stop();
    await fs.rm(top, { recursive: true, force: true });
  }
});
