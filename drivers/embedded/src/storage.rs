//! Where the server's files live: a small [`Storage`] trait that a firmware
//! implements over its flash or SD card, and [`RamFs`], a filesystem in
//! heap memory that needs nothing but an allocator.
//!
//! Paths are the core's: normalized, absolute virtual paths (`/a/b`), never
//! climbing above `/`. Reads and writes are positional (path and offset), so
//! a storage keeps no open-file handles between the poll loop's calls.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use ftpwire_core::listing::{FileKind, Metadata};
use ftpwire_core::server::{Change, FileError, WriteMode};

/// What the server needs of its files. Every method answers at once: the
/// poll loop calls it between packets, so a slow medium slows the server
/// but cannot confuse it.
pub trait Storage {
    /// The facts of `path` (SIZE, MDTM, MLST, CWD, and before every RETR and LIST).
    fn stat(&self, path: &[u8]) -> Result<Metadata, FileError>;

    /// Calls `entry` with the name and facts of each entry directly inside
    /// the directory `path`, in any order (the server sorts them).
    fn list(&self, path: &[u8], entry: &mut dyn FnMut(&[u8], Metadata)) -> Result<(), FileError>;

    /// Reads from the file `path` at `offset` into `buf`; how many bytes
    /// were read, `0` at the end of the file.
    fn read(&self, path: &[u8], offset: u64, buf: &mut [u8]) -> Result<usize, FileError>;

    /// Opens the file `path` for an upload as `mode` says (creating it if
    /// needed); the offset the upload's first byte is written at.
    fn open_write(&mut self, path: &[u8], mode: WriteMode) -> Result<u64, FileError>;

    /// Writes `data` into the file `path` at `offset` (after
    /// [`open_write`](Self::open_write)).
    fn write(&mut self, path: &[u8], offset: u64, data: &[u8]) -> Result<(), FileError>;

    /// STOU: creates a new, empty file in `directory` under a name the
    /// storage picks; that name (one path component).
    fn create_unique(&mut self, directory: &[u8]) -> Result<Vec<u8>, FileError>;

    /// MKD, RMD, DELE, RNFR+RNTO, MFMT, SITE CHMOD.
    fn change(&mut self, change: Change<'_>) -> Result<(), FileError>;
}

/// What [`RamFs`] holds at a path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    File(Vec<u8>),
    Directory,
}

/// A filesystem in RAM, bounded: file contents may use at most `capacity`
/// bytes in all (an upload past it fails with `452`), since a
/// microcontroller's heap is small and shared with the network buffers.
/// Files and directories have no times (listings show the epoch) and fixed
/// permissions; MFMT and SITE CHMOD get `502`.
///
/// ```
/// use ftpwire_smoltcp::{RamFs, Storage};
/// let mut fs = RamFs::new(1024);
/// fs.insert_file(b"/readme.txt", b"hello").unwrap();
/// let mut buf = [0; 8];
/// assert_eq!(fs.read(b"/readme.txt", 1, &mut buf), Ok(4));
/// assert_eq!(&buf[..4], b"ello");
/// assert_eq!(fs.file(b"/readme.txt"), Some(&b"hello"[..]));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RamFs {
    nodes: BTreeMap<Vec<u8>, Node>,
    capacity: usize,
    used: usize,
    /// The next STOU name's number.
    unique: u32,
}

impl RamFs {
    /// An empty filesystem (only `/`) whose files may hold `capacity` bytes.
    pub fn new(capacity: usize) -> Self {
        RamFs {
            nodes: BTreeMap::new(),
            capacity,
            used: 0,
            unique: 0,
        }
    }

    /// Creates or replaces the file `path` with `bytes` (its parent must be a directory).
    pub fn insert_file(&mut self, path: &[u8], bytes: &[u8]) -> Result<(), FileError> {
        self.open_write(path, WriteMode::Truncate)?;
        self.write(path, 0, bytes)
    }

