//! The runtime-independent half of a data transfer: what a
//! [`Transfer`] event asks for as an owned
//! value a worker can take, opening its file or listing in storage, and
//! the TYPE A conversion between the stored and the network form.
//!
//! A driver adds only the runtime part: the data connection and the loop
//! that moves bounded chunks between it and the storage stream.

use std::io;
use std::time::{SystemTime, UNIX_EPOCH};

use ftpwire_core::listing::ListFilter;
use ftpwire_core::representation::{AsciiDecoder, AsciiEncoder};
use ftpwire_core::server::{DataEndpoint, Transfer, TransferKind};

use crate::served::listing::{ListFormat, Listing};
use crate::served::storage::{FileReader, FileWriter, Storage, WriteMode};

/// Size of the chunks a driver moves: large enough for full-speed loopback
/// transfers, small enough that memory per transfer stays bounded.
pub const CHUNK_SIZE: usize = 64 * 1024;

/// Everything a [`Transfer`] event asks for, owned, so it can move to another
/// thread or task while the token stays with the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferJob {
    /// Which command.
    pub kind: TransferKind,
    /// Normalized absolute virtual path (STOU: the directory).
    pub path: Vec<u8>,
    /// REST offset.
    pub offset: u64,
    /// TYPE A.
    pub ascii: bool,
    /// Where the data connection comes from.
    pub data: DataEndpoint,
    /// PROT P: the data connection must be wrapped in TLS.
    pub protected: bool,
    /// The login is read-only (MLSD `perm` facts).
    pub read_only: bool,
    /// Which entries a listing shows.
    pub filter: ListFilter,
}

impl TransferJob {
    /// The job a transfer event describes (its token is not copied).
    pub fn new(transfer: &Transfer<'_>) -> Self {
        TransferJob {
            kind: transfer.kind,
            path: transfer.path.to_vec(),
            offset: transfer.offset,
            ascii: transfer.ascii,
            data: transfer.data,
            protected: transfer.protected,
            read_only: transfer.read_only,
            filter: transfer.filter,
        }
    }

    /// RETR: the file's size as it is opened (stat just before the open, so
    /// a file cut short from then on is caught), for
    /// [`retrieve_opened`](ftpwire_core::ServerSession::retrieve_opened);
    /// `None` for other transfers or if the storage cannot tell.
    pub fn size_at_open(&self, storage: &dyn Storage) -> Option<u64> {
        match self.kind {
            TransferKind::Retrieve => storage.stat(&self.path).ok().map(|m| m.size),
            _ => None,
        }
    }

    /// Opens what this job transfers, before the data connection is made so
    /// a missing file is `550` rather than a data connection for nothing.
    pub fn open(&self, storage: &dyn Storage) -> io::Result<Stream> {
        let path = &self.path[..];
        Ok(match self.kind {
            TransferKind::Retrieve => Stream::Download(storage.open_read(path, self.offset)?),
            TransferKind::List | TransferKind::NameList | TransferKind::MachineList => {
                let format = ListFormat::of(self.kind).unwrap_or(ListFormat::Long);
                let listing = Listing::open(
                    storage,
                    path,
                    format,
                    self.filter,
                    !self.read_only,
                    now_unix(),
                )?;
                Stream::Download(Box::new(listing))
            }
            TransferKind::Store => {
                let mode = match self.offset {
                    0 => WriteMode::Truncate,
                    offset => WriteMode::At(offset),
                };
                Stream::Upload {
                    file: storage.open_write(path, mode)?,
                    unique_name: None,
                }
            }
            TransferKind::Append => Stream::Upload {
                file: storage.open_write(path, WriteMode::Append)?,
                unique_name: None,
            },
            TransferKind::StoreUnique => {
                let (name, file) = storage.create_unique(path)?;
                Stream::Upload {
                    file,
                    unique_name: Some(name),
                }
            }
        })
    }
}

/// The storage end of a transfer.
pub enum Stream {
    /// Bytes to send: a file (RETR) or a listing.
    Download(FileReader),
    /// Where received bytes go.
    Upload {
        /// The open file.
        file: FileWriter,
        /// STOU: the name the storage picked, for
        /// [`store_unique_started`](ftpwire_core::ServerSession::store_unique_started).
        unique_name: Option<Vec<u8>>,
    },
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stream::Download(_) => f.write_str("Stream::Download"),
            Stream::Upload { unique_name, .. } => f
                .debug_struct("Stream::Upload")
                .field("unique_name", unique_name)
                .finish_non_exhaustive(),
        }
    }
}

