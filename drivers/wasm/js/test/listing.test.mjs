// The Node host's listings and file facts against curl on loopback, with the
// same tree and the same expected bytes as the Rust drivers' tests/listing.rs
// and tests/mfmt_chmod.rs: entries sorted by name, dot files hidden unless
// -a (or --show-dot-files), symlinks as links, dot files kept from anonymous
// logins unless --share-dot-files, MFMT and SITE CHMOD checked on disk.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { curl, startServer } from './host.mjs';

const USER = ['-u', 'alice:secret'];
const ANONYMOUS = ['-u', 'anonymous:guest@example.com'];
/** 2020-01-02 03:04:05 UTC: LIST shows the year, whatever the day of the test. */
const MTIME = 1577934245;

const A_TXT = '-rw-r--r--   1 ftp      ftp                 1 Jan  2  2020 a.txt';
const B_UPPER = '-rw-r--r--   1 ftp      ftp                 2 Jan  2  2020 B.txt';
const B_TXT = '-rw-r--r--   1 ftp      ftp                 5 Jan  2  2020 b.txt';
const UNDERSCORE = '-rw-r--r--   1 ftp      ftp                 0 Jan  2  2020 _u';
const ENV = '-rw-r--r--   1 ftp      ftp                 9 Jan  2  2020 .env';
const VISIBLE = ['B.txt', '_u', 'a.txt', 'b.txt', 'ln', 'out', 'sub'];
const EVERYTHING = ['.env', '.git', ...VISIBLE];

let dir;
let root;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ftpwire-listing-'));
  root = path.join(dir, 'root');
  await fs.mkdir(root);
  for (const [name, body] of [['b.txt', 'bbbbb'], ['.env', 'SECRET=1\n'], ['a.txt', 'a'], ['_u', ''], ['B.txt', 'BB']]) {
    await fs.writeFile(path.join(root, name), body);
  }
  await fs.mkdir(path.join(root, 'sub'));
  await fs.mkdir(path.join(root, '.git'));
  await fs.writeFile(path.join(root, '.git', 'config'), '[core]\n');
  await fs.symlink('a.txt', path.join(root, 'ln'));
  await fs.symlink('../outside', path.join(root, 'out'));
  for (const name of ['b.txt', '.env', 'a.txt', '_u', 'B.txt', 'sub', '.git']) {
    const file = path.join(root, name);
    await fs.chmod(file, (await fs.stat(file)).isDirectory() ? 0o755 : 0o644);
    await fs.utimes(file, MTIME, MTIME);
  }
});

after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const lines = (text) => text.split('\n').filter((l) => l !== '').map((l) => l.replace(/\r$/, ''));

async function ok(...args) {
  const result = await curl(...args);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout;
}

describe('listings', () => {
  let server;
  let url;
  before(async () => {
    server = await startServer(['--listen', '127.0.0.1:0', '--root', root, '--user', 'alice:secret', '--anonymous']);
    url = `ftp://127.0.0.1:${server.port}`;
  });
  after(() => server.stop());

  test('sorted by name bytewise; dot files only with -a', async () => {
    assert.deepEqual(lines(await ok(...USER, '-l', `${url}/`)), VISIBLE);
    assert.deepEqual(lines(await ok(...USER, '-X', 'NLST -a', `${url}/`)), EVERYTHING);
    const list = lines(await ok(...USER, `${url}/`));
    assert.equal(list.length, 7, list.join('\n'));
    assert.deepEqual(list.slice(0, 4), [B_UPPER, UNDERSCORE, A_TXT, B_TXT]);
    assert.ok(list[6].startsWith('drwxr-xr-x   2 ftp') && list[6].endsWith(' sub'), list[6]);
    for (const option of ['LIST -la', 'LIST -al', 'LIST -a']) {
      const long = lines(await ok(...USER, '-X', option, `${url}/`));
      assert.equal(long.length, 9, `${option}: ${long.join('\n')}`);
      assert.equal(long[0], ENV, option);
      assert.ok(long[1].endsWith(' .git'), option);
    }
    const mlsd = await ok(...USER, '-X', 'MLSD', `${url}/`);
    assert.match(mlsd, /; \.env\r?$/m);
    assert.equal(await ok(...USER, `${url}/.env`), 'SECRET=1\n');
    assert.deepEqual(lines(await ok(...USER, '-X', 'NLST .env', `${url}/`)), ['.env']);
    assert.deepEqual(lines(await ok(...USER, '-X', 'LIST .env', `${url}/`)), [ENV]);
  });

  test('symlinks are listed as links', async () => {
    const list = lines(await ok(...USER, `${url}/`));
    const ln = list.find((l) => l.includes(' ln'));
    assert.ok(ln.startsWith('lrwxrwxrwx   1 ftp      ftp                 5 ') && ln.endsWith(' ln -> a.txt'), ln);
    const out = list.find((l) => l.includes(' out'));
    assert.ok(out.startsWith('lrwxrwxrwx   1 ftp      ftp                10 ') && out.endsWith(' out -> ../outside'), out);
    const mlsd = await ok(...USER, '-X', 'MLSD', `${url}/`);
    assert.match(mlsd, /^type=OS\.unix=slink:a\.txt;size=\d+;modify=\d{14};perm=; ln\r?$/m);
    assert.match(mlsd, /^type=OS\.unix=slink:\.\.\/outside;size=10;modify=\d{14};perm=; out\r?$/m);
  });

  test('anonymous logins never reach dot files, not even with -a', async () => {
    for (const file of ['.git/config', '.env']) {
      const result = await curl('-v', ...ANONYMOUS, `${url}/${file}`);
      assert.notEqual(result.code, 0, file);
      assert.match(result.stderr, /550 Permission denied: dot files are not served to this login\./, file);
    }
    assert.deepEqual(lines(await ok(...ANONYMOUS, '-X', 'NLST -a', `${url}/`)), VISIBLE);
    assert.equal(await ok(...USER, `${url}/.git/config`), '[core]\n');
  });
});

