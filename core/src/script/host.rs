//! [`FakeHost`]: a host in memory that drives one [`ServerSession`], keeps
//! the token of every event waiting for an answer, and answers either when
//! told (tests, the fuzzer) or at once with fixed [`Answers`] (benchmarks,
//! the allocation count).

use std::net::{IpAddr, SocketAddr};
use std::string::String;
use std::sync::Arc;
use std::vec::Vec;

use crate::listing::{FileKind, ListFilter, ListFormat, Metadata};
use crate::server::{
    ChangeToken, CloseToken, ConnectToken, DirectoryToken, Event, FileError, LoginOutcome,
    LoginToken, MoveToken, OpenToken, PassiveError, PassiveToken, Plan, SecureToken, StatToken,
    TlsToken, TransferError, TransferId, TransferKind,
};
use crate::{Instant, Output, ServerConfig, ServerSession};

/// A file's facts, as the fake host's storage answers them.
pub const FILE: Metadata = Metadata {
    kind: FileKind::File,
    size: 1234,
    modified: Some(1_710_408_413), // 2024-03-14 09:26:53 UTC
    mode: 0o644,
};

/// A directory's facts.
pub const DIR: Metadata = Metadata {
    kind: FileKind::Directory,
    size: 4096,
    modified: Some(1_710_408_413),
    mode: 0o755,
};

/// Sees every event before the host keeps its token: a test records it, the
/// fuzzer checks it. `()` sees nothing.
pub trait Log {
    /// One event, as the session handed it out.
    fn event(&mut self, event: &Event<'_>);
}

impl Log for () {
    fn event(&mut self, _: &Event<'_>) {}
}

/// How the host answers every event at once, when [`FakeHost::answers`] is set.
#[derive(Debug, Clone)]
pub struct Answers {
    /// Every login.
    pub login: LoginOutcome,
    /// The port of every passive listener.
    pub passive_port: u16,
    /// The facts of a path (STAT, SIZE, MDTM, MLST, RNFR).
    pub stat: fn(&[u8]) -> Result<Metadata, FileError>,
    /// The name of every STOU's new file.
    pub unique_name: &'static [u8],
    /// Reported as progress before a transfer's bytes are all moved.
    pub progress: Option<u64>,
    /// Bytes every transfer moves.
    pub moved: u64,
}

impl Default for Answers {
    /// Logins accepted (read-write), passive port 50000, [`by_name`] facts,
    /// STOU names `unique.1`, 1234 bytes per transfer.
    fn default() -> Self {
        Answers {
            login: LoginOutcome::Accepted { read_only: false },
            passive_port: 50_000,
            stat: by_name,
            unique_name: b"unique.1",
            progress: None,
            moved: 1234,
        }
    }
}

/// The storage of [`Answers::default`]: a name with an extension is a
/// [`FILE`], anything else a [`DIR`].
pub fn by_name(path: &[u8]) -> Result<Metadata, FileError> {
    let name = path.rsplit(|&b| b == b'/').next().unwrap_or_default();
    Ok(if name.contains(&b'.') { FILE } else { DIR })
}

/// The transfer the session runs, as its first event named it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Running {
    /// The session's name for it.
    pub id: TransferId,
    /// Which command.
    pub kind: TransferKind,
    /// A listing's format, filter and read-only flag.
    pub listing: Option<(ListFormat, ListFilter, bool)>,
}

/// The tokens of the events waiting for the host's answer (the session asks
/// one question at a time, and a running transfer one step at a time).
#[derive(Debug, Default)]
pub struct Waiting {
    /// A [`Login`](crate::server::Login).
    pub login: Option<LoginToken>,
    /// An [`OpenPassive`](crate::server::OpenPassive); `true` if it asks to resolve a name.
    pub passive: Option<(PassiveToken, bool)>,
    /// A [`Stat`](crate::server::Stat).
    pub stat: Option<StatToken>,
    /// An [`EnterDirectory`](crate::server::EnterDirectory).
    pub enter: Option<DirectoryToken>,
    /// A [`FileChange`](crate::server::FileChange).
    pub change: Option<ChangeToken>,
    /// An [`UpgradeTls`](crate::server::UpgradeTls).
    pub tls: Option<TlsToken>,
    /// The running transfer.
    pub transfer: Option<Running>,
    /// Its storage to open.
    pub open: Option<OpenToken>,
    /// Its data connection to make.
    pub connect: Option<ConnectToken>,
    /// Its data connection to secure.
    pub secure: Option<SecureToken>,
    /// Its bytes to move.
    pub moving: Option<MoveToken>,
    /// Its data connection to close.
    pub closing: Option<CloseToken>,
}

/// One event's token, between the event and its answer.
enum Token {
    Login(LoginToken),
    Passive(PassiveToken, bool),
    Stat(StatToken, Option<Result<Metadata, FileError>>),
    Enter(DirectoryToken),
    Change(ChangeToken),
    Tls(TlsToken),
    Open(OpenToken, TransferKind),
    Connect(ConnectToken),
    Secure(SecureToken),
    Move(MoveToken),
    Close(CloseToken),
}

impl Waiting {
    /// Whether any event waits for an answer.
    pub fn any(&self) -> bool {
        self.login.is_some()
            || self.passive.is_some()
            || self.stat.is_some()
            || self.enter.is_some()
            || self.change.is_some()
            || self.tls.is_some()
            || self.open.is_some()
            || self.connect.is_some()
            || self.secure.is_some()
            || self.moving.is_some()
            || self.closing.is_some()
    }

