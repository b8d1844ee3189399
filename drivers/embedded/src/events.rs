//! Answers to the core's events: each is copied out of its event (which
//! borrows the session) into an [`Answer`], applied once the borrow ends.
//! Logins, storage and passive listeners are answered at once; a
//! transfer's data connection is answered later, by [`Transfer::pump`].

use alloc::vec::Vec;

use ftpwire_core::listing::{FileKind, ListEntry, Metadata, sort_by_name};
use ftpwire_core::server::{
    ChangeToken, ConnectToken, DirectoryToken, Event, FileError, LoginOutcome, LoginToken,
    OpenToken, PassiveError, PassiveToken, Plan, SecureToken, StatToken,
};
use ftpwire_core::{Instant, ServerSession};
use smoltcp::iface::{Interface, SocketHandle, SocketSet};
use smoltcp::socket::tcp;
use smoltcp::wire::IpListenEndpoint;

use crate::transfer::{Source, Transfer};
use crate::{Settings, Storage, Users, ipv4, passive_count};

/// What answering an event needs besides the session: the slot's sockets
/// and transfer, the storage and the settings.
pub(crate) struct Context<'a, S, U> {
    pub iface: &'a mut Interface,
    pub sockets: &'a mut SocketSet<'static>,
    pub storage: &'a mut S,
    pub users: &'a U,
    pub settings: &'a Settings,
    /// The slot's place among the sessions (picks its ports).
    pub index: usize,
    pub data: SocketHandle,
    pub transfer: &'a mut Option<Transfer>,
    pub turns: &'a mut u16,
}

/// An answer taken out of its event.
pub(crate) enum Answer {
    Nothing,
    Login(LoginToken, LoginOutcome),
    Passive(PassiveToken, Result<u16, PassiveError>),
    Stat(StatToken, Result<Metadata, FileError>),
    Enter(DirectoryToken, Result<(), FileError>),
    Change(ChangeToken, Result<(), FileError>),
    Opened(OpenToken, Result<Opened, FileError>),
    ConnectFailed(ConnectToken),
    TlsFailed(SecureToken),
}

/// A transfer's storage is open.
pub(crate) enum Opened {
    /// RETR: the file's size; uploads and listings: `None`.
    Size(Option<u64>),
    /// STOU: the new file's name.
    Unique(Vec<u8>),
}

impl Answer {
    pub(crate) fn apply(self, session: &mut ServerSession, now: Instant) {
        match self {
            Answer::Nothing => {}
            Answer::Login(token, outcome) => session.login(token, outcome),
            Answer::Passive(token, Ok(port)) => session.passive_opened(token, port, None),
            Answer::Passive(token, Err(error)) => session.passive_failed(token, error),
            Answer::Stat(token, result) => session.stat_done(token, result),
            Answer::Enter(token, result) => session.directory_entered(token, result),
            Answer::Change(token, result) => session.change_done(token, result),
            Answer::Opened(token, Ok(Opened::Size(size))) => {
                session.storage_opened(token, size, now)
            }
            Answer::Opened(token, Ok(Opened::Unique(name))) => {
                session.unique_created(token, &name, now)
            }
            Answer::Opened(token, Err(error)) => session.storage_failed(token, error, now),
            Answer::ConnectFailed(token) => session.data_connect_failed(token, now),
            Answer::TlsFailed(token) => session.data_tls_failed(token, now),
        }
    }
}

