//! A [`ClientSession`] and a [`ServerSession`] wired back to back in memory:
//! no sockets, no threads, a simulated clock. The pair is each session's
//! host: it carries control bytes across, answers the server's events from
//! a RAM filesystem ([`RamFs`]), and plays both ends of every data
//! connection. TLS is simulated (a handshake succeeds at once; bytes pass
//! as they are), so the pair checks the protocol, not the cryptography.
//!
//! It is the core's own end-to-end test (every command both halves speak),
//! and small enough to run with a few KiB of heap on a microcontroller.
//!
//! ```
//! use ftpwire_core::client::{ClientConfig, Request, StoreMode};
//! use ftpwire_core::pair::Pair;
//! let mut pair = Pair::new(Default::default(), ClientConfig::login("ann", "pw"));
//! pair.host.users.push(("ann".into(), "pw".into()));
//! pair.host.upload = b"hello".to_vec();
//! pair.request(Request::Store { path: b"/a.txt".to_vec(), mode: StoreMode::Replace }).unwrap();
//! let done = pair.request(Request::Retrieve { path: b"/a.txt".to_vec(), offset: 1 }).unwrap();
//! assert_eq!((done.code, done.bytes, &pair.host.download[..]), (226, Some(4), &b"ello"[..]));
//! ```

use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::net::SocketAddr;
use core::time::Duration;

use crate::client::{
    ClientConfig, ClientError, ClientEvent, ClientOutput, ClientSession, DataToken, Direction,
    Finished, Request, RequestId, Warning,
};
use crate::listing::{FileKind, ListEntry, Metadata};
use crate::server::{
    Change, CloseToken, DataEndpoint, Event, FileError, LoginOutcome, MoveToken, Plan, WriteMode,
};
use crate::{Instant, Output, ServerConfig, ServerSession};

/// What the RAM filesystem holds at a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A file and its bytes.
    File(Vec<u8>),
    /// A directory.
    Directory,
}

/// A filesystem in memory: absolute virtual paths (`/a/b`) to nodes; `/` is
/// always a directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RamFs {
    /// Every path but `/`.
    pub nodes: BTreeMap<Vec<u8>, Node>,
}

impl RamFs {
    fn get(&self, path: &[u8]) -> Option<&Node> {
        const ROOT: Node = Node::Directory;
        if path == b"/" {
            Some(&ROOT)
        } else {
            self.nodes.get(path)
        }
    }

    fn metadata(&self, path: &[u8]) -> Result<Metadata, FileError> {
        let node = self.get(path).ok_or(FileError::NotFound)?;
        Ok(match node {
            Node::File(bytes) => Metadata {
                kind: FileKind::File,
                size: bytes.len() as u64,
                modified: Some(MODIFIED),
                mode: 0o644,
            },
            Node::Directory => Metadata {
                kind: FileKind::Directory,
                size: 0,
                modified: Some(MODIFIED),
                mode: 0o755,
            },
        })
    }

    fn parent_is_directory(&self, path: &[u8]) -> bool {
        let parent = match path.iter().rposition(|&b| b == b'/') {
            Some(0) | None => &b"/"[..],
            Some(slash) => &path[..slash],
        };
        matches!(self.get(parent), Some(Node::Directory))
    }

    /// The names directly inside `dir`, in order.
    fn children(&self, dir: &[u8]) -> Vec<Vec<u8>> {
        let prefix: Vec<u8> = if dir == b"/" {
            b"/".to_vec()
        } else {
            [dir, b"/"].concat()
        };
        self.nodes
            .range(prefix.clone()..)
            .take_while(|(path, _)| path.starts_with(&prefix))
            .filter(|(path, _)| !path[prefix.len()..].contains(&b'/'))
            .map(|(path, _)| path[prefix.len()..].to_vec())
            .collect()
    }

    fn change(&mut self, change: Change<'_>) -> Result<(), FileError> {
        match change {
            Change::MakeDirectory(path) => {
                if self.get(path).is_some() {
                    return Err(FileError::AlreadyExists);
                }
                if !self.parent_is_directory(path) {
                    return Err(FileError::NotFound);
                }
                self.nodes.insert(path.to_vec(), Node::Directory);
            }
            Change::RemoveDirectory(path) => {
                match self.get(path) {
                    Some(Node::Directory) if path != b"/" => {}
                    Some(_) => return Err(FileError::NotADirectory),
                    None => return Err(FileError::NotFound),
                }
                if !self.children(path).is_empty() {
                    return Err(FileError::DirectoryNotEmpty);
                }
                self.nodes.remove(path);
            }
            Change::Delete(path) => match self.get(path) {
                Some(Node::File(_)) => {
                    self.nodes.remove(path);
                }
                Some(Node::Directory) => return Err(FileError::IsADirectory),
                None => return Err(FileError::NotFound),
            },
            Change::Rename { from, to } => {
                let node = self.nodes.remove(from).ok_or(FileError::NotFound)?;
                self.nodes.insert(to.to_vec(), node);
            }
            Change::SetModified { path, .. } | Change::SetPermissions { path, .. } => {
                self.get(path).ok_or(FileError::NotFound)?;
            }
        }
        Ok(())
    }
}

