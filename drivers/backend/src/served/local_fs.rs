//! [`LocalFs`]: a local directory served as the whole storage, jailed so that
//! nothing outside it can be read, written, listed or named.
//!
//! The root is opened once, as a directory handle, and every operation
//! resolves its path *beneath that handle* with cap-std: on Linux 5.6 and
//! later each lookup is one `openat2` call with `RESOLVE_BENEATH |
//! RESOLVE_NO_MAGICLINKS`, so the kernel itself refuses a path (or a symlink
//! met on the way, or a directory renamed mid-lookup) that would leave the
//! root; on older kernels and other systems cap-std walks the path one
//! component at a time with `O_NOFOLLOW` from the handle, which is just as
//! safe. Nothing is checked by name and then acted on by name, so sessions
//! renaming directories under each other's feet (or a local user swapping a
//! directory for a symlink) cannot move an operation out of the root.
//!
//! Symlinks keep working while they stay inside the root, relative ones
//! only: an absolute link (`/srv/ftp/pub`) is refused even when it points
//! inside, since it is resolved against the real `/`.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cap_fs_ext::{AccessType, DirExt, SystemTimeSpec};
use cap_primitives::fs::AccessModes;
use cap_std::ambient_authority;
use cap_std::fs::{Dir, OpenOptions};
use ftpwire_core::listing::{FileKind, Metadata};
use ftpwire_core::path::components;

#[cfg(not(target_os = "linux"))]
use crate::served::storage::DirEntry;
use crate::served::storage::{DirEntries, FileReader, FileWriter, Storage, WriteMode};

/// A local directory tree as [`Storage`], jailed at its root.
///
/// ```
/// use ftpwire_backend::{LocalFs, Storage};
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("hello.txt"), b"hi\n").unwrap();
/// let fs = LocalFs::new(dir.path()).unwrap();
/// assert_eq!(fs.stat(b"/hello.txt").unwrap().size, 3);
/// assert!(fs.stat(b"/../../etc/passwd").is_err());
/// ```
#[derive(Debug, Clone)]
pub struct LocalFs {
    /// The root, opened once: every path is resolved beneath it.
    dir: Arc<Dir>,
    /// Canonical (absolute, symlink-free) root, for messages only.
    root: PathBuf,
}

impl LocalFs {
    /// Serves the directory `root`; fails if it does not exist, is not a
    /// directory, or cannot be listed.
    pub fn new(root: impl AsRef<Path>) -> io::Result<Self> {
        let root = fs::canonicalize(root.as_ref())?;
        if !fs::metadata(&root)?.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                "the root is not a directory",
            ));
        }
        // The one use of ambient authority: from here on, only this handle.
        let dir = Dir::open_ambient_dir(&root, ambient_authority())?;
        // Listing it proves it is readable, so a bad root fails at start.
        dir.entries()?;
        Ok(LocalFs {
            dir: Arc::new(dir),
            root,
        })
    }

    /// The canonical root directory (for messages: nothing is opened by it).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `virt` as a path relative to the root (`.` for the root itself),
    /// without touching the filesystem.
    fn relative(virt: &[u8]) -> io::Result<PathBuf> {
        let mut relative = PathBuf::from(".");
        for component in components(virt) {
            relative.push(component_os_str(component)?);
        }
        Ok(relative)
    }

    /// `virt` as a directory entry relative to the root: the root itself is
    /// not an entry anyone may create, remove or rename.
    fn entry(virt: &[u8]) -> io::Result<PathBuf> {
        if components(virt).next().is_none() {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "the root directory cannot be changed",
            ));
        }
        Self::relative(virt)
    }

    /// Facts of `relative`, following symlinks beneath the root.
    fn facts(&self, relative: &Path) -> io::Result<Metadata> {
        if relative == Path::new(".") {
            return Ok(metadata(&self.dir.dir_metadata()?));
        }
        Ok(metadata(&self.dir.metadata(relative)?))
    }
    /// RETR's file beneath the root, positioned at `offset`.
    fn read_file(&self, path: &[u8], offset: u64) -> io::Result<File> {
        let mut file = self.dir.open(Self::relative(path)?)?.into_std();
        // The opened file itself, not the name: it cannot change under us.
        if file.metadata()?.is_dir() {
            return Err(io::ErrorKind::IsADirectory.into());
        }
        if offset > 0 {
            file.seek(SeekFrom::Start(offset))?;
        }
        Ok(file)
    }

    /// An upload's file beneath the root, opened and positioned as `mode` says.
    fn write_file(&self, path: &[u8], mode: WriteMode) -> io::Result<File> {
        let relative = Self::entry(path)?;
        let mut options = OpenOptions::new();
        options.create(true);
        match mode {
            WriteMode::Truncate => options.write(true).truncate(true),
            WriteMode::At(_) => options.write(true),
            WriteMode::Append => options.append(true),
        };
        // A final symlink is followed only to a target beneath the root (a
        // dangling one is created there, or refused if it leads out); the
        // kernel refuses to open a directory for writing (EISDIR).
        let mut file: File = self.dir.open_with(&relative, &options)?.into_std();
        if let WriteMode::At(offset) = mode {
            file.set_len(offset)?;
            file.seek(SeekFrom::Start(offset))?;
        }
        Ok(file)
    }

    /// [`Storage::list`] through cap-std's `read_dir`, where no handle-based
    /// reader is written (systems other than Linux).
    #[cfg(not(target_os = "linux"))]
    fn list_by_name(&self, relative: PathBuf) -> io::Result<DirEntries> {
        let entries = self.dir.read_dir(&relative)?;
        let jail = self.clone();
        Ok(Box::new(entries.filter_map(move |entry| {
            let entry = match entry {
                Ok(entry) => entry,
                Err(error) => return Some(Err(error)),
            };
            let name = entry.file_name();
            // The entry's own facts: readdir names it, lstat describes it.
            match entry.metadata() {
                Ok(own) if own.is_symlink() => {
                    // Shown as the link it is (`name -> target`), never
                    // followed: its target may lie outside the root.
                    let link_target = jail
                        .dir
                        .read_link_contents(relative.join(&name))
                        .ok()
                        .map(|target| os_str_bytes(target.as_os_str()));
                    Some(Ok(DirEntry {
                        name: os_string_bytes(name),
                        metadata: metadata(&own),
                        link_target,
                    }))
                }
                Ok(own) => Some(Ok(DirEntry {
                    name: os_string_bytes(name),
                    metadata: metadata(&own),
                    link_target: None,
                })),
                // Removed between readdir and stat: it is simply gone.
                Err(error) if error.kind() == io::ErrorKind::NotFound => None,
                Err(error) => Some(Err(error)),
            }
        })))
    }
}