    fn end_transfer(&mut self) {
        self.transfer = None;
        self.open = None;
        self.connect = None;
        self.secure = None;
        self.moving = None;
        self.closing = None;
    }

    /// The event's token, the running transfer noted (the event borrows
    /// the session, so this takes only what it needs); with `answers`, the
    /// stat's facts worked out while its path is at hand.
    fn token(&mut self, event: Event<'_>, answers: Option<&Answers>) -> Option<Token> {
        Some(match event {
            Event::Login(login) => Token::Login(login.token),
            Event::OpenPassive(open) => Token::Passive(open.token, open.resolve.is_some()),
            Event::Stat(stat) => Token::Stat(stat.token, answers.map(|a| (a.stat)(stat.path))),
            Event::EnterDirectory(enter) => Token::Enter(enter.token),
            Event::FileChange(change) => Token::Change(change.token),
            Event::UpgradeTls(upgrade) => Token::Tls(upgrade.token),
            Event::Transfer(transfer) => {
                // A new transfer: the last one is over, whoever ended it.
                self.end_transfer();
                let listing = match transfer.plan {
                    Plan::List {
                        format,
                        filter,
                        read_only,
                        ..
                    } => Some((format, filter, read_only)),
                    _ => None,
                };
                self.transfer = Some(Running {
                    id: transfer.id,
                    kind: transfer.kind,
                    listing,
                });
                Token::Open(transfer.token, transfer.kind)
            }
            Event::ConnectData(c) => {
                self.step(c.transfer);
                Token::Connect(c.token)
            }
            Event::SecureData(d) => {
                self.step(d.transfer);
                Token::Secure(d.token)
            }
            Event::MoveData(m) => {
                self.step(m.transfer);
                Token::Move(m.token)
            }
            Event::CloseData(c) => {
                self.step(c.transfer);
                Token::Close(c.token)
            }
            Event::AbortTransfer(abort) => {
                self.step(abort.transfer);
                self.end_transfer();
                return None;
            }
            Event::ClosePassive | Event::DowngradeTls | Event::Notice(_) => return None,
        })
    }

    /// Keeps `token` until a test answers it.
    fn keep(&mut self, token: Token) {
        fn put<T>(slot: &mut Option<T>, token: T, what: &str) {
            assert!(
                slot.is_none(),
                "a second {what} event before the first was answered"
            );
            *slot = Some(token);
        }
        match token {
            Token::Login(t) => put(&mut self.login, t, "login"),
            Token::Passive(t, resolve) => put(&mut self.passive, (t, resolve), "passive"),
            Token::Stat(t, _) => put(&mut self.stat, t, "stat"),
            Token::Enter(t) => put(&mut self.enter, t, "directory"),
            Token::Change(t) => put(&mut self.change, t, "change"),
            Token::Tls(t) => put(&mut self.tls, t, "TLS upgrade"),
            Token::Open(t, _) => put(&mut self.open, t, "transfer"),
            Token::Connect(t) => put(&mut self.connect, t, "connect-data"),
            Token::Secure(t) => put(&mut self.secure, t, "secure-data"),
            Token::Move(t) => put(&mut self.moving, t, "move-data"),
            Token::Close(t) => put(&mut self.closing, t, "close-data"),
        }
    }

