//! The server session state machine: every reply is decided here.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::net::{IpAddr, SocketAddr};
use core::sync::atomic::{AtomicU32, Ordering};

use super::config::ServerConfig;
use super::event::*;
use crate::Instant;
use crate::address::{self, PassiveAddress, PassiveChoice};
use crate::command::{Command, EpsvArgument, ListArgument, ParseError, TransferType, Verb};
use crate::control::{ControlReader, Next};
use crate::listing::{self, FileKind, ListFilter, ListFormat, Metadata};
use crate::path;
use crate::reply;

mod data;
mod info;
mod login;
mod namespace;
mod outbox;
mod security;
mod transfer;

use info::HELP;

/// One FTP control connection, server side, as a value the host owns.
///
/// The host loop:
///
/// ```no_run
/// # use std::sync::Arc;
/// # use ftpwire_core::{Instant, Output, ServerConfig, ServerSession};
/// # fn io() -> (Vec<u8>, Instant) { unimplemented!() }
/// let (local, peer) = ("127.0.0.1:21".parse().unwrap(), "127.0.0.1:5000".parse().unwrap());
/// let mut session = ServerSession::new(Arc::new(ServerConfig::default()), local, peer, Instant::default());
/// loop {
///     match session.poll_output() {
///         Output::Transmit(bytes) => { /* write all of `bytes` to the socket */ }
///         Output::Event(event) => { /* do the I/O, answer the event's token */ }
///         Output::Timeout(deadline) => {
///             // Wait for input (only while `session.wants_input()`), an
///             // answer, or the deadline; then one of:
///             let (data, now) = io();
///             session.handle_input(now, &data); // it keeps what it cannot run yet
///             // or: session.handle_timeout(now);
///         }
///         Output::Closed => break,
///     }
/// }
/// ```
#[derive(Debug)]
pub struct ServerSession {
    reader: ControlReader,
    /// Received bytes not run yet (empty, and unallocated, on the fast path).
    held: Vec<u8>,
    /// `held[..held_start]` already ran: consumed lines are skipped rather
    /// than moved out each time the session blocks again.
    held_start: usize,
    state: State,
}

/// Session ids for tokens (wrapping after 2^32 sessions; ids only need to
/// differ among the sessions a host runs at once).
static NEXT_SESSION: AtomicU32 = AtomicU32::new(1);

/// Capacity of the held-input buffer kept once it empties; a larger one is freed.
const HELD_KEPT: usize = 1024;

/// Everything but the line reader, so a line borrowed from the reader can be
/// handled while the state is mutated.
#[derive(Debug)]
struct State {
    /// Unique per session in this process: tokens carry it.
    id: u32,
    config: Arc<ServerConfig>,
    local: SocketAddr,
    peer: SocketAddr,
    now: Instant,
    last_activity: Instant,
    /// When the current login began (connection, AUTH, REIN): the login
    /// timeout counts from here.
    login_started: Instant,

    out: Vec<u8>,
    /// `out` was handed to the host: clear it before writing more.
    out_taken: bool,
    events: VecDeque<Queued>,
    closing: bool,
    closed: bool,

    login: LoginState,
    failures: u32,
    user: Vec<u8>,
    password: Vec<u8>,

    cwd: Vec<u8>,
    /// The path of the command in progress (and RNTO's target).
    path: Vec<u8>,
    /// RNFR's path, kept for RNTO.
    rename_from: Vec<u8>,
    rename_pending: bool,
    transfer_type: TransferType,
    rest: u64,
    data: DataSetup,
    epsv_all: bool,
    /// The control connection came through a TCP load balancer (the host
    /// read its PROXY header): data connections come straight here.
    through_balancer: bool,
    /// A passive listener was closed without a data connection on it, and
    /// none has come since (a PORT/EPRT now is a silent fallback).
    passive_unused: bool,
    /// The private-`227` notice was given (once per session).
    told_private_pasv: bool,
    tls: Tls,
    /// PBSZ was sent on the protected control channel (required before PROT).
    pbsz: bool,
    /// PROT P: data connections are protected.
    prot_private: bool,
    /// An implicit-FTPS session under `implicit_tls_prot_p`: it starts (and
    /// REIN returns it) with PBSZ and PROT P in force.
    starts_protected: bool,