impl Storage for LocalFs {
    fn stat(&self, path: &[u8]) -> io::Result<Metadata> {
        self.facts(&Self::relative(path)?)
    }

    fn list(&self, path: &[u8]) -> io::Result<DirEntries> {
        let relative = Self::relative(path)?;
        #[cfg(target_os = "linux")]
        {
            // Opened beneath the root, then read by its handle.
            let dir = self.dir.open_dir(&relative)?;
            Ok(Box::new(by_handle::entries(&dir)?.into_iter()))
        }
        #[cfg(not(target_os = "linux"))]
        self.list_by_name(relative)
    }

    fn open_read(&self, path: &[u8], offset: u64) -> io::Result<FileReader> {
        Ok(Box::new(self.read_file(path, offset)?))
    }

    fn open_write(&self, path: &[u8], mode: WriteMode) -> io::Result<FileWriter> {
        Ok(Box::new(self.write_file(path, mode)?))
    }

    fn open_read_local(&self, path: &[u8], offset: u64) -> Option<io::Result<File>> {
        Some(self.read_file(path, offset))
    }

    fn open_write_local(&self, path: &[u8], mode: WriteMode) -> Option<io::Result<File>> {
        Some(self.write_file(path, mode))
    }

    fn create_unique(&self, directory: &[u8]) -> io::Result<(Vec<u8>, FileWriter)> {
        // The directory as a handle: each attempt creates a name in it, so a
        // rename of the directory (or of its parents) cannot redirect it.
        let dir = self.dir.open_dir(Self::relative(directory)?)?;
        for _ in 0..64 {
            let name = unique_name();
            match dir.open_with(&name, OpenOptions::new().write(true).create_new(true)) {
                Ok(file) => return Ok((name.into_bytes(), Box::new(file.into_std()))),
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(error) => return Err(error),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "could not find a free unique file name",
        ))
    }

    fn make_directory(&self, path: &[u8]) -> io::Result<()> {
        self.dir.create_dir(Self::entry(path)?)
    }

    fn remove_directory(&self, path: &[u8]) -> io::Result<()> {
        self.dir.remove_dir(Self::entry(path)?)
    }

    fn delete(&self, path: &[u8]) -> io::Result<()> {
        let relative = Self::entry(path)?;
        // unlink(2) on a directory says EISDIR on Linux but EPERM elsewhere;
        // the answer is only a better error, the unlink below decides.
        if self.dir.symlink_metadata(&relative)?.is_dir() {
            return Err(io::ErrorKind::IsADirectory.into());
        }
        // unlinkat in the parent resolved beneath the root; a final symlink
        // is removed, never followed.
        self.dir.remove_file(relative)
    }

    fn rename(&self, from: &[u8], to: &[u8]) -> io::Result<()> {
        // Both parents resolved beneath the root, then one renameat.
        self.dir
            .rename(Self::entry(from)?, &self.dir, Self::entry(to)?)
    }

