//! [`ClientSession`]: the client's side of one control connection, in the
//! same sans-IO shape as the server session: the host feeds received
//! bytes in, drains command bytes and [`ClientEvent`]s out, answers each
//! event, and passes the time in.
//!
//! ```text
//!  set-up:   220 ─► (AUTH TLS ─► 234 ─► UpgradeTls) ─► USER ─► PASS ─► (PBSZ 0, PROT P)
//!            ─► FEAT ─► (OPTS UTF8 ON) ─► TYPE I ─► Ready
//!  transfer: EPSV (229) │ PASV (227, address policy) ─► ConnectData ─► (REST) ─► RETR/STOR/LIST
//!            │ active: ListenData ─► PORT/EPRT ─► (REST) ─► command ─► 150 ─► AcceptData
//!            ─► 150 ─► (SecureData) ─► MoveData ─► data done + 226 ─► Done
//! ```
//!
//! One command is in flight at a time (no pipelining: FTP servers differ in
//! what they accept); requests queue and run in order, each ending in one
//! [`ClientEvent::Done`].

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::net::{IpAddr, SocketAddr, SocketAddrV4};

use super::config::{ClientConfig, DataMode, Security};
use super::event::{
    ClientError, ClientEvent, ClientOutput, ConnectData, DataToken, Direction, Done, Finished,
    ListCommand, ListenData, ListenToken, MoveData, Request, RequestId, StoreMode, TlsToken,
    Warning,
};
use super::features::{Features, escape};
use super::passive::{PasvTarget, pasv_target};
use crate::Instant;
use crate::address::{
    canonical_ip, parse_epsv_reply, parse_pasv_reply, write_eprt_argument, write_host_port,
};
use crate::reply::{self, Reply};

/// How much of a reply's text an error shows.
const TEXT_SHOWN: usize = 200;

/// The client side of an FTP control connection.
///
/// ```
/// use ftpwire_core::Instant;
/// use ftpwire_core::client::{ClientConfig, ClientEvent, ClientOutput, ClientSession, Request};
/// let now = Instant::default();
/// let (local, peer) = ("127.0.0.1:40000".parse().unwrap(), "127.0.0.1:21".parse().unwrap());
/// let mut client = ClientSession::new(ClientConfig::login("ann", "pw"), local, peer, now);
/// let size = client.request(Request::Size(b"notes.txt".to_vec()));
/// client.handle_input(now, b"220 hi\r\n");
/// assert!(matches!(client.poll_output(), ClientOutput::Transmit(b"USER ann\r\n")));
/// for reply in [&b"331 pw?\r\n"[..], b"230 in\r\n", b"500 no FEAT\r\n", b"200 binary\r\n"] {
///     client.handle_input(now, reply);
///     while let ClientOutput::Transmit(_) | ClientOutput::Event(_) = client.poll_output() {}
/// }
/// client.handle_input(now, b"213 1234\r\n");
/// let done = loop {
///     match client.poll_output() {
///         ClientOutput::Event(ClientEvent::Done(done)) => break done,
///         ClientOutput::Transmit(_) | ClientOutput::Event(_) => {}
///         other => panic!("{other:?}"),
///     }
/// };
/// assert_eq!((done.request, done.result.unwrap().size()), (size, Some(1234)));
/// ```
#[derive(Debug)]
pub struct ClientSession {
    config: ClientConfig,
    local: SocketAddr,
    peer: SocketAddr,
    now: Instant,
    /// Received bytes not yet read as replies.
    input: Vec<u8>,
    /// Command bytes to send; `out_taken` once handed to the host.
    out: Vec<u8>,
    out_taken: bool,
    events: VecDeque<ClientEvent>,
    /// The command whose reply the session waits for.
    awaiting: Option<Await>,
    /// When the awaited reply (or the data connection's next progress) is overdue.
    deadline: Option<Instant>,
    /// The host runs the control connection's TLS handshake: input is dropped until it is done.
    upgrading: bool,
    secured: bool,
    ready: bool,
    closing: bool,
    closed: bool,
    features: Features,
    epsv_refused: bool,
    data_mode: DataMode,
    greeting: Vec<u8>,
    last_passive: Option<PassiveUsed>,
    data_resumed: Option<bool>,
    queue: VecDeque<(RequestId, Request, DataMode)>,
    current: Option<Current>,
    next_request: u32,
    next_step: u32,
}

