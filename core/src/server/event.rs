//! What a session asks of its host, and the tokens the host answers with.
//!
//! Every event that needs an answer carries a token; the matching answer
//! method on [`ServerSession`](super::ServerSession) consumes it, so a host
//! cannot answer the wrong question or answer twice. Tokens are `#[must_use]`:
//! a dropped token leaves the session waiting until its host-answer timeout
//! closes it (`421`). A token names its session: an answer with another
//! session's token, or one the session no longer waits for, is refused with
//! a [`Notice`] instead of being applied.
//!
//! An event borrows the session (its paths live in the session's buffers), so
//! a host takes what it needs out of the event first, then answers:
//!
//! ```
//! # use std::sync::Arc;
//! # use ftpwire_core::{Instant, Output, ServerConfig, ServerSession};
//! # use ftpwire_core::server::{Event, LoginOutcome};
//! # let mut session = ServerSession::new(Arc::new(ServerConfig::default()),
//! #     "127.0.0.1:21".parse().unwrap(), "127.0.0.1:5000".parse().unwrap(), Instant::default());
//! session.handle_input(Instant::default(), b"USER ann\r\nPASS pw\r\n");
//! assert!(matches!(session.poll_output(), Output::Transmit(b"220 ftpwire ready\r\n331 Password required.\r\n")));
//! if let Output::Event(Event::Login(login)) = session.poll_output() {
//!     let ok = login.user == b"ann" && login.password == b"pw";
//!     let token = login.token; // the event's borrow ends here
//!     let outcome = if ok { LoginOutcome::Accepted { read_only: false } } else { LoginOutcome::Rejected };
//!     session.login(token, outcome);
//! }
//! ```

use alloc::vec::Vec;
use core::net::{IpAddr, SocketAddr};

