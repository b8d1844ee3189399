//! # ftpwire-smoltcp: an FTP server with no operating system
//!
//! A host for [`ftpwire_core`] on the [`smoltcp`] TCP/IP stack:
//! `no_std` with an allocator, no OS sockets, no clock, no files. It owns a
//! smoltcp [`Interface`] and its sockets; the caller owns the network device
//! and the time. Everything FTP decides (replies, states, timeouts, what a
//! path means) is the core's; this crate only moves bytes between smoltcp
//! sockets, the core's sessions and a [`Storage`] ([`RamFs`] keeps files in
//! the heap).
//!
//! - A fixed number of sessions ([`Settings::sessions`]), each with one
//!   control socket listening on [`Settings::control_port`] and one data
//!   socket; every socket buffer is allocated once, in [`Server::new`].
//! - Passive mode (PASV, EPSV): a session's data socket listens on a port of
//!   [`Settings::passive_ports`]; active mode (PORT, EPRT): it dials out.
//! - Plain FTP over IPv4 only: there is no TLS here, so the core is run with
//!   [`ServerConfig::tls`] off and refuses AUTH TLS (`502`).
//!
//! The loop: call [`Server::poll`] with the time whenever the device has a
//! frame, or when the instant it returned comes.
//!
//! ```
//! use ftpwire_core::server::LoginOutcome;
//! use ftpwire_core::{Instant, ServerConfig};
//! use ftpwire_smoltcp::{RamFs, Server, Settings};
//! use smoltcp::iface::{Config, Interface};
//! use smoltcp::phy::{Loopback, Medium};
//! use smoltcp::socket::tcp;
//! use smoltcp::wire::{EthernetAddress, IpAddress, IpCidr};
//!
//! // A loopback device: the FTP client below is a socket on the same interface.
//! let mut device = Loopback::new(Medium::Ethernet);
//! let config = Config::new(EthernetAddress([2, 0, 0, 0, 0, 1]).into());
//! let mut iface = Interface::new(config, &mut device, smoltcp::time::Instant::ZERO);
//! iface.update_ip_addrs(|addrs| addrs.push(IpCidr::new(IpAddress::v4(127, 0, 0, 1), 8)).unwrap());
//!
//! let users = |user: &[u8], password: &[u8]| match (user, password) {
//!     (b"ann", b"secret") => LoginOutcome::Accepted { read_only: false },
//!     _ => LoginOutcome::Rejected,
//! };
//! let settings = Settings { sessions: 1, ..Settings::default() };
//! let mut server = Server::new(iface, settings, ServerConfig::default(), RamFs::new(4096), users)?;
//!
//! let (iface, sockets) = server.parts();
//! let mut client = tcp::Socket::new(tcp::SocketBuffer::new(vec![0; 1024]), tcp::SocketBuffer::new(vec![0; 1024]));
//! client.connect(iface.context(), (IpAddress::v4(127, 0, 0, 1), 21), 40000).unwrap();
//! let client = sockets.add(client);
//!
//! let (mut heard, mut said) = (Vec::new(), false);
//! for millis in 0..200 {
//!     server.poll(Instant::from_millis(millis), &mut device);
//!     let socket = server.parts().1.get_mut::<tcp::Socket>(client);
//!     if socket.can_recv() {
//!         socket.recv(|bytes| { heard.extend_from_slice(bytes); (bytes.len(), ()) }).unwrap();
//!     }
//!     if heard.starts_with(b"220 ") && !said {
//!         socket.send_slice(b"USER ann\r\nPASS secret\r\nAUTH TLS\r\nPWD\r\n").unwrap();
//!         said = true;
//!     }
//!     if heard.ends_with(b"257 \"/\" is the current directory.\r\n") {
//!         break;
//!     }
//! }
//! let heard = String::from_utf8(heard).unwrap();
//! assert!(heard.contains("\r\n230 "), "{heard}");
//! assert!(heard.contains("\r\n502 "), "no TLS here: {heard}");
//! assert!(heard.ends_with("257 \"/\" is the current directory.\r\n"), "{heard}");
//! # Ok::<(), ftpwire_smoltcp::Error>(())
//! ```
#![no_std]

extern crate alloc;

mod events;
mod storage;
mod transfer;

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::net::{IpAddr, SocketAddr};
use core::ops::RangeInclusive;