describe('dot-file settings', () => {
  let server;
  let url;
  before(async () => {
    server = await startServer([
      '--listen', '127.0.0.1:0', '--root', root, '--anonymous', '--show-dot-files', '--share-dot-files',
    ]);
    url = `ftp://127.0.0.1:${server.port}`;
  });
  after(() => server.stop());

  test('--show-dot-files lists them without -a; --share-dot-files serves them to anonymous', async () => {
    assert.deepEqual(lines(await ok(...ANONYMOUS, '-l', `${url}/`)), EVERYTHING);
    assert.equal(await ok(...ANONYMOUS, `${url}/.git/config`), '[core]\n');
  });
});

describe('MFMT and SITE CHMOD', () => {
  let server;
  let url;
  before(async () => {
    server = await startServer(['--listen', '127.0.0.1:0', '--root', root, '--user', 'alice:secret', '--anonymous']);
    url = `ftp://127.0.0.1:${server.port}`;
  });
  after(() => server.stop());

  test('MFMT sets the modification time on disk', async () => {
    await fs.writeFile(path.join(root, 'sub', 'm b.txt'), 'x');
    const result = await curl('-v', ...USER, '-Q', 'MFMT 19991231235959 sub/m b.txt', `${url}/`);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /< 213 Modify=19991231235959; \/sub\/m b\.txt/);
    assert.equal(Math.floor((await fs.stat(path.join(root, 'sub', 'm b.txt'))).mtimeMs / 1000), 946684799);
  });

  test('SITE CHMOD sets the permission bits, never setuid', async () => {
    const file = path.join(root, 'sub', 'c.txt');
    await fs.writeFile(file, 'x');
    await fs.chmod(file, 0o644);
    const done = await curl('-v', ...USER, '-Q', 'SITE CHMOD 640 sub/c.txt', `${url}/`);
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stderr, /< 200 SITE CHMOD command ok\./);
    assert.equal((await fs.stat(file)).mode & 0o7777, 0o640);
    const setuid = await curl('-v', ...USER, '-Q', 'SITE CHMOD 4755 sub/c.txt', `${url}/`);
    assert.match(setuid.stderr, /< 504 SITE CHMOD sets permission bits only/);
    assert.equal((await fs.stat(file)).mode & 0o7777, 0o640);
  });

  test('read-only logins are refused', async () => {
    const file = path.join(root, 'sub', 'c.txt');
    const before = (await fs.stat(file)).mode & 0o7777;
    for (const command of ['MFMT 20200102030405 sub/c.txt', 'SITE CHMOD 777 sub/c.txt']) {
      const result = await curl('-v', ...ANONYMOUS, '-Q', command, `${url}/`);
      assert.notEqual(result.code, 0, command);
      assert.match(result.stderr, /< 550 Permission denied: this login is read-only\./, command);
    }
    assert.equal((await fs.stat(file)).mode & 0o7777, before);
  });
});
