// The jail: nothing outside the root can be read, written, listed or named,
// symlinks included.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LocalFs } from '../local-fs.mjs';

let dir;
let outside;
let storage;
const b = (text) => Buffer.from(text);

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ftpwire-jail-'));
  outside = await fs.mkdtemp(path.join(os.tmpdir(), 'ftpwire-outside-'));
  await fs.writeFile(path.join(outside, 'secret'), 'secret');
  await fs.mkdir(path.join(dir, 'root'));
  await fs.writeFile(path.join(dir, 'root', 'a.txt'), 'hello\n');
  await fs.symlink(outside, path.join(dir, 'root', 'escape'));
  await fs.symlink(path.join(outside, 'secret'), path.join(dir, 'root', 'secret-link'));
  await fs.symlink('a.txt', path.join(dir, 'root', 'inner-link'));
  storage = await LocalFs.open(path.join(dir, 'root'));
});

after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
  await fs.rm(outside, { recursive: true, force: true });
});

const code = async (promise) => {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    return error.code;
  }
};

test('a bad root fails at start', async () => {
  assert.equal(await code(LocalFs.open(path.join(dir, 'missing'))), 'ENOENT');
  assert.equal(await code(LocalFs.open(path.join(dir, 'root', 'a.txt'))), 'ENOTDIR');
});

test('symlinks that leave the root are refused for reading, listing and writing', async () => {
  assert.equal(await code(storage.stat(b('/escape'))), 'EACCES');
  assert.equal(await code(storage.stat(b('/escape/secret'))), 'EACCES');
  assert.equal(await code(storage.openRead(b('/secret-link'))), 'EACCES');
  assert.equal(await code(storage.list(b('/escape')).next()), 'EACCES');
  assert.equal(await code(storage.openWrite(b('/escape/new'), 'truncate')), 'EACCES');
  assert.equal(await code(storage.openWrite(b('/secret-link'), 'truncate')), 'EACCES');
  assert.equal(await code(storage.makeDirectory(b('/escape/d'))), 'EACCES');
  assert.equal(await fs.readFile(path.join(outside, 'secret'), 'utf8'), 'secret');
  assert.deepEqual(await fs.readdir(outside), ['secret']);
});

test('a symlink inside the root works and lists as a link with its target', async () => {
  assert.equal((await storage.stat(b('/inner-link'))).size, 6);
  const entries = [];
  for await (const batch of storage.list(b('/'))) entries.push(...batch);
  const kinds = Object.fromEntries(entries.map((e) => [e.name.toString(), e.facts.kind]));
  assert.deepEqual(kinds, { 'a.txt': 'file', escape: 'symlink', 'secret-link': 'symlink', 'inner-link': 'symlink' });
});

test('the root itself cannot be removed or renamed, and dot components are refused', async () => {
  assert.equal(await code(storage.removeDirectory(b('/'))), 'EACCES');
  assert.equal(await code(storage.rename(b('/'), b('/x'))), 'EACCES');
  assert.equal(await code(storage.stat(b('/../etc'))), 'EILSEQ');
});

test('write modes: truncate, at an offset, append; unique names never collide', async () => {
  const write = async (mode, offset, data) => {
    const writer = await storage.openWrite(b('/w.txt'), mode, offset);
    await writer.write(b(data));
    await writer.close();
  };
  await write('truncate', 0, 'abcdef');
  await write('at', 3, 'XY');
  assert.equal(await fs.readFile(path.join(dir, 'root', 'w.txt'), 'utf8'), 'abcXY');
  await write('append', 0, '!');
  assert.equal(await fs.readFile(path.join(dir, 'root', 'w.txt'), 'utf8'), 'abcXY!');
  const one = await storage.createUnique(b('/'));
  const two = await storage.createUnique(b('/'));
  await one.writer.close();
  await two.writer.close();
  assert.notEqual(one.name.toString(), two.name.toString());
  assert.equal(await code(storage.createUnique(b('/a.txt'))), 'ENOTDIR');
});

test('listings give each link its target; MFMT, SITE CHMOD and CWD stay inside the root', async () => {
  const entries = [];
  for await (const batch of storage.list(b('/'))) entries.push(...batch);
  const byName = Object.fromEntries(entries.map((e) => [e.name.toString(), e]));
  assert.equal(byName['inner-link'].linkTarget.toString(), 'a.txt');
  assert.equal(byName.escape.linkTarget.toString(), outside);
  assert.equal(byName['a.txt'].linkTarget, null);
  await storage.setModified(b('/a.txt'), 1_000_000_000);
  assert.equal((await storage.stat(b('/a.txt'))).modified, 1_000_000_000);
  await storage.setPermissions(b('/a.txt'), 0o100640);
  assert.equal((await fs.stat(path.join(dir, 'root', 'a.txt'))).mode & 0o7777, 0o640);
  await storage.enterDirectory(b('/'));
  assert.equal(await code(storage.enterDirectory(b('/a.txt'))), 'ENOTDIR');
  const before = await fs.stat(path.join(outside, 'secret'));
  assert.equal(await code(storage.enterDirectory(b('/escape'))), 'EACCES');
  assert.equal(await code(storage.setModified(b('/secret-link'), 0)), 'EACCES');
  assert.equal(await code(storage.setPermissions(b('/escape/secret'), 0o777)), 'EACCES');
  const after = await fs.stat(path.join(outside, 'secret'));
  assert.equal(after.mtimeMs, before.mtimeMs);
  assert.equal(after.mode, before.mode);
});
