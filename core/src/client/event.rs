//! What a client session asks of its host, what it reports, and the
//! requests a host makes of it.
//!
//! As on the server side, an event that needs an answer carries a token the
//! answer consumes; an answer with a token the session no longer waits for
//! is ignored (and reported as a [`Warning::StaleAnswer`]).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::net::{IpAddr, SocketAddr};

use super::passive::PasvTarget;

/// Something from the session: bytes to send, an event, when to call back.
#[derive(Debug)]
pub enum ClientOutput<'a> {
    /// Write these bytes to the control connection, all of them, in order.
    Transmit(&'a [u8]),
    /// Handle this event.
    Event(ClientEvent),
    /// Nothing to do until input arrives or this instant passes; then call
    /// [`ClientSession::handle_timeout`](super::ClientSession::handle_timeout).
    Timeout(crate::Instant),
    /// Nothing to do until input arrives or the host makes a request (the
    /// session waits for nothing, so it sets no deadline).
    Idle,
    /// The session is over: close the control connection (after writing
    /// everything transmitted so far).
    Closed,
}

/// An event for the host.
#[derive(Debug)]
pub enum ClientEvent {
    /// Logged in (and secured, and set up): requests run from now on.
    Ready,
    /// `234` to `AUTH TLS`: run the TLS client handshake on the control
    /// connection, then answer [`tls_established`](super::ClientSession::tls_established)
    /// (or close the connection if it fails).
    UpgradeTls(TlsToken),
    /// Dial the server's passive data port (`addr`, already checked by the
    /// session's `227` policy); answer [`data_connected`](super::ClientSession::data_connected)
    /// or [`data_connect_failed`](super::ClientSession::data_connect_failed).
    ConnectData(ConnectData),
    /// Active mode: listen for the server's data connection on `bind` (the
    /// control connection's local address); answer
    /// [`listening`](super::ClientSession::listening) with the port, or
    /// [`listen_failed`](super::ClientSession::listen_failed).
    ListenData(ListenData),
    /// Active mode: the server accepted the transfer; accept its connection on
    /// the listener (only from the control peer's address), then answer
    /// `data_connected` or `data_connect_failed`.
    AcceptData(DataToken),
    /// PROT P: run the TLS client handshake on the data connection,
    /// resuming the control connection's TLS session (servers may require
    /// it); answer [`data_secured`](super::ClientSession::data_secured) or
    /// [`data_tls_failed`](super::ClientSession::data_tls_failed).
    SecureData(DataToken),
    /// Move the bytes: read the download (or listing) until the server
    /// closes the data connection, or send the upload and close it. Report
    /// [`data_progress`](super::ClientSession::data_progress) now and then,
    /// and [`data_done`](super::ClientSession::data_done) at the end.
    MoveData(MoveData),
    /// Drop the data connection (and listener) of this request: the server
    /// refused or failed the transfer, or the session gave up on it.
    AbortData(RequestId),
    /// A request is over.
    Done(Done),
    /// Worth the user's attention: show or log it. Needs no answer.
    Warning(Warning),
    /// The session failed (login refused, the connection lost, a timeout, a
    /// reply it cannot read): every request still queued ends with a
    /// `Done` carrying this error, then the output says `Closed`.
    Failed(ClientError),
}

/// Names one request in every later event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub(crate) u32);

impl RequestId {
    /// Its number: requests of one session count up from 0 (for hosts that
    /// name requests by number, such as JavaScript's).
    pub fn number(self) -> u32 {
        self.0
    }
}

/// Answers [`ClientEvent::UpgradeTls`].
#[derive(Debug, PartialEq, Eq)]
#[must_use = "the session waits for the handshake's answer"]
pub struct TlsToken(pub(crate) ());

/// Answers one step of a data connection.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "the session waits for this step's answer"]
pub struct DataToken(pub(crate) u32);

/// Answers [`ClientEvent::ListenData`].
#[derive(Debug, PartialEq, Eq)]
#[must_use = "the session waits for the listener's port"]
pub struct ListenToken(pub(crate) u32);

