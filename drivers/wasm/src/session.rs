//! [`Session`]: a [`ServerSession`] whose events are plain data with numeric
//! ids, answered by id. Tokens are not `Copy` and cannot cross into
//! JavaScript, so each one waits in a small table here until the host
//! answers the id it was handed.
//!
//! This is the whole wasm API in Rust terms; `bindings` only converts
//! JavaScript values at the edge, so native tests exercise everything else.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::net::{IpAddr, SocketAddr};

use ftpwire_core::listing::{ListEntry, ListFilter, ListFormat, Metadata};
use ftpwire_core::server::{
    Change, ChangeToken, CloseToken, ConnectToken, DataEndpoint, DirectoryToken, Event, FileError,
    LoginOutcome, LoginToken, MoveToken, Notice, OpenToken, PassiveError, PassiveToken, Plan,
    SecureToken, StatToken, TlsToken, TransferError, TransferId, WriteMode,
};
use ftpwire_core::{Output, ServerConfig, ServerSession};

use crate::answer::{self, AnswerError};
use crate::record::Record;
use crate::value::Value;

/// One control connection, server side, with events as [`Value`]s.
///
/// ```
/// use std::sync::Arc;
/// use ftpwire_core::ServerConfig;
/// use ftpwire_wasm::{Session, Value};
/// let mut session = Session::new(
///     Arc::new(ServerConfig::default()),
///     "127.0.0.1:21".parse().unwrap(),
///     "127.0.0.1:40000".parse().unwrap(),
///     0.0,
///     false,
/// );
/// let greeting = session.poll_output();
/// assert_eq!(greeting.get("data"), Some(&Value::Bytes(b"220 ftpwire ready\r\n".to_vec())));
/// session.handle_input(1.0, b"USER ann\r\nPASS pw\r\n");
/// session.poll_output(); // 331
/// let login = session.poll_output();
/// assert_eq!(login.kind(), Some("login"));
/// let Some(&Value::Number(id)) = login.get("id") else { panic!() };
/// session.login(id as u32, true, false).unwrap();
/// ```
#[derive(Debug)]
pub struct Session {
    inner: ServerSession,
    pending: Vec<(u32, Pending)>,
    next_id: u32,
    /// The buffer [`poll_record`](Self::poll_record) writes into.
    record: Record,
}

/// A token waiting for the host's answer.
#[derive(Debug)]
enum Pending {
    Login(LoginToken),
    Passive(PassiveToken),
    Stat(StatToken),
    Enter(DirectoryToken),
    Change(ChangeToken),
    Tls(TlsToken),
    /// A transfer, known to the host by one id through all its steps.
    Transfer {
        transfer: TransferId,
        step: Step,
        /// Listings: how to write the entries.
        listing: Option<(ListFormat, ListFilter, bool)>,
    },
}

/// The token of the transfer step in flight.
#[derive(Debug)]
enum Step {
    Open(OpenToken),
    Connect(ConnectToken),
    Secure(SecureToken),
    Move(MoveToken),
    Close(CloseToken),
    /// Answered; the next step has not come yet.
    Between,
}

impl Pending {
    fn name(&self) -> &'static str {
        match self {
            Pending::Login(_) => "login",
            Pending::Passive(_) => "openPassive",
            Pending::Stat(_) => "stat",
            Pending::Enter(_) => "enterDirectory",
            Pending::Change(_) => "fileChange",
            Pending::Tls(_) => "upgradeTls",
            Pending::Transfer { .. } => "transfer",
        }
    }
}

/// Takes the pending entry `$id` if it is a `$variant`, or returns `UnknownId`.
macro_rules! take {
    ($self:ident, $id:expr, $variant:ident, $name:literal) => {{
        // (take checked the kind: the error is never returned, and unlike
        // `unreachable!` it keeps panic formatting out of the module.)
        match $self.take($id, $name)? {
            Pending::$variant(token) => token,
            _ => {
                return Err(AnswerError::UnknownId {
                    id: $id,
                    expected: $name,
                });
            }
        }
    }};
}

impl Session {
    /// A session on a control connection from `peer` accepted on `local`, at
    /// `now_ms` on the host's clock; `implicit_tls` for a listener whose
    /// connections are TLS from the first byte.
    pub fn new(
        config: Arc<ServerConfig>,
        local: SocketAddr,
        peer: SocketAddr,
        now_ms: f64,
        implicit_tls: bool,
    ) -> Self {
        let now = answer::instant(now_ms);
        let inner = if implicit_tls {
            ServerSession::new_implicit_tls(config, local, peer, now)
        } else {
            ServerSession::new(config, local, peer, now)
        };
        Session {
            inner,
            pending: Vec::with_capacity(4),
            next_id: 0,
            record: Record::default(),
        }
    }

