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

use ftpwire_core::listing::{self, ListEntry, ListFilter, Metadata};
use ftpwire_core::server::{
    Change, ChangeToken, DataEndpoint, DirectoryToken, Event, FileError, LoginOutcome, LoginToken,
    Notice, PassiveError, PassiveToken, StatToken, TlsToken, TransferError, TransferId,
    TransferKind, TransferToken,
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
    Transfer {
        token: TransferToken,
        kind: TransferKind,
        read_only: bool,
        filter: ListFilter,
    },
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

    /// The server stops: `421` is queued and the session closes (a running
    /// transfer is aborted first, so call it once none runs).
    pub fn shut_down(&mut self, now_ms: f64) {
        self.inner.shut_down(answer::instant(now_ms));
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
            // The host knows its transfers by this adapter's ids.
            Output::Event(Event::AbortTransfer(abort)) => (
                Value::tagged(
                    "abortTransfer",
                    [("id", transfer_with(&self.pending, abort.transfer))],
                ),
                None,
            ),
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

    fn transfer(
        &self,
        id: u32,
    ) -> Result<(&TransferToken, TransferKind, bool, ListFilter), AnswerError> {
        self.pending
            .iter()
            .find_map(|(pid, p)| match p {
                Pending::Transfer {
                    token,
                    kind,
                    read_only,
                    filter,
                } if *pid == id => Some((token, *kind, *read_only, *filter)),
                _ => None,
            })
            .ok_or(AnswerError::UnknownId {
                id,
                expected: "transfer",
            })
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

    /// The transfer's file is open and its data connection up (`150`); for
    /// STOU, `unique_name` is the file name the host picked.
    pub fn transfer_started(
        &mut self,
        id: u32,
        unique_name: Option<&[u8]>,
    ) -> Result<(), AnswerError> {
        let index = self
            .pending
            .iter()
            .position(|(pid, p)| *pid == id && matches!(p, Pending::Transfer { .. }))
            .ok_or(AnswerError::UnknownId {
                id,
                expected: "transfer",
            })?;
        let Pending::Transfer { token, .. } = &self.pending[index].1 else {
            unreachable!("position checked the kind");
        };
        match unique_name {
            Some(name) => self.inner.store_unique_started(token, name),
            None => self.inner.transfer_started(token),
        }
        Ok(())
    }

    /// RETR `id`: the file had `size` bytes when it was opened; a RETR
    /// that then delivers fewer (after REST) ends in `426`, not `226`.
    pub fn retrieve_opened(&mut self, id: u32, size: u64) -> Result<(), AnswerError> {
        let token = self
            .pending
            .iter()
            .find_map(|(pid, p)| match p {
                Pending::Transfer { token, .. } if *pid == id => Some(token),
                _ => None,
            })
            .ok_or(AnswerError::UnknownId {
                id,
                expected: "transfer",
            })?;
        self.inner.retrieve_opened(token, size);
        Ok(())
    }

    /// The transfer ended: `Ok(bytes)` only if everything was moved (for
    /// RETR: bytes read from the file). Returns the outcome the reply
    /// reports, for the host's log.
    pub fn transfer_finished(
        &mut self,
        id: u32,
        result: Result<u64, TransferError>,
    ) -> Result<Result<u64, TransferError>, AnswerError> {
        let Pending::Transfer { token, .. } = self.take(id, "transfer")? else {
            unreachable!("take checked the kind");
        };
        Ok(self.inner.transfer_finished(token, result))
    }

    /// Formats directory entries for the listing transfer `id` (LIST, NLST
    /// or MLSD, as the client asked) and appends them to `out`, leaving out
    /// those the transfer's filter hides (dot files); `now_unix` decides
    /// when LIST shows a year instead of a time. The host gives the entries
    /// in [`listing::sort_by_name`] order.
    pub fn format_listing(
        &self,
        id: u32,
        entries: &[ListEntry<'_>],
        now_unix: i64,
        out: &mut Vec<u8>,
    ) -> Result<(), AnswerError> {
        let (_, kind, read_only, filter) = self.transfer(id)?;
        for entry in entries.iter().filter(|entry| filter.shows(entry.name)) {
            match kind {
                TransferKind::List => listing::write_list_line(out, entry, now_unix),
                TransferKind::NameList => listing::write_nlst_line(out, entry.name),
                TransferKind::MachineList => listing::write_mlsd_line(out, entry, !read_only),
                _ => return Err(AnswerError::Malformed("this transfer is not a listing")),
            }
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
            let data = match transfer.data {
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
            let value = Value::tagged(
                "transfer",
                [
                    id_value(),
                    ("kind", transfer_kind(transfer.kind).into()),
                    ("path", transfer.path.into()),
                    ("offset", transfer.offset.into()),
                    ("ascii", transfer.ascii.into()),
                    ("data", data),
                    ("protected", transfer.protected.into()),
                    ("readOnly", transfer.read_only.into()),
                    ("dotFiles", transfer.filter.dot_files.into()),
                ],
            );
            let pending = Pending::Transfer {
                token: transfer.token,
                kind: transfer.kind,
                read_only: transfer.read_only,
                filter: transfer.filter,
            };
            (value, Some(pending))
        }
        Event::AbortTransfer(_) => unreachable!("poll_output maps it to the transfer's id"),
        Event::UpgradeTls(upgrade) => (
            Value::tagged("upgradeTls", [id_value()]),
            Some(Pending::Tls(upgrade.token)),
        ),
        Event::DowngradeTls => (Value::tagged("downgradeTls", []), None),
        Event::Notice(notice) => (notice_value(notice), None),
    }
}

/// This adapter's id of the transfer the core names, if it still waits for its answer.
fn transfer_with(pending: &[(u32, Pending)], transfer: TransferId) -> Value {
    pending
        .iter()
        .find_map(|(id, p)| match p {
            Pending::Transfer { token, .. } if token.id() == transfer => Some(Value::from(*id)),
            _ => None,
        })
        .unwrap_or(Value::Null)
}

fn transfer_kind(kind: TransferKind) -> &'static str {
    match kind {
        TransferKind::Retrieve => "retrieve",
        TransferKind::Store => "store",
        TransferKind::Append => "append",
        TransferKind::StoreUnique => "storeUnique",
        TransferKind::List => "list",
        TransferKind::NameList => "nameList",
        TransferKind::MachineList => "machineList",
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
    };
    let mut fields = vec![("notice", name.into())];
    fields.extend(extra);
    fields.push(("message", Value::Text(message)));
    Value::tagged("notice", fields)
}