use ftpwire_core::server::LoginOutcome;
use ftpwire_core::{Instant, Output, ServerConfig, ServerSession};
use smoltcp::iface::{Interface, SocketHandle, SocketSet};
use smoltcp::phy::Device;
use smoltcp::socket::tcp;
use smoltcp::wire::IpAddress;

use events::Context;
pub use storage::{RamFs, Storage};
use transfer::Transfer;

/// Checks a login: `Accepted` (read-write or read-only) or `Rejected`.
/// Any `Fn(&[u8], &[u8]) -> LoginOutcome` is one.
pub trait Users {
    /// Whether `user` may log in with `password` (bytes as the client sent them).
    fn login(&self, user: &[u8], password: &[u8]) -> LoginOutcome;
}

impl<F: Fn(&[u8], &[u8]) -> LoginOutcome> Users for F {
    fn login(&self, user: &[u8], password: &[u8]) -> LoginOutcome {
        self(user, password)
    }
}

/// How many sessions, on which ports, with how much buffer memory: fixed
/// when the server starts, so its RAM use is known before the first client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Sessions served at once (each has a control and a data socket); a
    /// client beyond them finds no listening socket, and smoltcp refuses
    /// its connection (a TCP reset) until one ends.
    pub sessions: usize,
    /// The control connection's port (21).
    pub control_port: u16,
    /// Ports for passive data listeners, shared out among the sessions:
    /// session `i` uses the range's ports `i`, `i + sessions`, ... in turn,
    /// so it needs at least [`sessions`](Self::sessions) ports.
    pub passive_ports: RangeInclusive<u16>,
    /// First local port for active-mode (PORT, EPRT) data connections;
    /// each session takes its own in turn from the 1,024 ports from here.
    pub active_ports: u16,
    /// Bytes of each control socket's receive and of its send buffer.
    pub control_buffer: usize,
    /// Bytes of each data socket's receive and of its send buffer: the TCP
    /// window, so the throughput on a link with delay.
    pub data_buffer: usize,
}

impl Default for Settings {
    /// Two sessions on port 21, passive ports 50000-50009, 1 KiB control and
    /// 4 KiB data buffers: 20 KiB of socket buffers in all.
    fn default() -> Self {
        Settings {
            sessions: 2,
            control_port: 21,
            passive_ports: 50_000..=50_009,
            active_ports: 40_000,
            control_buffer: 1024,
            data_buffer: 4096,
        }
    }
}

/// Why a [`Server`] cannot start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The core was configured for TLS, which this host cannot do.
    #[error(
        "ServerConfig asks for TLS, which this host does not have: set tls and require_tls to false"
    )]
    TlsUnsupported,
    /// `sessions` is 0.
    #[error("no session places: set Settings::sessions to 1 or more")]
    NoSessions,
    /// Fewer passive ports than sessions (or port 0 in the range).
    #[error(
        "Settings::passive_ports has fewer usable ports than Settings::sessions: give it at least one per session"
    )]
    FewPassivePorts,
    /// The control port is 0.
    #[error("cannot listen on port 0: set Settings::control_port (21, say)")]
    NoControlPort,
    /// A socket buffer too small to hold a reply line or a segment's worth.
    #[error(
        "Settings::control_buffer and data_buffer must be at least 256 bytes (1 KiB and 4 KiB are the defaults)"
    )]
    SmallBuffers,
    /// The 1,024 active-mode ports would include port 0 or pass 65535.
    #[error("Settings::active_ports must be from 1 to 64512 (the 1,024 ports from it are used)")]
    ActivePorts,
}

/// One session place: its two sockets and what runs on them.
#[derive(Debug)]
struct Slot {
    control: SocketHandle,
    data: SocketHandle,
    session: Option<Control>,
    transfer: Option<Transfer>,
    /// How many data listeners and dials this slot has made (picks ports).
    turns: u16,
    /// After a session: when its connection is reset if still closing.
    linger: Option<Instant>,
}

/// The smallest socket buffer [`Settings`] may ask for.
const MIN_BUFFER: usize = 256;

/// How long a finished session's connection may take to close (the
/// client's FIN) before it is reset and its place freed for the next client.
const LINGER: core::time::Duration = core::time::Duration::from_secs(10);

/// A control connection's session and the reply bytes its socket could not take yet.
#[derive(Debug)]
struct Control {
    session: ServerSession,
    unsent: Vec<u8>,
    peer_closed: bool,
}