/// The last passive reply a transfer used, for a diagnosis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PassiveUsed {
    /// `EPSV` (a port only) or `PASV` (an address).
    pub extended: bool,
    /// Where the session dialled or refused to, and why.
    pub target: PasvTarget,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Await {
    Greeting,
    AuthTls,
    User,
    Pass,
    Pbsz,
    Prot,
    Feat,
    Utf8,
    Type,
    Epsv,
    Pasv,
    Port,
    Rest,
    /// The transfer command's first reply (`150`).
    Start,
    /// The transfer's final reply (`226`).
    End,
    Rnfr,
    /// A request answered by one final reply.
    Final(&'static str),
    Quit,
}

/// The running request.
#[derive(Debug)]
struct Current {
    id: RequestId,
    request: Request,
    mode: DataMode,
    data: Option<DataState>,
}

/// A transfer's data connection.
#[derive(Debug)]
struct DataState {
    step: DataStep,
    /// The token serial the host answers with.
    serial: u32,
    addr: Option<SocketAddr>,
    /// The `150` came.
    started: bool,
    moved: Option<u64>,
    /// The final reply came: its code and text.
    end: Option<(u16, Vec<u8>)>,
    /// Already reported (a data failure): the final reply is only consumed.
    reported: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataStep {
    /// Waiting for the PASV/EPSV reply, or PORT's.
    Negotiating,
    Listening,
    Connecting,
    /// Connected (or listening, in active mode) and waiting for `150`.
    Connected,
    Accepting,
    Securing,
    Moving,
    Finished,
}

impl ClientSession {
    /// A session on a control connection from `local` to `peer`; for
    /// implicit FTPS the host has run the TLS handshake already.
    pub fn new(config: ClientConfig, local: SocketAddr, peer: SocketAddr, now: Instant) -> Self {
        let secured = config.security == Security::Implicit;
        let data_mode = config.data_mode;
        let deadline = Some(now + config.reply_timeout);
        ClientSession {
            config,
            local,
            peer,
            now,
            input: Vec::new(),
            out: Vec::new(),
            out_taken: false,
            events: VecDeque::new(),
            awaiting: Some(Await::Greeting),
            deadline,
            upgrading: false,
            secured,
            ready: false,
            closing: false,
            closed: false,
            features: Features::default(),
            epsv_refused: false,
            data_mode,
            greeting: Vec::new(),
            last_passive: None,
            data_resumed: None,
            queue: VecDeque::new(),
            current: None,
            next_request: 0,
            next_step: 0,
        }
    }

    /// Queues a request; it runs once the session is ready and every
    /// request before it is done, and ends with one [`ClientEvent::Done`].
    pub fn request(&mut self, request: Request) -> RequestId {
        let id = RequestId(self.next_request);
        self.next_request = self.next_request.wrapping_add(1);
        if let Some(reason) = invalid(&request) {
            self.events.push_back(ClientEvent::Done(Done {
                request: id,
                result: Err(ClientError::BadRequest(reason)),
            }));
        } else if self.closing || self.closed {
            self.events.push_back(ClientEvent::Done(Done {
                request: id,
                result: Err(ClientError::Closed),
            }));
        } else {
            self.queue.push_back((id, request, self.data_mode));
            self.start_next();
        }
        id
    }

    /// How later requests get their data connections.
    pub fn set_data_mode(&mut self, mode: DataMode) {
        self.data_mode = mode;
    }

    /// What later `227` replies are checked with.
    pub fn set_pasv_policy(&mut self, policy: super::PasvAddressPolicy) {
        self.config.pasv_policy = policy;
    }

    /// Received control-channel bytes (decrypted, under TLS).
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) {
        self.now = now;
        if self.closed || self.closing || self.upgrading {
            // After `234` and before the handshake, plain bytes could be
            // injected (RFC 4217 §4): dropped, as the server does.
            return;
        }
        self.input.extend_from_slice(data);
        let mut used = 0;
        while !self.closing && !self.upgrading {
            match reply::parse(&self.input[used..]) {
                Ok(Some((parsed, len))) => {
                    // The reply borrows `input`; what a handler keeps it copies.
                    let code = parsed.code;
                    let raw = core::mem::take(&mut self.input);
                    let reply = Reply {
                        code,
                        raw: &raw[used..used + len],
                    };
                    self.on_reply(&reply);
                    self.input = raw;
                    used += len;
                }
                Ok(None) => {
                    if self.input.len() - used > self.config.reply_limit {
                        let limit = self.config.reply_limit;
                        self.fail(ClientError::ReplyTooLong { limit });
                    }
                    break;
                }
                Err(_) => {
                    self.fail(ClientError::Malformed);
                    break;
                }
            }
        }
        if self.upgrading || self.closing {
            self.input.clear();
        } else {
            self.input.drain(..used);
        }
    }

    /// The server closed the control connection.
    pub fn handle_peer_closed(&mut self) {
        if self.closed {
            return;
        }
        if self.awaiting == Some(Await::Quit) || self.closing {
            self.closing = true;
            self.awaiting = None;
            self.finish_all(ClientError::Closed);
            return;
        }
        self.fail(ClientError::Closed);
    }

    /// The next thing the host must do; call until it returns
    /// [`ClientOutput::Timeout`], [`ClientOutput::Idle`] or [`ClientOutput::Closed`].
    pub fn poll_output(&mut self) -> ClientOutput<'_> {
        if self.out_taken {
            self.out.clear();
            self.out_taken = false;
        }
        if !self.out.is_empty() {
            self.out_taken = true;
            return ClientOutput::Transmit(&self.out);
        }
        if let Some(event) = self.events.pop_front() {
            return ClientOutput::Event(event);
        }
        if self.closing || self.closed {
            self.closed = true;
            return ClientOutput::Closed;
        }
        match self.deadline {
            Some(at) => ClientOutput::Timeout(at),
            None => ClientOutput::Idle,
        }
    }

    /// The time is now `now`, at or after the deadline the session asked for.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        let Some(deadline) = self.deadline else {
            return;
        };
        if now < deadline || self.closing {
            return;
        }
        let moving = self
            .current
            .as_ref()
            .and_then(|c| c.data.as_ref())
            .map(|d| d.step);
        match moving {
            Some(
                DataStep::Connecting
                | DataStep::Accepting
                | DataStep::Securing
                | DataStep::Moving
                | DataStep::Listening,
            ) => self.fail(ClientError::DataTimeout),
            _ => self.fail(ClientError::Timeout),
        }
    }

    /// Answers [`ClientEvent::UpgradeTls`]: the handshake is done; input is
    /// the decrypted channel from now on, and the login follows.
    pub fn tls_established(&mut self, token: TlsToken) {
        let TlsToken(()) = token;
        if !self.upgrading {
            self.events
                .push_back(ClientEvent::Warning(Warning::StaleAnswer));
            return;
        }
        self.upgrading = false;
        self.secured = true;
        self.send_user();
    }

    /// Answers `ConnectData` or `AcceptData`: the data connection is open.
    pub fn data_connected(&mut self, token: DataToken, now: Instant) {
        self.now = now;
        let Some(step) = self.data_step(&token) else {
            return;
        };
        match step {
            DataStep::Connecting => {
                self.data_mut().step = DataStep::Connected;
                self.send_rest_or_command();
            }
            DataStep::Accepting => self.secure_or_move(),
            _ => self
                .events
                .push_back(ClientEvent::Warning(Warning::StaleAnswer)),
        }
    }

    /// Answers `ConnectData` or `AcceptData`: no data connection; `reason`
    /// is what the host saw (`connection refused`, say).
    pub fn data_connect_failed(&mut self, token: DataToken, reason: &str, now: Instant) {
        self.now = now;
        if self.data_step(&token).is_none() {
            return;
        }
        let addr = self.data_mut().addr.unwrap_or(self.peer);
        self.fail_transfer(ClientError::DataConnect {
            addr,
            reason: reason.into(),
        });
    }

    /// Answers [`ClientEvent::ListenData`]: listening on `port` of the bind address.
    pub fn listening(&mut self, token: ListenToken, port: u16, now: Instant) {
        self.now = now;
        let ListenToken(serial) = token;
        let addr = SocketAddr::new(self.local.ip(), port);
        let Some(data) = self.current_data() else {
            self.events
                .push_back(ClientEvent::Warning(Warning::StaleAnswer));
            return;
        };
        if data.serial != serial || data.step != DataStep::Listening {
            self.events
                .push_back(ClientEvent::Warning(Warning::StaleAnswer));
            return;
        }
        data.addr = Some(addr);
        data.step = DataStep::Negotiating;
        let canonical = canonical_ip(addr.ip());
        match canonical {
            IpAddr::V4(v4) => {
                self.out.extend_from_slice(b"PORT ");
                write_host_port(&mut self.out, SocketAddrV4::new(v4, port));
                self.out.extend_from_slice(b"\r\n");
            }
            IpAddr::V6(_) => {
                self.out.extend_from_slice(b"EPRT ");
                write_eprt_argument(&mut self.out, addr);
                self.out.extend_from_slice(b"\r\n");
            }
        }
        self.expect(Await::Port);
    }

    /// Answers [`ClientEvent::ListenData`]: no listener.
    pub fn listen_failed(&mut self, token: ListenToken, reason: &str, now: Instant) {
        self.now = now;
        let ListenToken(serial) = token;
        if self.current_data().is_none_or(|d| d.serial != serial) {
            self.events
                .push_back(ClientEvent::Warning(Warning::StaleAnswer));
            return;
        }
        self.fail_transfer(ClientError::Listen(reason.into()));
    }

    /// Answers [`ClientEvent::SecureData`]: the data connection is under
    /// TLS; `resumed` says whether it resumed the control session.
    pub fn data_secured(&mut self, token: DataToken, resumed: bool, now: Instant) {
        self.now = now;
        if self.data_step(&token) != Some(DataStep::Securing) {
            return;
        }
        self.data_resumed = Some(resumed);
        self.start_moving();
    }

    /// Answers [`ClientEvent::SecureData`]: the handshake failed.
    pub fn data_tls_failed(&mut self, token: DataToken, reason: &str, now: Instant) {
        self.now = now;
        if self.data_step(&token) != Some(DataStep::Securing) {
            return;
        }
        self.fail_transfer(ClientError::DataTls(reason.into()));
    }

    /// During [`ClientEvent::MoveData`]: `bytes` moved so far (keeps the
    /// data timeout from firing).
    pub fn data_progress(&mut self, token: &DataToken, now: Instant) {
        self.now = now;
        if self
            .current_data()
            .is_some_and(|d| d.serial == token.0 && d.step == DataStep::Moving)
        {
            self.deadline = Some(now + self.config.data_timeout);
        }
    }

    /// Answers [`ClientEvent::MoveData`]: every byte moved and the data
    /// connection closed (`Ok(bytes)`), or it broke (`Err(reason)`).
    pub fn data_done(&mut self, token: DataToken, result: Result<u64, &str>, now: Instant) {
        self.now = now;
        if self.data_step(&token) != Some(DataStep::Moving) {
            return;
        }
        match result {
            Ok(bytes) => {
                let data = self.data_mut();
                data.moved = Some(bytes);
                data.step = DataStep::Finished;
                if data.end.is_some() {
                    self.finish_transfer();
                } else {
                    self.deadline = Some(now + self.config.reply_timeout);
                }
            }
            Err(reason) => {
                let error = ClientError::DataFailed(reason.into());
                self.data_mut().step = DataStep::Finished;
                self.report_transfer(Err(error));
            }
        }
    }

    /// The server's greeting (all its lines), once it came.
    pub fn greeting(&self) -> &[u8] {
        &self.greeting
    }

    /// What FEAT said.
    pub fn features(&self) -> Features {
        self.features
    }

    /// Whether the control connection is under TLS.
    pub fn is_secured(&self) -> bool {
        self.secured
    }

    /// Whether the set-up (login, TLS, FEAT, TYPE) is done.
    pub fn is_ready(&self) -> bool {
        self.ready
    }

    /// Whether the server refused EPSV (transfers use PASV since).
    pub fn epsv_refused(&self) -> bool {
        self.epsv_refused
    }

    /// Whether the latest protected data connection resumed the control
    /// connection's TLS session (`None` before any).
    pub fn data_resumed(&self) -> Option<bool> {
        self.data_resumed
    }

    /// The passive reply the latest transfer used.
    pub fn last_passive(&self) -> Option<PassiveUsed> {
        self.last_passive
    }

    /// Whether the session has ended (the host saw [`ClientOutput::Closed`]).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Received bytes not yet read as a whole reply.
    pub fn buffered(&self) -> usize {
        self.input.len()
    }

    /// The control connection's peer.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    // ---- replies -------------------------------------------------------

    fn on_reply(&mut self, reply: &Reply<'_>) {
        let Some(awaiting) = self.awaiting else {
            if reply.code == 421 {
                self.fail(refused("the session", reply));
            } else {
                self.events
                    .push_back(ClientEvent::Warning(Warning::UnexpectedReply {
                        code: reply.code,
                    }));
            }
            return;
        };
        if reply.is_preliminary() && !matches!(awaiting, Await::Start | Await::Greeting) {
            return; // 1yz to a command that has no use for it: wait for the final one.
        }
        self.awaiting = None;
        self.deadline = None;
        let class = reply.code / 100;
        match awaiting {
            Await::Greeting => match class {
                1 => self.expect(Await::Greeting),
                2 => {
                    self.greeting = reply.raw.to_vec();
                    if self.config.security == Security::Explicit {
                        self.send(b"AUTH TLS", &[], Await::AuthTls);
                    } else {
                        self.send_user();
                    }
                }
                _ => self.fail(refused("the connection", reply)),
            },
            Await::AuthTls => {
                if reply.code == 234 {
                    self.upgrading = true;
                    self.events.push_back(ClientEvent::UpgradeTls(TlsToken(())));
                } else {
                    self.fail(refused("AUTH TLS (the server may not offer FTPS)", reply));
                }
            }
            Await::User => match reply.code {
                230 => self.after_login(),
                331 => {
                    let password = core::mem::take(&mut self.config.password);
                    self.send(b"PASS", password.as_bytes(), Await::Pass);
                    self.config.password = password;
                }
                _ => self.fail(refused("USER", reply)),
            },
            Await::Pass => match reply.code {
                230 | 202 => self.after_login(),
                _ => self.fail(refused("the login", reply)),
            },
            Await::Pbsz => {
                if class == 2 {
                    let level: &[u8] = if self.config.protect_data { b"P" } else { b"C" };
                    self.send(b"PROT", level, Await::Prot);
                } else {
                    self.fail(refused("PBSZ", reply));
                }
            }
            Await::Prot => {
                if class == 2 {
                    self.send(b"FEAT", &[], Await::Feat);
                } else {
                    self.fail(refused("PROT", reply));
                }
            }
            Await::Feat => {
                self.features = Features::parse(reply);
                if self.features.utf8 {
                    self.send(b"OPTS", b"UTF8 ON", Await::Utf8);
                } else {
                    self.send(b"TYPE", b"I", Await::Type);
                }
            }
            Await::Utf8 => self.send(b"TYPE", b"I", Await::Type),
            Await::Type => {
                if class == 2 {
                    self.ready = true;
                    self.events.push_back(ClientEvent::Ready);
                    self.start_next();
                } else {
                    self.fail(refused("TYPE I", reply));
                }
            }
            Await::Epsv => self.on_epsv(reply),
            Await::Pasv => self.on_pasv(reply),
            Await::Port => {
                if class == 2 {
                    self.data_mut().step = DataStep::Connected;
                    self.send_rest_or_command();
                } else {
                    self.fail_transfer(refused("PORT", reply));
                }
            }
            Await::Rest => {
                if reply.code == 350 {
                    self.send_transfer_command();
                } else {
                    self.fail_transfer(refused("REST (the server cannot resume)", reply));
                }
            }
            Await::Start => self.on_transfer_start(reply),
            Await::End => self.on_transfer_end(reply),
            Await::Rnfr => {
                if reply.code == 350 {
                    let to = match self.current.as_ref().map(|c| &c.request) {
                        Some(Request::Rename { to, .. }) => to.clone(),
                        _ => Vec::new(),
                    };
                    self.send(b"RNTO", &to, Await::Final("RNTO"));
                } else {
                    self.finish(Err(refused("RNFR", reply)));
                }
            }
            Await::Final(verb) => {
                let raw_command = matches!(
                    self.current.as_ref().map(|c| &c.request),
                    Some(Request::Command(_))
                );
                if class == 2 || raw_command {
                    self.finish(Ok(finished(reply, None)));
                } else {
                    self.finish(Err(refused(verb, reply)));
                }
            }
            Await::Quit => {
                self.closing = true;
                self.finish(Ok(finished(reply, None)));
                self.finish_all(ClientError::Closed);
            }
        }
    }

    fn on_epsv(&mut self, reply: &Reply<'_>) {
        if reply.code == 229 {
            match parse_epsv_reply(reply.text()) {
                Ok(port) => {
                    let addr = SocketAddr::new(canonical_ip(self.peer.ip()), port);
                    self.last_passive = Some(PassiveUsed {
                        extended: true,
                        target: PasvTarget::Dial(addr),
                    });
                    self.connect_data(addr);
                }
                Err(_) => self.fail_transfer(ClientError::Unexpected {
                    command: "EPSV",
                    reason: "the 229 reply has no (|||port|)",
                }),
            }
            return;
        }
        let mode = self.current.as_ref().map(|c| c.mode);
        if reply.code / 100 == 5 && mode == Some(DataMode::Passive) && self.peer.is_ipv4() {
            self.epsv_refused = true;
            self.events
                .push_back(ClientEvent::Warning(Warning::EpsvRefused {
                    code: reply.code,
                }));
            self.send(b"PASV", &[], Await::Pasv);
        } else {
            self.fail_transfer(refused("EPSV", reply));
        }
    }

    fn on_pasv(&mut self, reply: &Reply<'_>) {
        if reply.code != 227 {
            self.fail_transfer(refused("PASV", reply));
            return;
        }
        let Ok(advertised) = parse_pasv_reply(reply.text()) else {
            self.fail_transfer(ClientError::Unexpected {
                command: "PASV",
                reason: "the 227 reply has no h1,h2,h3,h4,p1,p2 address",
            });
            return;
        };
        let target = pasv_target(advertised, self.peer, self.config.pasv_policy);
        self.last_passive = Some(PassiveUsed {
            extended: false,
            target,
        });
        if target.is_warning() {
            self.events
                .push_back(ClientEvent::Warning(Warning::Passive(target)));
        }
        match target.dial() {
            Some(addr) => self.connect_data(addr),
            None => self.fail_transfer(ClientError::PassiveRefused(target)),
        }
    }

    fn on_transfer_start(&mut self, reply: &Reply<'_>) {
        match reply.code / 100 {
            1 => {
                self.data_mut().started = true;
                self.expect(Await::End);
                // The final reply may be long in coming: the data timeout
                // (reset by progress) watches the transfer instead.
                self.deadline = Some(self.now + self.config.data_timeout);
                let active = self.data_mut().step == DataStep::Connected
                    && self
                        .current
                        .as_ref()
                        .is_some_and(|c| c.mode == DataMode::Active);
                if active {
                    let data = self.data_mut();
                    data.step = DataStep::Accepting;
                    let token = DataToken(data.serial);
                    self.events.push_back(ClientEvent::AcceptData(token));
                } else {
                    self.secure_or_move();
                }
            }
            2 => {
                // A final reply without a `150` (an empty listing, on some
                // servers): nothing comes on the data connection.
                let request = self.current_id();
                self.events.push_back(ClientEvent::AbortData(request));
                let data = self.data_mut();
                data.moved = Some(0);
                data.step = DataStep::Finished;
                data.end = Some((reply.code, reply.text().to_vec()));
                self.finish_transfer();
            }
            _ => {
                let verb = self.transfer_verb();
                self.fail_transfer(refused(verb, reply));
            }
        }
    }

    fn on_transfer_end(&mut self, reply: &Reply<'_>) {
        let Some(data) = self.current_data() else {
            return;
        };
        if data.reported {
            // The request failed already (its data connection broke): this
            // is the server's word on it; the next request may start.
            self.finish(Err(ClientError::Closed));
            return;
        }
        if reply.code / 100 != 2 {
            let verb = self.transfer_verb();
            self.fail_transfer(refused(verb, reply));
            return;
        }
        data.end = Some((reply.code, reply.text().to_vec()));
        if data.step == DataStep::Finished {
            self.finish_transfer();
        } else {
            // The data connection is still draining: the host's data_done ends it.
            self.deadline = Some(self.now + self.config.data_timeout);
        }
    }

    // ---- set-up --------------------------------------------------------

    fn send_user(&mut self) {
        let line_break = |text: &str| text.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0);
        if line_break(&self.config.user) || line_break(&self.config.password) {
            // A CR or LF would end USER or PASS early and send what follows
            // as another command.
            self.fail(ClientError::BadRequest(
                "a user name or password with a CR, LF or NUL byte cannot be sent over FTP",
            ));
            return;
        }
        let user = core::mem::take(&mut self.config.user);
        self.send(b"USER", user.as_bytes(), Await::User);
        self.config.user = user;
    }

    fn after_login(&mut self) {
        if self.secured {
            self.send(b"PBSZ", b"0", Await::Pbsz);
        } else {
            self.send(b"FEAT", &[], Await::Feat);
        }
    }

    // ---- requests ------------------------------------------------------

    fn start_next(&mut self) {
        if !self.ready || self.current.is_some() || self.awaiting.is_some() || self.closing {
            return;
        }
        let Some((id, request, mode)) = self.queue.pop_front() else {
            return;
        };
        let transfer = matches!(
            request,
            Request::Retrieve { .. } | Request::Store { .. } | Request::List { .. }
        );
        self.current = Some(Current {
            id,
            request,
            mode,
            data: None,
        });
        if transfer {
            self.start_transfer();
            return;
        }
        let Some(current) = self.current.as_ref() else {
            return;
        };
        let (verb, arg, awaiting): (&[u8], &[u8], Await) = match &current.request {
            Request::Size(p) => (b"SIZE", p, Await::Final("SIZE")),
            Request::Modified(p) => (b"MDTM", p, Await::Final("MDTM")),
            Request::Facts(p) => (b"MLST", p, Await::Final("MLST")),
            Request::ChangeDirectory(p) => (b"CWD", p, Await::Final("CWD")),
            Request::PrintDirectory => (b"PWD", b"", Await::Final("PWD")),
            Request::MakeDirectory(p) => (b"MKD", p, Await::Final("MKD")),
            Request::RemoveDirectory(p) => (b"RMD", p, Await::Final("RMD")),
            Request::Delete(p) => (b"DELE", p, Await::Final("DELE")),
            Request::Rename { from, .. } => (b"RNFR", from, Await::Rnfr),
            Request::Noop => (b"NOOP", b"", Await::Final("NOOP")),
            Request::Command(line) => (line, b"", Await::Final("the command")),
            Request::Quit => (b"QUIT", b"", Await::Quit),
            Request::Retrieve { .. } | Request::Store { .. } | Request::List { .. } => return,
        };
        // `send` writes into `out`, which the request does not borrow.
        let (verb, arg) = (verb.to_vec(), arg.to_vec());
        self.send(&verb, &arg, awaiting);
    }

    fn start_transfer(&mut self) {
        let serial = self.next_step;
        self.next_step = self.next_step.wrapping_add(1);
        let Some(current) = self.current.as_mut() else {
            return;
        };
        current.data = Some(DataState {
            step: DataStep::Negotiating,
            serial,
            addr: None,
            started: false,
            moved: None,
            end: None,
            reported: false,
        });
        let mode = current.mode;
        let id = current.id;
        match mode {
            DataMode::Active => {
                self.data_mut().step = DataStep::Listening;
                self.deadline = Some(self.now + self.config.data_timeout);
                self.events.push_back(ClientEvent::ListenData(ListenData {
                    request: id,
                    bind: self.local.ip(),
                    peer: canonical_ip(self.peer.ip()),
                    token: ListenToken(serial),
                }));
            }
            DataMode::Pasv => self.send(b"PASV", &[], Await::Pasv),
            DataMode::Passive if self.epsv_refused && self.peer.is_ipv4() => {
                self.send(b"PASV", &[], Await::Pasv)
            }
            DataMode::Passive | DataMode::ExtendedPassive => self.send(b"EPSV", &[], Await::Epsv),
        }
    }

    fn connect_data(&mut self, addr: SocketAddr) {
        let id = self.current_id();
        let data = self.data_mut();
        data.addr = Some(addr);
        data.step = DataStep::Connecting;
        let token = DataToken(data.serial);
        self.deadline = Some(self.now + self.config.data_timeout);
        self.events.push_back(ClientEvent::ConnectData(ConnectData {
            request: id,
            addr,
            token,
        }));
    }

    fn send_rest_or_command(&mut self) {
        let offset = match self.current.as_ref().map(|c| &c.request) {
            Some(Request::Retrieve { offset, .. }) => *offset,
            Some(Request::Store {
                mode: StoreMode::At(offset),
                ..
            }) => *offset,
            _ => 0,
        };
        if offset > 0 {
            let mut digits = Vec::new();
            reply::write_decimal(&mut digits, offset);
            self.send(b"REST", &digits, Await::Rest);
        } else {
            self.send_transfer_command();
        }
    }

    fn send_transfer_command(&mut self) {
        let path = match self.current.as_ref().map(|c| &c.request) {
            Some(Request::Retrieve { path, .. } | Request::Store { path, .. }) => path.clone(),
            Some(Request::List { path, .. }) => path.clone().unwrap_or_default(),
            _ => return,
        };
        let verb = self.transfer_verb();
        self.send(verb.as_bytes(), &path, Await::Start);
    }

    fn secure_or_move(&mut self) {
        if self.secured && self.config.protect_data {
            let data = self.data_mut();
            data.step = DataStep::Securing;
            let token = DataToken(data.serial);
            self.events.push_back(ClientEvent::SecureData(token));
        } else {
            self.start_moving();
        }
    }

    fn start_moving(&mut self) {
        let id = self.current_id();
        let direction = match self.current.as_ref().map(|c| &c.request) {
            Some(Request::Store { .. }) => Direction::Upload,
            _ => Direction::Download,
        };
        let data = self.data_mut();
        data.step = DataStep::Moving;
        let token = DataToken(data.serial);
        self.deadline = Some(self.now + self.config.data_timeout);
        self.events.push_back(ClientEvent::MoveData(MoveData {
            request: id,
            direction,
            token,
        }));
    }

    fn finish_transfer(&mut self) {
        let Some(data) = self.current_data() else {
            return;
        };
        let (code, text) = data.end.take().unwrap_or((226, Vec::new()));
        let bytes = data.moved;
        self.finish(Ok(Finished { code, text, bytes }));
    }

    /// A transfer failed before or while its data moved: drop the data
    /// connection; if the server has the command, its final reply is still
    /// to come and is consumed before the next request.
    fn fail_transfer(&mut self, error: ClientError) {
        let request = self.current_id();
        let commanded =
            self.current_data().is_some_and(|d| d.started) && self.awaiting == Some(Await::End);
        self.events.push_back(ClientEvent::AbortData(request));
        if commanded {
            self.report_transfer(Err(error));
        } else {
            self.finish(Err(error));
        }
    }

    /// Reports the request's end now, but keeps it current until the
    /// server's final reply (which `on_transfer_end` consumes).
    fn report_transfer(&mut self, result: Result<Finished, ClientError>) {
        let request = self.current_id();
        let waiting_for_end = self.awaiting == Some(Await::End);
        if let Some(data) = self.current_data() {
            data.reported = true;
        }
        self.events
            .push_back(ClientEvent::Done(Done { request, result }));
        if !waiting_for_end {
            self.current = None;
            self.start_next();
        }
    }

    fn finish(&mut self, result: Result<Finished, ClientError>) {
        let Some(current) = self.current.take() else {
            return;
        };
        let reported = current.data.as_ref().is_some_and(|d| d.reported);
        if !reported {
            self.events.push_back(ClientEvent::Done(Done {
                request: current.id,
                result,
            }));
        }
        self.awaiting = None;
        if !self.closing {
            self.deadline = None;
        }
        self.start_next();
    }

    /// A fault that ends the session: every request fails with it.
    fn fail(&mut self, error: ClientError) {
        if self.closing {
            return;
        }
        self.closing = true;
        self.awaiting = None;
        self.deadline = None;
        if let Some(current) = self.current.take() {
            if current.data.is_some() {
                self.events.push_back(ClientEvent::AbortData(current.id));
            }
            if !current.data.is_some_and(|d| d.reported) {
                self.events.push_back(ClientEvent::Done(Done {
                    request: current.id,
                    result: Err(error.clone()),
                }));
            }
        }
        self.events.push_back(ClientEvent::Failed(error.clone()));
        self.finish_all(error);
    }

    fn finish_all(&mut self, error: ClientError) {
        while let Some((request, ..)) = self.queue.pop_front() {
            self.events.push_back(ClientEvent::Done(Done {
                request,
                result: Err(error.clone()),
            }));
        }
    }

    // ---- helpers -------------------------------------------------------

    fn send(&mut self, verb: &[u8], arg: &[u8], awaiting: Await) {
        self.out.extend_from_slice(verb);
        if !arg.is_empty() {
            self.out.push(b' ');
            self.out.extend_from_slice(arg);
        }
        self.out.extend_from_slice(b"\r\n");
        self.expect(awaiting);
    }

    fn expect(&mut self, awaiting: Await) {
        self.awaiting = Some(awaiting);
        self.deadline = Some(self.now + self.config.reply_timeout);
    }

    fn current_id(&self) -> RequestId {
        self.current.as_ref().map_or(RequestId(u32::MAX), |c| c.id)
    }

    fn current_data(&mut self) -> Option<&mut DataState> {
        self.current.as_mut()?.data.as_mut()
    }

    /// The running transfer's data state; only called while one runs.
    fn data_mut(&mut self) -> &mut DataState {
        self.current_data()
            .expect("a transfer step runs only while its transfer is current")
    }

    /// The step a data token answers, if it is the current one's.
    fn data_step(&mut self, token: &DataToken) -> Option<DataStep> {
        let step = self
            .current_data()
            .filter(|d| d.serial == token.0 && !d.reported)
            .map(|d| d.step);
        if step.is_none() {
            self.events
                .push_back(ClientEvent::Warning(Warning::StaleAnswer));
        }
        step
    }

    fn transfer_verb(&self) -> &'static str {
        match self.current.as_ref().map(|c| &c.request) {
            Some(Request::Retrieve { .. }) => "RETR",
            Some(Request::Store {
                mode: StoreMode::Append,
                ..
            }) => "APPE",
            Some(Request::Store { .. }) => "STOR",
            Some(Request::List { command, .. }) => match command {
                ListCommand::List => "LIST",
                ListCommand::NameList => "NLST",
                ListCommand::MachineList => "MLSD",
            },
            _ => "the transfer",
        }
    }
}