    /// The contents of the file `path`, if there is one.
    pub fn file(&self, path: &[u8]) -> Option<&[u8]> {
        match self.nodes.get(path) {
            Some(Node::File(bytes)) => Some(bytes),
            _ => None,
        }
    }

    /// How many bytes the files hold in all.
    pub fn used(&self) -> usize {
        self.used
    }

    fn node(&self, path: &[u8]) -> Option<&Node> {
        const ROOT: Node = Node::Directory;
        if path == b"/" {
            Some(&ROOT)
        } else {
            self.nodes.get(path)
        }
    }

    fn parent_is_directory(&self, path: &[u8]) -> bool {
        let parent = match path.iter().rposition(|&b| b == b'/') {
            Some(0) | None => &b"/"[..],
            Some(slash) => &path[..slash],
        };
        matches!(self.node(parent), Some(Node::Directory))
    }

    /// The paths strictly beneath the directory `dir`, in order.
    fn beneath<'a>(&'a self, dir: &[u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
        let mut prefix = dir.to_vec();
        if prefix.last() != Some(&b'/') {
            prefix.push(b'/');
        }
        self.nodes
            .range(prefix.clone()..)
            .map(|(path, _)| &path[..])
            .take_while(move |path| path.starts_with(&prefix))
    }

    fn file_mut(&mut self, path: &[u8]) -> Result<&mut Vec<u8>, FileError> {
        match self.nodes.get_mut(path) {
            Some(Node::File(bytes)) => Ok(bytes),
            Some(Node::Directory) => Err(FileError::IsADirectory),
            None => Err(FileError::NotFound),
        }
    }
}

fn metadata(node: &Node) -> Metadata {
    match node {
        Node::File(bytes) => Metadata {
            kind: FileKind::File,
            size: bytes.len() as u64,
            modified: None,
            mode: 0o644,
        },
        Node::Directory => Metadata {
            kind: FileKind::Directory,
            size: 0,
            modified: None,
            mode: 0o755,
        },
    }
}

impl Storage for RamFs {
    fn stat(&self, path: &[u8]) -> Result<Metadata, FileError> {
        self.node(path).map(metadata).ok_or(FileError::NotFound)
    }

    fn list(&self, path: &[u8], entry: &mut dyn FnMut(&[u8], Metadata)) -> Result<(), FileError> {
        match self.node(path) {
            Some(Node::Directory) => {}
            Some(Node::File(_)) => return Err(FileError::NotADirectory),
            None => return Err(FileError::NotFound),
        }
        let start = if path == b"/" { 1 } else { path.len() + 1 };
        for child in self.beneath(path) {
            let name = &child[start..];
            if !name.contains(&b'/') {
                entry(name, metadata(&self.nodes[child]));
            }
        }
        Ok(())
    }

    fn read(&self, path: &[u8], offset: u64, buf: &mut [u8]) -> Result<usize, FileError> {
        let bytes = match self.node(path) {
            Some(Node::File(bytes)) => bytes,
            Some(Node::Directory) => return Err(FileError::IsADirectory),
            None => return Err(FileError::NotFound),
        };
        let start = usize::try_from(offset).map_or(bytes.len(), |o| o.min(bytes.len()));
        let n = buf.len().min(bytes.len() - start);
        buf[..n].copy_from_slice(&bytes[start..start + n]);
        Ok(n)
    }

    fn open_write(&mut self, path: &[u8], mode: WriteMode) -> Result<u64, FileError> {
        if !self.parent_is_directory(path) {
            return Err(FileError::NotFound);
        }
        if !self.nodes.contains_key(path) {
            if path == b"/" {
                return Err(FileError::IsADirectory);
            }
            self.nodes.insert(path.to_vec(), Node::File(Vec::new()));
        }
        let file = self.file_mut(path)?;
        let before = file.len();
        match mode {
            WriteMode::Truncate => file.clear(),
            // REST then STOR: keep the first bytes (RFC 3659 §5.1).
            WriteMode::At(offset) => file.truncate(usize::try_from(offset).unwrap_or(usize::MAX)),
            WriteMode::Append => {}
        }
        let len = file.len();
        self.used -= before - len;
        Ok(len as u64)
    }