/// Something from the session: bytes to send, an event to handle, or when to call back.
#[derive(Debug)]
pub enum Output<'a> {
    /// Write these bytes to the control connection (all of them, in order,
    /// before handling any later output).
    Transmit(&'a [u8]),
    /// Handle this event.
    Event(Event<'a>),
    /// Nothing to do until input arrives or this instant passes; then call
    /// [`ServerSession::handle_timeout`](super::ServerSession::handle_timeout).
    Timeout(crate::Instant),
    /// The session is over: close the control connection (after writing
    /// everything transmitted so far).
    Closed,
}

/// An event for the host.
#[derive(Debug)]
pub enum Event<'a> {
    /// USER and PASS arrived: check the credentials.
    Login(Login<'a>),
    /// Open a passive data listener (replacing any earlier one).
    OpenPassive(OpenPassive<'a>),
    /// Drop the passive listener, if any: a transfer used it, or a later
    /// PORT or REIN made it useless. Until then it stays open, also after a
    /// transfer refused before its data connection (a `550`): the next
    /// transfer command accepts on it.
    ClosePassive,
    /// Look up a file's facts (for SIZE, MDTM, MLST, RNFR).
    Stat(Stat<'a>),
    /// CWD or CDUP: may this session enter the directory?
    EnterDirectory(EnterDirectory<'a>),
    /// Change the filesystem (MKD, RMD, DELE, RNTO, MFMT, SITE CHMOD).
    FileChange(FileChange<'a>),
    /// A data transfer begins (RETR, STOR, APPE, STOU, LIST, NLST, MLSD):
    /// open its storage.
    Transfer(Transfer<'a>),
    /// The transfer's storage is open: make its data connection.
    ConnectData(ConnectData),
    /// The `150` is out: secure the data connection (PROT P).
    SecureData(SecureData),
    /// Move the transfer's bytes.
    MoveData(MoveData),
    /// Close the data connection in order; then the session sends `226`.
    CloseData(CloseData),
    /// The session ended the transfer it names (ABOR, a timeout, a refused
    /// TLS session, the control connection closing): drop its resources.
    AbortTransfer(AbortTransfer),
    /// AUTH TLS was accepted and its `234` is in the output before this
    /// event: write all output, then run the TLS handshake on the control
    /// connection. Bytes already received after AUTH TLS were discarded by
    /// the session (RFC 4217 §4: they could be injected plain text).
    UpgradeTls(UpgradeTls),
    /// CCC was accepted and its `200` is in the output before this event:
    /// write all output, send TLS close_notify, then carry on in plain text.
    DowngradeTls,
    /// Worth an operator's attention: log it. Needs no answer.
    Notice(Notice<'a>),
}

/// Upgrade the control connection to TLS.
#[derive(Debug)]
pub struct UpgradeTls {
    /// Answer with [`ServerSession::tls_established`](super::ServerSession::tls_established)
    /// once the handshake is done; if it fails, close the connection.
    pub token: TlsToken,
}

/// A change of the control channel's protection, as
/// [`ServerSession::take_tls_change`](super::ServerSession::take_tls_change)
/// hands it to a TLS layer under the session: the same two events, taken
/// out of the output so the layer acts on them and the host never sees them.
#[derive(Debug)]
pub enum TlsChange {
    /// [`Event::UpgradeTls`]: the `234` is out; run the handshake.
    Upgrade(UpgradeTls),
    /// [`Event::DowngradeTls`]: the `200` is out; start the TLS closure.
    Downgrade,
}

/// Credentials to check.
#[derive(Debug)]
pub struct Login<'a> {
    /// The USER argument (bytes as sent).
    pub user: &'a [u8],
    /// The PASS argument.
    pub password: &'a [u8],
    /// Answer with [`ServerSession::login`](super::ServerSession::login).
    pub token: LoginToken,
}

/// The host's verdict on a login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginOutcome {
    /// Logged in; `read_only` sessions get `550` for every command that writes.
    Accepted {
        /// Refuse STOR, APPE, STOU, DELE, MKD, RMD, RNFR/RNTO.
        read_only: bool,
    },
    /// Wrong user or password (the client is not told which).
    Rejected,
}

/// Open a passive data listener.
#[derive(Debug)]
pub struct OpenPassive<'a> {
    /// Bind the listener on this IP (the control connection's local address).
    pub bind: IpAddr,
    /// PASV only: resolve this name and pass the result to
    /// [`ServerSession::passive_opened`](super::ServerSession::passive_opened).
    pub resolve: Option<&'a str>,
    /// Answer with `passive_opened` or `passive_failed`.
    pub token: PassiveToken,
}

/// Look up one path's facts.
#[derive(Debug)]
pub struct Stat<'a> {
    /// Normalized absolute virtual path.
    pub path: &'a [u8],
    /// Answer with [`ServerSession::stat_done`](super::ServerSession::stat_done).
    pub token: StatToken,
}

/// A directory to change into (CWD, CDUP).
#[derive(Debug)]
pub struct EnterDirectory<'a> {
    /// Normalized absolute virtual path.
    pub path: &'a [u8],
    /// Answer with [`ServerSession::directory_entered`](super::ServerSession::directory_entered):
    /// `Ok` only if it is a directory the server may enter, as `chdir(2)`
    /// would allow (a directory that exists but cannot be searched is
    /// `PermissionDenied`).
    pub token: DirectoryToken,
}

/// A filesystem change.
#[derive(Debug)]
pub struct FileChange<'a> {
    /// What to do.
    pub change: Change<'a>,
    /// Answer with [`ServerSession::change_done`](super::ServerSession::change_done).
    pub token: ChangeToken,
}

/// One filesystem change, paths normalized and absolute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change<'a> {
    /// MKD.
    MakeDirectory(&'a [u8]),
    /// RMD.
    RemoveDirectory(&'a [u8]),
    /// DELE.
    Delete(&'a [u8]),
    /// RNFR + RNTO.
    Rename {
        /// Existing path.
        from: &'a [u8],
        /// New path.
        to: &'a [u8],
    },
    /// MFMT: set the modification time (not following a final symlink out
    /// of the storage, as for every change).
    SetModified {
        /// The file or directory.
        path: &'a [u8],
        /// Seconds since the Unix epoch, UTC.
        modified: i64,
    },
    /// SITE CHMOD: set the permission bits (at most `0o777`: the session
    /// refuses setuid, setgid and sticky bits).
    SetPermissions {
        /// The file or directory.
        path: &'a [u8],
        /// Unix permission bits.
        mode: u32,
    },
}

/// A data transfer begins: open its storage as the plan says. It then
/// runs as a sequence the session decides, one event per step, each answered
/// before the next comes: [`Transfer`] (storage) → [`ConnectData`] (accept or
/// dial) → the `150` → [`SecureData`] (TLS, under PROT P) → [`MoveData`] (copy,
/// with progress reports) → [`CloseData`] (orderly close) → `226`. Any step
/// can fail; the session then replies and the transfer is over. When the
/// session ends a transfer itself (ABOR, a timeout, a refused TLS session,
/// the connection closing) it says so with [`Event::AbortTransfer`].
#[derive(Debug)]
pub struct Transfer<'a> {
    /// Names this transfer in every later event.
    pub id: TransferId,
    /// Which command (for logs).
    pub kind: TransferKind,
    /// What to open.
    pub plan: Plan<'a>,
    /// TYPE A: convert line ends with [`representation`](crate::representation)
    /// while moving a file's bytes (never for listings).
    pub ascii: bool,
    /// Answer with [`storage_opened`](super::ServerSession::storage_opened)
    /// ([`unique_created`](super::ServerSession::unique_created) for
    /// [`Plan::CreateUnique`]) or [`storage_failed`](super::ServerSession::storage_failed).
    pub token: OpenToken,
}

/// What a transfer opens, paths normalized and absolute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan<'a> {
    /// RETR: read the file from `offset` (REST) on.
    Read {
        /// The file.
        path: &'a [u8],
        /// Where to start reading.
        offset: u64,
    },
    /// STOR, APPE: write the file.
    Write {
        /// The file.
        path: &'a [u8],
        /// How to open it.
        mode: WriteMode,
    },
    /// STOU: create a new file, named by the host, in `directory`.
    CreateUnique {
        /// Where to create it.
        directory: &'a [u8],
    },
    /// LIST, NLST, MLSD: read the directory (or the one file) at `path`.
    List {
        /// What to list.
        path: &'a [u8],
        /// How to write each entry.
        format: crate::listing::ListFormat,
        /// Which entries to send (apply it as the directory is read, then
        /// put what is left in [`sort_by_name`](crate::listing::sort_by_name) order).
        filter: crate::listing::ListFilter,
        /// The login is read-only (MLSD `perm` facts).
        read_only: bool,
    },
}

/// How an upload opens its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// STOR: create or replace.
    Truncate,
    /// STOR after REST: keep the first bytes, write from this offset.
    At(u64),
    /// APPE: write at the end.
    Append,
}