/// Dial a passive data port.
#[derive(Debug)]
pub struct ConnectData {
    /// Which request.
    pub request: RequestId,
    /// Where to connect.
    pub addr: SocketAddr,
    /// The answer's token.
    pub token: DataToken,
}

/// Open an active-mode listener.
#[derive(Debug)]
pub struct ListenData {
    /// Which request.
    pub request: RequestId,
    /// The IP to bind (the control connection's local address).
    pub bind: IpAddr,
    /// The only source IP to accept from (the control connection's peer).
    pub peer: IpAddr,
    /// The answer's token.
    pub token: ListenToken,
}

/// Which way a transfer's bytes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Server to client (RETR, LIST, NLST, MLSD): read until the server closes.
    Download,
    /// Client to server (STOR, APPE): send, then close the connection.
    Upload,
}

/// Move one transfer's bytes.
#[derive(Debug)]
pub struct MoveData {
    /// Which request.
    pub request: RequestId,
    /// Which way.
    pub direction: Direction,
    /// The answer's token (progress borrows it, `data_done` consumes it).
    pub token: DataToken,
}

/// A finished request.
#[derive(Debug)]
pub struct Done {
    /// Which request.
    pub request: RequestId,
    /// The server's final reply, or why the request failed.
    pub result: Result<Finished, ClientError>,
}

/// A request's successful end: the final reply (and, for a transfer, the
/// bytes the host reported moving).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// The final reply's code.
    pub code: u16,
    /// The final reply's text (its first line after the code), as sent.
    pub text: Vec<u8>,
    /// Data bytes moved, for a transfer.
    pub bytes: Option<u64>,
}

impl Finished {
    /// The number in a `213` reply (SIZE).
    pub fn size(&self) -> Option<u64> {
        super::listing::decimal(self.text.trim_ascii())
    }

    /// The time in a `213` reply to MDTM, as Unix seconds (UTC).
    pub fn modified(&self) -> Option<i64> {
        crate::listing::parse_timestamp(self.text.trim_ascii())
    }

    /// The quoted path of a `257` reply (PWD, MKD), `""` undoubled.
    pub fn quoted_path(&self) -> Option<Vec<u8>> {
        let rest = self.text.strip_prefix(b"\"")?;
        let mut path = Vec::new();
        let mut i = 0;
        while i < rest.len() {
            match (rest[i], rest.get(i + 1)) {
                (b'"', Some(b'"')) => {
                    path.push(b'"');
                    i += 2;
                }
                (b'"', _) => return Some(path),
                (b, _) => {
                    path.push(b);
                    i += 1;
                }
            }
        }
        None
    }
}

/// Why a request or the session failed. Each says what happened and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error code.
    #[error("the server refused {command}: {code} {text}")]
    Refused {
        /// The command (verb only; never a password).
        command: &'static str,
        /// The reply code (4yz transient, 5yz permanent).
        code: u16,
        /// The reply's text, escaped for display.
        text: String,
    },
    /// A reply that does not follow RFC 959 §4.2.
    #[error(
        "the server sent a malformed reply; it is not an FTP server, or not speaking FTP on this port (try ftps:// or --tls)"
    )]
    Malformed,
    /// A reply longer than the session's limit.
    #[error("the server sent a reply of more than {limit} bytes; the connection was closed")]
    ReplyTooLong {
        /// The limit (`ClientConfig::reply_limit`).
        limit: usize,
    },
    /// A reply the command cannot have (a `227` without an address, say).
    #[error("the server's reply to {command} cannot be used: {reason}")]
    Unexpected {
        /// The command.
        command: &'static str,
        /// What was wrong.
        reason: &'static str,
    },
    /// No reply in time.
    #[error("no reply from the server within the timeout; the network or the server is stalled")]
    Timeout,
    /// The data connection moved nothing for too long.
    #[error(
        "the data connection moved nothing within the timeout; check that the server's passive ports are open"
    )]
    DataTimeout,
    /// The control connection closed.
    #[error("the server closed the control connection")]
    Closed,
    /// The `227` policy refused to dial.
    #[error("{0}")]
    PassiveRefused(PasvTarget),
    /// The data connection could not be made.
    #[error(
        "could not open the data connection to {addr}: {reason}; check that the server's passive ports are reachable (a firewall, or a wrong passive address)"
    )]
    DataConnect {
        /// Where it dialled (or listened, in active mode).
        addr: SocketAddr,
        /// What the host saw.
        reason: String,
    },
    /// The control connection's TLS handshake failed.
    #[error(
        "the TLS handshake failed: {0}; if the server's certificate is self-signed or from a private CA, give --cacert FILE (or -k to accept any)"
    )]
    Tls(String),
    /// The data connection's TLS handshake failed.
    #[error(
        "the data connection's TLS handshake failed: {0}; a server that requires TLS session reuse needs the control session resumed"
    )]
    DataTls(String),
    /// The data connection broke while moving bytes.
    #[error("the data transfer failed: {0}")]
    DataFailed(String),
    /// The host could not open an active-mode listener.
    #[error("could not listen for the server's data connection: {0}")]
    Listen(String),
    /// A request the session cannot send.
    #[error("{0}")]
    BadRequest(&'static str),
}