/// Every file's modification time in the RAM filesystem.
const MODIFIED: i64 = 1_710_408_413;

/// The server's side of a transfer, kept between its events.
#[derive(Debug, Default)]
struct ServerTransfer {
    plan: Option<OwnedPlan>,
    /// Bytes for the client (a file from its offset, or a listing).
    outgoing: Vec<u8>,
}

#[derive(Debug, Clone)]
enum OwnedPlan {
    Read,
    Write { path: Vec<u8>, mode: WriteMode },
}

/// One simulated data connection between the two.
#[derive(Debug, Default)]
struct DataLink {
    /// The client dialled (passive) or the server did (active).
    connected: bool,
    /// Bytes the server sent, the server having closed its side.
    to_client: Option<Vec<u8>>,
    /// Bytes the client sent, the client having closed its side.
    to_server: Option<Vec<u8>>,
    client_move: Option<(DataToken, Direction)>,
    server_move: Option<MoveToken>,
    server_close: Option<CloseToken>,
}

/// The two sessions and everything between them.
#[derive(Debug)]
pub struct Pair {
    /// The client half.
    pub client: ClientSession,
    /// The server half.
    pub server: ServerSession,
    /// Both sessions' host: storage, users, the data link.
    pub host: Host,
    /// The simulated clock.
    pub now: Instant,
    done: VecDeque<(RequestId, Result<Finished, ClientError>)>,
    ready: bool,
    failed: Option<ClientError>,
}

/// What the pair plays besides the two sessions.
#[derive(Debug)]
pub struct Host {
    /// The server's storage.
    pub fs: RamFs,
    /// `user`, `password` pairs the server accepts (read-write).
    pub users: Vec<(String, String)>,
    /// What the next upload sends.
    pub upload: Vec<u8>,
    /// What the latest download (or listing) received.
    pub download: Vec<u8>,
    /// Every warning the client gave.
    pub warnings: Vec<Warning>,
    /// The code of every reply the server sent, in order: the session's
    /// transcript in brief (a firmware prints it, having no other log).
    pub replies: Vec<u16>,
    transfer: ServerTransfer,
    link: DataLink,
    passive_port: u16,
    client_addr: SocketAddr,
    server_addr: SocketAddr,
}

/// The port a client's active-mode listener gets.
const ACTIVE_PORT: u16 = 40_001;

/// A server answer, taken out of its event so the event's borrow of the
/// server ends before the answer is applied.
enum Answer {
    Nothing,
    Login(crate::server::LoginToken, LoginOutcome),
    Passive(crate::server::PassiveToken, u16),
    Stat(crate::server::StatToken, Result<Metadata, FileError>),
    Enter(crate::server::DirectoryToken, Result<(), FileError>),
    Change(crate::server::ChangeToken, Result<(), FileError>),
    Opened(crate::server::OpenToken, Result<Option<u64>, FileError>),
    Connected(crate::server::ConnectToken, bool),
    Secured(crate::server::SecureToken),
    Moved(MoveToken, u64),
    Tls(crate::server::TlsToken),
}

fn apply(server: &mut ServerSession, answer: Answer, now: Instant) {
    match answer {
        Answer::Nothing => {}
        Answer::Login(token, outcome) => server.login(token, outcome),
        Answer::Passive(token, port) => server.passive_opened(token, port, None),
        Answer::Stat(token, result) => server.stat_done(token, result),
        Answer::Enter(token, result) => server.directory_entered(token, result),
        Answer::Change(token, result) => server.change_done(token, result),
        Answer::Opened(token, Ok(size)) => server.storage_opened(token, size, now),
        Answer::Opened(token, Err(error)) => server.storage_failed(token, error, now),
        Answer::Connected(token, true) => server.data_connected(token, now),
        Answer::Connected(token, false) => server.data_connect_failed(token, now),
        Answer::Secured(token) => server.data_secured(token, true, now),
        Answer::Moved(token, bytes) => server.data_moved(token, Ok(bytes), now),
        Answer::Tls(token) => server.tls_established(token),
    }
}