impl<S: Storage, U: Users> Context<'_, S, U> {
    /// Answers one event (notices need no answer; TLS events cannot come,
    /// the core being configured without TLS).
    pub(crate) fn serve(&mut self, event: Event<'_>) -> Answer {
        let socket = self.sockets.get_mut::<tcp::Socket>(self.data);
        match event {
            Event::Login(login) => {
                Answer::Login(login.token, self.users.login(login.user, login.password))
            }
            Event::OpenPassive(open) => {
                socket.abort();
                // No resolver here: a passive address given by name cannot be used.
                let result = match (open.resolve, ipv4(open.bind)) {
                    (Some(_), _) => Err(PassiveError::Unresolved),
                    (None, None) => Err(PassiveError::NoFreePort),
                    (None, Some(addr)) => {
                        let port = nth_port(
                            *self.settings.passive_ports.start(),
                            passive_count(&self.settings.passive_ports),
                            self.settings.sessions,
                            self.index,
                            self.turns,
                        );
                        let local = IpListenEndpoint {
                            addr: Some(addr),
                            port,
                        };
                        socket
                            .listen(local)
                            .map(|()| port)
                            .map_err(|_| PassiveError::NoFreePort)
                    }
                };
                Answer::Passive(open.token, result)
            }
            Event::ClosePassive => {
                // The listener only: a data connection a transfer uses stays.
                if self.transfer.as_ref().is_none_or(|t| !t.connected()) {
                    socket.abort();
                }
                Answer::Nothing
            }
            Event::Stat(stat) => Answer::Stat(stat.token, self.storage.stat(stat.path)),
            Event::EnterDirectory(enter) => {
                let result = match self.storage.stat(enter.path) {
                    Ok(meta) if meta.kind == FileKind::Directory => Ok(()),
                    Ok(_) => Err(FileError::NotADirectory),
                    Err(error) => Err(error),
                };
                Answer::Enter(enter.token, result)
            }
            Event::FileChange(change) => {
                Answer::Change(change.token, self.storage.change(change.change))
            }
            Event::Transfer(start) => {
                *self.transfer = None;
                match open(self.storage, start.plan) {
                    Ok((source, opened)) => {
                        let ascii = start.ascii && !matches!(source, Source::Listing { .. });
                        *self.transfer = Some(Transfer::new(start.id, source, ascii));
                        Answer::Opened(start.token, Ok(opened))
                    }
                    Err(error) => Answer::Opened(start.token, Err(error)),
                }
            }
            Event::ConnectData(connect) => {
                // Active mode dials from the slot's own local ports (the
                // data socket was last used for a closed connection).
                let local = nth_port(
                    self.settings.active_ports,
                    1024,
                    self.settings.sessions,
                    self.index,
                    self.turns,
                );
                let cx = self.iface.context();
                let token = match self.transfer.as_mut() {
                    Some(t) => match t.connect(connect, socket, cx, local) {
                        Ok(()) => return Answer::Nothing,
                        Err(token) => token,
                    },
                    None => connect.token,
                };
                // The core ends the transfer with its 425.
                *self.transfer = None;
                Answer::ConnectFailed(token)
            }
            Event::SecureData(secure) => Answer::TlsFailed(secure.token),
            Event::MoveData(moving) => {
                if let Some(t) = self.transfer.as_mut() {
                    t.start_moving(moving.token);
                }
                // Without a transfer the token is dropped: the core's stall
                // timeout ends the transfer.
                Answer::Nothing
            }
            Event::CloseData(close) => {
                socket.close();
                if let Some(t) = self.transfer.as_mut() {
                    t.start_closing(close.token);
                }
                Answer::Nothing
            }
            Event::AbortTransfer(abort) => {
                if self
                    .transfer
                    .as_ref()
                    .is_some_and(|t| t.id() == abort.transfer)
                {
                    socket.abort();
                    *self.transfer = None;
                }
                Answer::Nothing
            }
            Event::Notice(_) | Event::UpgradeTls(_) | Event::DowngradeTls => Answer::Nothing,
        }
    }
}

/// The `turn`-th port of a slot's share of `count` ports from `first`:
/// slot `index` of `sessions` owns ports `index`, `index + sessions`, ...,
/// so no two slots ever want the same one. Counts the turn.
fn nth_port(first: u16, count: usize, sessions: usize, index: usize, turn: &mut u16) -> u16 {
    let share = count.saturating_sub(index).div_ceil(sessions).max(1);
    let nth = index + usize::from(*turn) % share * sessions;
    *turn = turn.wrapping_add(1);
    first.wrapping_add(nth as u16)
}

/// Opens a transfer's storage as its plan says.
fn open<S: Storage>(storage: &mut S, plan: Plan<'_>) -> Result<(Source, Opened), FileError> {
    Ok(match plan {
        Plan::Read { path, offset } => {
            let meta = storage.stat(path)?;
            if meta.kind == FileKind::Directory {
                return Err(FileError::IsADirectory);
            }
            let source = Source::File {
                path: path.to_vec(),
                at: offset,
            };
            (source, Opened::Size(Some(meta.size)))
        }
        Plan::Write { path, mode } => {
            let at = storage.open_write(path, mode)?;
            let path = path.to_vec();
            (Source::Upload { path, at }, Opened::Size(None))
        }
        Plan::CreateUnique { directory } => {
            let name = storage.create_unique(directory)?;
            let mut path = directory.to_vec();
            if path.last() != Some(&b'/') {
                path.push(b'/');
            }
            path.extend_from_slice(&name);
            (Source::Upload { path, at: 0 }, Opened::Unique(name))
        }
        Plan::List {
            path,
            format,
            filter,
            read_only,
        } => {
            // The whole listing is formatted now: a small device's
            // directories are small, and the storage is not held open.
            let meta = storage.stat(path)?;
            let mut entries = Vec::new();
            if meta.kind == FileKind::Directory {
                storage.list(path, &mut |name, meta| {
                    if filter.shows(name) {
                        entries.push((name.to_vec(), meta));
                    }
                })?;
                sort_by_name(&mut entries, |(name, _)| name);
            } else {
                let name = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
                entries.push((name.to_vec(), meta));
            }
            let mut bytes = Vec::new();
            for (name, metadata) in &entries {
                let entry = ListEntry {
                    name,
                    metadata: *metadata,
                    link_target: None,
                };
                // No wall clock here: `now` for LIST's date style is the epoch.
                format.write_entry(&mut bytes, &entry, 0, !read_only);
            }
            (Source::Listing { bytes, at: 0 }, Opened::Size(None))
        }
    })
}