    fn set_modified(&self, path: &[u8], unix_seconds: i64) -> io::Result<()> {
        let time = if unix_seconds >= 0 {
            UNIX_EPOCH + Duration::from_secs(unix_seconds.unsigned_abs())
        } else {
            UNIX_EPOCH - Duration::from_secs(unix_seconds.unsigned_abs())
        };
        let time = cap_std::time::SystemTime::from_std(time);
        self.dir.set_times(
            Self::relative(path)?,
            None,
            Some(SystemTimeSpec::Absolute(time)),
        )
    }

    fn set_permissions(&self, path: &[u8], mode: u32) -> io::Result<()> {
        let permissions = permissions(mode & 0o7777)?;
        self.dir.set_permissions(
            Self::relative(path)?,
            cap_std::fs::Permissions::from_std(permissions),
        )
    }

    fn enter_directory(&self, path: &[u8]) -> io::Result<()> {
        let relative = Self::relative(path)?;
        if self.facts(&relative)?.kind != FileKind::Directory {
            return Err(io::ErrorKind::NotADirectory.into());
        }
        // Search permission, as chdir(2) needs (root passes, as in chdir).
        let search = AccessModes {
            readable: false,
            writable: false,
            executable: true,
        };
        self.dir.access(&relative, AccessType::Access(search))
    }
}

#[cfg(unix)]
fn permissions(mode: u32) -> io::Result<fs::Permissions> {
    use std::os::unix::fs::PermissionsExt;
    Ok(fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn permissions(_mode: u32) -> io::Result<fs::Permissions> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "permission bits exist only on Unix",
    ))
}

/// A name STOU has not used before in this process (`create_new` guarantees
/// uniqueness on disk; the counter just makes collisions rare).
fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("ftpwire.{}.{nanos:08x}{n:x}", std::process::id())
}

/// One virtual path component as an OS file name; `.`/`..`, separators and
/// NUL are refused even though the core never produces them, so a storage
/// called directly by an embedder is just as safe.
fn component_os_str(component: &[u8]) -> io::Result<&OsStr> {
    let bad = component.is_empty()
        || component == b"."
        || component == b".."
        || component.contains(&0)
        || component.contains(&b'/')
        || (cfg!(windows) && component.iter().any(|b| matches!(b, b'\\' | b':')));
    if bad {
        return Err(io::Error::new(
            io::ErrorKind::InvalidFilename,
            "file name not allowed",
        ));
    }
    bytes_os_str(component)
}

#[cfg(unix)]
fn bytes_os_str(bytes: &[u8]) -> io::Result<&OsStr> {
    use std::os::unix::ffi::OsStrExt;
    Ok(OsStr::from_bytes(bytes))
}

#[cfg(not(unix))]
fn bytes_os_str(bytes: &[u8]) -> io::Result<&OsStr> {
    std::str::from_utf8(bytes).map(OsStr::new).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidFilename,
            "file names must be UTF-8 on this system",
        )
    })
}

#[cfg(all(unix, not(target_os = "linux")))]
fn os_str_bytes(name: &OsStr) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    name.as_bytes().to_vec()
}

#[cfg(not(unix))]
fn os_str_bytes(name: &OsStr) -> Vec<u8> {
    name.to_string_lossy().into_owned().into_bytes()
}

/// [`os_str_bytes`] for a name already owned: its buffer, not a copy (a
/// listing has one per entry).
#[cfg(all(unix, not(target_os = "linux")))]
fn os_string_bytes(name: std::ffi::OsString) -> Vec<u8> {
    use std::os::unix::ffi::OsStringExt;
    name.into_vec()
}

#[cfg(not(unix))]
fn os_string_bytes(name: std::ffi::OsString) -> Vec<u8> {
    os_str_bytes(&name)
}

/// Facts the core formats, from the OS's metadata.
pub fn metadata(meta: &cap_std::fs::Metadata) -> Metadata {
    let file_type = meta.file_type();
    let kind = if file_type.is_dir() {
        FileKind::Directory
    } else if file_type.is_file() {
        FileKind::File
    } else if file_type.is_symlink() {
        FileKind::Symlink
    } else {
        FileKind::Other
    };
    Metadata {
        kind,
        size: meta.len(),
        modified: meta
            .modified()
            .ok()
            .and_then(|time| unix_seconds(time.into_std())),
        mode: mode(meta),
    }
}

fn unix_seconds(time: SystemTime) -> Option<i64> {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).ok(),
        Err(before) => i64::try_from(before.duration().as_secs()).ok().map(|s| -s),
    }
}