impl Pair {
    /// A server with `server` settings and a client with `client` settings,
    /// connected (the client at 192.0.2.10, the server at 192.0.2.1:21).
    pub fn new(server: ServerConfig, client: ClientConfig) -> Self {
        let now = Instant::default();
        let client_addr: SocketAddr = "192.0.2.10:40000".parse().expect("an address");
        let server_addr: SocketAddr = "192.0.2.1:21".parse().expect("an address");
        let implicit = client.security == crate::client::Security::Implicit;
        let config = Arc::new(server);
        let server = if implicit {
            ServerSession::new_implicit_tls(config, server_addr, client_addr, now)
        } else {
            ServerSession::new(config, server_addr, client_addr, now)
        };
        Pair {
            client: ClientSession::new(client, client_addr, server_addr, now),
            server,
            host: Host {
                fs: RamFs::default(),
                users: Vec::new(),
                upload: Vec::new(),
                download: Vec::new(),
                warnings: Vec::new(),
                replies: Vec::new(),
                transfer: ServerTransfer::default(),
                link: DataLink::default(),
                passive_port: 50_000,
                client_addr,
                server_addr,
            },
            now,
            done: VecDeque::new(),
            ready: false,
            failed: None,
        }
    }

    /// Runs the client's set-up to its end: `Ok` once it is ready.
    pub fn connect(&mut self) -> Result<(), ClientError> {
        self.run_until(|pair| pair.ready || pair.failed.is_some());
        match &self.failed {
            Some(error) => Err(error.clone()),
            None => Ok(()),
        }
    }

    /// Makes a request and runs both sessions until it is done.
    pub fn request(&mut self, request: Request) -> Result<Finished, ClientError> {
        let id = self.client.request(request);
        self.run_until(|pair| pair.done.iter().any(|(done, _)| *done == id));
        let at = self
            .done
            .iter()
            .position(|(done, _)| *done == id)
            .ok_or(ClientError::Timeout)?;
        self.done
            .remove(at)
            .map_or(Err(ClientError::Timeout), |(_, r)| r)
    }

    /// Runs until `stop` holds or nothing can happen any more (both sides
    /// idle, the clock moved to the next deadline at most 1,000 times).
    fn run_until(&mut self, stop: impl Fn(&Pair) -> bool) {
        for _ in 0..1_000 {
            while self.step() {}
            if stop(self) || self.client.is_closed() {
                return;
            }
            // Nothing moved: let time pass, to the nearer deadline, while the
            // client waits for something (a delayed 530, say).
            let client = match self.client.poll_output() {
                ClientOutput::Timeout(at) => Some(at),
                _ => None,
            };
            let Some(client) = client else {
                return;
            };
            let at = self.server.poll_timeout().map_or(client, |s| s.min(client));
            self.now = at.max(self.now + Duration::from_millis(1));
            self.server.handle_timeout(self.now);
            self.client.handle_timeout(self.now);
        }
    }

    /// One round of both sessions' output; whether anything happened.
    fn step(&mut self) -> bool {
        let mut moved = false;
        loop {
            match self.client.poll_output() {
                ClientOutput::Transmit(bytes) => {
                    self.server.handle_input(self.now, bytes);
                    moved = true;
                }
                ClientOutput::Event(event) => {
                    self.on_client(event);
                    moved = true;
                }
                ClientOutput::Closed => {
                    if !self.server.is_closed() {
                        self.server.handle_peer_closed();
                    }
                    break;
                }
                ClientOutput::Timeout(_) | ClientOutput::Idle => break,
            }
        }
        loop {
            match self.server.poll_output() {
                Output::Transmit(bytes) => {
                    record_replies(&mut self.host.replies, bytes);
                    self.client.handle_input(self.now, bytes);
                    moved = true;
                }
                Output::Event(event) => {
                    // `serve` needs the rest of the pair, not the server.
                    let answer = self.host.serve(event);
                    apply(&mut self.server, answer, self.now);
                    moved = true;
                }
                Output::Closed => {
                    if !self.client.is_closed() {
                        self.client.handle_peer_closed();
                        moved = true;
                    }
                    break;
                }
                Output::Timeout(_) => break,
            }
        }
        moved | self.move_data()
    }