    fn step(&self, transfer: TransferId) {
        assert_eq!(
            self.transfer.map(|t| t.id),
            Some(transfer),
            "a step of another transfer than the running one"
        );
    }
}

/// A host in memory around one [`ServerSession`]: it collects what the
/// session transmits, keeps the tokens of the events it must answer in
/// [`waiting`](Self::waiting), and answers them when a method says so or,
/// with [`answers`](Self::answers) set, at once. It checks what every host
/// may rely on: nothing is transmitted after `Closed`, no `Transmit` is
/// empty, transfer steps name the running transfer, one question at a time.
///
/// ```
/// use ftpwire_core::script::{Answers, FakeHost};
/// let mut host = FakeHost::new(Default::default(), "127.0.0.1:21", "127.0.0.1:40000");
/// host.answers = Some(Answers::default());
/// host.send(b"USER alice\r\nPASS secret\r\nSIZE a.txt\r\n");
/// assert_eq!(
///     host.take(),
///     "220 ftpwire ready\r\n331 Password required.\r\n230 Login successful.\r\n213 1234\r\n"
/// );
/// ```
#[derive(Debug)]
pub struct FakeHost<L: Log = ()> {
    /// The session driven.
    pub session: ServerSession,
    /// The host's clock.
    pub now: Instant,
    /// Transmitted and not yet [`take`](Self::take)n.
    pub out: Vec<u8>,
    /// The session said `Closed`.
    pub closed: bool,
    /// Tokens waiting for an answer.
    pub waiting: Waiting,
    /// Answer every event at once like this (`None`: only when told).
    pub answers: Option<Answers>,
    /// Transfers closed in order (`226`) by this host's answers.
    pub completed: usize,
    /// Sees every event.
    pub log: L,
}

impl FakeHost<()> {
    /// A plain session from `peer` on `local` at 1 s on the host's clock,
    /// its greeting drained into [`out`](Self::out).
    pub fn new(config: ServerConfig, local: &str, peer: &str) -> Self {
        Self::with_log(config, local, peer, false, ())
    }
}

impl<L: Log> FakeHost<L> {
    /// A session (`implicit_tls`: TLS from the first byte) whose events
    /// `log` sees.
    pub fn with_log(
        config: ServerConfig,
        local: &str,
        peer: &str,
        implicit_tls: bool,
        log: L,
    ) -> Self {
        let local: SocketAddr = local.parse().expect("a local socket address");
        let peer: SocketAddr = peer.parse().expect("a peer socket address");
        Self::on(Arc::new(config), local, peer, implicit_tls, log)
    }

    /// As [`with_log`](Self::with_log), with a shared configuration.
    pub fn on(
        config: Arc<ServerConfig>,
        local: SocketAddr,
        peer: SocketAddr,
        implicit_tls: bool,
        log: L,
    ) -> Self {
        let now = Instant::from_millis(1_000);
        let session = if implicit_tls {
            ServerSession::new_implicit_tls(config, local, peer, now)
        } else {
            ServerSession::new(config, local, peer, now)
        };
        let mut host = FakeHost {
            session,
            now,
            out: Vec::new(),
            closed: false,
            waiting: Waiting::default(),
            answers: None,
            completed: 0,
            log,
        };
        host.drain();
        host
    }

    /// A new session in this host (its buffers reused, nothing waiting),
    /// its first output drained.
    pub fn restart(&mut self, session: ServerSession) {
        self.session = session;
        self.out.clear();
        self.closed = false;
        self.waiting = Waiting::default();
        self.drain();
    }

    /// Everything transmitted since the last call, as text.
    pub fn take(&mut self) -> String {
        String::from_utf8_lossy(&core::mem::take(&mut self.out)).into_owned()
    }

    /// Bytes read from the control connection.
    pub fn send(&mut self, input: impl AsRef<[u8]>) {
        self.drain();
        self.session.handle_input(self.now, input.as_ref());
        self.drain();
    }

    /// Sends one line (CRLF added) and returns what was transmitted.
    pub fn cmd(&mut self, line: &str) -> String {
        self.send(std::format!("{line}\r\n"));
        self.take()
    }