#[cfg(unix)]
fn mode(meta: &cap_std::fs::Metadata) -> u32 {
    use cap_std::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn mode(meta: &cap_std::fs::Metadata) -> u32 {
    match (meta.is_dir(), meta.permissions().readonly()) {
        (true, _) => 0o755,
        (false, true) => 0o444,
        (false, false) => 0o644,
    }
}

/// A directory listed by its handle (Linux): names from `getdents64`, each
/// entry's own facts from `fstatat` on that handle (`AT_SYMLINK_NOFOLLOW`),
/// a link's target from `readlinkat`. A name readdir gives is a single
/// component, so none of these calls can reach outside the directory, which
/// was itself opened beneath the root; and no path is built per entry. A
/// 1,000-entry LIST spent a fifth of its instructions in cap-std's
/// per-entry `read_dir` and `metadata` layers and their allocations.
#[cfg(target_os = "linux")]
mod by_handle {
    use std::io;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use std::mem::MaybeUninit;

    use ftpwire_core::listing::{FileKind, Metadata};
    use rustix::fs::{AtFlags, FileType, Mode, OFlags, RawDir, Stat, openat, readlinkat, statat};
    use rustix::io::Errno;

    use crate::served::storage::DirEntry;

    /// A directory's entries, read whole when it is opened: names from
    /// `getdents64` into one buffer (no allocation per name but the name's
    /// own copy), facts from `fstatat` on the same handle. A listing sorts
    /// them all anyway before it writes the first line. `dir` is opened for
    /// lookups only (`O_PATH`): its `.` is opened again for reading. A read
    /// error ends the entries with it.
    pub(super) fn entries(dir: &cap_std::fs::Dir) -> io::Result<Vec<io::Result<DirEntry>>> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let readable = openat(dir, ".", flags, Mode::empty())?;
        let mut buffer = vec![MaybeUninit::<u8>::uninit(); NAMES_BUFFER];
        let mut names = RawDir::new(&readable, &mut buffer);
        let mut read = Vec::new();
        while let Some(entry) = names.next() {
            let entry = match entry {
                Ok(entry) => entry,
                Err(error) => {
                    read.push(Err(error.into()));
                    break;
                }
            };
            let name = entry.file_name();
            if matches!(name.to_bytes(), b"." | b"..") {
                continue;
            }
            let own = match statat(&readable, name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(own) => own,
                // Removed between readdir and stat: it is simply gone.
                Err(Errno::NOENT) => continue,
                Err(error) => {
                    read.push(Err(error.into()));
                    continue;
                }
            };
            let metadata = metadata(&own);
            // Shown as the link it is (`name -> target`), never followed:
            // its target may lie outside the root.
            let link_target = if metadata.kind == FileKind::Symlink {
                readlinkat(&readable, name, Vec::new())
                    .ok()
                    .map(|target| target.into_bytes())
            } else {
                None
            };
            read.push(Ok(DirEntry {
                name: name.to_bytes().to_vec(),
                metadata,
                link_target,
            }));
        }
        Ok(read)
    }

    /// `getdents64`'s buffer: a few hundred names per system call.
    const NAMES_BUFFER: usize = 32 * 1024;

    /// The facts [`super::metadata`] gives from cap-std's metadata, from a
    /// `stat` of the entry itself.
    fn metadata(own: &Stat) -> Metadata {
        let kind = match FileType::from_raw_mode(own.st_mode) {
            FileType::Directory => FileKind::Directory,
            FileType::RegularFile => FileKind::File,
            FileType::Symlink => FileKind::Symlink,
            _ => FileKind::Other,
        };
        Metadata {
            kind,
            size: u64::try_from(own.st_size).unwrap_or(0),
            modified: modified(own).and_then(super::unix_seconds),
            mode: own.st_mode & 0o7777,
        }
    }

    /// The modification time as the `SystemTime` std makes of it.
    // The conversions are not the identity on every Linux: `stat`'s field
    // types differ between 32- and 64-bit targets.
    #[allow(clippy::useless_conversion)]
    fn modified(own: &Stat) -> Option<SystemTime> {
        let seconds = i64::try_from(own.st_mtime).ok()?;
        let nanos = Duration::from_nanos(u64::try_from(own.st_mtime_nsec).ok()?);
        let whole = Duration::from_secs(seconds.unsigned_abs());
        let at = if seconds >= 0 {
            UNIX_EPOCH.checked_add(whole)?
        } else {
            UNIX_EPOCH.checked_sub(whole)?
        };
        at.checked_add(nanos)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;
    use crate::served::storage::DirEntry;

    fn fixture() -> (tempfile::TempDir, LocalFs) {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("pub")).unwrap();
        fs::write(dir.path().join("pub/a.txt"), b"0123456789").unwrap();
        let fs = LocalFs::new(dir.path()).unwrap();
        (dir, fs)
    }

    fn kind(error: io::Error) -> io::ErrorKind {
        error.kind()
    }

    fn read_all(mut reader: FileReader) -> Vec<u8> {
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn stat_reports_kind_size_and_time() {
        let (_dir, fs) = fixture();
        let root = fs.stat(b"/").unwrap();
        assert_eq!(root.kind, FileKind::Directory);
        let file = fs.stat(b"/pub/a.txt").unwrap();
        assert_eq!(file.kind, FileKind::File);
        assert_eq!(file.size, 10);
        assert!(file.modified.unwrap() > 1_600_000_000);
        assert_eq!(
            kind(fs.stat(b"/pub/missing").unwrap_err()),
            io::ErrorKind::NotFound
        );
    }

    #[test]
    fn read_starts_at_the_offset() {
        let (_dir, fs) = fixture();
        assert_eq!(
            read_all(fs.open_read(b"/pub/a.txt", 0).unwrap()),
            b"0123456789"
        );
        assert_eq!(read_all(fs.open_read(b"/pub/a.txt", 7).unwrap()), b"789");
        assert_eq!(
            kind(fs.open_read(b"/pub", 0).err().unwrap()),
            io::ErrorKind::IsADirectory
        );
    }

    #[test]
    fn write_modes_truncate_resume_and_append() {
        let (dir, fs) = fixture();
        let file = dir.path().join("pub/a.txt");
        fs.open_write(b"/pub/a.txt", WriteMode::At(4))
            .unwrap()
            .write_all(b"xy")
            .unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"0123xy");
        fs.open_write(b"/pub/a.txt", WriteMode::Append)
            .unwrap()
            .write_all(b"!")
            .unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"0123xy!");
        fs.open_write(b"/pub/a.txt", WriteMode::Truncate)
            .unwrap()
            .write_all(b"new")
            .unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"new");
        fs.open_write(b"/pub/b.txt", WriteMode::Truncate)
            .unwrap()
            .write_all(b"b")
            .unwrap();
        assert_eq!(fs::read(dir.path().join("pub/b.txt")).unwrap(), b"b");
        assert_eq!(
            kind(fs.open_write(b"/pub", WriteMode::Truncate).err().unwrap()),
            io::ErrorKind::IsADirectory
        );
        assert_eq!(
            kind(
                fs.open_write(b"/nodir/x", WriteMode::Truncate)
                    .err()
                    .unwrap()
            ),
            io::ErrorKind::NotFound
        );
    }

    /// Each entry's facts are those `metadata` makes of cap-std's lstat of
    /// it, whichever way the listing reads them: files, a directory, a
    /// symlink (not followed), modification times with nanoseconds, before
    /// the epoch and after it, and permission bits.
    /// More names than one `getdents64` buffer holds (each record of a
    /// 200-byte name takes over 200 bytes: 32 KiB hold about 150): every one
    /// is listed once, with its own size.
    #[test]
    fn a_directory_of_many_buffers_lists_every_name_once() {
        let dir = tempfile::tempdir().unwrap();
        let names: Vec<String> = (0..700)
            .map(|i| format!("{i:04}-{}", "n".repeat(195)))
            .collect();
        for (i, name) in names.iter().enumerate() {
            fs::write(dir.path().join(name), vec![b'x'; i % 7]).unwrap();
        }
        let fs = LocalFs::new(dir.path()).unwrap();
        let mut listed: Vec<(Vec<u8>, u64)> = fs
            .list(b"/")
            .unwrap()
            .map(|entry| entry.map(|e| (e.name, e.metadata.size)).unwrap())
            .collect();
        listed.sort();
        let expected: Vec<(Vec<u8>, u64)> = names
            .iter()
            .enumerate()
            .map(|(i, name)| (name.clone().into_bytes(), (i % 7) as u64))
            .collect();
        assert_eq!(listed, expected);
    }

    #[test]
    fn a_listing_gives_the_facts_of_each_entrys_lstat() {
        use std::fs::{File, FileTimes, Permissions};
        use std::os::unix::fs::{PermissionsExt, symlink};

        let dir = tempfile::tempdir().unwrap();
        let at = |path: &str| dir.path().join(path);
        fs::write(at("a.txt"), b"0123456789").unwrap();
        fs::set_permissions(at("a.txt"), Permissions::from_mode(0o640)).unwrap();
        fs::create_dir(at("sub")).unwrap();
        fs::set_permissions(at("sub"), Permissions::from_mode(0o2750)).unwrap();
        symlink("a.txt", at("link")).unwrap();
        symlink("../../outside", at("escaping")).unwrap();
        for (name, time) in [
            ("old", UNIX_EPOCH - Duration::from_millis(1_500)),
            (
                "new",
                UNIX_EPOCH + Duration::new(1_700_000_000, 250_000_000),
            ),
        ] {
            let file = File::create(at(name)).unwrap();
            file.set_times(FileTimes::new().set_modified(time)).unwrap();
        }
        let fs = LocalFs::new(dir.path()).unwrap();
        let root = Dir::open_ambient_dir(dir.path(), ambient_authority()).unwrap();
        let mut listed: Vec<DirEntry> = fs.list(b"/").unwrap().map(Result::unwrap).collect();
        listed.sort_by(|a, b| a.name.cmp(&b.name));
        let names: Vec<&[u8]> = listed.iter().map(|e| &e.name[..]).collect();
        assert_eq!(
            names,
            [&b"a.txt"[..], b"escaping", b"link", b"new", b"old", b"sub"]
        );
        for entry in &listed {
            let name = std::str::from_utf8(&entry.name).unwrap();
            let expected = metadata(&root.symlink_metadata(name).unwrap());
            assert_eq!(entry.metadata, expected, "{name}");
        }
        let by_name = |name: &[u8]| listed.iter().find(|e| e.name == name).unwrap();
        assert_eq!(by_name(b"old").metadata.modified, Some(-1));
        assert_eq!(by_name(b"new").metadata.modified, Some(1_700_000_000));
        assert_eq!(by_name(b"sub").metadata.mode, 0o2750);
        assert_eq!(by_name(b"link").metadata.kind, FileKind::Symlink);
        assert_eq!(by_name(b"link").link_target.as_deref(), Some(&b"a.txt"[..]));
        assert_eq!(
            by_name(b"escaping").link_target.as_deref(),
            Some(&b"../../outside"[..])
        );
        assert_eq!(by_name(b"a.txt").link_target, None);
    }

    #[test]
    fn list_gives_names_and_facts() {
        let (_dir, fs) = fixture();
        fs.make_directory(b"/pub/sub").unwrap();
        let mut entries: Vec<DirEntry> = fs.list(b"/pub").unwrap().map(Result::unwrap).collect();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].name, b"a.txt");
        assert_eq!(entries[0].metadata.size, 10);
        assert_eq!(entries[1].name, b"sub");
        assert_eq!(entries[1].metadata.kind, FileKind::Directory);
        assert_eq!(
            kind(fs.list(b"/pub/a.txt").err().unwrap()),
            io::ErrorKind::NotADirectory
        );
    }

    #[test]
    fn directory_changes_and_their_errors() {
        let (dir, fs) = fixture();
        fs.make_directory(b"/new").unwrap();
        assert!(dir.path().join("new").is_dir());
        assert_eq!(
            kind(fs.make_directory(b"/new").unwrap_err()),
            io::ErrorKind::AlreadyExists
        );
        assert_eq!(
            kind(fs.remove_directory(b"/pub").unwrap_err()),
            io::ErrorKind::DirectoryNotEmpty
        );
        assert_eq!(
            kind(fs.delete(b"/pub").unwrap_err()),
            io::ErrorKind::IsADirectory
        );
        fs.rename(b"/pub/a.txt", b"/new/b.txt").unwrap();
        assert_eq!(
            fs::read(dir.path().join("new/b.txt")).unwrap(),
            b"0123456789"
        );
        assert_eq!(
            kind(fs.rename(b"/pub/a.txt", b"/x").unwrap_err()),
            io::ErrorKind::NotFound
        );
        fs.delete(b"/new/b.txt").unwrap();
        fs.remove_directory(b"/new").unwrap();
        assert!(!dir.path().join("new").exists());
        assert_eq!(
            kind(fs.delete(b"/new/b.txt").unwrap_err()),
            io::ErrorKind::NotFound
        );
    }

    #[test]
    fn the_root_itself_cannot_be_removed_or_renamed() {
        let (_dir, fs) = fixture();
        for result in [
            fs.remove_directory(b"/"),
            fs.delete(b"/"),
            fs.rename(b"/", b"/x"),
        ] {
            assert_eq!(kind(result.unwrap_err()), io::ErrorKind::PermissionDenied);
        }
    }

    #[test]
    fn store_unique_creates_distinct_new_files() {
        let (dir, fs) = fixture();
        let (first, mut file) = fs.create_unique(b"/pub").unwrap();
        file.write_all(b"one").unwrap();
        let (second, _) = fs.create_unique(b"/pub").unwrap();
        assert_ne!(first, second);
        let path = dir
            .path()
            .join("pub")
            .join(String::from_utf8(first).unwrap());
        assert_eq!(fs::read(path).unwrap(), b"one");
        assert_eq!(
            kind(fs.create_unique(b"/pub/a.txt").err().unwrap()),
            io::ErrorKind::NotADirectory
        );
    }

    #[test]
    fn dot_dot_and_separators_in_a_component_are_refused() {
        let (_dir, fs) = fixture();
        // The core never produces these; an embedder calling directly might.
        assert_eq!(
            kind(fs.stat(b"/../etc").unwrap_err()),
            io::ErrorKind::InvalidFilename
        );
        assert_eq!(
            kind(fs.stat(b"/pub/./a.txt").unwrap_err()),
            io::ErrorKind::InvalidFilename
        );
        assert_eq!(
            kind(fs.stat(b"/a\0b").unwrap_err()),
            io::ErrorKind::InvalidFilename
        );
    }

    #[test]
    fn a_root_that_is_not_a_usable_directory_fails_at_start() {
        let (dir, _fs) = fixture();
        assert!(LocalFs::new(dir.path().join("missing")).is_err());
        assert_eq!(
            LocalFs::new(dir.path().join("pub/a.txt"))
                .unwrap_err()
                .kind(),
            io::ErrorKind::NotADirectory
        );
    }

    #[cfg(unix)]
    mod jail {
        use std::os::unix::fs::symlink;

        use super::*;

        /// A root with links out of it (to a sibling "outside" dir) and inside it.
        fn jailed() -> (tempfile::TempDir, LocalFs) {
            let top = tempfile::tempdir().unwrap();
            let root = top.path().join("root");
            let outside = top.path().join("outside");
            fs::create_dir_all(root.join("pub")).unwrap();
            fs::create_dir(&outside).unwrap();
            fs::write(outside.join("secret"), b"secret").unwrap();
            fs::write(root.join("pub/a.txt"), b"a").unwrap();
            symlink(&outside, root.join("escape")).unwrap();
            symlink(outside.join("secret"), root.join("secret-link")).unwrap();
            symlink(outside.join("new-file"), root.join("dangling")).unwrap();
            symlink("pub", root.join("inner")).unwrap();
            symlink("/etc", root.join("etc")).unwrap();
            let fs = LocalFs::new(&root).unwrap();
            (top, fs)
        }

        fn denied(result: io::Result<impl Sized>) {
            match result {
                Err(error) => assert_eq!(error.kind(), io::ErrorKind::PermissionDenied),
                Ok(_) => panic!("escaped the root"),
            }
        }

        #[test]
        fn symlinks_out_of_the_root_are_refused() {
            let (top, fs) = jailed();
            denied(fs.stat(b"/escape"));
            denied(fs.stat(b"/etc"));
            denied(fs.stat(b"/etc/passwd"));
            denied(fs.list(b"/escape"));
            denied(fs.open_read(b"/secret-link", 0));
            denied(fs.open_read(b"/escape/secret", 0));
            denied(fs.open_write(b"/secret-link", WriteMode::Truncate));
            denied(fs.open_write(b"/escape/new", WriteMode::Truncate));
            denied(fs.open_write(b"/dangling", WriteMode::Truncate));
            denied(fs.create_unique(b"/escape"));
            denied(fs.make_directory(b"/escape/dir"));
            denied(fs.delete(b"/escape/secret"));
            denied(fs.rename(b"/escape/secret", b"/stolen"));
            denied(fs.rename(b"/pub/a.txt", b"/escape/planted"));
            let outside = top.path().join("outside");
            assert_eq!(fs::read(outside.join("secret")).unwrap(), b"secret");
            assert!(!outside.join("new-file").exists());
            assert!(!outside.join("new").exists());
            assert!(!outside.join("planted").exists());
        }

        #[test]
        fn symlinks_inside_the_root_work() {
            let (_top, fs) = jailed();
            assert_eq!(fs.stat(b"/inner").unwrap().kind, FileKind::Directory);
            assert_eq!(read_all(fs.open_read(b"/inner/a.txt", 0).unwrap()), b"a");
        }

        #[test]
        fn a_listing_shows_escaping_links_as_links_without_following_them() {
            let (_top, fs) = jailed();
            let entries: Vec<DirEntry> = fs.list(b"/").unwrap().map(Result::unwrap).collect();
            let find = |name: &[u8]| entries.iter().find(|e| e.name == name).unwrap().metadata;
            assert_eq!(find(b"escape").kind, FileKind::Symlink);
            assert_eq!(find(b"secret-link").kind, FileKind::Symlink);
            assert_eq!(find(b"inner").kind, FileKind::Symlink);
        }

        #[test]
        fn deleting_a_link_removes_the_link_not_its_target() {
            let (top, fs) = jailed();
            fs.delete(b"/secret-link").unwrap();
            assert!(top.path().join("outside/secret").exists());
        }

        #[test]
        fn listings_give_each_link_its_target() {
            let (top, fs) = jailed();
            let entries: Vec<DirEntry> = fs.list(b"/").unwrap().map(Result::unwrap).collect();
            let find = |name: &[u8]| entries.iter().find(|e| e.name == name).unwrap();
            assert_eq!(find(b"inner").link_target.as_deref(), Some(&b"pub"[..]));
            assert_eq!(find(b"inner").metadata.kind, FileKind::Symlink);
            let outside = top.path().join("outside");
            assert_eq!(
                find(b"escape").link_target.as_deref(),
                Some(outside.as_os_str().as_encoded_bytes())
            );
            assert_eq!(find(b"pub").link_target, None);
        }

        #[test]
        fn times_modes_and_entering_stay_beneath_the_root() {
            use std::os::unix::fs::PermissionsExt;
            let (top, fs) = jailed();
            fs.set_modified(b"/pub/a.txt", 1_000_000_000).unwrap();
            assert_eq!(
                fs.stat(b"/pub/a.txt").unwrap().modified,
                Some(1_000_000_000)
            );
            fs.set_permissions(b"/pub/a.txt", 0o100_640).unwrap();
            let mode = fs::metadata(top.path().join("root/pub/a.txt"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o7777, 0o640);
            fs.enter_directory(b"/").unwrap();
            fs.enter_directory(b"/inner").unwrap();
            assert_eq!(
                kind(fs.enter_directory(b"/pub/a.txt").unwrap_err()),
                io::ErrorKind::NotADirectory
            );
            let secret = top.path().join("outside/secret");
            let before = fs::metadata(&secret).unwrap();
            denied(fs.enter_directory(b"/escape"));
            denied(fs.set_modified(b"/secret-link", 0));
            denied(fs.set_modified(b"/escape/secret", 0));
            denied(fs.set_permissions(b"/secret-link", 0o777));
            let after = fs::metadata(&secret).unwrap();
            assert_eq!(before.modified().unwrap(), after.modified().unwrap());
            assert_eq!(before.permissions(), after.permissions());
        }

        /// The race of the FTP-level test (tests/jail_race.rs) in one
        /// process: one thread swaps a real directory and one whose `d`
        /// leads out, others open, create and stat beneath it.
        #[test]
        fn renaming_parents_under_an_operation_never_leads_out() {
            use std::sync::atomic::AtomicBool;
            let top = tempfile::tempdir().unwrap();
            let root = top.path().join("root");
            let outside = top.path().join("outside");
            fs::create_dir_all(root.join("p/d")).unwrap();
            fs::create_dir_all(root.join("q")).unwrap();
            fs::create_dir(&outside).unwrap();
            fs::write(outside.join("secret"), b"outside").unwrap();
            fs::write(root.join("p/d/secret"), b"inside").unwrap();
            symlink("../../outside", root.join("q/d")).unwrap();
            let fs = Arc::new(LocalFs::new(&root).unwrap());
            let stop = Arc::new(AtomicBool::new(false));
            let renamer = {
                let (fs, stop) = (Arc::clone(&fs), Arc::clone(&stop));
                std::thread::spawn(move || {
                    let mut swaps = 0u32;
                    while !stop.load(Ordering::Relaxed) && swaps < 20_000 {
                        fs.rename(b"/p", b"/t").unwrap();
                        fs.rename(b"/q", b"/p").unwrap();
                        fs.rename(b"/p", b"/q").unwrap();
                        fs.rename(b"/t", b"/p").unwrap();
                        swaps += 1;
                    }
                })
            };
            let mut inside_reads = 0;
            for i in 0..20_000 {
                let _ = fs.make_directory(format!("/p/d/m{i}").as_bytes());
                let _ = fs.open_write(format!("/p/d/s{i}").as_bytes(), WriteMode::Truncate);
                if let Ok(reader) = fs.open_read(b"/p/d/secret", 0) {
                    let bytes = read_all(reader);
                    assert_eq!(bytes, b"inside", "read the file outside the root");
                    inside_reads += 1;
                }
                if let Ok(meta) = fs.stat(b"/p/d/secret") {
                    assert_eq!(meta.size, 6, "stat reached the file outside the root");
                }
            }
            stop.store(true, Ordering::Relaxed);
            renamer.join().unwrap();
            let names: Vec<_> = fs::read_dir(&outside)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(names, ["secret"], "entries were created outside the root");
            assert!(
                inside_reads > 0,
                "the reads never reached p/d: no race was run"
            );
        }

        #[test]
        fn non_utf8_names_round_trip() {
            let (top, fs) = jailed();
            let name: &[u8] = b"caf\xe9.txt";
            let mut path = b"/pub/".to_vec();
            path.extend_from_slice(name);
            fs.open_write(&path, WriteMode::Truncate)
                .unwrap()
                .write_all(b"latin1")
                .unwrap();
            assert_eq!(fs.stat(&path).unwrap().size, 6);
            let names: Vec<Vec<u8>> = fs.list(b"/pub").unwrap().map(|e| e.unwrap().name).collect();
            assert!(names.iter().any(|n| n == name));
            assert!(top.path().join("root/pub").read_dir().unwrap().count() == 2);
        }
    }
}