    fn on_client(&mut self, event: ClientEvent) {
        let now = self.now;
        match event {
            ClientEvent::Ready => self.ready = true,
            ClientEvent::UpgradeTls(token) => self.client.tls_established(token),
            ClientEvent::ConnectData(connect) => {
                let listening = connect.addr
                    == SocketAddr::new(self.host.server_addr.ip(), self.host.passive_port);
                if listening {
                    self.host.link = DataLink {
                        connected: true,
                        ..DataLink::default()
                    };
                    self.client.data_connected(connect.token, now);
                } else {
                    self.client
                        .data_connect_failed(connect.token, "connection refused", now);
                }
            }
            ClientEvent::ListenData(listen) => {
                self.host.link = DataLink::default();
                self.client.listening(listen.token, ACTIVE_PORT, now);
            }
            ClientEvent::AcceptData(token) => {
                if self.host.link.connected {
                    self.client.data_connected(token, now);
                } else {
                    self.client
                        .data_connect_failed(token, "no connection arrived", now);
                }
            }
            ClientEvent::SecureData(token) => self.client.data_secured(token, true, now),
            ClientEvent::MoveData(moving) => {
                if moving.direction == Direction::Upload {
                    self.host.link.to_server = Some(core::mem::take(&mut self.host.upload));
                    let bytes = self.host.link.to_server.as_ref().map_or(0, Vec::len) as u64;
                    self.client.data_done(moving.token, Ok(bytes), now);
                } else {
                    self.host.link.client_move = Some((moving.token, moving.direction));
                }
            }
            ClientEvent::AbortData(_) => self.host.link = DataLink::default(),
            ClientEvent::Done(done) => self.done.push_back((done.request, done.result)),
            ClientEvent::Warning(warning) => self.host.warnings.push(warning),
            ClientEvent::Failed(error) => self.failed = Some(error),
        }
    }

    /// Hands data across once each side has done its part; whether anything moved.
    fn move_data(&mut self) -> bool {
        let now = self.now;
        // Download: the server sent all and closed; the client reads it to EOF.
        if self.host.link.server_close.is_some() && self.host.link.client_move.is_some() {
            let Some((token, _)) = self.host.link.client_move.take() else {
                return false;
            };
            let bytes = self.host.link.to_client.take().unwrap_or_default();
            let len = bytes.len() as u64;
            self.host.download = bytes;
            self.client.data_done(token, Ok(len), now);
            if let Some(close) = self.host.link.server_close.take() {
                self.server.data_closed(close, Ok(()), now);
            }
            return true;
        }
        // Upload: the client sent all and closed; the server writes it.
        if self.host.link.server_move.is_some() && self.host.link.to_server.is_some() {
            let (Some(token), Some(bytes)) = (
                self.host.link.server_move.take(),
                self.host.link.to_server.take(),
            ) else {
                return false;
            };
            let len = bytes.len() as u64;
            if let Some(OwnedPlan::Write { path, mode }) = self.host.transfer.plan.take() {
                let mut file = match self.host.fs.nodes.remove(&path) {
                    Some(Node::File(old)) => old,
                    _ => Vec::new(),
                };
                match mode {
                    WriteMode::Truncate => file.clear(),
                    WriteMode::At(offset) => file.truncate(offset as usize),
                    WriteMode::Append => {}
                }
                file.extend_from_slice(&bytes);
                self.host.fs.nodes.insert(path, Node::File(file));
            }
            self.server.data_moved(token, Ok(len), now);
            return true;
        }
        // An upload's close: the client closed first, so it is immediate (a
        // download's waits above for the client to read to the end).
        if let Some(close) = self.host.link.server_close.take() {
            if self.host.link.to_client.is_none() {
                self.server.data_closed(close, Ok(()), now);
                return true;
            }
            self.host.link.server_close = Some(close);
        }
        false
    }
}

/// Appends the code of each reply in `bytes`: a server's output holds
/// whole replies only (TLS is simulated, so they pass as they are).
fn record_replies(codes: &mut Vec<u16>, mut bytes: &[u8]) {
    while let Ok(Some((reply, used))) = crate::reply::parse(bytes) {
        codes.push(reply.code);
        bytes = &bytes[used..];
    }
}

