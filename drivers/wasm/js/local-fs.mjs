// A local directory served as the whole storage, jailed at its root.
//
// The core hands over virtual paths that are normalized, absolute and never
// above "/". Here each is mapped under the root and its real path (symlinks
// followed) must still lie under the real root, or the operation fails with
// EACCES. Operations that create or remove an entry check the entry's parent
// that way and never follow a final symlink out of the root. Paths stay
// bytes (Buffers) end to end, so names that are not UTF-8 work too.
import fs from 'node:fs/promises';
import { constants } from 'node:fs';

const SLASH = 0x2f;

/** An error with an errno-style code, which the session maps to a reply. */
function fsError(code, message) {
  return Object.assign(new Error(message), { code });
}

const outsideRoot = () => fsError('EACCES', 'path resolves outside the served root');

/** Facts the core formats, from Node's fs.Stats. */
export function factsOf(stats) {
  let kind = 'other';
  if (stats.isDirectory()) kind = 'directory';
  else if (stats.isFile()) kind = 'file';
  else if (stats.isSymbolicLink()) kind = 'symlink';
  return { kind, size: stats.size, modified: Math.floor(stats.mtimeMs / 1000), mode: stats.mode & 0o7777 };
}

/** The components of a virtual path, refusing any the core never produces. */
function components(virt) {
  const parts = [];
  let start = 1;
  for (let i = 1; i <= virt.length; i++) {
    if (i === virt.length || virt[i] === SLASH) {
      if (i > start) parts.push(Buffer.from(virt.subarray(start, i)));
      start = i + 1;
    }
  }
  for (const part of parts) {
    const text = part.toString('latin1');
    if (text === '.' || text === '..' || part.includes(0)) throw fsError('EILSEQ', 'file name not allowed');
  }
  return parts;
}

let uniqueCounter = 0;

/** An open file being written at a position that moves with each write (appended if `position` is null). */
export class FileWriter {
  constructor(handle, position) {
    this.handle = handle;
    this.position = position;
  }

  async write(data) {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.handle.write(data, done, data.length - done, this.position);
      done += bytesWritten;
      if (this.position !== null) this.position += bytesWritten;
    }
  }

  close() {
    return this.handle.close();
  }
}

export class LocalFs {
  /** Serves `root`: it must exist, be a directory and be listable (checked now, so a bad root fails at start). */
  static async open(root) {
    const real = await fs.realpath(root, { encoding: 'buffer' });
    const stats = await fs.stat(real);
    if (!stats.isDirectory()) throw fsError('ENOTDIR', `${root} is not a directory`);
    await (await fs.opendir(real)).close();
    return new LocalFs(real);
  }

  constructor(realRoot) {
    this.root = realRoot;
    this.rootSlash = realRoot[realRoot.length - 1] === SLASH ? realRoot : Buffer.concat([realRoot, Buffer.from('/')]);
  }

  join(base, parts) {
    const pieces = [base];
    for (const part of parts) {
      if (pieces[pieces.length - 1].at(-1) !== SLASH) pieces.push(Buffer.from('/'));
      pieces.push(part);
    }
    return Buffer.concat(pieces);
  }

  inside(real) {
    if (real.equals(this.root)) return real;
    if (real.length > this.rootSlash.length && real.subarray(0, this.rootSlash.length).equals(this.rootSlash)) return real;
    throw outsideRoot();
  }

  /** The real path of an existing virtual path, refused if it resolves outside the root. */
  async existing(virt) {
    return this.inside(await fs.realpath(this.join(this.root, components(virt)), { encoding: 'buffer' }));
  }

  /** The real path of the entry `virt` names, its parent checked, its last component not followed. */
  async entry(virt) {
    const parts = components(virt);
    const name = parts.pop();
    if (name === undefined) throw fsError('EACCES', 'the root directory cannot be changed');
    const parent = this.inside(await fs.realpath(this.join(this.root, parts), { encoding: 'buffer' }));
    return this.join(parent, [name]);
  }