    /// The connection came through a load balancer that named the client
    /// in a PROXY header ([`ServerSession::set_through_balancer`]).
    pub fn set_through_balancer(&mut self) {
        self.inner.set_through_balancer();
    }

    /// Feeds received control-channel bytes: the session takes them all
    /// and keeps what it cannot run yet.
    pub fn handle_input(&mut self, now_ms: f64, data: &[u8]) {
        self.inner.handle_input(answer::instant(now_ms), data)
    }

    /// Whether to read more input now (a backpressure hint: false while the
    /// session holds its input limit of unrun bytes).
    pub fn wants_input(&self) -> bool {
        self.inner.wants_input()
    }

    /// Received bytes the session holds without having run them yet.
    pub fn held_input(&self) -> usize {
        self.inner.held_input()
    }

    /// The control connection ended.
    pub fn handle_peer_closed(&mut self) {
        self.inner.handle_peer_closed();
    }

    /// When [`handle_timeout`](Self::handle_timeout) is due, in host milliseconds.
    pub fn poll_timeout(&self) -> Option<f64> {
        self.inner.poll_timeout().map(answer::millis)
    }

    /// The host's clock reached a deadline.
    pub fn handle_timeout(&mut self, now_ms: f64) {
        self.inner.handle_timeout(answer::instant(now_ms));
    }

    /// The server stops: `421` and the session closes, once a running
    /// transfer is over.
    pub fn shut_down(&mut self, now_ms: f64) {
        self.inner.shut_down(answer::instant(now_ms));
    }