/// The FTP server: a smoltcp interface, its sockets, the sessions, storage
/// and users. See the [crate docs](crate) for the loop.
pub struct Server<S, U> {
    iface: Interface,
    sockets: SocketSet<'static>,
    config: Arc<ServerConfig>,
    settings: Settings,
    storage: S,
    users: U,
    slots: Vec<Slot>,
}

impl<S: Storage, U: Users> Server<S, U> {
    /// A server on `iface` (its addresses set, its `random_seed` random:
    /// TCP sequence numbers come from it), the core configured by `config`
    /// (without TLS), files in `storage`, logins checked by `users`. All
    /// socket buffers are allocated here.
    pub fn new(
        iface: Interface,
        settings: Settings,
        config: ServerConfig,
        storage: S,
        users: U,
    ) -> Result<Self, Error> {
        if config.tls || config.require_tls {
            return Err(Error::TlsUnsupported);
        }
        if settings.sessions == 0 {
            return Err(Error::NoSessions);
        }
        if settings.control_port == 0 {
            return Err(Error::NoControlPort);
        }
        if settings.control_buffer.min(settings.data_buffer) < MIN_BUFFER {
            return Err(Error::SmallBuffers);
        }
        if !(1..=u16::MAX - 1023).contains(&settings.active_ports) {
            return Err(Error::ActivePorts);
        }
        let ports = &settings.passive_ports;
        if *ports.start() == 0 || passive_count(ports) < settings.sessions {
            return Err(Error::FewPassivePorts);
        }
        let socket = |size: usize| {
            tcp::Socket::new(
                tcp::SocketBuffer::new(vec![0; size]),
                tcp::SocketBuffer::new(vec![0; size]),
            )
        };
        let mut sockets = SocketSet::new(Vec::with_capacity(2 * settings.sessions));
        let slots = (0..settings.sessions)
            .map(|_| {
                let mut control = socket(settings.control_buffer);
                // Only fails for port 0, refused above.
                let _ = control.listen(settings.control_port);
                Slot {
                    control: sockets.add(control),
                    data: sockets.add(socket(settings.data_buffer)),
                    session: None,
                    transfer: None,
                    turns: 0,
                    linger: None,
                }
            })
            .collect();
        Ok(Server {
            iface,
            sockets,
            config: Arc::new(config),
            settings,
            storage,
            users,
            slots,
        })
    }