    /// Time passes; the session's timers run.
    pub fn advance(&mut self, by: core::time::Duration) {
        self.now = self.now + by;
        self.session.handle_timeout(self.now);
        self.drain();
    }

    /// The client closed the control connection.
    pub fn peer_closed(&mut self) {
        self.session.handle_peer_closed();
        self.drain();
    }

    /// Takes the session's output until it waits: bytes into `out`, event
    /// tokens into `waiting` (answered at once if `answers` is set).
    pub fn drain(&mut self) {
        loop {
            match self.session.poll_output() {
                Output::Transmit(bytes) => {
                    assert!(!self.closed, "transmitted after Closed");
                    assert!(!bytes.is_empty(), "an empty Transmit");
                    self.out.extend_from_slice(bytes);
                }
                Output::Event(event) => {
                    self.log.event(&event);
                    let Some(token) = self.waiting.token(event, self.answers.as_ref()) else {
                        continue;
                    };
                    match &self.answers {
                        Some(answers) => {
                            if answer(&mut self.session, token, answers, self.now) {
                                self.waiting.transfer = None;
                                self.completed += 1;
                            }
                        }
                        None => self.waiting.keep(token),
                    }
                }
                Output::Timeout(_) => return,
                Output::Closed => {
                    self.closed = true;
                    return;
                }
            }
        }
    }

    fn expect<T>(slot: &mut Option<T>, what: &str) -> T {
        slot.take()
            .unwrap_or_else(|| panic!("no {what} event waits for an answer"))
    }

    /// Answers the login.
    pub fn answer_login(&mut self, outcome: LoginOutcome) {
        let token = Self::expect(&mut self.waiting.login, "login");
        self.session.login(token, outcome);
        self.drain();
    }

    /// The passive listener is bound on `port` (`resolved`: what the name resolved to).
    pub fn open_passive(&mut self, port: u16, resolved: Option<IpAddr>) {
        let (token, _) = Self::expect(&mut self.waiting.passive, "passive");
        self.session.passive_opened(token, port, resolved);
        self.drain();
    }

    /// No passive listener.
    pub fn fail_passive(&mut self, error: PassiveError) {
        let (token, _) = Self::expect(&mut self.waiting.passive, "passive");
        self.session.passive_failed(token, error);
        self.drain();
    }

    /// Answers the stat.
    pub fn answer_stat(&mut self, result: Result<Metadata, FileError>) {
        let token = Self::expect(&mut self.waiting.stat, "stat");
        self.session.stat_done(token, result);
        self.drain();
    }

    /// Answers the directory change.
    pub fn answer_enter(&mut self, result: Result<(), FileError>) {
        let token = Self::expect(&mut self.waiting.enter, "directory");
        self.session.directory_entered(token, result);
        self.drain();
    }

    /// Answers the file change.
    pub fn answer_change(&mut self, result: Result<(), FileError>) {
        let token = Self::expect(&mut self.waiting.change, "change");
        self.session.change_done(token, result);
        self.drain();
    }

    /// The control connection's TLS handshake is done.
    pub fn tls_established(&mut self) {
        let token = Self::expect(&mut self.waiting.tls, "TLS upgrade");
        self.session.tls_established(token);
        self.drain();
    }

    /// The transfer's storage is open (RETR: `size` as opened).
    pub fn open_storage(&mut self, size: Option<u64>) {
        let token = Self::expect(&mut self.waiting.open, "transfer");
        self.session.storage_opened(token, size, self.now);
        self.drain();
    }

    /// STOU's new file is `name`.
    pub fn create_unique(&mut self, name: &[u8]) {
        let token = Self::expect(&mut self.waiting.open, "transfer");
        self.session.unique_created(token, name, self.now);
        self.drain();
    }

    /// The data connection is up.
    pub fn connect_data(&mut self) {
        let token = Self::expect(&mut self.waiting.connect, "connect-data");
        self.session.data_connected(token, self.now);
        self.drain();
    }

    /// The data connection's TLS is up (`resumed`: the control connection's session).
    pub fn secure_data(&mut self, resumed: bool) {
        let token = Self::expect(&mut self.waiting.secure, "secure-data");
        self.session.data_secured(token, resumed, self.now);
        self.drain();
    }

    /// `bytes` moved so far.
    pub fn progress(&mut self, bytes: u64) {
        let token = self.waiting.moving.as_ref();
        let token = token.unwrap_or_else(|| panic!("no move-data event waits for an answer"));
        self.session.data_progress(token, bytes, self.now);
        self.drain();
    }

