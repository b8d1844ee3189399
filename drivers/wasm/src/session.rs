//! [`Session`]: a [`ServerSession`] whose events are plain data with numeric
//! ids, answered by id. Tokens are not `Copy` and cannot cross into
//! JavaScript, so each one waits in a small table here until the host
//! answers the id it was handed.
//!
//! This is the whole wasm API in Rust terms; `bindings` only converts
//! JavaScript values at the edge, so native tests exercise everything else.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::vec::Vec;

use ftpwire_core::listing::{ListEntry, ListFilter, ListFormat, Metadata};
use ftpwire_core::server::{
    Change, ChangeToken, CloseToken, ConnectToken, DataEndpoint, DirectoryToken, Event, FileError,
    LoginOutcome, LoginToken, MoveToken, Notice, OpenToken, PassiveError, PassiveToken, Plan,
    SecureToken, StatToken, TlsToken, TransferError, TransferId, WriteMode,
};
use ftpwire_core::{Output, ServerConfig, ServerSession};

use crate::answer::{self, AnswerError};
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
        match $self.take($id, $name)? {
            Pending::$variant(token) => token,
            _ => unreachable!("take checked the kind"),
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
        let id = self.next_id.wrapping_add(1);
        let (value, pending) = match self.inner.poll_output() {
            Output::Transmit(bytes) => (Value::tagged("transmit", [("data", bytes.into())]), None),
            Output::Timeout(at) => (
                Value::tagged("timeout", [("at", Value::Number(answer::millis(at)))]),
                None,
            ),
            Output::Closed => (Value::tagged("closed", []), None),
            // The host knows a transfer by the id of its first event.
            Output::Event(Event::AbortTransfer(abort)) => {
                let id = self.end_transfer(abort.transfer);
                (Value::tagged("abortTransfer", [("id", id)]), None)
            }
            Output::Event(Event::ConnectData(c)) => {
                let data = match c.endpoint {
                    DataEndpoint::Passive { peer } => Value::Object(vec![
                        ("mode", "passive".into()),
                        ("peer", Value::Text(peer.to_string())),
                    ]),
                    DataEndpoint::Active(addr) => Value::Object(vec![
                        ("mode", "active".into()),
                        ("address", Value::Text(addr.ip().to_string())),
                        ("port", u32::from(addr.port()).into()),
                    ]),
                };
                let id = self.next_step(c.transfer, Step::Connect(c.token));
                let fields = [
                    ("id", id),
                    ("data", data),
                    ("protected", c.protected.into()),
                ];
                (Value::tagged("connectData", fields), None)
            }
            Output::Event(Event::SecureData(d)) => {
                let id = self.next_step(d.transfer, Step::Secure(d.token));
                (Value::tagged("secureData", [("id", id)]), None)
            }
            Output::Event(Event::MoveData(m)) => {
                let id = self.next_step(m.transfer, Step::Move(m.token));
                (Value::tagged("moveData", [("id", id)]), None)
            }
            Output::Event(Event::CloseData(c)) => {
                let id = self.next_step(c.transfer, Step::Close(c.token));
                (Value::tagged("closeData", [("id", id)]), None)
            }
            Output::Event(event) => event_value(event, id),
        };
        if let Some(pending) = pending {
            self.next_id = id;
            self.pending.push((id, pending));
        }
        value
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
    fn next_step(&mut self, core: TransferId, next: Step) -> Value {
        let found = self
            .pending
            .iter_mut()
            .find_map(|(id, pending)| match pending {
                Pending::Transfer { transfer, step, .. } if *transfer == core => Some((*id, step)),
                _ => None,
            });
        match found {
            Some((id, step)) => {
                *step = next;
                Value::from(id)
            }
            None => Value::Null,
        }
    }

    /// The core ended a transfer: forget it; its id for the host.
    fn end_transfer(&mut self, core: TransferId) -> Value {
        let found = self.pending.iter().position(
            |(_, p)| matches!(p, Pending::Transfer { transfer, .. } if *transfer == core),
        );
        match found {
            Some(index) => Value::from(self.pending.swap_remove(index).0),
            None => Value::Null,
        }
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
        self.pending
            .retain(|(pid, p)| !(*pid == id && matches!(p, Pending::Transfer { .. })));
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

/// The plain-data form of an event, and the token it waits on (if any).
fn event_value(event: Event<'_>, id: u32) -> (Value, Option<Pending>) {
    let id_value = || ("id", Value::from(id));
    match event {
        Event::Login(login) => (
            Value::tagged(
                "login",
                [
                    id_value(),
                    ("user", login.user.into()),
                    ("password", login.password.into()),
                ],
            ),
            Some(Pending::Login(login.token)),
        ),
        Event::OpenPassive(open) => (
            Value::tagged(
                "openPassive",
                [
                    id_value(),
                    ("bind", Value::Text(open.bind.to_string())),
                    ("resolve", open.resolve.map_or(Value::Null, Value::from)),
                ],
            ),
            Some(Pending::Passive(open.token)),
        ),
        Event::ClosePassive => (Value::tagged("closePassive", []), None),
        Event::Stat(stat) => (
            Value::tagged("stat", [id_value(), ("path", stat.path.into())]),
            Some(Pending::Stat(stat.token)),
        ),
        Event::EnterDirectory(enter) => (
            Value::tagged("enterDirectory", [id_value(), ("path", enter.path.into())]),
            Some(Pending::Enter(enter.token)),
        ),
        Event::FileChange(change) => {
            let mut fields = vec![id_value()];
            match change.change {
                Change::MakeDirectory(path) => {
                    fields.extend([("change", "makeDirectory".into()), ("path", path.into())]);
                }
                Change::RemoveDirectory(path) => {
                    fields.extend([("change", "removeDirectory".into()), ("path", path.into())]);
                }
                Change::Delete(path) => {
                    fields.extend([("change", "delete".into()), ("path", path.into())]);
                }
                Change::Rename { from, to } => fields.extend([
                    ("change", "rename".into()),
                    ("from", from.into()),
                    ("to", to.into()),
                ]),
                Change::SetModified { path, modified } => fields.extend([
                    ("change", "setModified".into()),
                    ("path", path.into()),
                    ("modified", Value::Number(modified as f64)),
                ]),
                Change::SetPermissions { path, mode } => fields.extend([
                    ("change", "setPermissions".into()),
                    ("path", path.into()),
                    ("mode", mode.into()),
                ]),
            }
            (
                Value::tagged("fileChange", fields),
                Some(Pending::Change(change.token)),
            )
        }
        Event::Transfer(transfer) => {
            let mut fields = vec![
                id_value(),
                ("kind", transfer.kind.name().into()),
                ("ascii", transfer.ascii.into()),
            ];
            let mut listing = None;
            match transfer.plan {
                Plan::Read { path, offset } => fields.extend([
                    ("plan", "read".into()),
                    ("path", path.into()),
                    ("offset", offset.into()),
                ]),
                Plan::Write { path, mode } => {
                    let (mode, offset) = match mode {
                        WriteMode::Truncate => ("truncate", 0),
                        WriteMode::At(offset) => ("at", offset),
                        WriteMode::Append => ("append", 0),
                    };
                    fields.extend([
                        ("plan", "write".into()),
                        ("path", path.into()),
                        ("mode", mode.into()),
                        ("offset", offset.into()),
                    ]);
                }
                Plan::CreateUnique { directory } => {
                    fields.extend([("plan", "createUnique".into()), ("path", directory.into())])
                }
                Plan::List {
                    path,
                    format,
                    filter,
                    read_only,
                } => {
                    listing = Some((format, filter, read_only));
                    fields.extend([
                        ("plan", "list".into()),
                        ("path", path.into()),
                        ("readOnly", read_only.into()),
                        ("dotFiles", filter.dot_files.into()),
                    ]);
                }
            }
            let pending = Pending::Transfer {
                transfer: transfer.id,
                step: Step::Open(transfer.token),
                listing,
            };
            (Value::tagged("transfer", fields), Some(pending))
        }
        Event::ConnectData(_)
        | Event::SecureData(_)
        | Event::MoveData(_)
        | Event::CloseData(_)
        | Event::AbortTransfer(_) => unreachable!("poll_output maps transfer steps"),
        Event::UpgradeTls(upgrade) => (
            Value::tagged("upgradeTls", [id_value()]),
            Some(Pending::Tls(upgrade.token)),
        ),
        Event::DowngradeTls => (Value::tagged("downgradeTls", []), None),
        Event::Notice(notice) => (notice_value(notice), None),
    }
}

/// A notice with a one-line `message` for the host's log.
fn notice_value(notice: Notice<'_>) -> Value {
    let user = |user: &[u8]| Value::Text(String::from_utf8_lossy(user).into_owned());
    // The message is the core's own text: the same line on every host.
    let message = notice.to_string();
    let (name, extra): (&str, Vec<(&'static str, Value)>) = match notice {
        Notice::LoginSucceeded { user: u } => ("loginSucceeded", vec![("user", user(u))]),
        Notice::LoginFailed { user: u } => ("loginFailed", vec![("user", user(u))]),
        Notice::TooManyLoginFailures => ("tooManyLoginFailures", vec![]),
        Notice::PortRefused { addr, reason } => (
            "portRefused",
            vec![
                ("address", Value::Text(addr.to_string())),
                ("reason", reason.into()),
            ],
        ),
        Notice::LineTooLong => ("lineTooLong", vec![]),
        Notice::IdleTimeout => ("idleTimeout", vec![]),
        Notice::LoginTimeout => ("loginTimeout", vec![]),
        Notice::TlsRequired => ("tlsRequired", vec![]),
        Notice::ReadOnlyRefused { user: u, command } => (
            "readOnlyRefused",
            vec![("user", user(u)), ("command", command.into())],
        ),
        Notice::ForeignAnswer { answer } => ("foreignAnswer", vec![("answer", answer.into())]),
        Notice::StaleAnswer { answer } => ("staleAnswer", vec![("answer", answer.into())]),
        Notice::HostAnswerTimeout { answer } => {
            ("hostAnswerTimeout", vec![("answer", answer.into())])
        }
        Notice::InputLimit => ("inputLimit", vec![]),
        Notice::PassiveFallback { verb } => ("passiveFallback", vec![("verb", verb.into())]),
        Notice::PrivatePassiveAddress { advertised, peer } => (
            "privatePassiveAddress",
            vec![
                ("advertised", Value::Text(advertised.to_string())),
                ("peer", Value::Text(peer.to_string())),
            ],
        ),
        Notice::WrongAnswer { answer } => ("wrongAnswer", vec![("answer", answer.into())]),
        Notice::TransferEnded {
            kind,
            path,
            bytes,
            outcome,
            ..
        } => (
            "transferEnded",
            vec![
                ("kind", kind.name().into()),
                ("path", path.into()),
                ("bytes", bytes.into()),
                (
                    "error",
                    outcome
                        .err()
                        .map_or(Value::Null, |e| Value::Text(e.to_string())),
                ),
            ],
        ),
    };
    let mut fields = vec![("notice", name.into())];
    fields.extend(extra);
    fields.push(("message", Value::Text(message)));
    Value::tagged("notice", fields)
}