/// Make the transfer's data connection.
#[derive(Debug)]
pub struct ConnectData {
    /// Which transfer.
    pub transfer: TransferId,
    /// Accept on the passive listener, or dial.
    pub endpoint: DataEndpoint,
    /// The connection will be secured (PROT P): a host may start the TLS
    /// handshake on a passive connection as soon as it arrives, for clients
    /// that do so before they send the command (aioftp), and answer
    /// [`SecureData`] at once then.
    pub protected: bool,
    /// Answer with [`data_connected`](super::ServerSession::data_connected)
    /// or [`data_connect_failed`](super::ServerSession::data_connect_failed).
    pub token: ConnectToken,
}

/// The `150` is out: run the TLS server handshake on the data connection (PROT P).
#[derive(Debug)]
pub struct SecureData {
    /// Which transfer.
    pub transfer: TransferId,
    /// Answer with [`data_secured`](super::ServerSession::data_secured) or
    /// [`data_tls_failed`](super::ServerSession::data_tls_failed).
    pub token: SecureToken,
}

/// Move the bytes: the file or listing to the client, or the client's upload
/// into the file (until the client closes the data connection).
#[derive(Debug)]
pub struct MoveData {
    /// Which transfer.
    pub transfer: TransferId,
    /// Report progress with [`data_progress`](super::ServerSession::data_progress)
    /// (it keeps the stall timeout from firing), then answer with
    /// [`data_moved`](super::ServerSession::data_moved).
    pub token: MoveToken,
}