    /// Runs everything that can run at `now`: the interface takes and sends
    /// frames on `device`, each session reads its commands, answers its
    /// events and moves its transfer's bytes, until nothing more moves.
    /// Returns when to call again at the latest (`None`: only when a frame
    /// arrives).
    pub fn poll<D: Device + ?Sized>(&mut self, now: Instant, device: &mut D) -> Option<Instant> {
        let at = smoltcp_time(now);
        loop {
            self.iface.poll(at, device, &mut self.sockets);
            let mut busy = false;
            for index in 0..self.slots.len() {
                busy |= self.drive(index, now);
            }
            if !busy {
                break;
            }
        }
        let network = self.iface.poll_at(at, &self.sockets).map(|next| {
            Instant::from_duration(core::time::Duration::from_micros(next.total_micros() as u64))
        });
        let sessions = self
            .slots
            .iter()
            .filter_map(|slot| match &slot.session {
                Some(c) => c.session.poll_timeout(),
                None => slot.linger,
            })
            .min();
        match (network, sessions) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The storage (to put files in before clients come, or see what they uploaded).
    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// The storage, to change.
    pub fn storage_mut(&mut self) -> &mut S {
        &mut self.storage
    }

    /// The interface and its socket set, for other sockets of the firmware
    /// (DHCP, say) or a client on the same interface.
    pub fn parts(&mut self) -> (&mut Interface, &mut SocketSet<'static>) {
        (&mut self.iface, &mut self.sockets)
    }

    /// How many sessions are running now.
    pub fn sessions(&self) -> usize {
        self.slots.iter().filter(|s| s.session.is_some()).count()
    }

    /// One slot's round: accept, input, timeouts, output and events, data;
    /// whether anything happened (then the interface has work again).
    fn drive(&mut self, index: usize, now: Instant) -> bool {
        let slot = &mut self.slots[index];
        let control = self.sockets.get_mut::<tcp::Socket>(slot.control);
        let Some(c) = slot.session.as_mut() else {
            return accept(control, slot, &self.config, self.settings.control_port, now);
        };
        let mut busy = false;
        if !c.unsent.is_empty() {
            let sent = control.send_slice(&c.unsent).unwrap_or(0);
            c.unsent.drain(..sent);
            busy |= sent > 0;
        }
        while c.session.wants_input() && control.can_recv() {
            let _ = control.recv(|bytes| {
                c.session.handle_input(now, bytes);
                (bytes.len(), ())
            });
            busy = true;
        }
        if !c.peer_closed && !control.may_recv() {
            // The client's FIN (or RST), after everything it sent.
            c.peer_closed = true;
            c.session.handle_peer_closed();
            busy = true;
        }
        let deadline = c.session.poll_timeout();
        if deadline.is_some_and(|at| at <= now) {
            c.session.handle_timeout(now);
            // Progress only if the deadline moved: a deadline that stays
            // due must not keep the loop spinning.
            busy |= c.session.poll_timeout() != deadline;
        }
        while c.unsent.is_empty() {
            let control = self.sockets.get_mut::<tcp::Socket>(slot.control);
            match c.session.poll_output() {
                Output::Transmit(bytes) => {
                    // A reset connection takes nothing: the bytes are dropped.
                    let sent = control.send_slice(bytes).unwrap_or(bytes.len());
                    c.unsent.extend_from_slice(&bytes[sent..]);
                }
                Output::Event(event) => {
                    let mut cx = Context {
                        iface: &mut self.iface,
                        sockets: &mut self.sockets,
                        storage: &mut self.storage,
                        users: &self.users,
                        settings: &self.settings,
                        index,
                        data: slot.data,
                        transfer: &mut slot.transfer,
                        turns: &mut slot.turns,
                    };
                    cx.serve(event).apply(&mut c.session, now);
                }
                Output::Timeout(_) => break,
                Output::Closed => {
                    control.close();
                    self.sockets.get_mut::<tcp::Socket>(slot.data).abort();
                    slot.session = None;
                    slot.transfer = None;
                    slot.linger = Some(now + LINGER);
                    return true;
                }
            }
            busy = true;
        }
        if let Some(transfer) = slot.transfer.as_mut() {
            let data = self.sockets.get_mut::<tcp::Socket>(slot.data);
            let pumped = transfer.pump(data, &mut self.storage, &mut c.session, now);
            if pumped.over {
                slot.transfer = None;
            }
            busy |= pumped.progress;
        }
        busy
    }
}

/// A free slot: a client connected to its control socket starts a session;
/// a socket whose last connection is over listens again.
fn accept(
    control: &mut tcp::Socket<'_>,
    slot: &mut Slot,
    config: &Arc<ServerConfig>,
    port: u16,
    now: Instant,
) -> bool {
    if !control.is_open() || slot.linger.is_some_and(|until| until <= now) {
        // Closed, in TIME-WAIT after a session, or a client that never
        // closes its side: ready for the next client now.
        control.abort();
        let _ = control.listen(port);
        slot.linger = None;
        return false;
    }
    let connected = matches!(
        control.state(),
        tcp::State::Established | tcp::State::CloseWait
    );
    let (Some(local), Some(peer), true) = (
        control.local_endpoint(),
        control.remote_endpoint(),
        connected,
    ) else {
        return false;
    };
    let session = ServerSession::new(config.clone(), local.into(), peer.into(), now);
    slot.session = Some(Control {
        session,
        unsent: Vec::new(),
        peer_closed: false,
    });
    true
}

/// How many ports the passive range has.
fn passive_count(ports: &RangeInclusive<u16>) -> usize {
    ports.clone().count()
}

/// The smoltcp form of an IPv4 address (this host has no IPv6).
fn ipv4(ip: IpAddr) -> Option<IpAddress> {
    match ip {
        IpAddr::V4(v4) => Some(IpAddress::Ipv4(v4)),
        IpAddr::V6(_) => None,
    }
}

/// The smoltcp endpoint of an IPv4 socket address.
fn endpoint(addr: SocketAddr) -> Option<smoltcp::wire::IpEndpoint> {
    Some(smoltcp::wire::IpEndpoint::new(
        ipv4(addr.ip())?,
        addr.port(),
    ))
}

/// The caller's time on smoltcp's clock (both count from the caller's epoch).
fn smoltcp_time(now: Instant) -> smoltcp::time::Instant {
    smoltcp::time::Instant::from_micros(now.as_duration().as_micros() as i64)
}
