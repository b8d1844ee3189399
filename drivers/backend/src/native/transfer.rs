//! The runtime-independent half of a data transfer. The session decides
//! every step (see [`ftpwire_core::server::Transfer`]); a driver carries
//! them out on a worker (a thread, a task) that owns the file and the data
//! connection:
//!
//! - [`TransferJob`]: the plan of a [`Transfer`] event as an owned value,
//!   and [`TransferJob::open`], its storage end;
//! - [`Step`] and [`Report`]: what the session asks of the worker next, and
//!   what the worker did;
//! - [`Running`]: the session side, holding the token of the step in flight,
//!   so a report answers exactly the question asked ([`Running::apply`]);
//! - [`Outbound`] / [`Inbound`]: TYPE A between stored and network form.
//!
//! A driver adds only the runtime part: accepting or dialling, TLS, and
//! the loop that moves bounded chunks.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use ftpwire_core::listing::{ListFilter, ListFormat};
use ftpwire_core::representation::{AsciiDecoder, AsciiEncoder};
use ftpwire_core::server::{
    CloseToken, ConnectToken, DataEndpoint, FileError, MoveToken, OpenToken, Plan, SecureToken,
    Transfer, TransferError, TransferId, TransferKind,
};
use ftpwire_core::{Instant, ServerSession};

use super::zero_copy::Direct;
use crate::served::listing::Listing;
use crate::served::storage::{FileReader, FileWriter, Storage, WriteMode};

/// Size of the chunks a driver moves: large enough for full-speed loopback
/// transfers, small enough that memory per transfer stays bounded.
pub const CHUNK_SIZE: usize = 64 * 1024;

/// What a [`Transfer`] event's plan asks to open, owned, so it can move to
/// a worker while the token stays with the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferJob {
    /// Which command (for logs).
    pub kind: TransferKind,
    /// What to open.
    pub open: Open,
    /// TYPE A conversion while moving a file's bytes.
    pub ascii: bool,
}

/// A [`Plan`], owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Open {
    /// RETR: read from `offset`.
    Read {
        /// Virtual path.
        path: Vec<u8>,
        /// REST offset.
        offset: u64,
    },
    /// STOR, APPE.
    Write {
        /// Virtual path.
        path: Vec<u8>,
        /// How.
        mode: ftpwire_core::server::WriteMode,
    },
    /// STOU, in this directory.
    CreateUnique {
        /// Virtual path of the directory.
        directory: Vec<u8>,
    },
    /// LIST, NLST, MLSD.
    List {
        /// Virtual path.
        path: Vec<u8>,
        /// Line format.
        format: ListFormat,
        /// Entries shown.
        filter: ListFilter,
        /// MLSD `perm` facts without write permissions.
        read_only: bool,
    },
}

impl TransferJob {
    /// The job a transfer event describes (its token is not copied).
    pub fn new(transfer: &Transfer<'_>) -> Self {
        let open = match transfer.plan {
            Plan::Read { path, offset } => Open::Read {
                path: path.to_vec(),
                offset,
            },
            Plan::Write { path, mode } => Open::Write {
                path: path.to_vec(),
                mode,
            },
            Plan::CreateUnique { directory } => Open::CreateUnique {
                directory: directory.to_vec(),
            },
            Plan::List {
                path,
                format,
                filter,
                read_only,
            } => Open::List {
                path: path.to_vec(),
                format,
                filter,
                read_only,
            },
        };
        TransferJob {
            kind: transfer.kind,
            open,
            ascii: transfer.ascii,
        }
    }

    /// Opens what this job transfers, before the data connection is made so
    /// a missing file is `550` rather than a data connection for nothing;
    /// the report for the session. `zero_copy`: a TYPE I RETR or STOR of a
    /// local file opens it as [`Stream::Local`], for the kernel to move if
    /// the data connection turns out plain.
    pub fn open(&self, storage: &dyn Storage, zero_copy: bool) -> (Report, Option<Stream>) {
        let local = zero_copy && !self.ascii && cfg!(target_os = "linux");
        match self.try_open(storage, local) {
            Ok((stream, size, unique_name)) => (Report::Opened { size, unique_name }, Some(stream)),
            Err(error) => (Report::OpenFailed(crate::file_error(&error)), None),
        }
    }