/// Every byte moved: close the data connection in order (TLS close_notify,
/// then TCP FIN; a download waits for the client to close its side).
#[derive(Debug)]
pub struct CloseData {
    /// Which transfer.
    pub transfer: TransferId,
    /// Answer with [`data_closed`](super::ServerSession::data_closed).
    pub token: CloseToken,
}

/// Which transfer an event is about (from [`Transfer::id`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TransferId(pub(crate) u32);

/// The session ended a transfer itself: drop its file and data connection,
/// answer nothing more for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortTransfer {
    /// Which one (a host may still be finishing an earlier one).
    pub transfer: TransferId,
}

/// Which transfer command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferKind {
    /// RETR: file to client.
    Retrieve,
    /// STOR: client to file, replacing it (or writing from `offset`).
    Store,
    /// APPE: client to the end of the file.
    Append,
    /// STOU: client to a new file whose name the host picks.
    StoreUnique,
    /// LIST: `ls -l` lines.
    List,
    /// NLST: names only.
    NameList,
    /// MLSD: machine-readable facts.
    MachineList,
}

impl TransferKind {
    /// Whether data flows from the client into storage.
    pub fn is_upload(self) -> bool {
        matches!(self, Self::Store | Self::Append | Self::StoreUnique)
    }

    /// The command's verb, for logs.
    pub fn verb(self) -> &'static str {
        match self {
            Self::Retrieve => "RETR",
            Self::Store => "STOR",
            Self::Append => "APPE",
            Self::StoreUnique => "STOU",
            Self::List => "LIST",
            Self::NameList => "NLST",
            Self::MachineList => "MLSD",
        }
    }

    /// Whether it is a directory listing (LIST, NLST, MLSD).
    pub fn is_listing(self) -> bool {
        matches!(self, Self::List | Self::NameList | Self::MachineList)
    }
}

/// The data connection of a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataEndpoint {
    /// Accept on the passive listener opened for this session; accept only a
    /// connection whose source IP is `peer` (the control connection's peer).
    Passive {
        /// The only source IP to accept.
        peer: IpAddr,
    },
    /// Connect to this address (PORT/EPRT, already checked against bounce attacks).
    Active(SocketAddr),
}

/// Why a storage operation failed, as the host reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    /// `550`
    NotFound,
    /// `550`
    PermissionDenied,
    /// `550`
    NotADirectory,
    /// `550`
    IsADirectory,
    /// `550`
    AlreadyExists,
    /// `550`
    DirectoryNotEmpty,
    /// `553`
    InvalidName,
    /// `452`
    StorageFull,
    /// `502`: the storage cannot do this at all (MFMT, SITE CHMOD on a
    /// storage without times or permission bits).
    Unsupported,
    /// `451`
    Local,
}

impl FileError {
    /// What went wrong, for a log line or a message (`no such file or directory`).
    pub const fn message(self) -> &'static str {
        match self {
            FileError::NotFound => "no such file or directory",
            FileError::PermissionDenied => "permission denied",
            FileError::NotADirectory => "not a directory",
            FileError::IsADirectory => "is a directory",
            FileError::AlreadyExists => "already exists",
            FileError::DirectoryNotEmpty => "directory not empty",
            FileError::InvalidName => "file name not allowed",
            FileError::StorageFull => "insufficient storage space",
            FileError::Unsupported => "not supported by this storage",
            FileError::Local => "local error in processing",
        }
    }
}

/// The [`message`](FileError::message): written by hand rather than by
/// thiserror's `#[error]`, so that a small host can take the text
/// without `core::fmt` (the WebAssembly module leaves it out).
impl core::fmt::Display for FileError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.message())
    }
}

/// Why a transfer did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    /// The file operation failed (before or during the transfer).
    File(FileError),
    /// No data connection could be made (`425`).
    NoDataConnection,
    /// The data connection broke mid-transfer (`426`).
    ConnectionLost,
    /// RETR delivered fewer bytes than the file had when it was opened
    /// (`426`): it was truncated while being sent. See
    /// [`ServerSession::storage_opened`](super::ServerSession::storage_opened).
    Truncated,
    /// Stopped by ABOR or because the session ended (`426`).
    Aborted,
    /// No data moved for the stall timeout (`426`).
    Stalled,
    /// The TLS handshake on a protected (PROT P) data connection failed (`425`).
    TlsFailed,
    /// The protected data connection did not resume the control connection's
    /// TLS session, and the host requires it (`522`, RFC 4217 §10.2): another
    /// party may have taken the data connection.
    TlsSessionNotReused,
}