impl Host {
    /// Answers a server event from the RAM filesystem and the data link.
    /// The event borrows the server, so the answer is applied after it.
    fn serve(&mut self, event: Event<'_>) -> Answer {
        match event {
            Event::Login(login) => {
                let ok = self
                    .users
                    .iter()
                    .any(|(u, p)| u.as_bytes() == login.user && p.as_bytes() == login.password);
                let outcome = if ok {
                    LoginOutcome::Accepted { read_only: false }
                } else {
                    LoginOutcome::Rejected
                };
                Answer::Login(login.token, outcome)
            }
            Event::OpenPassive(open) => {
                self.passive_port = self.passive_port.wrapping_add(1).max(50_000);
                Answer::Passive(open.token, self.passive_port)
            }
            Event::ClosePassive | Event::DowngradeTls | Event::Notice(_) => Answer::Nothing,
            Event::Stat(stat) => Answer::Stat(stat.token, self.fs.metadata(stat.path)),
            Event::EnterDirectory(enter) => {
                let result = match self.fs.get(enter.path) {
                    Some(Node::Directory) => Ok(()),
                    Some(Node::File(_)) => Err(FileError::NotADirectory),
                    None => Err(FileError::NotFound),
                };
                Answer::Enter(enter.token, result)
            }
            Event::FileChange(change) => {
                Answer::Change(change.token, self.fs.change(change.change))
            }
            Event::Transfer(transfer) => Answer::Opened(transfer.token, self.open(transfer.plan)),
            Event::ConnectData(connect) => {
                let connected = match connect.endpoint {
                    DataEndpoint::Passive { .. } => self.link.connected,
                    DataEndpoint::Active(addr) => {
                        let listening = addr == SocketAddr::new(self.client_addr.ip(), ACTIVE_PORT);
                        self.link.connected |= listening;
                        listening
                    }
                };
                Answer::Connected(connect.token, connected)
            }
            Event::SecureData(secure) => Answer::Secured(secure.token),
            Event::MoveData(moving) => match self.transfer.plan {
                Some(OwnedPlan::Read) => {
                    let bytes = core::mem::take(&mut self.transfer.outgoing);
                    let len = bytes.len() as u64;
                    self.link.to_client = Some(bytes);
                    Answer::Moved(moving.token, len)
                }
                _ => {
                    self.link.server_move = Some(moving.token);
                    Answer::Nothing
                }
            },
            Event::CloseData(close) => {
                self.link.server_close = Some(close.token);
                Answer::Nothing
            }
            Event::AbortTransfer(_) => {
                self.transfer = ServerTransfer::default();
                Answer::Nothing
            }
            Event::UpgradeTls(upgrade) => Answer::Tls(upgrade.token),
        }
    }

    /// Opens a transfer's storage; the size of what a read sends.
    fn open(&mut self, plan: Plan<'_>) -> Result<Option<u64>, FileError> {
        self.transfer = ServerTransfer::default();
        match plan {
            Plan::Read { path, offset } => match self.fs.get(path) {
                Some(Node::File(bytes)) => {
                    let start = (offset as usize).min(bytes.len());
                    self.transfer.outgoing = bytes[start..].to_vec();
                    self.transfer.plan = Some(OwnedPlan::Read);
                    Ok(Some(bytes.len() as u64))
                }
                Some(Node::Directory) => Err(FileError::IsADirectory),
                None => Err(FileError::NotFound),
            },
            Plan::Write { path, mode } => {
                if matches!(self.fs.get(path), Some(Node::Directory)) {
                    return Err(FileError::IsADirectory);
                }
                if !self.fs.parent_is_directory(path) {
                    return Err(FileError::NotFound);
                }
                self.transfer.plan = Some(OwnedPlan::Write {
                    path: path.to_vec(),
                    mode,
                });
                Ok(None)
            }
            Plan::CreateUnique { .. } => Err(FileError::PermissionDenied),
            Plan::List {
                path,
                format,
                filter,
                read_only,
            } => {
                let mut out = Vec::new();
                let mut write = |name: &[u8], metadata: Metadata| {
                    let entry = ListEntry {
                        name,
                        metadata,
                        link_target: None,
                    };
                    format.write_entry(&mut out, &entry, MODIFIED, !read_only);
                };
                match self.fs.get(path) {
                    Some(Node::Directory) => {
                        for name in self.fs.children(path) {
                            if !filter.shows(&name) {
                                continue;
                            }
                            let child = if path == b"/" {
                                [b"/", &name[..]].concat()
                            } else {
                                [path, b"/", &name[..]].concat()
                            };
                            let metadata = self.fs.metadata(&child)?;
                            write(&name, metadata);
                        }
                    }
                    Some(Node::File(_)) => {
                        let name = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
                        write(name, self.fs.metadata(path)?);
                    }
                    None => return Err(FileError::NotFound),
                }
                self.transfer.outgoing = out;
                self.transfer.plan = Some(OwnedPlan::Read);
                Ok(None)
            }
        }
    }
}