    fn try_open(
        &self,
        storage: &dyn Storage,
        local: bool,
    ) -> io::Result<(Stream, Option<u64>, Option<Vec<u8>>)> {
        Ok(match &self.open {
            Open::Read { path, offset } => {
                // The size just before the open: a file cut short from then
                // on is caught by the session (426, not 226).
                let size = storage.stat(path).ok().map(|m| m.size);
                let file = local.then(|| storage.open_read_local(path, *offset));
                let stream = match file.flatten() {
                    Some(file) => Stream::Local(Direct::Send {
                        file: file?,
                        offset: *offset,
                    }),
                    None => Stream::Download(storage.open_read(path, *offset)?),
                };
                (stream, size, None)
            }
            Open::List {
                path,
                format,
                filter,
                read_only,
            } => {
                let listing =
                    Listing::open(storage, path, *format, *filter, !read_only, now_unix())?;
                (Stream::Listing(Box::new(listing)), None, None)
            }
            Open::Write { path, mode } => {
                let mode = match *mode {
                    ftpwire_core::server::WriteMode::Truncate => WriteMode::Truncate,
                    ftpwire_core::server::WriteMode::At(offset) => WriteMode::At(offset),
                    ftpwire_core::server::WriteMode::Append => WriteMode::Append,
                };
                // Not APPE: splice(2) refuses a file opened for appending.
                let local = local && mode != WriteMode::Append;
                let file = local.then(|| storage.open_write_local(path, mode));
                let stream = match file.flatten() {
                    Some(file) => Stream::Local(Direct::Receive(file?)),
                    None => Stream::Upload(storage.open_write(path, mode)?),
                };
                (stream, None, None)
            }
            Open::CreateUnique { directory } => {
                let (name, file) = storage.create_unique(directory)?;
                (Stream::Upload(file), None, Some(name))
            }
        })
    }
}

/// The storage end of a transfer.
pub enum Stream {
    /// Bytes to send: a file (RETR).
    Download(FileReader),
    /// A listing's lines, formatted from entries already in memory: reading
    /// it never blocks, so an async driver reads it where it runs rather
    /// than through a thread pool.
    Listing(Box<Listing>),
    /// Where received bytes go.
    Upload(FileWriter),
    /// A local file of a TYPE I RETR or STOR ([`over`](Self::over)).
    Local(Direct),
}

impl Stream {
    /// How a transfer over a `plain` (PROT C) or a TLS data connection moves
    /// this: a local file stays [`Local`](Self::Local), for the kernel to
    /// move, only over a plain one on Linux; else it is copied through.
    pub fn over(self, plain: bool) -> Stream {
        match self {
            Stream::Local(direct) if plain && cfg!(target_os = "linux") => Stream::Local(direct),
            // Positioned at the REST offset already.
            Stream::Local(Direct::Send { file, .. }) => Stream::Download(Box::new(file)),
            Stream::Local(Direct::Receive(file)) => Stream::Upload(Box::new(file)),
            copied => copied,
        }
    }
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stream::Download(_) => f.write_str("Stream::Download"),
            Stream::Listing(_) => f.write_str("Stream::Listing"),
            Stream::Upload(_) => f.write_str("Stream::Upload"),
            Stream::Local(direct) => f.debug_tuple("Stream::Local").field(direct).finish(),
        }
    }
}

/// The next thing a transfer's worker must do, as the session asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Accept (passive) or dial (active) the data connection.
    Connect {
        /// Where from or to.
        endpoint: DataEndpoint,
        /// PROT P is on (a passive connection may be secured on arrival).
        protected: bool,
    },
    /// Run the TLS server handshake on it.
    Secure,
    /// Move the bytes, counting them in the shared progress counter.
    Move,
    /// Close it in order.
    Close,
}

/// What a transfer's worker did.
#[derive(Debug)]
pub enum Report {
    /// The storage is open (RETR: with the file's size; STOU: with its name).
    Opened {
        /// RETR: the size as opened.
        size: Option<u64>,
        /// STOU: the new file's name.
        unique_name: Option<Vec<u8>>,
    },
    /// It could not be opened.
    OpenFailed(FileError),
    /// The data connection is up.
    Connected,
    /// No data connection.
    ConnectFailed,
    /// TLS is up; whether the client resumed the control connection's session.
    Secured {
        /// Session resumed.
        resumed: bool,
    },
    /// The data connection's TLS handshake failed.
    TlsFailed,
    /// The bytes moved (or not).
    Moved(Result<u64, TransferError>),
    /// The data connection closed (in order, or not).
    Closed(Result<(), TransferError>),
}

/// The token of the step in flight.
#[derive(Debug)]
enum Held {
    Open(OpenToken),
    Connect(ConnectToken),
    Secure(SecureToken),
    Move(MoveToken),
    Close(CloseToken),
    Nothing,
}

/// A step event copied out of the session: the [`Step`] for the worker
/// and the token [`Running`] keeps for its answer.
#[derive(Debug)]
pub struct StepWork {
    /// Which transfer.
    pub transfer: TransferId,
    /// What to do.
    pub step: Step,
    held: Held,
}