impl TransferError {
    /// What went wrong, for a log line or a message (`transfer aborted`).
    ///
    /// ```
    /// use ftpwire_core::server::{FileError, TransferError};
    /// assert_eq!(TransferError::File(FileError::NotFound).message(), "no such file or directory");
    /// assert_eq!(TransferError::Aborted.to_string(), TransferError::Aborted.message());
    /// ```
    pub const fn message(self) -> &'static str {
        match self {
            TransferError::File(error) => error.message(),
            TransferError::NoDataConnection => "cannot open data connection",
            TransferError::ConnectionLost => "data connection closed; transfer aborted",
            TransferError::Truncated => "the file was truncated while being sent",
            TransferError::Aborted => "transfer aborted",
            TransferError::Stalled => "no data moved within the stall timeout",
            TransferError::TlsFailed => "TLS negotiation on the data connection failed",
            TransferError::TlsSessionNotReused => {
                "the data connection did not resume the control connection's TLS session"
            }
        }
    }
}

/// The [`message`](TransferError::message): written by hand rather than by
/// thiserror's `#[error]`, so that a small host can take the text
/// without `core::fmt` (the WebAssembly module leaves it out).
impl core::fmt::Display for TransferError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.message())
    }
}

impl From<FileError> for TransferError {
    fn from(error: FileError) -> Self {
        TransferError::File(error)
    }
}

/// Why a passive listener could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PassiveError {
    /// Every port of the configured range is busy.
    NoFreePort,
    /// The external hostname did not resolve to an address of the right family.
    Unresolved,
}

impl PassiveError {
    /// What went wrong, for a log line or a reply (`no free port in the passive range`).
    pub const fn message(self) -> &'static str {
        match self {
            PassiveError::NoFreePort => "no free port in the passive range",
            PassiveError::Unresolved => "passive address hostname did not resolve",
        }
    }
}

/// The [`message`](PassiveError::message), by hand as [`TransferError`]'s.
impl core::fmt::Display for PassiveError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.message())
    }
}

/// Things an operator wants in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice<'a> {
    /// A login succeeded.
    LoginSucceeded {
        /// The user name.
        user: &'a [u8],
    },
    /// A login failed.
    LoginFailed {
        /// The user name tried.
        user: &'a [u8],
    },
    /// Too many failed logins: the session is being closed.
    TooManyLoginFailures,
    /// PORT/EPRT refused (RFC 2577 bounce protection).
    PortRefused {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        reason: &'static str,
    },
    /// A command line longer than the limit was discarded.
    LineTooLong,
    /// The idle timeout closed the session.
    IdleTimeout,
    /// The login timeout closed a session that never logged in.
    LoginTimeout,
    /// A command was refused because the server requires TLS.
    TlsRequired,
    /// A write (upload, delete, rename, directory change) was refused
    /// because the login is read-only.
    ReadOnlyRefused {
        /// The user name.
        user: &'a [u8],
        /// The refused command's verb, e.g. `"STOR"`.
        command: &'static str,
    },
    /// An answer carried another session's token: it was refused, not
    /// applied (a host bug: tokens crossed between sessions).
    ForeignAnswer {
        /// Which answer, e.g. `"login"`.
        answer: &'static str,
    },
    /// An answer for an event the session no longer waits for (answered
    /// twice, or after the session gave up on it): ignored.
    StaleAnswer {
        /// Which answer.
        answer: &'static str,
    },
    /// An answer that does not fit the event (a unique name for a transfer
    /// other than STOU, or none for STOU): ignored.
    WrongAnswer {
        /// Which answer.
        answer: &'static str,
    },
    /// The host left an event unanswered past
    /// [`ServerConfig::host_answer_timeout`](super::ServerConfig::host_answer_timeout):
    /// the session is being closed with `421`.
    HostAnswerTimeout {
        /// Which answer it waited for.
        answer: &'static str,
    },
    /// A transfer ended (the one log line of every transfer, whatever ended it).
    TransferEnded {
        /// Which command.
        kind: TransferKind,
        /// Its path (for STOU, the directory).
        path: &'a [u8],
        /// Who was logged in.
        user: &'a [u8],
        /// Bytes moved (reported by the host).
        bytes: u64,
        /// From the transfer command to its end.
        elapsed: core::time::Duration,
        /// PROT P.
        protected: bool,
        /// `Ok` for a `226`.
        outcome: Result<(), TransferError>,
    },
    /// The host fed input past [`ServerConfig::input_limit`](super::ServerConfig::input_limit)
    /// although [`wants_input`](super::ServerSession::wants_input) said no:
    /// the session is being closed.
    InputLimit,
    /// The client opened a passive listener (PASV/EPSV) that no data
    /// connection ever reached, then switched to active mode: the silent
    /// fallback of clients such as FileZilla and lftp, which hides that
    /// passive mode is broken (a wrong PASV address, a closed passive port
    /// range).
    PassiveFallback {
        /// `"PORT"` or `"EPRT"`.
        verb: &'static str,
    },
    /// A `227` named a private address to a client with a public one: it
    /// cannot dial it (unless it ignores the address, as curl does). Told
    /// once per session.
    PrivatePassiveAddress {
        /// What the `227` named.
        advertised: core::net::Ipv4Addr,
        /// The client.
        peer: IpAddr,
    },
}