/// Something the user should know. `Display` says it in full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// A `227` named another address than the control peer's.
    Passive(PasvTarget),
    /// The server refused `EPSV`; the session fell back to `PASV`.
    EpsvRefused {
        /// The refusal's code.
        code: u16,
    },
    /// A reply no command was waiting for.
    UnexpectedReply {
        /// Its code.
        code: u16,
    },
    /// The host answered with a token the session no longer waits for.
    StaleAnswer,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::Passive(target) => target.fmt(f),
            Warning::EpsvRefused { code } => write!(
                f,
                "the server refused EPSV ({code}); using PASV, whose reply names an address \
                 NAT can get wrong"
            ),
            Warning::UnexpectedReply { code } => {
                write!(
                    f,
                    "the server sent a {code} reply no command was waiting for"
                )
            }
            Warning::StaleAnswer => {
                f.write_str("an answer came for a step the session no longer waits for")
            }
        }
    }
}

/// Something to ask the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// RETR, from `offset` on (`REST offset` first when not 0).
    Retrieve {
        /// The remote path.
        path: Vec<u8>,
        /// Where to start.
        offset: u64,
    },
    /// STOR (from `offset` with REST when not 0), or APPE.
    Store {
        /// The remote path.
        path: Vec<u8>,
        /// How the remote file is written.
        mode: StoreMode,
    },
    /// A listing (LIST, NLST or MLSD) of `path`, or of the current directory.
    List {
        /// What to list.
        path: Option<Vec<u8>>,
        /// Which command.
        command: ListCommand,
    },
    /// SIZE.
    Size(Vec<u8>),
    /// MDTM.
    Modified(Vec<u8>),
    /// MLST: the facts of one path, in the reply.
    Facts(Vec<u8>),
    /// CWD.
    ChangeDirectory(Vec<u8>),
    /// PWD.
    PrintDirectory,
    /// MKD.
    MakeDirectory(Vec<u8>),
    /// RMD.
    RemoveDirectory(Vec<u8>),
    /// DELE.
    Delete(Vec<u8>),
    /// RNFR + RNTO.
    Rename {
        /// The existing path.
        from: Vec<u8>,
        /// The new one.
        to: Vec<u8>,
    },
    /// NOOP.
    Noop,
    /// Any other command line (without CRLF), answered with its final reply.
    Command(Vec<u8>),
    /// QUIT; the session closes after its reply.
    Quit,
}

/// How an upload writes the remote file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    /// STOR: create or replace.
    Replace,
    /// REST + STOR: keep the first `offset` bytes, write from there (resume).
    At(u64),
    /// APPE: write at the end.
    Append,
}

/// Which listing command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListCommand {
    /// LIST: `ls -l` lines ([`parse_list_line`](super::listing::parse_list_line)).
    List,
    /// NLST: names only.
    NameList,
    /// MLSD: facts ([`parse_mlsd_line`](super::listing::parse_mlsd_line)).
    MachineList,
}