/// Why a request cannot be sent, if it cannot: a line break in a path would
/// end the command early and smuggle in another.
fn invalid(request: &Request) -> Option<&'static str> {
    let bad = |p: &[u8]| p.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0);
    let paths: [Option<&[u8]>; 2] = match request {
        Request::Retrieve { path, .. } | Request::Store { path, .. } => [Some(path), None],
        Request::List { path, .. } => [path.as_deref(), None],
        Request::Size(p)
        | Request::Modified(p)
        | Request::Facts(p)
        | Request::ChangeDirectory(p)
        | Request::MakeDirectory(p)
        | Request::RemoveDirectory(p)
        | Request::Delete(p) => [Some(p), None],
        Request::Rename { from, to } => [Some(from), Some(to)],
        Request::Command(line) => [Some(line), None],
        Request::PrintDirectory | Request::Noop | Request::Quit => [None, None],
    };
    paths
        .into_iter()
        .flatten()
        .any(bad)
        .then_some("a path or command with a CR, LF or NUL byte cannot be sent over FTP")
}

fn refused(command: &'static str, reply: &Reply<'_>) -> ClientError {
    ClientError::Refused {
        command,
        code: reply.code,
        text: escape(reply.text(), TEXT_SHOWN),
    }
}

fn finished(reply: &Reply<'_>, bytes: Option<u64>) -> Finished {
    Finished {
        code: reply.code,
        text: reply.text().to_vec(),
        bytes,
    }
}