/// One log line's text, the same on every host: [`Notice::write_message`]
/// read as lossy UTF-8.
impl core::fmt::Display for Notice<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut message = Vec::new();
        self.write_message(&mut message);
        f.write_str(&alloc::string::String::from_utf8_lossy(&message))
    }
}

impl Notice<'_> {
    /// Appends the notice's log line: user names and paths as the client
    /// sent them, so the line is UTF-8 only when they are (its `Display`
    /// reads it as lossy UTF-8). Written without `core::fmt`, which small
    /// hosts (the WebAssembly module) leave out.
    ///
    /// ```
    /// use ftpwire_core::server::Notice;
    /// let mut line = Vec::new();
    /// Notice::LoginFailed { user: b"ann" }.write_message(&mut line);
    /// assert_eq!(line, b"login failed: ann");
    /// ```
    pub fn write_message(&self, out: &mut Vec<u8>) {
        let put = |out: &mut Vec<u8>, text: &str| out.extend_from_slice(text.as_bytes());
        match *self {
            Notice::LoginSucceeded { user } => {
                put(out, "login ok: ");
                out.extend_from_slice(user);
            }
            Notice::LoginFailed { user } => {
                put(out, "login failed: ");
                out.extend_from_slice(user);
            }
            Notice::TooManyLoginFailures => put(out, "too many failed logins; closing"),
            Notice::PortRefused { addr, reason } => {
                put(out, "PORT/EPRT to ");
                crate::address::write_socket_addr(out, addr);
                out.extend_from_slice(b" refused: ");
                out.extend_from_slice(reason.as_bytes());
            }
            Notice::LineTooLong => put(out, "command line too long; discarded"),
            Notice::IdleTimeout => put(out, "idle timeout; closing"),
            Notice::LoginTimeout => put(out, "not logged in within the login timeout; closing"),
            Notice::TlsRequired => put(out, "command refused: TLS is required"),
            Notice::ReadOnlyRefused { user, command } => {
                put(out, command);
                put(out, " refused: ");
                out.extend_from_slice(user);
                out.extend_from_slice(b" is read-only");
            }
            Notice::ForeignAnswer { answer } => {
                put(out, "host bug: a ");
                put(out, answer);
                put(out, " answer carried another session's token; refused");
            }
            Notice::StaleAnswer { answer } => {
                put(out, "host bug: a ");
                put(out, answer);
                put(out, " answer for nothing the session waits for; ignored");
            }
            Notice::HostAnswerTimeout { answer } => {
                put(out, "host bug or overload: no ");
                put(out, answer);
                put(out, " answer within the host-answer timeout; closing");
            }
            Notice::InputLimit => put(out, "too much input held; closing"),
            Notice::PrivatePassiveAddress { advertised, peer } => {
                put(out, "PASV advertised ");
                crate::address::write_ip(out, IpAddr::V4(advertised));
                out.extend_from_slice(b", a private address, to ");
                crate::address::write_ip(out, peer);
                out.extend_from_slice(b", a client outside the local networks that cannot reach it; set --passive-address to this server's public address (or a DNS name that follows it)");
            }
            Notice::PassiveFallback { verb } => {
                put(
                    out,
                    "no data connection reached the passive listener, and the client switched to active mode (",
                );
                put(out, verb);
                put(
                    out,
                    "); check that the passive ports are open and that PASV advertises an address the client can reach (--passive-address)",
                );
            }
            Notice::WrongAnswer { answer } => {
                put(out, "host bug: a ");
                put(out, answer);
                put(out, " answer that does not fit its event; ignored");
            }
            Notice::TransferEnded {
                kind,
                path,
                user,
                bytes,
                elapsed,
                protected,
                outcome,
            } => {
                // u64, not `as_millis`'s u128: the same figure (below 584
                // million years) without 128-bit arithmetic in small hosts.
                let ms = elapsed
                    .as_secs()
                    .saturating_mul(1000)
                    .saturating_add(u64::from(elapsed.subsec_millis()));
                put(out, kind.verb());
                put(out, " ");
                out.extend_from_slice(path);
                let figures = |out: &mut Vec<u8>| {
                    crate::reply::write_decimal(out, bytes);
                    out.extend_from_slice(b" bytes in ");
                    crate::reply::write_decimal(out, ms);
                    out.extend_from_slice(b" ms");
                };
                match outcome {
                    Ok(()) => {
                        out.extend_from_slice(b": ");
                        figures(out);
                    }
                    Err(error) => {
                        out.extend_from_slice(b" failed: ");
                        out.extend_from_slice(error.message().as_bytes());
                        out.extend_from_slice(b" (");
                        figures(out);
                        out.push(b')');
                    }
                }
                out.extend_from_slice(b" (");
                out.extend_from_slice(user);
                if protected {
                    out.extend_from_slice(b", TLS");
                }
                out.push(b')');
            }
        }
    }
    /// Whether it is a warning (an attack, a refusal, a host bug) rather
    /// than routine information.
    pub fn is_warning(&self) -> bool {
        !matches!(
            self,
            Notice::LoginSucceeded { .. }
                | Notice::TransferEnded {
                    outcome: Ok(()),
                    ..
                }
                | Notice::IdleTimeout
                | Notice::LoginTimeout
                | Notice::ReadOnlyRefused { .. }
        )
    }
}