    /// The bytes moved (or not).
    pub fn moved(&mut self, result: Result<u64, TransferError>) {
        let token = Self::expect(&mut self.waiting.moving, "move-data");
        if result.is_err() {
            self.waiting.transfer = None;
        }
        self.session.data_moved(token, result, self.now);
        self.drain();
    }

    /// The data connection closed (in order or not).
    pub fn close_data(&mut self, result: Result<(), TransferError>) {
        let token = Self::expect(&mut self.waiting.closing, "close-data");
        if result.is_ok() {
            self.completed += 1;
        }
        self.waiting.transfer = None;
        self.session.data_closed(token, result, self.now);
        self.drain();
    }

    /// The transfer's step in flight fails with `error` (a storage that
    /// does not open takes a file error; anything else is `Local`); the
    /// transfer is over.
    pub fn fail_transfer(&mut self, error: TransferError) {
        let (s, w, now) = (&mut self.session, &mut self.waiting, self.now);
        if let Some(token) = w.open.take() {
            let error = match error {
                TransferError::File(error) => error,
                _ => FileError::Local,
            };
            s.storage_failed(token, error, now);
        } else if let Some(token) = w.connect.take() {
            s.data_connect_failed(token, now);
        } else if let Some(token) = w.secure.take() {
            s.data_tls_failed(token, now);
        } else if let Some(token) = w.moving.take() {
            s.data_moved(token, Err(error), now);
        } else if let Some(token) = w.closing.take() {
            s.data_closed(token, Err(error), now);
        } else {
            panic!("no transfer step waits for an answer");
        }
        w.end_transfer();
        self.drain();
    }

    /// Storage open (if it waits), data connection up (the `150`), TLS
    /// done when asked: the bytes may move.
    pub fn start_transfer(&mut self) {
        // An answer given straight to the session may have output waiting.
        self.drain();
        if self.waiting.open.is_some() {
            self.open_storage(None);
        }
        self.connect_data();
        if self.waiting.secure.is_some() {
            self.secure_data(true);
        }
        assert!(self.waiting.moving.is_some(), "the bytes may move");
    }

    /// Ends the transfer with `result` at the step it fits: a file error
    /// before the data connection as the storage's, `NoDataConnection` as
    /// the connection's, the rest (and `Ok`) as the moved bytes', then the
    /// orderly close.
    pub fn finish_transfer(&mut self, result: Result<u64, TransferError>) {
        self.drain();
        if self.waiting.open.is_some() {
            if let Err(TransferError::File(error)) = result {
                return self.fail_transfer(error.into());
            }
            self.open_storage(None);
        }
        if self.waiting.connect.is_some() {
            if result == Err(TransferError::NoDataConnection) {
                return self.fail_transfer(TransferError::NoDataConnection);
            }
            self.start_transfer();
        }
        if self.waiting.moving.is_some() {
            self.moved(result);
        }
        if self.waiting.closing.is_some() {
            self.close_data(Ok(()));
        }
    }
}

/// Answers `token` as `answers` says; whether that closed a transfer in order.
fn answer(s: &mut ServerSession, token: Token, answers: &Answers, now: Instant) -> bool {
    match token {
        Token::Login(t) => s.login(t, answers.login),
        Token::Passive(t, _) => s.passive_opened(t, answers.passive_port, None),
        Token::Stat(t, facts) => s.stat_done(t, facts.unwrap_or(Err(FileError::NotFound))),
        Token::Enter(t) => s.directory_entered(t, Ok(())),
        Token::Change(t) => s.change_done(t, Ok(())),
        Token::Tls(t) => s.tls_established(t),
        Token::Open(t, TransferKind::StoreUnique) => s.unique_created(t, answers.unique_name, now),
        Token::Open(t, _) => s.storage_opened(t, None, now),
        Token::Connect(t) => s.data_connected(t, now),
        Token::Secure(t) => s.data_secured(t, true, now),
        Token::Move(t) => {
            if let Some(bytes) = answers.progress {
                s.data_progress(&t, bytes, now);
            }
            s.data_moved(t, Ok(answers.moved), now);
        }
        Token::Close(t) => {
            s.data_closed(t, Ok(()), now);
            return true;
        }
    }
    false
}