    /// The server stops now: a running transfer is ended, `421`, closed.
    pub fn shut_down_now(&mut self, now_ms: f64) {
        self.inner.shut_down_now(answer::instant(now_ms));
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Whether the control channel is protected by TLS.
    pub fn is_secured(&self) -> bool {
        self.inner.is_secured()
    }

    /// Whether data connections are protected now (PROT P).
    pub fn data_protected(&self) -> bool {
        self.inner.data_protected()
    }

    /// The next output as plain data: `{type: "transmit", data}`,
    /// `{type: "timeout", at}`, `{type: "closed"}`, or an event.
    pub fn poll_output(&mut self) -> Value {
        Value::decode(self.poll_record()).expect("a session writes whole records")
    }

    /// The next output as a [`Record`] (what `pollOutput` hands to JavaScript).
    pub fn poll_record(&mut self) -> &[u8] {
        let id = self.next_id.wrapping_add(1);
        let mut record = core::mem::take(&mut self.record);
        let pending = match self.inner.poll_output() {
            Output::Transmit(bytes) => {
                record.start("transmit").bytes("data", bytes);
                None
            }
            Output::Timeout(at) => {
                record.start("timeout").number("at", answer::millis(at));
                None
            }
            Output::Closed => {
                record.start("closed");
                None
            }
            // The host knows a transfer by the id of its first event.
            Output::Event(Event::AbortTransfer(abort)) => {
                let id = self.end_transfer(abort.transfer);
                record.start("abortTransfer").id("id", id);
                None
            }
            Output::Event(Event::ConnectData(c)) => {
                let id = self.next_step(c.transfer, Step::Connect(c.token));
                record.start("connectData").id("id", id).object("data");
                match c.endpoint {
                    DataEndpoint::Passive { peer } => record
                        .text("mode", "passive")
                        .text_with("peer", |out| ip_text(out, peer)),
                    DataEndpoint::Active(addr) => record
                        .text("mode", "active")
                        .text_with("address", |out| ip_text(out, addr.ip()))
                        .number("port", f64::from(addr.port())),
                };
                record.end().bool("protected", c.protected);
                None
            }
            Output::Event(Event::SecureData(d)) => {
                let id = self.next_step(d.transfer, Step::Secure(d.token));
                record.start("secureData").id("id", id);
                None
            }
            Output::Event(Event::MoveData(m)) => {
                let id = self.next_step(m.transfer, Step::Move(m.token));
                record.start("moveData").id("id", id);
                None
            }
            Output::Event(Event::CloseData(c)) => {
                let id = self.next_step(c.transfer, Step::Close(c.token));
                record.start("closeData").id("id", id);
                None
            }
            Output::Event(event) => write_event(&mut record, event, id),
        };
        if let Some(pending) = pending {
            self.next_id = id;
            self.pending.push((id, pending));
        }
        self.record = record;
        self.record.finish()
    }

    fn take(&mut self, id: u32, expected: &'static str) -> Result<Pending, AnswerError> {
        let index = self
            .pending
            .iter()
            .position(|(pid, p)| *pid == id && p.name() == expected)
            .ok_or(AnswerError::UnknownId { id, expected })?;
        Ok(self.pending.swap_remove(index).1)
    }

    /// The step the core asks for now, kept for the host's answer; the
    /// transfer's id for the host.
    fn next_step(&mut self, core: TransferId, next: Step) -> Option<u32> {
        let found = self
            .pending
            .iter_mut()
            .find_map(|(id, pending)| match pending {
                Pending::Transfer { transfer, step, .. } if *transfer == core => Some((*id, step)),
                _ => None,
            });
        let (id, step) = found?;
        *step = next;
        Some(id)
    }

    /// The core ended a transfer: forget it; its id for the host.
    fn end_transfer(&mut self, core: TransferId) -> Option<u32> {
        let found = self.pending.iter().position(
            |(_, p)| matches!(p, Pending::Transfer { transfer, .. } if *transfer == core),
        );
        Some(self.pending.swap_remove(found?).0)
    }

    /// The token of transfer `id`'s step in flight (the transfer stays known).
    fn step(&mut self, id: u32) -> Result<Step, AnswerError> {
        self.pending
            .iter_mut()
            .find_map(|(pid, p)| match p {
                Pending::Transfer { step, .. } if *pid == id => {
                    Some(core::mem::replace(step, Step::Between))
                }
                _ => None,
            })
            .ok_or(AnswerError::UnknownId {
                id,
                expected: "transfer",
            })
    }

    /// Transfer `id` is over: forget it.
    fn forget(&mut self, id: u32) {
        let found = self
            .pending
            .iter()
            .position(|(pid, p)| *pid == id && matches!(p, Pending::Transfer { .. }));
        if let Some(at) = found {
            self.pending.swap_remove(at);
        }
    }

    /// `answer` with the token of the step `expected` in flight, or an error
    /// naming what the transfer waits for.
    fn answer_step(
        &mut self,
        id: u32,
        expected: &'static str,
        answer: impl FnOnce(&mut ServerSession, Step) -> Result<bool, Step>,
    ) -> Result<(), AnswerError> {
        let step = self.step(id)?;
        match answer(&mut self.inner, step) {
            Ok(over) => {
                if over {
                    self.forget(id);
                }
                Ok(())
            }
            Err(step) => {
                self.next_step_by_id(id, step);
                Err(AnswerError::UnknownId { id, expected })
            }
        }
    }

    fn next_step_by_id(&mut self, id: u32, next: Step) {
        for (pid, pending) in &mut self.pending {
            if let Pending::Transfer { step, .. } = pending
                && *pid == id
            {
                *step = next;
                return;
            }
        }
    }

    /// Answers a `login` event.
    pub fn login(&mut self, id: u32, accepted: bool, read_only: bool) -> Result<(), AnswerError> {
        let token = take!(self, id, Login, "login");
        let outcome = if accepted {
            LoginOutcome::Accepted { read_only }
        } else {
            LoginOutcome::Rejected
        };
        self.inner.login(token, outcome);
        Ok(())
    }

    /// Answers an `openPassive` event: the listener is bound on `port`;
    /// `resolved` is what the requested hostname resolved to.
    pub fn passive_opened(
        &mut self,
        id: u32,
        port: u16,
        resolved: Option<IpAddr>,
    ) -> Result<(), AnswerError> {
        let token = take!(self, id, Passive, "openPassive");
        self.inner.passive_opened(token, port, resolved);
        Ok(())
    }

    /// Answers an `openPassive` event: no listener.
    pub fn passive_failed(&mut self, id: u32, error: PassiveError) -> Result<(), AnswerError> {
        let token = take!(self, id, Passive, "openPassive");
        self.inner.passive_failed(token, error);
        Ok(())
    }

    /// Answers a `stat` event.
    pub fn stat_done(
        &mut self,
        id: u32,
        result: Result<Metadata, FileError>,
    ) -> Result<(), AnswerError> {
        let token = take!(self, id, Stat, "stat");
        self.inner.stat_done(token, result);
        Ok(())
    }

    /// Answers an `enterDirectory` event (CWD, CDUP).
    pub fn directory_entered(
        &mut self,
        id: u32,
        result: Result<(), FileError>,
    ) -> Result<(), AnswerError> {
        let token = take!(self, id, Enter, "enterDirectory");
        self.inner.directory_entered(token, result);
        Ok(())
    }

    /// Answers a `fileChange` event.
    pub fn change_done(
        &mut self,
        id: u32,
        result: Result<(), FileError>,
    ) -> Result<(), AnswerError> {
        let token = take!(self, id, Change, "fileChange");
        self.inner.change_done(token, result);
        Ok(())
    }

    /// Answers an `upgradeTls` event: the handshake is done.
    pub fn tls_established(&mut self, id: u32) -> Result<(), AnswerError> {
        let token = take!(self, id, Tls, "upgradeTls");
        self.inner.tls_established(token);
        Ok(())
    }

    /// Answers a `transfer` event: its storage is open (RETR: `size` as
    /// opened; STOU: `unique_name`, the new file's name).
    pub fn storage_opened(
        &mut self,
        id: u32,
        size: Option<u64>,
        unique_name: Option<&[u8]>,
        now_ms: f64,
    ) -> Result<(), AnswerError> {
        let now = answer::instant(now_ms);
        self.answer_step(id, "transfer", |session, step| match step {
            Step::Open(token) => {
                match unique_name {
                    Some(name) => session.unique_created(token, name, now),
                    None => session.storage_opened(token, size, now),
                }
                Ok(false)
            }
            other => Err(other),
        })
    }

    /// Answers a `connectData` event: the data connection is up.
    pub fn data_connected(&mut self, id: u32, now_ms: f64) -> Result<(), AnswerError> {
        let now = answer::instant(now_ms);
        self.answer_step(id, "connectData", |session, step| match step {
            Step::Connect(token) => {
                session.data_connected(token, now);
                Ok(false)
            }
            other => Err(other),
        })
    }

    /// Answers a `secureData` event: TLS is up; `resumed` the control
    /// connection's TLS session.
    pub fn data_secured(&mut self, id: u32, resumed: bool, now_ms: f64) -> Result<(), AnswerError> {
        let now = answer::instant(now_ms);
        self.answer_step(id, "secureData", |session, step| match step {
            Step::Secure(token) => {
                session.data_secured(token, resumed, now);
                Ok(false)
            }
            other => Err(other),
        })
    }

    /// During `moveData`: `bytes` moved so far (keeps the stall timeout off).
    pub fn data_progress(&mut self, id: u32, bytes: u64, now_ms: f64) -> Result<(), AnswerError> {
        let token = self
            .pending
            .iter()
            .find_map(|(pid, p)| match p {
                Pending::Transfer {
                    step: Step::Move(token),
                    ..
                } if *pid == id => Some(token),
                _ => None,
            })
            .ok_or(AnswerError::UnknownId {
                id,
                expected: "moveData",
            })?;
        self.inner
            .data_progress(token, bytes, answer::instant(now_ms));
        Ok(())
    }

    /// Answers a `moveData` event: every byte moved (RETR: `bytes` read from the file).
    pub fn data_moved(&mut self, id: u32, bytes: u64, now_ms: f64) -> Result<(), AnswerError> {
        let now = answer::instant(now_ms);
        self.answer_step(id, "moveData", |session, step| match step {
            Step::Move(token) => {
                session.data_moved(token, Ok(bytes), now);
                Ok(false)
            }
            other => Err(other),
        })
    }

    /// Answers a `closeData` event: closed in order (`226`); the transfer is over.
    pub fn data_closed(&mut self, id: u32, now_ms: f64) -> Result<(), AnswerError> {
        let now = answer::instant(now_ms);
        self.answer_step(id, "closeData", |session, step| match step {
            Step::Close(token) => {
                session.data_closed(token, Ok(()), now);
                Ok(true)
            }
            other => Err(other),
        })
    }

    /// The step in flight failed with `error`: the storage did not open,
    /// no data connection, TLS failed, the bytes or the close failed. The
    /// transfer is over.
    pub fn transfer_failed(
        &mut self,
        id: u32,
        error: TransferError,
        now_ms: f64,
    ) -> Result<(), AnswerError> {
        let now = answer::instant(now_ms);
        self.answer_step(id, "transfer", |session, step| {
            match step {
                Step::Open(token) => session.storage_failed(
                    token,
                    match error {
                        TransferError::File(error) => error,
                        _ => FileError::Local,
                    },
                    now,
                ),
                Step::Connect(token) => session.data_connect_failed(token, now),
                Step::Secure(token) => session.data_tls_failed(token, now),
                Step::Move(token) => session.data_moved(token, Err(error), now),
                Step::Close(token) => session.data_closed(token, Err(error), now),
                Step::Between => return Err(Step::Between),
            }
            Ok(true)
        })
    }

    /// Formats directory entries for the listing transfer `id` (LIST, NLST
    /// or MLSD, as the client asked) and appends them to `out`, leaving out
    /// those the transfer's filter hides (dot files); `now_unix` decides
    /// when LIST shows a year instead of a time. The host gives the entries
    /// in [`ftpwire_core::listing::sort_by_name`] order.
    pub fn format_listing(
        &self,
        id: u32,
        entries: &[ListEntry<'_>],
        now_unix: i64,
        out: &mut Vec<u8>,
    ) -> Result<(), AnswerError> {
        let listing = self.pending.iter().find_map(|(pid, p)| match p {
            Pending::Transfer { listing, .. } if *pid == id => Some(*listing),
            _ => None,
        });
        let (format, filter, read_only) = listing
            .ok_or(AnswerError::UnknownId {
                id,
                expected: "transfer",
            })?
            .ok_or(AnswerError::Malformed("this transfer is not a listing"))?;
        for entry in entries.iter().filter(|entry| filter.shows(entry.name)) {
            format.write_entry(out, entry, now_unix, !read_only);
        }
        Ok(())
    }
}

/// An IP address as text (IPv6 as RFC 5952 writes it), without `core::fmt`.
fn ip_text(out: &mut Vec<u8>, ip: IpAddr) {
    ftpwire_core::address::write_ip(out, ip);
}

/// Writes an event's record; returns the token it waits on (if any).
fn write_event(record: &mut Record, event: Event<'_>, id: u32) -> Option<Pending> {
    let id = f64::from(id);
    Some(match event {
        Event::Login(login) => {
            record
                .start("login")
                .number("id", id)
                .bytes("user", login.user)
                .bytes("password", login.password);
            Pending::Login(login.token)
        }
        Event::OpenPassive(open) => {
            record
                .start("openPassive")
                .number("id", id)
                .text_with("bind", |out| ip_text(out, open.bind));
            match open.resolve {
                Some(name) => record.text("resolve", name),
                None => record.null("resolve"),
            };
            Pending::Passive(open.token)
        }
        Event::ClosePassive => {
            record.start("closePassive");
            return None;
        }
        Event::Stat(stat) => {
            record
                .start("stat")
                .number("id", id)
                .bytes("path", stat.path);
            Pending::Stat(stat.token)
        }
        Event::EnterDirectory(enter) => {
            record
                .start("enterDirectory")
                .number("id", id)
                .bytes("path", enter.path);
            Pending::Enter(enter.token)
        }
        Event::FileChange(change) => {
            record.start("fileChange").number("id", id);
            let (name, path) = match change.change {
                Change::MakeDirectory(path) => ("makeDirectory", path),
                Change::RemoveDirectory(path) => ("removeDirectory", path),
                Change::Delete(path) => ("delete", path),
                Change::Rename { from, to } => {
                    record
                        .text("change", "rename")
                        .bytes("from", from)
                        .bytes("to", to);
                    return Some(Pending::Change(change.token));
                }
                Change::SetModified { path, modified } => {
                    record
                        .text("change", "setModified")
                        .bytes("path", path)
                        .number("modified", modified as f64);
                    return Some(Pending::Change(change.token));
                }
                Change::SetPermissions { path, mode } => {
                    record
                        .text("change", "setPermissions")
                        .bytes("path", path)
                        .number("mode", f64::from(mode));
                    return Some(Pending::Change(change.token));
                }
            };
            record.text("change", name).bytes("path", path);
            Pending::Change(change.token)
        }
        Event::Transfer(transfer) => {
            record
                .start("transfer")
                .number("id", id)
                .text("kind", transfer.kind.name())
                .bool("ascii", transfer.ascii);
            let mut listing = None;
            match transfer.plan {
                Plan::Read { path, offset } => {
                    record
                        .text("plan", "read")
                        .bytes("path", path)
                        .number("offset", offset as f64);
                }
                Plan::Write { path, mode } => {
                    let (mode, offset) = match mode {
                        WriteMode::Truncate => ("truncate", 0),
                        WriteMode::At(offset) => ("at", offset),
                        WriteMode::Append => ("append", 0),
                    };
                    record
                        .text("plan", "write")
                        .bytes("path", path)
                        .text("mode", mode)
                        .number("offset", offset as f64);
                }
                Plan::CreateUnique { directory } => {
                    record.text("plan", "createUnique").bytes("path", directory);
                }
                Plan::List {
                    path,
                    format,
                    filter,
                    read_only,
                } => {
                    listing = Some((format, filter, read_only));
                    record
                        .text("plan", "list")
                        .bytes("path", path)
                        .bool("readOnly", read_only)
                        .bool("dotFiles", filter.dot_files);
                }
            }
            Pending::Transfer {
                transfer: transfer.id,
                step: Step::Open(transfer.token),
                listing,
            }
        }
        Event::ConnectData(_)
        | Event::SecureData(_)
        | Event::MoveData(_)
        | Event::CloseData(_)
        // (poll_record maps transfer steps before it gets here.)
        | Event::AbortTransfer(_) => return None,
        Event::UpgradeTls(upgrade) => {
            record.start("upgradeTls").number("id", id);
            Pending::Tls(upgrade.token)
        }
        Event::DowngradeTls => {
            record.start("downgradeTls");
            return None;
        }
        Event::Notice(notice) => {
            write_notice(record, notice);
            return None;
        }
    })
}

/// A notice with a one-line `message` for the host's log.
fn write_notice(record: &mut Record, notice: Notice<'_>) {
    record.start("notice");
    let name = match notice {
        Notice::LoginSucceeded { .. } => "loginSucceeded",
        Notice::LoginFailed { .. } => "loginFailed",
        Notice::TooManyLoginFailures => "tooManyLoginFailures",
        Notice::PortRefused { .. } => "portRefused",
        Notice::LineTooLong => "lineTooLong",
        Notice::IdleTimeout => "idleTimeout",
        Notice::LoginTimeout => "loginTimeout",
        Notice::TlsRequired => "tlsRequired",
        Notice::ReadOnlyRefused { .. } => "readOnlyRefused",
        Notice::ForeignAnswer { .. } => "foreignAnswer",
        Notice::StaleAnswer { .. } => "staleAnswer",
        Notice::HostAnswerTimeout { .. } => "hostAnswerTimeout",
        Notice::InputLimit => "inputLimit",
        Notice::PassiveFallback { .. } => "passiveFallback",
        Notice::PrivatePassiveAddress { .. } => "privatePassiveAddress",
        Notice::WrongAnswer { .. } => "wrongAnswer",
        Notice::TransferEnded { .. } => "transferEnded",
    };
    record.text("notice", name);
    match notice {
        Notice::LoginSucceeded { user } | Notice::LoginFailed { user } => {
            // Text records read as lossy UTF-8, as the core's messages do.
            record.text_with("user", |out| out.extend_from_slice(user));
        }
        Notice::PortRefused { addr, reason } => {
            record
                .text_with("address", |out| {
                    ftpwire_core::address::write_socket_addr(out, addr)
                })
                .text("reason", reason);
        }
        Notice::ReadOnlyRefused { user, command } => {
            record
                .text_with("user", |out| out.extend_from_slice(user))
                .text("command", command);
        }
        Notice::ForeignAnswer { answer }
        | Notice::StaleAnswer { answer }
        | Notice::HostAnswerTimeout { answer }
        | Notice::WrongAnswer { answer } => {
            record.text("answer", answer);
        }
        Notice::PassiveFallback { verb } => {
            record.text("verb", verb);
        }
        Notice::PrivatePassiveAddress { advertised, peer } => {
            record
                .text_with("advertised", |out| ip_text(out, IpAddr::V4(advertised)))
                .text_with("peer", |out| ip_text(out, peer));
        }
        Notice::TransferEnded {
            kind,
            path,
            bytes,
            outcome,
            ..
        } => {
            record
                .text("kind", kind.name())
                .bytes("path", path)
                .number("bytes", bytes as f64);
            match outcome {
                Err(error) => record.text_with("error", |out| {
                    out.extend_from_slice(error.message().as_bytes())
                }),
                Ok(()) => record.null("error"),
            };
        }
        _ => {}
    }
    // The message is the core's own text: the same line on every host.
    record.text_with("message", |out| notice.write_message(out));
}