impl StepWork {
    /// A ConnectData, SecureData, MoveData or CloseData event; `None` for any other.
    pub fn from_event(
        event: ftpwire_core::server::Event<'_>,
    ) -> Result<StepWork, ftpwire_core::server::Event<'_>> {
        use ftpwire_core::server::Event;
        Ok(match event {
            Event::ConnectData(c) => StepWork {
                transfer: c.transfer,
                step: Step::Connect {
                    endpoint: c.endpoint,
                    protected: c.protected,
                },
                held: Held::Connect(c.token),
            },
            Event::SecureData(d) => StepWork {
                transfer: d.transfer,
                step: Step::Secure,
                held: Held::Secure(d.token),
            },
            Event::MoveData(m) => StepWork {
                transfer: m.transfer,
                step: Step::Move,
                held: Held::Move(m.token),
            },
            Event::CloseData(c) => StepWork {
                transfer: c.transfer,
                step: Step::Close,
                held: Held::Close(c.token),
            },
            other => return Err(other),
        })
    }
}

/// The session side of a running transfer: which one, the token of the
/// step its worker is on, and the worker's byte counter.
#[derive(Debug)]
pub struct Running {
    /// Which transfer.
    pub id: TransferId,
    /// Bytes moved so far, counted by the worker.
    pub progress: Arc<AtomicU64>,
    held: Held,
    reported: u64,
}

impl Running {
    /// A transfer just asked for (its storage not open yet).
    pub fn new(id: TransferId, open: OpenToken) -> Running {
        Running {
            id,
            progress: Arc::new(AtomicU64::new(0)),
            held: Held::Open(open),
            reported: 0,
        }
    }

    /// The session asked for the next step: keep its token; the step is
    /// for the worker. `None` if the step belongs to another transfer.
    pub fn step(&mut self, work: StepWork) -> Option<Step> {
        if work.transfer != self.id {
            return None;
        }
        self.held = work.held;
        Some(work.step)
    }

    /// Gives the worker's report to the session as the answer to the step
    /// in flight, at `now`.
    pub fn apply(&mut self, session: &mut ServerSession, report: Report, now: Instant) {
        let held = std::mem::replace(&mut self.held, Held::Nothing);
        match (held, report) {
            (Held::Open(token), Report::Opened { size, unique_name }) => match unique_name {
                Some(name) => session.unique_created(token, &name, now),
                None => session.storage_opened(token, size, now),
            },
            (Held::Open(token), Report::OpenFailed(error)) => {
                session.storage_failed(token, error, now)
            }
            (Held::Connect(token), Report::Connected) => session.data_connected(token, now),
            (Held::Connect(token), Report::ConnectFailed) => {
                session.data_connect_failed(token, now)
            }
            (Held::Secure(token), Report::Secured { resumed }) => {
                session.data_secured(token, resumed, now)
            }
            (Held::Secure(token), Report::TlsFailed) => session.data_tls_failed(token, now),
            (Held::Move(token), Report::Moved(result)) => session.data_moved(token, result, now),
            (Held::Close(token), Report::Closed(result)) => session.data_closed(token, result, now),
            (held, report) => {
                // A worker bug: keep the token so the session's own deadline ends it.
                log::error!("transfer worker reported {report:?} while {held:?} was asked");
                self.held = held;
            }
        }
    }

    /// Before the session's deadline is handled: tell it what moved since
    /// the last report, so a transfer that moves is not taken for stalled.
    pub fn report_progress(&mut self, session: &mut ServerSession, now: Instant) {
        let moved = self.progress.load(Ordering::Relaxed);
        if let Held::Move(token) = &self.held
            && moved != self.reported
        {
            self.reported = moved;
            session.data_progress(token, moved, now);
        }
    }
}

/// The transfer a driver runs now: its session side ([`Running`]), how to
/// hand its worker the next step, and `W`, the driver's handle on the
/// worker (dropping it must stop the worker and free its file and data
/// connection). What a driver's session loop does with transfer work and
/// reports, written once for every driver.
pub struct InFlight<W> {
    running: Running,
    send: Box<dyn Fn(Step) + Send>,
    _worker: W,
}

impl<W> InFlight<W> {
    /// `send` passes a step to the worker (it never blocks: one step is
    /// asked at a time).
    pub fn new(running: Running, send: impl Fn(Step) + Send + 'static, worker: W) -> Self {
        InFlight {
            running,
            send: Box::new(send),
            _worker: worker,
        }
    }

    /// The session asked for the next step of the transfer in `slot`.
    pub fn step(slot: &mut Option<Self>, work: StepWork) {
        if let Some(transfer) = slot
            && let Some(step) = transfer.running.step(work)
        {
            (transfer.send)(step);
        }
    }

    /// The session gave up transfer `id`: drop it (and its worker); `true`
    /// if it was the one in `slot`.
    pub fn abort(slot: &mut Option<Self>, id: TransferId) -> bool {
        let ours = slot.as_ref().is_some_and(|t| t.running.id == id);
        if ours {
            *slot = None;
        }
        ours
    }