macro_rules! token {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// It names its session: handed to another session, the answer is
        /// refused with [`Notice::ForeignAnswer`] and not applied.
        #[must_use = "the session waits until this token is answered (or its host-answer timeout closes it)"]
        #[derive(Debug, PartialEq, Eq)]
        pub struct $name {
            pub(crate) session: u32,
            pub(crate) seq: u32,
        }

        impl $name {
            pub(crate) fn new(session: u32, seq: u32) -> Self {
                $name { session, seq }
            }
        }
    };
}

token!(
    /// Answers a [`Login`].
    LoginToken
);
token!(
    /// Answers an [`UpgradeTls`].
    TlsToken
);
token!(
    /// Answers an [`OpenPassive`].
    PassiveToken
);
token!(
    /// Answers a [`Stat`].
    StatToken
);
token!(
    /// Answers an [`EnterDirectory`].
    DirectoryToken
);
token!(
    /// Answers a [`FileChange`].
    ChangeToken
);
token!(
    /// Answers a [`Transfer`]: its storage is open (or not).
    OpenToken
);
token!(
    /// Answers a [`ConnectData`].
    ConnectToken
);
token!(
    /// Answers a [`SecureData`].
    SecureToken
);
token!(
    /// Reports progress on, and answers, a [`MoveData`].
    MoveToken
);
token!(
    /// Answers a [`CloseData`].
    CloseToken
);