    waiting: Waiting,
    /// STOU's file name, for its 150.
    unique_name: Vec<u8>,
    ended: Ended,
    /// The transfer a queued `Queued::Transfer` announces (it may end, by
    /// an ABOR pipelined behind it, before the host polls the event).
    announced: TransferState,
    /// Shutting down: close once the running transfer is over.
    draining: bool,
    /// When the last event that needs an answer went out.
    waiting_since: Instant,
    next_token: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LoginState {
    Connected,
    UserGiven,
    LoggedIn { read_only: bool },
}

/// The control channel's protection (RFC 4217).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tls {
    Plain,
    /// 234 sent; waiting for the host's handshake. Input is discarded.
    Upgrading(u32),
    Secured,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataSetup {
    None,
    Passive,
    Active(SocketAddr),
}

/// What the session is waiting for before it reads the next command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waiting {
    Nothing,
    Login(u32),
    /// A failed login's reply is held back until this instant.
    LoginDelay(Instant),
    Passive(u32, Advertise),
    Stat(u32, StatPurpose),
    EnterDirectory(u32),
    Change(u32, ChangeKind),
    Transfer(TransferState),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TransferState {
    id: u32,
    kind: TransferKind,
    phase: transfer::Phase,
    /// REST offset, taken when the command ran (REST applies to one transfer).
    offset: u64,
    /// RETR: the file's size when the host opened it.
    size_at_open: Option<u64>,
    /// Bytes moved, as the host reported them.
    bytes: u64,
    /// Which entries a listing shows.
    filter: ListFilter,
    /// PROT P when the command ran.
    protected: bool,
    started_at: Instant,
    /// The current phase's deadline (none while the storage opens: that
    /// is a host answer, bounded by the host-answer timeout).
    deadline: Option<Instant>,
    /// A command line waits for the transfer's end: read nothing more
    /// (lines run in order) until it is over.
    line_waits: bool,
}

/// Which reply a passive listener's port goes into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Advertise {
    Epsv,
    PasvLocal,
    PasvAt(IpAddr),
    PasvResolved,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StatPurpose {
    Size,
    Mdtm,
    Mlst,
    Rnfr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChangeKind {
    MakeDirectory,
    RemoveDirectory,
    Delete,
    Rename,
    /// MFMT, with the time (Unix seconds).
    SetModified(i64),
    /// SITE CHMOD, with the mode.
    SetPermissions(u32),
}

/// An event waiting in the queue; its borrowed parts live in `State`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Queued {
    Login(u32),
    OpenPassive(u32, bool),
    ClosePassive,
    Stat(u32),
    EnterDirectory(u32),
    Change(u32, ChangeKind),
    /// The running transfer's first event (its state is in `waiting`).
    Transfer,
    ConnectData(u32),
    SecureData(u32),
    MoveData(u32),
    CloseData(u32),
    AbortTransfer(u32),
    UpgradeTls(u32),
    DowngradeTls,
    Notice(QueuedNotice),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QueuedNotice {
    LoginSucceeded,
    LoginFailed,
    TooManyLoginFailures,
    PortRefused(SocketAddr, &'static str),
    LineTooLong,
    IdleTimeout,
    LoginTimeout,
    TlsRequired,
    ReadOnlyRefused(&'static str),
    InputLimit,
    ForeignAnswer(&'static str),
    StaleAnswer(&'static str),
    HostAnswerTimeout(&'static str),
    WrongAnswer(&'static str),
    PassiveFallback(&'static str),
    PrivatePassiveAddress(core::net::Ipv4Addr),
    /// Its facts are in `State::ended` (one at a time: no held line runs
    /// while an event is queued).
    TransferEnded,
}

/// The last transfer's end, for its notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ended {
    kind: TransferKind,
    bytes: u64,
    elapsed: core::time::Duration,
    protected: bool,
    outcome: Result<(), TransferError>,
}

impl ServerSession {
    /// A new session on a control connection from `peer` accepted on `local`;
    /// the `220` greeting is queued.
    pub fn new(
        config: Arc<ServerConfig>,
        local: SocketAddr,
        peer: SocketAddr,
        now: Instant,
    ) -> Self {
        Self::start(config, local, peer, now, Tls::Plain)
    }

    /// A new session on an implicit-FTPS listener (port 990 style): the host
    /// has completed the TLS handshake before the first byte, so the control
    /// channel starts protected.
    pub fn new_implicit_tls(
        config: Arc<ServerConfig>,
        local: SocketAddr,
        peer: SocketAddr,
        now: Instant,
    ) -> Self {
        Self::start(config, local, peer, now, Tls::Secured)
    }

    fn start(
        config: Arc<ServerConfig>,
        local: SocketAddr,
        peer: SocketAddr,
        now: Instant,
        tls: Tls,
    ) -> Self {
        let reader = ControlReader::new(config.line_limit);
        let starts_protected = tls == Tls::Secured && config.implicit_tls_prot_p;
        let mut state = State {
            id: NEXT_SESSION.fetch_add(1, Ordering::Relaxed),
            local: canonical(local),
            peer: canonical(peer),
            now,
            last_activity: now,
            login_started: now,
            out: Vec::with_capacity(256),
            out_taken: false,
            events: VecDeque::new(),
            closing: false,
            closed: false,
            login: LoginState::Connected,
            failures: 0,
            // Grown on first use and kept (no allocation per command once
            // warm), so a session that sits idle holds little.
            user: Vec::new(),
            password: Vec::new(),
            cwd: Vec::new(),
            path: Vec::with_capacity(128),
            rename_from: Vec::new(),
            rename_pending: false,
            transfer_type: TransferType::Ascii,
            rest: 0,
            data: DataSetup::None,
            epsv_all: false,
            through_balancer: false,
            passive_unused: false,
            told_private_pasv: false,
            tls,
            pbsz: starts_protected,
            prot_private: starts_protected,
            starts_protected,
            waiting: Waiting::Nothing,
            unique_name: Vec::new(),
            announced: TransferState {
                id: 0,
                kind: TransferKind::Retrieve,
                phase: transfer::Phase::Opening,
                offset: 0,
                size_at_open: None,
                bytes: 0,
                filter: ListFilter { dot_files: false },
                protected: false,
                started_at: now,
                deadline: None,
                line_waits: false,
            },
            ended: Ended {
                kind: TransferKind::Retrieve,
                bytes: 0,
                elapsed: core::time::Duration::ZERO,
                protected: false,
                outcome: Ok(()),
            },
            draining: false,
            waiting_since: now,
            next_token: 0,
            config,
        };
        state.cwd.push(b'/');
        let greeting = state.config.clone();
        reply::write(&mut state.out, 220, &greeting.greeting);
        ServerSession {
            reader,
            held: Vec::new(),
            held_start: 0,
            state,
        }
    }

    /// Feeds received control-channel bytes. The session takes all of them:
    /// what it cannot run yet (the session waits for the host's answer to an
    /// event, or a transfer runs and the next command must wait for it) it
    /// keeps, and runs in order once it can; a host never offers bytes twice.
    ///
    /// Lines are parsed straight from `data` when nothing is held, so the
    /// common case copies nothing. Check [`wants_input`](Self::wants_input)
    /// before reading more from the socket: a session fed on regardless,
    /// to twice [`ServerConfig::input_limit`] held bytes, ends with `421`.
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) {
        self.state.settle(now);
        if self.state.closing || self.state.closed || self.state.upgrading() {
            return;
        }
        // Lines wait while events are queued (they borrow buffers a line
        // may reuse): the next poll_output runs them.
        if self.held.is_empty() && self.state.events.is_empty() {
            let used = self.run_lines(data);
            if used < data.len() && !self.state.closing && !self.state.upgrading() {
                self.held.extend_from_slice(&data[used..]);
            }
            return;
        }
        if self.held_input() >= self.state.config.input_limit.saturating_mul(2) {
            // The host ignored wants_input() (a host reading ahead may pass
            // the limit a little, never twice over): stop before memory grows
            // without bound.
            self.held = Vec::new();
            self.held_start = 0;
            self.state.notice(QueuedNotice::InputLimit);
            return self
                .state
                .close(421, "Too much input; closing the connection.");
        }
        if self.held_start > self.held.len() / 2 {
            self.held.drain(..self.held_start);
            self.held_start = 0;
        }
        self.held.extend_from_slice(data);
        if self.state.events.is_empty() {
            self.run_held();
        }
    }

    /// Runs the lines in `data` while the session reads commands; returns
    /// how many bytes it used (all of them once it closes or upgrades).
    fn run_lines(&mut self, data: &[u8]) -> usize {
        let mut used = 0;
        while self.state.reads_commands() && (used < data.len() || self.reader.has_replay()) {
            let (n, next) = self.reader.next_command(&data[used..]);
            match next {
                Next::NeedMore => {}
                Next::TooLong => {
                    self.state.reply(500, "Command line too long.");
                    self.state.notice(QueuedNotice::LineTooLong);
                }
                Next::Command(parsed) => {
                    if !self.state.runs_now(&parsed) {
                        // Wait for the transfer to end; keep the line.
                        if self.reader.replay() {
                            used += n;
                        }
                        if let Waiting::Transfer(t) = &mut self.state.waiting {
                            t.line_waits = true;
                        }
                        break;
                    }
                    self.state.dispatch(parsed);
                }
            }
            used += n;
            if self.state.closing || self.state.upgrading() {
                // Lines pipelined after AUTH TLS are never run (RFC 4217 §4).
                return data.len();
            }
        }
        used
    }

    /// Runs held lines that waited for the session to be free.
    #[inline]
    fn run_held(&mut self) {
        if !self.held.is_empty() || self.reader.has_replay() {
            self.run_held_lines();
        }
    }

    #[inline(never)]
    fn run_held_lines(&mut self) {
        if !self.state.reads_commands() || self.state.closing {
            return;
        }
        let mut held = core::mem::take(&mut self.held);
        let used = self.run_lines(&held[self.held_start..]);
        self.held_start += used;
        if self.state.closing || self.state.upgrading() || self.held_start == held.len() {
            held.clear();
            self.held_start = 0;
            // An empty tail costs nothing: only a small buffer is kept for
            // the next pipelined burst (zero allocations in steady state).
            if held.capacity() > HELD_KEPT {
                held = Vec::new();
            }
        }
        self.held = held;
    }

    /// Whether the host should read more input now: a backpressure hint.
    /// While it is false the session holds [`ServerConfig::input_limit`]
    /// bytes or more that it cannot run yet (a client pipelining without end
    /// during a transfer), and leaving them in the socket lets TCP slow the
    /// client down. While a TLS upgrade is pending it is true: the session
    /// drops every plaintext byte it gets then, so commands pipelined after
    /// `AUTH TLS` are never run as if they had been protected.
    pub fn wants_input(&self) -> bool {
        !self.state.closing
            && !self.state.closed
            && self.held_input() < self.state.config.input_limit
    }

    /// How many received bytes the session holds without having run them yet.
    pub fn held_input(&self) -> usize {
        self.held.len() - self.held_start
    }

    /// The control connection reached end of file (or broke): the session ends.
    pub fn handle_peer_closed(&mut self) {
        self.state.settle(self.state.now);
        if !self.state.closed {
            self.state.drop_transfer();
        }
        self.state.closing = true;
    }

    /// The server is shutting down: `421` (RFC 959: service not available,
    /// closing control connection), then [`Output::Closed`], so the client
    /// knows to come back later rather than seeing a bare disconnect. A
    /// running transfer finishes first (its `226`, then the `421`); no
    /// further command runs meanwhile.
    pub fn shut_down(&mut self, now: Instant) {
        self.state.settle(now);
        if self.state.closing || self.state.closed {
            return;
        }
        if matches!(self.state.waiting, Waiting::Transfer(_)) {
            self.state.draining = true;
        } else {
            self.state
                .close(421, "Server shutting down; closing the connection.");
        }
    }

    /// Shutting down without waiting (a grace period is over): a running
    /// transfer is ended (without its `426`: the connection is going away),
    /// then `421` and [`Output::Closed`].
    pub fn shut_down_now(&mut self, now: Instant) {
        self.state.settle(now);
        if self.state.closing || self.state.closed {
            return;
        }
        self.state.drop_transfer();
        self.state
            .close(421, "Server shutting down; closing the connection.");
    }

    /// Whether [`shut_down`](Self::shut_down) waits for a running transfer.
    pub fn is_draining(&self) -> bool {
        self.state.draining && !self.state.closing
    }

    /// The next thing the host must do. Call until it returns
    /// [`Output::Timeout`] or [`Output::Closed`].
    pub fn poll_output(&mut self) -> Output<'_> {
        let s = &mut self.state;
        if s.out_taken {
            s.out.clear();
            s.out_taken = false;
        }
        // Held lines run once everything before them is out: an event
        // borrows the session's buffers, which the next line may reuse.
        if s.out.is_empty() && s.events.is_empty() {
            self.run_held();
        }
        let s = &mut self.state;
        if !s.out.is_empty() {
            s.out_taken = true;
            return Output::Transmit(&s.out);
        }
        if let Some(queued) = s.events.pop_front() {
            return Output::Event(s.event(queued));
        }
        if s.closing || s.closed {
            s.closed = true;
            return Output::Closed;
        }
        Output::Timeout(s.deadline())
    }

    /// For a host whose control-channel TLS is a layer under the session:
    /// the next output if it is [`Event::UpgradeTls`] or
    /// [`Event::DowngradeTls`] (everything before it already sent), taken
    /// out of the output. The layer calls this before each
    /// [`poll_output`](Self::poll_output), acts on the change itself, and
    /// passes every other output on as it is.
    ///
    /// ```
    /// # use ftpwire_core::{Instant, Output, ServerConfig, ServerSession};
    /// # use ftpwire_core::server::TlsChange;
    /// # let addr = "127.0.0.1:21".parse().unwrap();
    /// let config = ServerConfig { tls: true, ..ServerConfig::default() };
    /// let now = Instant::from_millis(0);
    /// let mut session = ServerSession::new(config.into(), addr, addr, now);
    /// # while !matches!(session.poll_output(), Output::Timeout(_)) {}
    /// session.handle_input(now, b"AUTH TLS\r\n");
    /// assert!(session.take_tls_change().is_none(), "the 234 goes first");
    /// assert!(matches!(session.poll_output(), Output::Transmit(reply) if reply.starts_with(b"234 ")));
    /// assert!(matches!(session.take_tls_change(), Some(TlsChange::Upgrade(_))));
    /// assert!(matches!(session.poll_output(), Output::Timeout(_)));
    /// ```
    pub fn take_tls_change(&mut self) -> Option<TlsChange> {
        let s = &mut self.state;
        if s.out_taken {
            s.out.clear();
            s.out_taken = false;
        }
        if !s.out.is_empty() {
            return None;
        }
        match s.events.front()? {
            Queued::UpgradeTls(id) => {
                let token = TlsToken::new(s.id, *id);
                s.events.pop_front();
                Some(TlsChange::Upgrade(UpgradeTls { token }))
            }
            Queued::DowngradeTls => {
                s.events.pop_front();
                Some(TlsChange::Downgrade)
            }
            _ => None,
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next;
    /// `None` once the session has ended.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state.closing || self.state.closed {
            return None;
        }
        Some(self.state.deadline())
    }

    /// Tells the session the time is now `now` (at or after the deadline it asked for).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.state.settle(now);
        self.state.on_timeout();
    }

    /// Whether the session has ended (the host saw [`Output::Closed`]).
    pub fn is_closed(&self) -> bool {
        self.state.closed
    }

    /// Answers [`Event::UpgradeTls`]: the handshake is done; what arrives now
    /// is the decrypted control channel.
    pub fn tls_established(&mut self, token: TlsToken) {
        self.state.settle(self.state.now);
        let Some(id) = self.state.own(token.session, token.seq, "tls") else {
            return;
        };
        if self.state.tls == Tls::Upgrading(id) {
            self.state.tls = Tls::Secured;
            self.state.last_activity = self.state.now;
        } else {
            self.state.stale("tls");
        }
    }

    /// The control connection came through a TCP load balancer that named
    /// the client in a PROXY header, so the session's peer is the client
    /// but the control connection's far end is the balancer. Data
    /// connections cannot follow that path: a PASV reply names this
    /// server's own passive address, which the client dials directly,
    /// while EPSV names only a port, which the client would dial on the
    /// balancer. So EPSV is refused (`502`, and left out of FEAT): clients
    /// (curl, lftp, FileZilla) then use PASV.
    ///
    /// ```
    /// use ftpwire_core::{Instant, Output, ServerSession};
    /// let mut session = ServerSession::new(
    ///     Default::default(),
    ///     "10.0.0.3:21".parse().unwrap(),
    ///     "203.0.113.9:40000".parse().unwrap(),
    ///     Instant::from_millis(0),
    /// );
    /// session.set_through_balancer();
    /// session.handle_input(Instant::from_millis(0), b"FEAT\r\n");
    /// let mut out = Vec::new();
    /// while let Output::Transmit(bytes) = session.poll_output() {
    ///     out.extend_from_slice(bytes);
    /// }
    /// assert!(out.ends_with(b"211 End\r\n"));
    /// assert!(!out.windows(6).any(|w| w == b" EPSV\r"), "EPSV not offered");
    /// ```
    pub fn set_through_balancer(&mut self) {
        self.state.through_balancer = true;
    }

    /// Whether the control channel is protected by TLS now.
    pub fn is_secured(&self) -> bool {
        self.state.tls == Tls::Secured
    }

    /// Whether data connections are protected now (PROT P): a driver may
    /// then take a passive data connection whose client starts TLS before
    /// it sends the transfer command (aioftp).
    pub fn data_protected(&self) -> bool {
        self.state.prot_private
    }

    /// Answers [`Event::Login`].
    pub fn login(&mut self, token: LoginToken, outcome: LoginOutcome) {
        self.state.settle(self.state.now);
        if let Some(id) = self.state.own(token.session, token.seq, "login") {
            self.state.on_login(id, outcome);
        }
    }

    /// Answers [`Event::OpenPassive`]: the listener is bound on `port`;
    /// `resolved` is what the requested hostname resolved to (`None` if none was requested).
    pub fn passive_opened(&mut self, token: PassiveToken, port: u16, resolved: Option<IpAddr>) {
        self.state.settle(self.state.now);
        if let Some(id) = self.state.own(token.session, token.seq, "passive") {
            self.state.on_passive(id, Ok((port, resolved)));
        }
    }

    /// Answers [`Event::OpenPassive`]: no listener could be opened.
    pub fn passive_failed(&mut self, token: PassiveToken, error: PassiveError) {
        self.state.settle(self.state.now);
        if let Some(id) = self.state.own(token.session, token.seq, "passive") {
            self.state.on_passive(id, Err(error));
        }
    }

    /// Answers [`Event::Stat`].
    pub fn stat_done(&mut self, token: StatToken, result: Result<Metadata, FileError>) {
        self.state.settle(self.state.now);
        if let Some(id) = self.state.own(token.session, token.seq, "stat") {
            self.state.on_stat(id, result);
        }
    }

    /// Answers [`Event::EnterDirectory`]: `Ok` makes it the working directory (`250`).
    pub fn directory_entered(&mut self, token: DirectoryToken, result: Result<(), FileError>) {
        self.state.settle(self.state.now);
        if let Some(id) = self.state.own(token.session, token.seq, "directory") {
            self.state.on_directory_entered(id, result);
        }
    }

    /// Answers [`Event::FileChange`].
    pub fn change_done(&mut self, token: ChangeToken, result: Result<(), FileError>) {
        self.state.settle(self.state.now);
        if let Some(id) = self.state.own(token.session, token.seq, "change") {
            self.state.on_change(id, result);
        }
    }

    /// Every answer of a transfer step says what time it is (`now`): the
    /// next step's deadline and the transfer's duration count from it.
    ///
    /// Answers [`Event::Transfer`]: the storage is open. For a RETR pass
    /// the file's size as opened: one that then delivers fewer bytes
    /// (after REST) was cut short while it was sent, and ends in `426`,
    /// never `226`. Not for STOU: see [`unique_created`](Self::unique_created).
    pub fn storage_opened(&mut self, token: OpenToken, size: Option<u64>, now: Instant) {
        self.state.settle(now);
        if let Some(id) = self.state.own(token.session, token.seq, "storage") {
            self.state.on_storage_opened(id, size, None);
        }
    }

    /// Answers a STOU's [`Event::Transfer`] ([`Plan::CreateUnique`]): the new
    /// file `name` (in the requested directory) is open; its `150` names it.
    pub fn unique_created(&mut self, token: OpenToken, name: &[u8], now: Instant) {
        self.state.settle(now);
        if let Some(id) = self.state.own(token.session, token.seq, "storage") {
            self.state.on_storage_opened(id, None, Some(name));
        }
    }

    /// Answers [`Event::Transfer`]: the storage could not be opened (`550`
    /// and the like; the passive listener stays for the next command).
    pub fn storage_failed(&mut self, token: OpenToken, error: FileError, now: Instant) {
        self.state.settle(now);
        if let Some(id) = self.state.own(token.session, token.seq, "storage") {
            self.state.on_storage_failed(id, error);
        }
    }

    /// Answers [`Event::ConnectData`]: the data connection is up; the `150` goes out.
    pub fn data_connected(&mut self, token: ConnectToken, now: Instant) {
        self.state.settle(now);
        if let Some(id) = self.state.own(token.session, token.seq, "data connection") {
            self.state.on_data_connected(id);
        }
    }

    /// Answers [`Event::ConnectData`]: no data connection could be made (`425`).
    pub fn data_connect_failed(&mut self, token: ConnectToken, now: Instant) {
        self.state.settle(now);
        if let Some(id) = self.state.own(token.session, token.seq, "data connection") {
            self.state.on_data_connect_failed(id);
        }
    }

    /// Answers [`Event::SecureData`]: the handshake is done; `resumed`: the
    /// client resumed the control connection's TLS session (without it,
    /// [`ServerConfig::require_tls_session_reuse`] refuses with `522`).
    pub fn data_secured(&mut self, token: SecureToken, resumed: bool, now: Instant) {
        self.state.settle(now);
        if let Some(id) = self.state.own(token.session, token.seq, "data TLS") {
            self.state.on_data_secured(id, resumed);
        }
    }

    /// Answers [`Event::SecureData`]: the handshake failed (`425`).
    pub fn data_tls_failed(&mut self, token: SecureToken, now: Instant) {
        self.state.settle(now);
        if let Some(id) = self.state.own(token.session, token.seq, "data TLS") {
            self.state.on_data_tls_failed(id);
        }
    }

    /// During [`Event::MoveData`]: `bytes` moved so far. Any report restarts
    /// the stall timeout; a host may report as seldom as it likes, e.g. only
    /// when [`poll_timeout`](Self::poll_timeout) comes due.
    pub fn data_progress(&mut self, token: &MoveToken, bytes: u64, now: Instant) {
        self.state.settle(now);
        if token.session == self.state.id {
            self.state.on_data_progress(token.seq, bytes);
        }
    }

    /// Answers [`Event::MoveData`]: `Ok(bytes)` once every byte is moved
    /// (for RETR, what was read from the file, before TYPE A conversion;
    /// for uploads, what was written, the client having closed the data
    /// connection); otherwise the error picks the reply.
    pub fn data_moved(
        &mut self,
        token: MoveToken,
        result: Result<u64, TransferError>,
        now: Instant,
    ) {
        self.state.settle(now);
        if let Some(id) = self.state.own(token.session, token.seq, "data moved") {
            self.state.on_data_moved(id, result);
        }
    }

    /// Answers [`Event::CloseData`]: `Ok` once the data connection is closed
    /// in order (`226`).
    pub fn data_closed(
        &mut self,
        token: CloseToken,
        result: Result<(), TransferError>,
        now: Instant,
    ) {
        self.state.settle(now);
        if let Some(id) = self.state.own(token.session, token.seq, "data closed") {
            self.state.on_data_closed(id, result);
        }
    }
}

fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(address::canonical_ip(addr.ip()), addr.port())
}

impl FileError {
    /// The reply code and text for this error (RFC 959 §4.2).
    fn reply(self) -> (u16, &'static str) {
        match self {
            FileError::NotFound => (550, "No such file or directory."),
            FileError::PermissionDenied => (550, "Permission denied."),
            FileError::NotADirectory => (550, "Not a directory."),
            FileError::IsADirectory => (550, "Is a directory."),
            FileError::AlreadyExists => (550, "File exists."),
            FileError::DirectoryNotEmpty => (550, "Directory not empty."),
            FileError::InvalidName => (553, "File name not allowed."),
            FileError::StorageFull => (452, "Insufficient storage space."),
            FileError::Unsupported => (502, "This server's storage cannot do that."),
            FileError::Local => (451, "Local error in processing."),
        }
    }
}

impl State {
    /// Start of every call from the host: time moves on, handed-over output is dropped.
    fn settle(&mut self, now: Instant) {
        if now > self.now {
            self.now = now;
        }
        if self.out_taken {
            self.out.clear();
            self.out_taken = false;
        }
    }

    fn reply(&mut self, code: u16, text: &str) {
        reply::write(&mut self.out, code, text);
    }

    fn notice(&mut self, notice: QueuedNotice) {
        self.events.push_back(Queued::Notice(notice));
    }

    /// The sequence number of a token if it is this session's; otherwise
    /// a notice, and the answer is not applied.
    fn own(&mut self, session: u32, seq: u32, answer: &'static str) -> Option<u32> {
        if session == self.id {
            Some(seq)
        } else {
            self.notice(QueuedNotice::ForeignAnswer(answer));
            None
        }
    }

    /// An answer to nothing the session waits for.
    fn stale(&mut self, answer: &'static str) {
        self.notice(QueuedNotice::StaleAnswer(answer));
    }

    /// A new event's sequence number: the session now waits for its answer.
    fn token(&mut self) -> u32 {
        self.waiting_since = self.now;
        self.next_token = self.next_token.wrapping_add(1);
        self.next_token
    }

    fn close(&mut self, code: u16, text: &str) {
        self.reply(code, text);
        self.closing = true;
    }

    fn upgrading(&self) -> bool {
        matches!(self.tls, Tls::Upgrading(_))
    }

    fn logged_in(&self) -> bool {
        matches!(self.login, LoginState::LoggedIn { .. })
    }

    fn read_only(&self) -> bool {
        matches!(self.login, LoginState::LoggedIn { read_only: true })
    }

    /// Whether the next command line may be read now.
    fn reads_commands(&self) -> bool {
        match self.waiting {
            Waiting::Nothing => !self.upgrading(),
            Waiting::Transfer(t) => !t.line_waits,
            _ => false,
        }
    }

    /// During a transfer only ABOR, STAT and NOOP run; the rest wait for its end.
    fn runs_now(&self, parsed: &Result<Command<'_>, ParseError>) -> bool {
        !matches!(self.waiting, Waiting::Transfer(_))
            || matches!(
                parsed,
                Ok(Command::Abor | Command::Stat(None) | Command::Noop)
            )
    }

    /// Which host answer the session waits for, if one bounded by the
    /// host-answer timeout (a transfer has deadlines of its own).
    fn awaited_answer(&self) -> Option<&'static str> {
        match self.waiting {
            Waiting::Login(_) => Some("login"),
            Waiting::Passive(..) => Some("passive"),
            Waiting::Stat(..) => Some("stat"),
            Waiting::EnterDirectory(_) => Some("directory"),
            Waiting::Change(..) => Some("change"),
            Waiting::Transfer(t) if t.phase == transfer::Phase::Opening => Some("storage"),
            _ if self.upgrading() => Some("tls"),
            _ => None,
        }
    }

    fn deadline(&self) -> Instant {
        let mut idle = match self.login_deadline() {
            Some(login) => login.min(self.last_activity + self.config.idle_timeout),
            None => self.last_activity + self.config.idle_timeout,
        };
        if self.awaited_answer().is_some() {
            idle = idle.min(self.waiting_since + self.config.host_answer_timeout);
        }
        match self.waiting {
            Waiting::LoginDelay(until) => until.min(idle),
            Waiting::Transfer(TransferState {
                deadline: Some(d), ..
            }) => d.min(idle),
            _ => idle,
        }
    }

    /// When a session that has not logged in is closed; `None` once logged
    /// in, or while the host checks a password (its answer decides).
    fn login_deadline(&self) -> Option<Instant> {
        if self.logged_in() || matches!(self.waiting, Waiting::Login(_)) {
            return None;
        }
        Some(self.login_started + self.config.login_timeout)
    }

    fn on_timeout(&mut self) {
        if self.closing || self.closed {
            return;
        }
        if self.login_deadline().is_some_and(|due| self.now >= due) {
            self.notice(QueuedNotice::LoginTimeout);
            return self.close(421, "Login timeout; closing the connection.");
        }
        if let Some(answer) = self.awaited_answer()
            && self.now >= self.waiting_since + self.config.host_answer_timeout
        {
            self.drop_transfer();
            self.waiting = Waiting::Nothing;
            self.notice(QueuedNotice::HostAnswerTimeout(answer));
            return self.close(
                421,
                "The server could not complete the request in time; closing the connection.",
            );
        }
        match self.waiting {
            Waiting::LoginDelay(until) if self.now >= until => {
                self.waiting = Waiting::Nothing;
                self.reply(530, "Login incorrect.");
                if self.failures >= self.config.max_login_failures {
                    self.notice(QueuedNotice::TooManyLoginFailures);
                    self.close(421, "Too many failed logins; closing the connection.");
                    return;
                }
            }
            Waiting::Transfer(t) if t.deadline.is_some_and(|due| self.now >= due) => {
                self.transfer_timed_out();
            }
            _ => {}
        }
        if self.now >= self.last_activity + self.config.idle_timeout {
            if matches!(self.waiting, Waiting::Nothing) {
                self.notice(QueuedNotice::IdleTimeout);
                self.close(421, "Idle timeout; closing the connection.");
            } else {
                // A transfer or a slow host answer is not idleness.
                self.last_activity = self.now;
            }
        }
    }

    /// Runs one command line.
    fn dispatch(&mut self, parsed: Result<Command<'_>, ParseError>) {
        self.last_activity = self.now;
        let command = match parsed {
            Ok(command) => command,
            Err(error) => return self.refuse(error),
        };
        let verb = command.verb();
        if !self.logged_in() && !verb.allowed_before_login() {
            return self.reply(530, "Please log in with USER and PASS first.");
        }
        if verb != Verb::Rnto {
            self.rename_pending = false;
        }
        if self.config.require_tls
            && self.tls != Tls::Secured
            && matches!(verb, Verb::User | Verb::Pass)
        {
            self.notice(QueuedNotice::TlsRequired);
            return self.reply(
                530,
                "This server requires TLS: send AUTH TLS before USER (or use implicit FTPS).",
            );
        }
        match command {
            Command::User(name) => {
                self.user.clear();
                self.user.extend_from_slice(name);
                self.login = LoginState::UserGiven;
                self.reply(331, "Password required.");
            }
            Command::Pass(password) => match self.login {
                LoginState::UserGiven => {
                    self.password.clear();
                    self.password.extend_from_slice(password);
                    let id = self.token();
                    self.waiting = Waiting::Login(id);
                    self.events.push_back(Queued::Login(id));
                }
                LoginState::LoggedIn { .. } => self.reply(503, "Already logged in."),
                LoginState::Connected => self.reply(503, "Send USER first."),
            },
            Command::Acct(_) => self.reply(202, "ACCT not needed."),
            Command::Quit => self.close(221, "Goodbye."),
            Command::Rein => {
                self.reset_data();
                self.login = LoginState::Connected;
                self.login_started = self.now;
                self.cwd.clear();
                self.cwd.push(b'/');
                self.transfer_type = TransferType::Ascii;
                self.epsv_all = false;
                self.rest = 0;
                self.pbsz = self.starts_protected;
                self.prot_private = self.starts_protected;
                self.reply(220, "Ready for a new user.");
            }
            Command::Noop => self.reply(200, "NOOP ok."),
            Command::Syst => self.reply(215, "UNIX Type: L8"),
            Command::Stat(None) => self.status(),
            Command::Stat(Some(_)) => {
                self.reply(504, "STAT with a path is not supported; use LIST or MLST.")
            }
            Command::Help(_) => self.out.extend_from_slice(HELP.as_bytes()),
            Command::Feat => self.features(),
            Command::Opts(option) => self.opts(option),
            Command::Pwd => reply::write_quoted_path(
                &mut self.out,
                257,
                &self.cwd,
                " is the current directory.",
            ),
            Command::Cwd(arg) => {
                if self.resolve_into_path(arg) && self.may_read_path() {
                    self.enter_directory();
                }
            }
            Command::Cdup => {
                self.path.clear();
                self.path.extend_from_slice(path::parent(&self.cwd));
                self.enter_directory();
            }
            Command::Mkd(arg) => self.change(arg, ChangeKind::MakeDirectory),
            Command::Rmd(arg) => self.change(arg, ChangeKind::RemoveDirectory),
            Command::Dele(arg) => self.change(arg, ChangeKind::Delete),
            Command::Rnfr(arg) => {
                if self.read_only() {
                    return self.refuse_read_only("RNFR");
                }
                if self.resolve_into_rename_from(arg) {
                    let id = self.token();
                    self.waiting = Waiting::Stat(id, StatPurpose::Rnfr);
                    self.events.push_back(Queued::Stat(id));
                }
            }
            Command::Rnto(arg) => {
                if !self.rename_pending {
                    return self.reply(503, "Send RNFR first.");
                }
                self.rename_pending = false;
                self.change(arg, ChangeKind::Rename);
            }
            Command::Size(arg) => self.stat(arg, StatPurpose::Size),
            Command::Mdtm(arg) => self.stat(arg, StatPurpose::Mdtm),
            Command::Mfmt { modified, path } => {
                self.change(path, ChangeKind::SetModified(modified))
            }
            Command::Mlst(arg) => self.stat(arg.unwrap_or(b"."), StatPurpose::Mlst),
            Command::Type(kind) => {
                self.transfer_type = kind;
                match kind {
                    TransferType::Ascii => self.reply(200, "Type set to A."),
                    TransferType::Image => self.reply(200, "Type set to I."),
                }
            }
            Command::ModeStream => self.reply(200, "Mode set to S."),
            Command::StruFile => self.reply(200, "Structure set to F."),
            Command::Rest(offset) => {
                self.rest = offset;
                reply::write_code(&mut self.out, 350, b' ');
                self.out.extend_from_slice(b"Restarting at ");
                reply::write_decimal(&mut self.out, offset);
                self.out.extend_from_slice(b"; send RETR or STOR.\r\n");
            }
            Command::Pasv => self.pasv(),
            Command::Epsv(arg) => self.epsv(arg),
            Command::Port(addr) => self.active(SocketAddr::V4(addr), "PORT"),
            Command::Eprt(addr) => self.active(addr, "EPRT"),
            Command::Retr(arg) => self.transfer(TransferKind::Retrieve, Some(arg), false),
            Command::Stor(arg) => self.transfer(TransferKind::Store, Some(arg), false),
            Command::Appe(arg) => self.transfer(TransferKind::Append, Some(arg), false),
            Command::Stou => self.transfer(TransferKind::StoreUnique, None, false),
            Command::List(ListArgument { path, all }) => {
                self.transfer(TransferKind::List, path, all)
            }
            Command::Nlst(ListArgument { path, all }) => {
                self.transfer(TransferKind::NameList, path, all)
            }
            // Machine listings are for programs that mirror: every entry (as pure-ftpd does).
            Command::Mlsd(arg) => self.transfer(TransferKind::MachineList, arg, true),
            Command::Abor => self.abort_transfer(),
            Command::Allo => self.reply(202, "ALLO not needed."),
            Command::SiteChmod { mode, path } => self.site_chmod(mode, path),
            Command::Site(arg) => {
                if arg.eq_ignore_ascii_case(b"HELP") {
                    self.reply(214, "SITE CHMOD and SITE HELP are supported.");
                } else {
                    self.reply(502, "Unknown SITE command.");
                }
            }
            Command::Host(_) => match self.login {
                LoginState::Connected => self.reply(220, "Host accepted."),
                _ => self.reply(503, "HOST must be sent before USER."),
            },
            Command::Auth(mechanism) => self.auth(mechanism),
            Command::Pbsz(size) => self.pbsz(size),
            Command::Prot(level) => self.prot(level),
            Command::Ccc => self.ccc(),
        }
    }

    fn refuse(&mut self, error: ParseError) {
        if let Some(verb) = error.verb()
            && !self.logged_in()
            && !verb.allowed_before_login()
        {
            return self.reply(530, "Please log in with USER and PASS first.");
        }
        self.rename_pending = false;
        match error {
            ParseError::UnknownVerb => self.reply(500, "Unknown command."),
            ParseError::NotImplemented => self.reply(502, "Command not implemented."),
            ParseError::BadArgument(_) => {
                self.reply(501, "Syntax error in parameters or arguments.")
            }
            ParseError::UnsupportedParameter(_) => {
                self.reply(504, "Command not implemented for that parameter.")
            }
            ParseError::UnsupportedProtocol(_) => {
                self.reply(522, "Network protocol not supported, use (1,2).")
            }
        }
    }
}
