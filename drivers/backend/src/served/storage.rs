//! The storage a session's files live in, seen through *virtual* paths.
//!
//! The core hands the host normalized absolute byte paths (`/pub/a.txt`, see
//! [`ftpwire_core::path`]); a [`Storage`] maps them onto real storage. Every
//! driver talks to storage through this one blocking trait (an async driver
//! runs the calls on a blocking thread pool), so an embedder who supplies
//! their own storage writes it once for all drivers.

use std::io::{self, Read, Write};

use ftpwire_core::listing::Metadata;
use ftpwire_core::server::FileError;

/// A file opened for reading (RETR).
pub type FileReader = Box<dyn Read + Send>;
/// A file opened for writing (STOR, APPE, STOU): see [`FileUpload`].
pub type FileWriter = Box<dyn FileUpload>;

/// The storage end of an upload: bytes go in through [`Write`], and the
/// driver calls [`finish`](Self::finish) once the transfer has succeeded
/// (every byte received and written, then flushed).
///
/// Dropping it without `finish` means the transfer failed (cut, aborted,
/// refused): a storage that publishes a file only as a whole (an object
/// store's multipart upload) discards what it received then, so a partial
/// file never looks complete. A local file keeps what was written either
/// way, as FTP servers always have, so its `finish` does nothing.
///
/// ```
/// use ftpwire_backend::served::storage::FileUpload;
/// use std::io::Write;
///
/// /// Holds the bytes and says when the upload completed.
/// struct Recorder(Vec<u8>);
/// impl Write for Recorder {
///     fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> { self.0.write(buf) }
///     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
/// }
/// impl FileUpload for Recorder {
///     fn finish(self: Box<Self>) -> std::io::Result<()> {
///         println!("stored {} bytes", self.0.len());
///         Ok(())
///     }
/// }
///
/// let mut upload: Box<dyn FileUpload> = Box::new(Recorder(Vec::new()));
/// upload.write_all(b"hello").unwrap();
/// upload.finish().unwrap();
/// ```
pub trait FileUpload: Write + Send {
    /// The transfer succeeded: make the file complete (the default does
    /// nothing). Called at most once, after the last write and a flush; an
    /// error fails the transfer (`451` and the like, as a write error).
    fn finish(self: Box<Self>) -> io::Result<()> {
        Ok(())
    }
}

/// A local file is complete as it is written.
impl FileUpload for std::fs::File {}
/// The entries of one directory, produced lazily so a huge directory does
/// not have to sit in memory.
pub type DirEntries = Box<dyn Iterator<Item = io::Result<DirEntry>> + Send>;

/// One directory entry: its name (a single path component, bytes as stored)
/// and its facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// Name of the entry, without any directory part.
    pub name: Vec<u8>,
    /// What the listing shows about it. A symlink is listed as the link
    /// itself: its own facts, with kind
    /// [`Symlink`](ftpwire_core::listing::FileKind::Symlink) and its target
    /// in `link_target` (following it is for CWD, RETR, … which resolve it
    /// inside the storage or refuse it).
    pub metadata: Metadata,
    /// For a symlink, what it points to (as stored), so a listing can show
    /// `name -> target`.
    pub link_target: Option<Vec<u8>>,
}

/// How an upload opens its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// STOR: create the file or replace its contents.
    Truncate,
    /// STOR after REST: keep the first `offset` bytes, write from there and
    /// drop whatever followed (a resumed upload replaces the tail).
    At(u64),
    /// APPE: create the file or write after its current end.
    Append,
}

