// A local directory served as the whole storage, jailed at its root.
//
// The core hands over virtual paths that are normalized, absolute and never
// above "/". Node has no openat(2), so the jail works with what Linux gives
// every process: an operation opens what it reads (or the parent directory
// of what it creates, removes or renames), asks the kernel where that open
// file really is (/proc/self/fd/N), refuses it unless it lies under the real
// root, and then acts only through that descriptor: `/proc/self/fd/N/name`
// names an entry of exactly the directory that was checked, whatever has
// been renamed since. Nothing is checked by name and then acted on by name,
// so sessions renaming directories under each other cannot lead an
// operation out of the root. Paths stay bytes (Buffers) end to end, so names
// that are not UTF-8 work too. What remains open is in drivers/wasm/README.md.
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

/** O_PATH (Linux): a descriptor that only names a file, opened without read permission. */
const O_PATH = 0o10000000;
const PROC_FD = '/proc/self/fd/';

/** The path through which the kernel reaches exactly what `handle` has open. */
const viaHandle = (handle, name) =>
  name === undefined ? Buffer.from(`${PROC_FD}${handle.fd}`) : Buffer.concat([Buffer.from(`${PROC_FD}${handle.fd}/`), name]);

export class LocalFs {
  /** Serves `root`: it must exist, be a directory and be listable (checked now, so a bad root fails at start). */
  static async open(root) {
    if (process.platform !== 'linux') {
      throw fsError('ENOSYS', 'the Node host jails its root through /proc/self/fd, which only Linux has; run it on Linux');
    }
    const real = await fs.realpath(root, { encoding: 'buffer' });
    const stats = await fs.stat(real);
    if (!stats.isDirectory()) throw fsError('ENOTDIR', `${root} is not a directory`);
    await (await fs.opendir(real)).close();
    const storage = new LocalFs(real);
    // Proves /proc/self/fd works here (it is missing in some containers).
    await (await storage.openInside([], O_PATH | constants.O_DIRECTORY)).close();
    return storage;
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

  isInside(real) {
    if (real.equals(this.root)) return true;
    return real.length > this.rootSlash.length && real.subarray(0, this.rootSlash.length).equals(this.rootSlash);
  }

  /**
   * Opens the root-relative `parts` with `flags` and keeps the descriptor only
   * if the kernel says the open file lies under the root. FTP sessions can
   * only move things within the root, so a file opened outside stays outside
   * and is refused, however the path was raced.
   */
  async openInside(parts, flags) {
    const handle = await fs.open(this.join(this.root, parts), flags);
    let real;
    try {
      real = await fs.readlink(viaHandle(handle), { encoding: 'buffer' });
    } catch (error) {
      await handle.close();
      throw error;
    }
    if (!this.isInside(real)) {
      await handle.close();
      throw outsideRoot();
    }
    return handle;
  }

  /** The checked parent directory of the entry `virt` names, and that entry's name. */
  async parent(virt) {
    const parts = components(virt);
    const name = parts.pop();
    if (name === undefined) throw fsError('EACCES', 'the root directory cannot be changed');
    const dir = await this.openInside(parts, O_PATH | constants.O_DIRECTORY);
    return { dir, name, at: viaHandle(dir, name) };
  }

  /** Runs `work(at)` with `at` naming the entry `virt` inside its checked parent. */
  async inParent(virt, work) {
    const { dir, at } = await this.parent(virt);
    try {
      return await work(at);
    } finally {
      await dir.close();
    }
  }

  async stat(virt) {
    const handle = await this.openInside(components(virt), O_PATH);
    try {
      return factsOf(await handle.stat());
    } finally {
      await handle.close();
    }
  }

  /**
   * Facts for a listing entry at `at`. A symlink is listed as the link it is
   * (its own facts, kind 'symlink', and `linkTarget` as stored), never
   * followed: its target may lie outside the root. Same as the Rust drivers.
   */
  async entryFacts(at, own) {
    if (!own.isSymbolicLink()) return { facts: factsOf(own), linkTarget: null };
    let linkTarget = null;
    try {
      linkTarget = await fs.readlink(at, { encoding: 'buffer' });
    } catch {
      // Gone since readdir: no target to show.
    }
    return { facts: factsOf(own), linkTarget };
  }

  /** A directory's entries as `{name, facts, linkTarget}`, in batches of up to `size`. */
  async *list(virt, size = 256) {
    const handle = await this.openInside(components(virt), O_PATH | constants.O_DIRECTORY);
    try {
      const dir = await fs.opendir(viaHandle(handle), { encoding: 'buffer' });
      let batch = [];
      for await (const dirent of dir) {
        const at = viaHandle(handle, dirent.name);
        let own;
        try {
          own = await fs.lstat(at);
        } catch (error) {
          if (error.code === 'ENOENT') continue; // removed since readdir
          throw error;
        }
        const { facts, linkTarget } = await this.entryFacts(at, own);
        batch.push({ name: dirent.name, facts, linkTarget });
        if (batch.length >= size) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length > 0) yield batch;
    } finally {
      await handle.close();
    }
  }

  /** An open file to read from `offset`. */
  async openRead(virt) {
    const handle = await this.openInside(components(virt), constants.O_RDONLY);
    if ((await handle.stat()).isDirectory()) {
      await handle.close();
      throw fsError('EISDIR', 'is a directory');
    }
    return handle;
  }

  /** A FileWriter: `truncate` (STOR), `at` an offset (STOR after REST; the rest is cut), or `append` (APPE). */
  async openWrite(virt, mode, offset = 0) {
    const flags = constants.O_WRONLY | (mode === 'append' ? constants.O_APPEND : 0);
    const handle = await this.inParent(virt, async (at) => {
      // An existing file (or a link's target) is opened without O_TRUNC and
      // checked before anything is cut; a new one is created in the checked
      // parent, never through a link (O_EXCL does not follow one).
      for (let attempt = 0; attempt < 4; attempt++) {
        try {
          const existing = await fs.open(at, flags);
          const real = await fs.readlink(viaHandle(existing), { encoding: 'buffer' }).catch(() => null);
          if (real === null || !this.isInside(real)) {
            await existing.close();
            throw outsideRoot();
          }
          return existing;
        } catch (error) {
          if (error.code !== 'ENOENT') throw error;
        }
        try {
          return await fs.open(at, flags | constants.O_CREAT | constants.O_EXCL, 0o644);
        } catch (error) {
          if (error.code !== 'EEXIST') throw error;
          // A dangling link could point anywhere: do not create its target.
          if ((await fs.lstat(at)).isSymbolicLink()) throw outsideRoot();
          // Otherwise another session created it just now: open that one.
        }
      }
      throw fsError('EBUSY', 'the file kept appearing and disappearing; try again');
    });
    try {
      if ((await handle.stat()).isDirectory()) throw fsError('EISDIR', 'is a directory');
      if (mode === 'truncate') await handle.truncate(0);
      if (mode === 'at') await handle.truncate(offset);
    } catch (error) {
      await handle.close();
      throw error;
    }
    return new FileWriter(handle, { truncate: 0, at: offset, append: null }[mode]);
  }

  /** STOU: a new file with a name nobody used, in the directory `virt`. */
  async createUnique(virt) {
    const dir = await this.openInside(components(virt), O_PATH | constants.O_DIRECTORY);
    try {
      for (let attempt = 0; attempt < 64; attempt++) {
        const name = Buffer.from(`ftpwire.${process.pid}.${Date.now().toString(16)}${(uniqueCounter++).toString(16)}`);
        try {
          const handle = await fs.open(viaHandle(dir, name), 'wx', 0o644);
          return { name, writer: new FileWriter(handle, 0) };
        } catch (error) {
          if (error.code !== 'EEXIST') throw error;
        }
      }
    } finally {
      await dir.close();
    }
    throw fsError('EEXIST', 'could not find a free unique file name');
  }

  async makeDirectory(virt) {
    await this.inParent(virt, (at) => fs.mkdir(at));
  }

  async removeDirectory(virt) {
    await this.inParent(virt, (at) => fs.rmdir(at));
  }

  async delete(virt) {
    await this.inParent(virt, async (at) => {
      if ((await fs.lstat(at)).isDirectory()) throw fsError('EISDIR', 'is a directory');
      await fs.unlink(at); // removes a link, never what it points to
    });
  }

  async rename(from, to) {
    await this.inParent(from, (source) =>
      this.inParent(to, async (target) => {
        await fs.lstat(source); // a missing source is ENOENT, not an error about the target
        await fs.rename(source, target);
      }),
    );
  }

  /** MFMT: the modification time (seconds since the Unix epoch), of what `virt` names. */
  async setModified(virt, unixSeconds) {
    const handle = await this.openInside(components(virt), O_PATH);
    try {
      const stats = await handle.stat();
      await fs.utimes(viaHandle(handle), stats.atime, unixSeconds);
    } finally {
      await handle.close();
    }
  }

  /** SITE CHMOD: the permission bits of what `virt` names. */
  async setPermissions(virt, mode) {
    const handle = await this.openInside(components(virt), O_PATH);
    try {
      await fs.chmod(viaHandle(handle), mode & 0o7777);
    } finally {
      await handle.close();
    }
  }

  /** CWD: a directory this process may enter (search permission, as chdir(2) needs). */
  async enterDirectory(virt) {
    const handle = await this.openInside(components(virt), O_PATH | constants.O_DIRECTORY);
    try {
      await fs.access(viaHandle(handle), constants.X_OK);
    } finally {
      await handle.close();
    }
  }
}