  /** Where an upload writes: the entry, or the target of a symlink that stays inside the root. */
  async writeTarget(virt) {
    const entry = await this.entry(virt);
    let own;
    try {
      own = await fs.lstat(entry);
    } catch (error) {
      if (error.code === 'ENOENT') return entry;
      throw error;
    }
    if (!own.isSymbolicLink()) return entry;
    try {
      return this.inside(await fs.realpath(entry, { encoding: 'buffer' }));
    } catch {
      // A dangling or escaping link could point anywhere: do not write through it.
      throw outsideRoot();
    }
  }

  async stat(virt) {
    return factsOf(await fs.stat(await this.existing(virt)));
  }

  /** Facts for a listing entry: a symlink inside the root shows its target, one leaving it shows as a link. */
  async entryFacts(path, own) {
    if (own.isSymbolicLink()) {
      try {
        return factsOf(await fs.stat(this.inside(await fs.realpath(path, { encoding: 'buffer' }))));
      } catch {
        // Dangling or outside the root: show the link itself.
      }
    }
    return factsOf(own);
  }

  /** A directory's entries as `{name, facts}`, in batches of up to `size`. */
  async *list(virt, size = 256) {
    const real = await this.existing(virt);
    const dir = await fs.opendir(real, { encoding: 'buffer' });
    let batch = [];
    for await (const dirent of dir) {
      const path = this.join(real, [dirent.name]);
      let own;
      try {
        own = await fs.lstat(path);
      } catch (error) {
        if (error.code === 'ENOENT') continue; // removed since readdir
        throw error;
      }
      batch.push({ name: dirent.name, facts: await this.entryFacts(path, own) });
      if (batch.length >= size) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  }

  /** An open file to read from `offset`. */
  async openRead(virt) {
    const handle = await fs.open(await this.existing(virt), 'r');
    if ((await handle.stat()).isDirectory()) {
      await handle.close();
      throw fsError('EISDIR', 'is a directory');
    }
    return handle;
  }

  /** A FileWriter: `truncate` (STOR), `at` an offset (STOR after REST; the rest is cut), or `append` (APPE). */
  async openWrite(virt, mode, offset = 0) {
    const real = await this.writeTarget(virt);
    const flags = {
      truncate: constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC,
      at: constants.O_WRONLY | constants.O_CREAT,
      append: constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND,
    }[mode];
    const handle = await fs.open(real, flags, 0o644);
    try {
      if ((await handle.stat()).isDirectory()) throw fsError('EISDIR', 'is a directory');
      if (mode === 'at') await handle.truncate(offset);
    } catch (error) {
      await handle.close();
      throw error;
    }
    return new FileWriter(handle, { truncate: 0, at: offset, append: null }[mode]);
  }

  /** STOU: a new file with a name nobody used, in the directory `virt`. */
  async createUnique(virt) {
    const dir = await this.existing(virt);
    if (!(await fs.stat(dir)).isDirectory()) throw fsError('ENOTDIR', 'not a directory');
    for (let attempt = 0; attempt < 64; attempt++) {
      const name = Buffer.from(`ftpwire.${process.pid}.${Date.now().toString(16)}${(uniqueCounter++).toString(16)}`);
      try {
        const handle = await fs.open(this.join(dir, [name]), 'wx', 0o644);
        return { name, writer: new FileWriter(handle, 0) };
      } catch (error) {
        if (error.code !== 'EEXIST') throw error;
      }
    }
    throw fsError('EEXIST', 'could not find a free unique file name');
  }

  async makeDirectory(virt) {
    await fs.mkdir(await this.entry(virt));
  }

  async removeDirectory(virt) {
    await fs.rmdir(await this.entry(virt));
  }

  async delete(virt) {
    const real = await this.entry(virt);
    if ((await fs.lstat(real)).isDirectory()) throw fsError('EISDIR', 'is a directory');
    await fs.unlink(real);
  }

  async rename(from, to) {
    const source = await this.entry(from);
    const target = await this.entry(to);
    await fs.lstat(source); // a missing source is ENOENT, not an error about the target
    await fs.rename(source, target);
  }
}