/// Blocking access to the files of a server, by virtual path.
///
/// Paths are normalized absolute virtual paths from the core (`/`, `/a/b`);
/// an implementation must never let one reach outside the storage it serves.
/// Errors are [`io::Error`]s so their text can be logged; their
/// [`io::ErrorKind`] picks the client's reply through [`file_error`]
/// (`NotFound` → `550`, `StorageFull` → `452`, `InvalidFilename` → `553`, …).
///
/// Implement it to serve something other than a local directory:
///
/// ```
/// use std::io;
/// use ftpwire_backend::served::storage::{DirEntries, FileReader, FileWriter, Storage, WriteMode};
/// use ftpwire_core::listing::{FileKind, Metadata};
///
/// /// A storage with one read-only file, `/motd`.
/// struct Motd;
///
/// impl Storage for Motd {
///     fn stat(&self, path: &[u8]) -> io::Result<Metadata> {
///         let (kind, size) = match path {
///             b"/" => (FileKind::Directory, 0),
///             b"/motd" => (FileKind::File, 6),
///             _ => return Err(io::ErrorKind::NotFound.into()),
///         };
///         Ok(Metadata { kind, size, modified: None, mode: 0o444 })
///     }
///     fn list(&self, path: &[u8]) -> io::Result<DirEntries> {
///         let motd = ftpwire_backend::served::storage::DirEntry { name: b"motd".to_vec(), metadata: self.stat(b"/motd")?, link_target: None };
///         match path {
///             b"/" => Ok(Box::new(std::iter::once(Ok(motd)))),
///             _ => Err(io::ErrorKind::NotFound.into()),
///         }
///     }
///     fn open_read(&self, path: &[u8], offset: u64) -> io::Result<FileReader> {
///         match path {
///             b"/motd" => Ok(Box::new(io::Cursor::new(&b"hello\n"[offset.min(6) as usize..]))),
///             _ => Err(io::ErrorKind::NotFound.into()),
///         }
///     }
///     fn open_write(&self, _: &[u8], _: WriteMode) -> io::Result<FileWriter> {
///         Err(io::ErrorKind::PermissionDenied.into())
///     }
///     fn create_unique(&self, _: &[u8]) -> io::Result<(Vec<u8>, FileWriter)> {
///         Err(io::ErrorKind::PermissionDenied.into())
///     }
///     fn make_directory(&self, _: &[u8]) -> io::Result<()> { Err(io::ErrorKind::PermissionDenied.into()) }
///     fn remove_directory(&self, _: &[u8]) -> io::Result<()> { Err(io::ErrorKind::PermissionDenied.into()) }
///     fn delete(&self, _: &[u8]) -> io::Result<()> { Err(io::ErrorKind::PermissionDenied.into()) }
///     fn rename(&self, _: &[u8], _: &[u8]) -> io::Result<()> { Err(io::ErrorKind::PermissionDenied.into()) }
/// }
///
/// assert_eq!(Motd.stat(b"/motd").unwrap().size, 6);
/// ```
pub trait Storage: Send + Sync {
    /// Facts about `path` (SIZE, MDTM, MLST, CWD, RNFR).
    fn stat(&self, path: &[u8]) -> io::Result<Metadata>;

    /// The entries of the directory `path` (not `.` and `..`).
    fn list(&self, path: &[u8]) -> io::Result<DirEntries>;

    /// Whether [`list`](Self::list) gives a directory's entries already in
    /// name order (bytewise, as
    /// [`sort_by_name`](ftpwire_core::listing::sort_by_name)). A listing
    /// then streams them as they come, instead of reading them all and
    /// sorting them before its first byte, so a huge directory (an S3
    /// prefix of millions of objects) never sits in memory. `false` (the
    /// default): a local directory comes in the file system's order.
    fn lists_in_name_order(&self) -> bool {
        false
    }

    /// Opens the file `path` for reading, positioned at `offset` (REST).
    fn open_read(&self, path: &[u8], offset: u64) -> io::Result<FileReader>;

    /// Opens (creating if needed) the file `path` for writing.
    fn open_write(&self, path: &[u8], mode: WriteMode) -> io::Result<FileWriter>;

    /// [`open_read`](Self::open_read) as a local file, so that a driver can
    /// have the kernel send it (sendfile) on a plain TYPE I RETR. `None`
    /// (the default): the storage is not local files, and RETR copies
    /// through `open_read`. The file must be opened beneath the storage's
    /// root as `open_read` would, never by a path checked beforehand.
    fn open_read_local(&self, path: &[u8], offset: u64) -> Option<io::Result<std::fs::File>> {
        let _ = (path, offset);
        None
    }

    /// [`open_write`](Self::open_write) as a local file (STOR received with
    /// splice); `None` (the default) as for
    /// [`open_read_local`](Self::open_read_local).
    fn open_write_local(&self, path: &[u8], mode: WriteMode) -> Option<io::Result<std::fs::File>> {
        let _ = (path, mode);
        None
    }