    /// A worker's report answers the step in flight; one from a transfer
    /// already over is dropped.
    pub fn report(
        slot: &mut Option<Self>,
        session: &mut ServerSession,
        id: TransferId,
        report: Report,
        now: Instant,
    ) {
        if let Some(transfer) = slot
            && transfer.running.id == id
        {
            transfer.running.apply(session, report, now);
        }
    }

    /// Before the session's deadline: what moved since the last report.
    pub fn report_progress(slot: &mut Option<Self>, session: &mut ServerSession, now: Instant) {
        if let Some(transfer) = slot {
            transfer.running.report_progress(session, now);
        }
    }
}

impl<W> std::fmt::Debug for InFlight<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InFlight")
            .field("running", &self.running)
            .finish_non_exhaustive()
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

    use ftpwire_core::server::WriteMode as Mode;

    use super::*;
    use crate::LocalFs;

    fn job(open: Open) -> TransferJob {
        TransferJob {
            kind: TransferKind::Retrieve,
            open,
            ascii: false,
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
    fn opening_a_retrieve_reads_from_the_offset_and_reports_the_size() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("f"), b"hello").unwrap();
        let storage = LocalFs::new(dir.path()).unwrap();
        let (report, stream) = job(Open::Read {
            path: b"/f".to_vec(),
            offset: 2,
        })
        .open(&storage, false);
        assert!(matches!(
            report,
            Report::Opened {
                size: Some(5),
                unique_name: None
            }
        ));
        let Some(Stream::Download(mut reader)) = stream else {
            panic!("RETR is a download");
        };
        let mut text = Vec::new();
        reader.read_to_end(&mut text).unwrap();
        assert_eq!(text, b"llo");
    }

    #[test]
    fn opening_uploads_follows_the_write_mode() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        fs::write(&file, b"0123456789").unwrap();
        let storage = LocalFs::new(dir.path()).unwrap();
        let write = |open: Open, bytes: &[u8]| match job(open).open(&storage, false) {
            (Report::Opened { unique_name, .. }, Some(Stream::Upload(mut file))) => {
                file.write_all(bytes).unwrap();
                unique_name
            }
            other => panic!("an upload: {other:?}"),
        };
        let at = |mode| Open::Write {
            path: b"/f".to_vec(),
            mode,
        };
        assert_eq!(write(at(Mode::At(3)), b"ab"), None);
        assert_eq!(fs::read(&file).unwrap(), b"012ab");
        write(at(Mode::Append), b"c");
        assert_eq!(fs::read(&file).unwrap(), b"012abc");
        write(at(Mode::Truncate), b"x");
        assert_eq!(fs::read(&file).unwrap(), b"x");
        let name = write(
            Open::CreateUnique {
                directory: b"/".to_vec(),
            },
            b"u",
        )
        .unwrap();
        assert_eq!(
            fs::read(dir.path().join(String::from_utf8(name).unwrap())).unwrap(),
            b"u"
        );
    }

    #[test]
    fn only_type_i_retr_and_stor_of_local_files_open_for_the_kernel() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("f"), b"hello").unwrap();
        let storage = LocalFs::new(dir.path()).unwrap();
        let read = Open::Read {
            path: b"/f".to_vec(),
            offset: 2,
        };
        let write = |mode| Open::Write {
            path: b"/g".to_vec(),
            mode,
        };
        let local = |job: TransferJob, zero_copy| {
            matches!(job.open(&storage, zero_copy).1, Some(Stream::Local(_)))
        };
        let linux = cfg!(target_os = "linux");
        assert_eq!(local(job(read.clone()), true), linux);
        assert_eq!(local(job(write(Mode::Truncate)), true), linux);
        assert_eq!(local(job(write(Mode::At(1))), true), linux);
        assert!(!local(job(read.clone()), false), "copy only");
        assert!(!local(job(write(Mode::Append)), true), "APPE");
        let ascii = TransferJob {
            ascii: true,
            ..job(read.clone())
        };
        assert!(!local(ascii, true), "TYPE A");

        // Over TLS the local file is copied, from the REST offset.
        let (_, stream) = job(read).open(&storage, true);
        let Some(Stream::Download(mut reader)) = stream.map(|s| s.over(false)) else {
            panic!("a download to copy");
        };
        let mut text = Vec::new();
        reader.read_to_end(&mut text).unwrap();
        assert_eq!(text, b"llo");
    }

    #[test]
    fn a_missing_file_fails_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let storage = LocalFs::new(dir.path()).unwrap();
        let (report, stream) = job(Open::Read {
            path: b"/none".to_vec(),
            offset: 0,
        })
        .open(&storage, false);
        assert!(matches!(report, Report::OpenFailed(FileError::NotFound)));
        assert!(stream.is_none());
    }
}