    fn write(&mut self, path: &[u8], offset: u64, data: &[u8]) -> Result<(), FileError> {
        let (capacity, used) = (self.capacity, self.used);
        let file = self.file_mut(path)?;
        let start = usize::try_from(offset).map_err(|_| FileError::StorageFull)?;
        let end = start
            .checked_add(data.len())
            .ok_or(FileError::StorageFull)?;
        let growth = end.saturating_sub(file.len());
        if used + growth > capacity {
            return Err(FileError::StorageFull);
        }
        if file.len() < end {
            file.resize(end, 0);
        }
        file[start..end].copy_from_slice(data);
        self.used += growth;
        Ok(())
    }

    fn create_unique(&mut self, directory: &[u8]) -> Result<Vec<u8>, FileError> {
        if !matches!(self.node(directory), Some(Node::Directory)) {
            return Err(FileError::NotFound);
        }
        loop {
            self.unique = self.unique.wrapping_add(1);
            let name = alloc::format!("ftpwire.{}", self.unique).into_bytes();
            let mut path = directory.to_vec();
            if path.last() != Some(&b'/') {
                path.push(b'/');
            }
            path.extend_from_slice(&name);
            if let alloc::collections::btree_map::Entry::Vacant(free) = self.nodes.entry(path) {
                free.insert(Node::File(Vec::new()));
                return Ok(name);
            }
        }
    }

    fn change(&mut self, change: Change<'_>) -> Result<(), FileError> {
        match change {
            Change::MakeDirectory(path) => {
                if self.node(path).is_some() {
                    return Err(FileError::AlreadyExists);
                }
                if !self.parent_is_directory(path) {
                    return Err(FileError::NotFound);
                }
                self.nodes.insert(path.to_vec(), Node::Directory);
            }
            Change::RemoveDirectory(path) => {
                match self.node(path) {
                    Some(Node::Directory) if path != b"/" => {}
                    Some(Node::Directory) => return Err(FileError::PermissionDenied),
                    Some(Node::File(_)) => return Err(FileError::NotADirectory),
                    None => return Err(FileError::NotFound),
                }
                if self.beneath(path).next().is_some() {
                    return Err(FileError::DirectoryNotEmpty);
                }
                self.nodes.remove(path);
            }
            Change::Delete(path) => {
                let len = self.file_mut(path)?.len();
                self.nodes.remove(path);
                self.used -= len;
            }
            Change::Rename { from, to } => {
                if from == to {
                    return self.node(from).map(|_| ()).ok_or(FileError::NotFound);
                }
                if from == b"/" || to.starts_with(from) && to.get(from.len()) == Some(&b'/') {
                    return Err(FileError::PermissionDenied);
                }
                if !self.nodes.contains_key(from) {
                    return Err(FileError::NotFound);
                }
                if !self.parent_is_directory(to) {
                    return Err(FileError::NotFound);
                }
                if let Some(old) = self.node(to) {
                    match old {
                        Node::Directory => return Err(FileError::AlreadyExists),
                        Node::File(bytes) => self.used -= bytes.len(),
                    }
                }
                // A directory moves with everything beneath it.
                let moved: Vec<Vec<u8>> = self.beneath(from).map(<[u8]>::to_vec).collect();
                for path in moved.into_iter().chain(core::iter::once(from.to_vec())) {
                    if let Some(node) = self.nodes.remove(&path) {
                        let new = [to, &path[from.len()..]].concat();
                        self.nodes.insert(new, node);
                    }
                }
            }
            Change::SetModified { path, .. } | Change::SetPermissions { path, .. } => {
                self.node(path).ok_or(FileError::NotFound)?;
                return Err(FileError::Unsupported);
            }
        }
        Ok(())
    }
}