    /// STOU: creates a new file with a name of the storage's choosing in the
    /// directory `directory`; returns that name (one component) and the file.
    fn create_unique(&self, directory: &[u8]) -> io::Result<(Vec<u8>, FileWriter)>;

    /// MKD.
    fn make_directory(&self, path: &[u8]) -> io::Result<()>;

    /// RMD: removes an empty directory.
    fn remove_directory(&self, path: &[u8]) -> io::Result<()>;

    /// DELE: removes a file.
    fn delete(&self, path: &[u8]) -> io::Result<()>;

    /// RNFR + RNTO.
    fn rename(&self, from: &[u8], to: &[u8]) -> io::Result<()>;

    /// MFMT: sets the modification time of `path` (seconds since the Unix epoch, UTC).
    fn set_modified(&self, path: &[u8], unix_seconds: i64) -> io::Result<()> {
        let _ = (path, unix_seconds);
        Err(io::ErrorKind::Unsupported.into())
    }

    /// SITE CHMOD: sets the permission bits of `path`.
    fn set_permissions(&self, path: &[u8], mode: u32) -> io::Result<()> {
        let _ = (path, mode);
        Err(io::ErrorKind::Unsupported.into())
    }

    /// CWD: succeeds if `path` is a directory this server may enter, as
    /// chdir(2) would (the default only checks that it is a directory).
    fn enter_directory(&self, path: &[u8]) -> io::Result<()> {
        match self.stat(path)?.kind {
            ftpwire_core::listing::FileKind::Directory => Ok(()),
            _ => Err(io::ErrorKind::NotADirectory.into()),
        }
    }
}

/// The reply-picking kind of a storage error.
///
/// ```
/// use std::io;
/// use ftpwire_core::server::FileError;
/// let full = io::Error::from(io::ErrorKind::StorageFull);
/// assert_eq!(ftpwire_backend::served::storage::file_error(&full), FileError::StorageFull);
/// ```
pub fn file_error(error: &io::Error) -> FileError {
    use io::ErrorKind as K;
    match error.kind() {
        K::NotFound => FileError::NotFound,
        K::PermissionDenied | K::ReadOnlyFilesystem => FileError::PermissionDenied,
        K::AlreadyExists => FileError::AlreadyExists,
        K::DirectoryNotEmpty => FileError::DirectoryNotEmpty,
        K::StorageFull | K::QuotaExceeded | K::FileTooLarge => FileError::StorageFull,
        K::IsADirectory => FileError::IsADirectory,
        K::NotADirectory => FileError::NotADirectory,
        K::InvalidFilename => FileError::InvalidName,
        K::Unsupported => FileError::Unsupported,
        _ => FileError::Local,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_error_kinds_pick_the_file_error() {
        use io::ErrorKind as K;
        let cases = [
            (K::NotFound, FileError::NotFound),
            (K::PermissionDenied, FileError::PermissionDenied),
            (K::ReadOnlyFilesystem, FileError::PermissionDenied),
            (K::AlreadyExists, FileError::AlreadyExists),
            (K::DirectoryNotEmpty, FileError::DirectoryNotEmpty),
            (K::StorageFull, FileError::StorageFull),
            (K::QuotaExceeded, FileError::StorageFull),
            (K::IsADirectory, FileError::IsADirectory),
            (K::NotADirectory, FileError::NotADirectory),
            (K::InvalidFilename, FileError::InvalidName),
            (K::Unsupported, FileError::Unsupported),
            (K::Other, FileError::Local),
            (K::TimedOut, FileError::Local),
        ];
        for (kind, expected) in cases {
            assert_eq!(file_error(&io::Error::from(kind)), expected, "{kind:?}");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn raw_os_errors_for_a_full_disk_or_quota_map_to_storage_full() {
        // ENOSPC = 28, EDQUOT = 122 on Linux.
        for errno in [28, 122] {
            let error = io::Error::from_raw_os_error(errno);
            assert_eq!(file_error(&error), FileError::StorageFull, "errno {errno}");
        }
    }
}