/// Stored form to network form for a download: TYPE A turns LF into CRLF,
/// TYPE I passes bytes through untouched (and uncopied).
#[derive(Debug, Default)]
pub struct Outbound {
    ascii: Option<AsciiEncoder>,
    converted: Vec<u8>,
}

impl Outbound {
    /// A converter for TYPE A (`ascii`) or TYPE I.
    pub fn new(ascii: bool) -> Self {
        Outbound {
            ascii: ascii.then(AsciiEncoder::default),
            converted: Vec::new(),
        }
    }

    /// The network form of `chunk`.
    pub fn convert<'a>(&'a mut self, chunk: &'a [u8]) -> &'a [u8] {
        match &mut self.ascii {
            None => chunk,
            Some(encoder) => {
                self.converted.clear();
                encoder.encode(chunk, &mut self.converted);
                &self.converted
            }
        }
    }
}

/// Network form to stored form for an upload: TYPE A turns CRLF into LF.
#[derive(Debug, Default)]
pub struct Inbound {
    ascii: Option<AsciiDecoder>,
    converted: Vec<u8>,
}

impl Inbound {
    /// A converter for TYPE A (`ascii`) or TYPE I.
    pub fn new(ascii: bool) -> Self {
        Inbound {
            ascii: ascii.then(AsciiDecoder::default),
            converted: Vec::new(),
        }
    }

    /// The stored form of `chunk`.
    pub fn convert<'a>(&'a mut self, chunk: &'a [u8]) -> &'a [u8] {
        match &mut self.ascii {
            None => chunk,
            Some(decoder) => {
                self.converted.clear();
                decoder.decode(chunk, &mut self.converted);
                &self.converted
            }
        }
    }

    /// What is still held back at the end of the stream (a final lone CR).
    pub fn finish(&mut self) -> &[u8] {
        self.converted.clear();
        if let Some(decoder) = &mut self.ascii {
            decoder.finish(&mut self.converted);
        }
        &self.converted
    }
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::io::{Read, Write};

    use super::*;
    use crate::LocalFs;

    fn job(kind: TransferKind, path: &[u8], offset: u64) -> TransferJob {
        TransferJob {
            kind,
            path: path.to_vec(),
            offset,
            ascii: false,
            data: DataEndpoint::Active("127.0.0.1:2000".parse().unwrap()),
            protected: false,
            read_only: false,
            filter: ListFilter { dot_files: false },
        }
    }

    #[test]
    fn binary_conversion_passes_bytes_through() {
        let mut out = Outbound::new(false);
        assert_eq!(out.convert(b"a\nb\r\n"), b"a\nb\r\n");
        let mut inb = Inbound::new(false);
        assert_eq!(inb.convert(b"a\r\nb"), b"a\r\nb");
        assert_eq!(inb.finish(), b"");
    }

    #[test]
    fn opening_a_retrieve_reads_from_the_offset() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("f"), b"hello").unwrap();
        let storage = LocalFs::new(dir.path()).unwrap();
        let Stream::Download(mut reader) = job(TransferKind::Retrieve, b"/f", 2)
            .open(&storage)
            .unwrap()
        else {
            panic!("RETR is a download");
        };
        let mut text = Vec::new();
        reader.read_to_end(&mut text).unwrap();
        assert_eq!(text, b"llo");
    }

    #[test]
    fn opening_uploads_picks_the_write_mode() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        fs::write(&file, b"0123456789").unwrap();
        let storage = LocalFs::new(dir.path()).unwrap();
        let write = |job: TransferJob, bytes: &[u8]| match job.open(&storage).unwrap() {
            Stream::Upload {
                mut file,
                unique_name,
            } => {
                file.write_all(bytes).unwrap();
                unique_name
            }
            Stream::Download(_) => panic!("an upload"),
        };
        assert_eq!(write(job(TransferKind::Store, b"/f", 3), b"ab"), None);
        assert_eq!(fs::read(&file).unwrap(), b"012ab");
        write(job(TransferKind::Append, b"/f", 0), b"c");
        assert_eq!(fs::read(&file).unwrap(), b"012abc");
        write(job(TransferKind::Store, b"/f", 0), b"x");
        assert_eq!(fs::read(&file).unwrap(), b"x");
        let name = write(job(TransferKind::StoreUnique, b"/", 0), b"u").unwrap();
        assert_eq!(
            fs::read(dir.path().join(String::from_utf8(name).unwrap())).unwrap(),
            b"u"
        );
    }

    #[test]
    fn a_missing_file_fails_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let storage = LocalFs::new(dir.path()).unwrap();
        let error = job(TransferKind::Retrieve, b"/none", 0)
            .open(&storage)
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
    }
}
