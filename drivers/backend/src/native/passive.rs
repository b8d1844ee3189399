//! Passive data listeners: ports from the operator's range (the range the
//! firewall lets through), each shared by sessions of different client IPs
//! and its connections matched to them by source address; and the
//! configured external hostname resolved at each PASV, so a public IP that
//! changes keeps working.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use ftpwire_core::address::canonical_ip;
use ftpwire_core::server::PassiveError;

/// An inclusive range of TCP ports for passive listeners, written `LO-HI`.
///
/// ```
/// use ftpwire_backend::native::passive::PortRange;
/// let range: PortRange = "50000-50100".parse().unwrap();
/// assert_eq!((range.first(), range.last(), range.len()), (50000, 50100, 101));
/// assert!("50100-50000".parse::<PortRange>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    first: u16,
    last: u16,
}

/// A port range that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortRangeError {
    /// Not `LO-HI` with two port numbers.
    #[error("passive port range {0:?} is not LO-HI (e.g. 50000-50100)")]
    Malformed(String),
    /// LO is 0 or greater than HI.
    #[error("passive port range {0:?} must have 1 <= LO <= HI")]
    Empty(String),
}

impl PortRange {
    /// The ports `first..=last`; `None` unless `1 <= first <= last`.
    pub fn new(first: u16, last: u16) -> Option<Self> {
        (first >= 1 && first <= last).then_some(PortRange { first, last })
    }

    /// The lowest port.
    pub fn first(&self) -> u16 {
        self.first
    }

    /// The highest port.
    pub fn last(&self) -> u16 {
        self.last
    }

    /// How many ports (at least one).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u32 {
        u32::from(self.last - self.first) + 1
    }
}

impl FromStr for PortRange {
    type Err = PortRangeError;
    fn from_str(s: &str) -> Result<Self, PortRangeError> {
        let malformed = || PortRangeError::Malformed(s.to_owned());
        let (lo, hi) = s.trim().split_once('-').ok_or_else(malformed)?;
        let lo: u16 = lo.trim().parse().map_err(|_| malformed())?;
        let hi: u16 = hi.trim().parse().map_err(|_| malformed())?;
        PortRange::new(lo, hi).ok_or_else(|| PortRangeError::Empty(s.to_owned()))
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

/// Where a passive port hands a session its data connection: the driver's
/// end of the wait (a slot and a wake-up on a thread driver, a channel on
/// an async one).
pub trait DataInbox: Send + Sync {
    /// The data connection from the holder's client has been accepted (the
    /// hold is over: no second one comes). Blocking mode is as accepted.
    fn deliver(&self, stream: TcpStream);
}

/// A driver's loop accepting on one passive listener, each connection
/// handed to [`PortWaiters::dispatch`]; dropping it stops the loop and
/// closes the listener.
pub type AcceptLoop = Box<dyn Any + Send + Sync>;

/// How a driver starts the [`AcceptLoop`] of a listener just opened.
pub type StartAccept<'a> = &'a dyn Fn(TcpListener, Arc<PortWaiters>) -> io::Result<AcceptLoop>;

/// The sessions waiting for a data connection on one passive port, by
/// their client's IP: at most one per IP, so the source address of an
/// accepted connection says whose it is (as ftpserverlib and libunftp do).
pub struct PortWaiters {
    port: u16,
    holders: Mutex<HashMap<IpAddr, Arc<dyn DataInbox>>>,
}

impl PortWaiters {
    fn new(port: u16) -> Arc<Self> {
        Arc::new(PortWaiters {
            port,
            holders: Mutex::default(),
        })
    }

    fn holders(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Arc<dyn DataInbox>>> {
        self.holders.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// An accepted connection from `from`: handed to the session of that
    /// client IP waiting on this port (its hold ends), or closed: no session
    /// of that address asked for it (RFC 2577 data theft, or a client that
    /// connected twice).
    pub fn dispatch(&self, stream: TcpStream, from: SocketAddr) {
        let ip = canonical_ip(from.ip());
        let inbox = self.holders().remove(&ip);
        match inbox {
            Some(inbox) => inbox.deliver(stream),
            None => log::warn!(
                "refused a data connection from {from} on passive port {}: no session of {ip} is waiting for one (RFC 2577)",
                self.port
            ),
        }
    }
}

impl fmt::Debug for PortWaiters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let clients: Vec<IpAddr> = self.holders().keys().copied().collect();
        f.debug_struct("PortWaiters")
            .field("port", &self.port)
            .field("clients", &clients)
            .finish()
    }
}

/// An open passive listener: who waits on it, and the driver's accept loop.
struct OpenPort {
    waiters: Arc<PortWaiters>,
    _accept: AcceptLoop,
}

/// The passive listeners of one server, shared by its sessions.
///
/// With a port range, each port has at most one listening socket, opened
/// when first needed and kept open while the server lives (so a port is
/// never closed and bound again between two transfers, which could fail
/// while the old socket lingers), and handed to any number of sessions at
/// once as long as their clients have different IPs: 5 ports serve 500
/// passive transfers from distinct clients. Two sessions of one IP never
/// share a port; a session gets [`PassiveError::NoFreePort`] only when its
/// IP holds every port (or the others are taken by other programs).
///
/// Without a range every PASV gets a listener of its own on a port the OS
/// picks, closed when its hold ends: no other session could be told that
/// port anyway, and ports are not scarce then. Both go through the same
/// [`PassiveHold`], so a driver has one way to wait for a connection.
#[derive(Default)]
pub struct PassivePorts {
    range: Option<PortRange>,
    next: AtomicU32,
    open: Mutex<HashMap<(IpAddr, u16), Arc<OpenPort>>>,
}

impl fmt::Debug for PassivePorts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PassivePorts")
            .field("range", &self.range)
            .field("open", &self.open.lock().map(|o| o.len()).unwrap_or(0))
            .finish()
    }
}

/// One session's claim on a passive port: a data connection from
/// `client` accepted on it goes to the session's inbox. Dropped (a new
/// PASV/EPSV, PORT, the session's end) it lets the IP take the port again;
/// delivering the connection ends it too.
pub struct PassiveHold {
    port: Arc<OpenPort>,
    client: IpAddr,
    inbox: Arc<dyn DataInbox>,
}

impl PassiveHold {
    /// The port the listener is bound on.
    pub fn port(&self) -> u16 {
        self.port.waiters.port
    }
}

impl fmt::Debug for PassiveHold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PassiveHold")
            .field("port", &self.port())
            .field("client", &self.client)
            .finish()
    }
}

impl Drop for PassiveHold {
    fn drop(&mut self) {
        let mut holders = self.port.waiters.holders();
        // Delivered already, and maybe the IP's next session holds it now.
        if holders
            .get(&self.client)
            .is_some_and(|inbox| Arc::ptr_eq(inbox, &self.inbox))
        {
            holders.remove(&self.client);
        }
    }
}

impl PassivePorts {
    /// Ports from `range`, or any port the OS picks when `None`.
    pub fn new(range: Option<PortRange>) -> Self {
        PassivePorts {
            range,
            next: AtomicU32::new(0),
            open: Mutex::default(),
        }
    }

    /// The configured range, if any.
    pub fn range(&self) -> Option<PortRange> {
        self.range
    }

    /// A port on `bind` (IPv4-mapped addresses bind as IPv4) whose data
    /// connection from `client` goes to `inbox`: a listener of the range
    /// that `client` does not hold yet, opened (and its loop started with
    /// `start`) if it is not open; [`PassiveError::NoFreePort`] when there
    /// is none.
    ///
    /// ```
    /// use std::net::TcpStream;
    /// use std::sync::{Arc, Mutex};
    /// use ftpwire_backend::native::passive::{AcceptLoop, DataInbox, PassivePorts};
    ///
    /// #[derive(Default)]
    /// struct Slot(Mutex<Option<TcpStream>>);
    /// impl DataInbox for Slot {
    ///     fn deliver(&self, stream: TcpStream) {
    ///         *self.0.lock().unwrap() = Some(stream);
    ///     }
    /// }
    ///
    /// let ports = PassivePorts::new(None);
    /// let localhost = "127.0.0.1".parse().unwrap();
    /// let slot = Arc::new(Slot::default());
    /// // A loop accepting one connection, on this thread for the example.
    /// let hold = ports
    ///     .hold(localhost, localhost, slot.clone(), &|listener, waiters| {
    ///         let port = listener.local_addr()?.port();
    ///         let client = TcpStream::connect(("127.0.0.1", port))?;
    ///         let (stream, from) = listener.accept()?;
    ///         waiters.dispatch(stream, from);
    ///         Ok(Box::new(client) as AcceptLoop)
    ///     })
    ///     .unwrap();
    /// assert_ne!(hold.port(), 0);
    /// assert!(slot.0.lock().unwrap().is_some(), "delivered by source address");
    /// ```
    pub fn hold(
        &self,
        bind: IpAddr,
        client: IpAddr,
        inbox: Arc<dyn DataInbox>,
        start: StartAccept<'_>,
    ) -> Result<PassiveHold, PassiveError> {
        let (bind, client) = (canonical_ip(bind), canonical_ip(client));
        let Some(range) = self.range else {
            let listener = TcpListener::bind((bind, 0)).map_err(|error| {
                log::warn!("cannot open a passive listener on {bind}: {error}");
                PassiveError::NoFreePort
            })?;
            let port = open_port(listener, bind, client, &inbox, start)?;
            return Ok(PassiveHold {
                port,
                client,
                inbox,
            });
        };
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let start_at = self.next.fetch_add(1, Ordering::Relaxed) % range.len();
        for step in 0..range.len() {
            let port = (range.first() as u32 + (start_at + step) % range.len()) as u16;
            if let Some(entry) = open.get(&(bind, port)) {
                let mut holders = entry.waiters.holders();
                if holders.contains_key(&client) {
                    continue;
                }
                holders.insert(client, inbox.clone());
                drop(holders);
                return Ok(PassiveHold {
                    port: entry.clone(),
                    client,
                    inbox,
                });
            }
            let listener = match TcpListener::bind((bind, port)) {
                Ok(listener) => listener,
                Err(error) if error.kind() == io::ErrorKind::AddrInUse => continue,
                Err(error) => {
                    log::warn!("cannot open a passive listener on {bind}:{port}: {error}");
                    return Err(PassiveError::NoFreePort);
                }
            };
            let entry = open_port(listener, bind, client, &inbox, start)?;
            open.insert((bind, port), entry.clone());
            return Ok(PassiveHold {
                port: entry,
                client,
                inbox,
            });
        }
        log::warn!(
            "no passive port in {range} on {bind} for {client}: it holds the others, or they are in use"
        );
        Err(PassiveError::NoFreePort)
    }
}

/// Starts the accept loop of a listener just bound, with `client` waiting.
fn open_port(
    listener: TcpListener,
    bind: IpAddr,
    client: IpAddr,
    inbox: &Arc<dyn DataInbox>,
    start: StartAccept<'_>,
) -> Result<Arc<OpenPort>, PassiveError> {
    let port = listener
        .local_addr()
        .map_err(|_| PassiveError::NoFreePort)?
        .port();
    let waiters = PortWaiters::new(port);
    waiters.holders().insert(client, inbox.clone());
    let accept = start(listener, waiters.clone()).map_err(|error| {
        log::warn!("cannot accept on passive port {bind}:{port}: {error}");
        PassiveError::NoFreePort
    })?;
    Ok(Arc::new(OpenPort {
        waiters,
        _accept: accept,
    }))
}

/// Does what an `OpenPassive` event asks, blocking (DNS): resolves
/// `resolve` if given, then holds a port of `ports` on `bind` for the
/// control connection's `peer`. Every driver answers the session from
/// this result (the hold's port, the resolved address).
pub fn open_passive(
    ports: &PassivePorts,
    bind: IpAddr,
    resolve: Option<&str>,
    peer: SocketAddr,
    inbox: Arc<dyn DataInbox>,
    start: StartAccept<'_>,
) -> Result<(PassiveHold, Option<IpAddr>), PassiveError> {
    let resolved = resolve_for_passive(resolve, bind, peer)?;
    let hold = ports.hold(bind, peer.ip(), inbox, start)?;
    Ok((hold, resolved))
}

/// The `OpenPassive` event's hostname resolved (blocking), logged with the
/// control connection's `peer` when it does not resolve.
pub fn resolve_for_passive(
    resolve: Option<&str>,
    bind: IpAddr,
    peer: SocketAddr,
) -> Result<Option<IpAddr>, PassiveError> {
    let Some(name) = resolve else {
        return Ok(None);
    };
    resolve_passive_address(name, bind)
        .inspect_err(|_| log::warn!("{peer}: PASV refused: passive address {name} did not resolve"))
        .map(Some)
}

/// Resolves the external passive `hostname`, preferring an address of the
/// same family as `like` (the listener's IP): a PASV reply on an IPv4 control
/// connection can only carry an IPv4 address.
pub fn resolve_passive_address(hostname: &str, like: IpAddr) -> Result<IpAddr, PassiveError> {
    let addrs: Vec<SocketAddr> = match (hostname, 0).to_socket_addrs() {
        Ok(addrs) => addrs.collect(),
        Err(error) => {
            log::warn!("cannot resolve passive address {hostname}: {error}");
            return Err(PassiveError::Unresolved);
        }
    };
    let want_v4 = canonical_ip(like).is_ipv4();
    let ips = addrs.iter().map(|a| canonical_ip(a.ip()));
    let same_family = ips.clone().find(|ip| ip.is_ipv4() == want_v4);
    match same_family.or_else(|| ips.clone().next()) {
        Some(ip) => Ok(ip),
        None => {
            log::warn!("passive address {hostname} resolved to no address");
            Err(PassiveError::Unresolved)
        }
    }
}

/// A data connection in a driver's hands: `T` its TCP stream, `S` the
/// stream bytes move on (TLS under PROT P, or the TCP stream itself).
#[derive(Debug)]
pub enum DataConnection<T, S> {
    /// Connected, not (yet) secured.
    Tcp(T),
    /// Ready for bytes: secured, or plain once the move began.
    Ready(S),
}

impl<T, S> DataConnection<T, S> {
    /// The stream to move bytes on: as it is, or `plain` around the TCP
    /// stream (no TLS asked for).
    pub fn into_ready(self, plain: impl FnOnce(T) -> S) -> S {
        match self {
            DataConnection::Tcp(tcp) => plain(tcp),
            DataConnection::Ready(stream) => stream,
        }
    }
}

/// A passive data connection taken before its transfer command: under PROT
/// P a driver starts its TLS handshake at once if the client does (aioftp),
/// and waits for the `150` otherwise (ftplib), so both get what they expect.
#[derive(Debug)]
pub enum EarlyData<T, S> {
    /// The client sent nothing before the command (ftplib, curl): TLS, if
    /// any, starts after the 150 as usual.
    Plain(T),
    /// Secured before the command (aioftp).
    Secured(S),
    /// Its handshake failed.
    Failed,
}

impl<T, S> EarlyData<T, S> {
    /// The data connection the transfer takes from it; `None` when its
    /// handshake failed, or it was secured but the transfer is not
    /// protected (PROT C came in between).
    pub fn into_data(self, protected: bool) -> Option<DataConnection<T, S>> {
        match self {
            EarlyData::Plain(tcp) => Some(DataConnection::Tcp(tcp)),
            EarlyData::Secured(secured) if protected => Some(DataConnection::Ready(secured)),
            EarlyData::Secured(_) => {
                log::info!("a data connection secured under PROT P is not used after PROT C");
                None
            }
            EarlyData::Failed => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_ranges_parse_strictly() {
        assert_eq!("1-1".parse(), Ok(PortRange { first: 1, last: 1 }));
        assert_eq!(" 2000 - 2010 ".parse::<PortRange>().unwrap().len(), 11);
        for bad in ["", "5", "5-", "-5", "a-b", "1-2-3", "70000-70001", "1,2"] {
            assert!(
                matches!(bad.parse::<PortRange>(), Err(PortRangeError::Malformed(_))),
                "{bad:?}"
            );
        }
        for empty in ["0-10", "10-9"] {
            assert!(
                matches!(empty.parse::<PortRange>(), Err(PortRangeError::Empty(_))),
                "{empty:?}"
            );
        }
        assert_eq!(PortRange::new(7, 9).unwrap().to_string(), "7-9");
    }

    /// A run of `n` consecutive ports that are free right now on loopback.
    fn free_range(n: u16) -> PortRange {
        for _ in 0..50 {
            let probe = TcpListener::bind("127.0.0.1:0").unwrap();
            let first = probe.local_addr().unwrap().port();
            drop(probe);
            let Some(last) = first.checked_add(n - 1) else {
                continue;
            };
            let all_free = (first..=last).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok());
            if all_free {
                return PortRange::new(first, last).unwrap();
            }
        }
        panic!("no free port run on loopback");
    }

    /// Keeps what it is handed, and says when.
    #[derive(Default)]
    struct Slot {
        stream: Mutex<Option<TcpStream>>,
        arrived: std::sync::Condvar,
    }

    impl DataInbox for Slot {
        fn deliver(&self, stream: TcpStream) {
            *self.stream.lock().unwrap() = Some(stream);
            self.arrived.notify_all();
        }
    }

    impl Slot {
        /// The delivered connection's source, waiting at most 10 s for it.
        fn source(&self) -> Option<SocketAddr> {
            let guard = self.stream.lock().unwrap();
            let (guard, _) = self
                .arrived
                .wait_timeout_while(guard, std::time::Duration::from_secs(10), |s| s.is_none())
                .unwrap();
            guard.as_ref().map(|s| s.peer_addr().unwrap())
        }

        fn is_empty(&self) -> bool {
            self.stream.lock().unwrap().is_none()
        }
    }

    /// A blocking accept loop on its own thread, woken by a connection
    /// to stop; counts what it accepted.
    struct TestLoop {
        stop: Arc<std::sync::atomic::AtomicBool>,
        addr: SocketAddr,
        thread: Option<std::thread::JoinHandle<()>>,
    }

    impl Drop for TestLoop {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::SeqCst);
            let _ = TcpStream::connect(self.addr);
            let _ = self.thread.take().unwrap().join();
        }
    }

    fn start_loop(
        accepted: &Arc<AtomicU32>,
    ) -> impl Fn(TcpListener, Arc<PortWaiters>) -> io::Result<AcceptLoop> + '_ {
        move |listener, waiters| {
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let addr = listener.local_addr()?;
            let (stopped, accepted) = (stop.clone(), accepted.clone());
            let thread = std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stopped.load(Ordering::SeqCst) {
                        return;
                    }
                    let stream = stream.unwrap();
                    let from = stream.peer_addr().unwrap();
                    accepted.fetch_add(1, Ordering::SeqCst);
                    waiters.dispatch(stream, from);
                }
            });
            Ok(Box::new(TestLoop {
                stop,
                addr,
                thread: Some(thread),
            }) as AcceptLoop)
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    /// `from` connects to `port` on loopback.
    fn connect_from(from: &str, port: u16) -> TcpStream {
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket.bind(&SocketAddr::new(ip(from), 0).into()).unwrap();
        socket
            .connect(&SocketAddr::new(ip("127.0.0.1"), port).into())
            .unwrap();
        socket.into()
    }

    #[test]
    fn one_client_ip_takes_each_port_of_the_range_once() {
        let range = free_range(3);
        let ports = PassivePorts::new(Some(range));
        let accepted = Arc::new(AtomicU32::new(0));
        let start = start_loop(&accepted);
        let hold = |client: &str| {
            ports.hold(
                ip("127.0.0.1"),
                ip(client),
                Arc::new(Slot::default()),
                &start,
            )
        };
        let mut held: Vec<PassiveHold> = (0..3).map(|_| hold("127.0.0.2").unwrap()).collect();
        let mut got: Vec<u16> = held.iter().map(PassiveHold::port).collect();
        got.sort();
        assert_eq!(got, (range.first()..=range.last()).collect::<Vec<_>>());
        assert_eq!(hold("127.0.0.2").unwrap_err(), PassiveError::NoFreePort);
        // Another IP shares the ports; so does the mapped form of a third.
        let other = hold("127.0.0.3").unwrap();
        assert!(got.contains(&other.port()));
        assert!(hold("::ffff:127.0.0.4").is_ok());
        // A released hold gives the IP its port back.
        let freed = held.remove(1).port();
        assert_eq!(hold("127.0.0.2").unwrap().port(), freed);
        assert_eq!(ports.open.lock().unwrap().len(), 3, "one listener per port");
    }

    #[test]
    fn a_shared_port_delivers_each_connection_to_its_source_ip() {
        let range = free_range(1);
        let ports = PassivePorts::new(Some(range));
        let accepted = Arc::new(AtomicU32::new(0));
        let start = start_loop(&accepted);
        let slots: Vec<Arc<Slot>> = (0..3).map(|_| Arc::default()).collect();
        let holds: Vec<PassiveHold> = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
            .iter()
            .zip(&slots)
            .map(|(client, slot)| {
                let inbox: Arc<dyn DataInbox> = slot.clone();
                ports
                    .hold(ip("127.0.0.1"), ip(client), inbox, &start)
                    .unwrap()
            })
            .collect();
        assert!(holds.iter().all(|h| h.port() == range.first()));
        let _c3 = connect_from("127.0.0.3", range.first());
        let _c2 = connect_from("127.0.0.2", range.first());
        assert_eq!(slots[0].source().unwrap().ip(), ip("127.0.0.2"));
        assert_eq!(slots[1].source().unwrap().ip(), ip("127.0.0.3"));
        // A second connection from 127.0.0.2 (its hold is over) and one from
        // an IP nobody holds for are closed, never delivered.
        for stranger in ["127.0.0.2", "127.0.0.9"] {
            let mut refused = connect_from(stranger, range.first());
            refused
                .set_read_timeout(Some(std::time::Duration::from_secs(10)))
                .unwrap();
            let mut byte = [0u8; 1];
            use std::io::Read;
            assert!(
                matches!(refused.read(&mut byte), Ok(0) | Err(_)),
                "{stranger}: closed"
            );
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 4);
        assert!(slots[2].is_empty(), "127.0.0.4 never connected");
        // The IP whose connection came may hold the port again at once.
        let again = ports.hold(
            ip("127.0.0.1"),
            ip("127.0.0.2"),
            Arc::new(Slot::default()),
            &start,
        );
        assert_eq!(again.unwrap().port(), range.first());
    }

    #[test]
    fn without_a_range_each_hold_has_a_listener_of_its_own_until_dropped() {
        let ports = PassivePorts::new(None);
        let accepted = Arc::new(AtomicU32::new(0));
        let start = start_loop(&accepted);
        let localhost = ip("127.0.0.1");
        let a = ports.hold(localhost, localhost, Arc::new(Slot::default()), &start);
        let b = ports.hold(localhost, localhost, Arc::new(Slot::default()), &start);
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_ne!(a.port(), b.port());
        let port = a.port();
        drop(a);
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "the listener closed with its hold"
        );
    }

    #[test]
    fn ipv4_mapped_binds_as_ipv4() {
        let ports = PassivePorts::new(None);
        let accepted = Arc::new(AtomicU32::new(0));
        let mapped = ip("::ffff:127.0.0.1");
        let seen = Mutex::new(None);
        let start = |listener: TcpListener, waiters| {
            *seen.lock().unwrap() = Some(listener.local_addr()?);
            start_loop(&accepted)(listener, waiters)
        };
        let _hold = ports.hold(mapped, mapped, Arc::new(Slot::default()), &start);
        assert!(seen.lock().unwrap().unwrap().is_ipv4());
    }

    #[test]
    fn resolving_prefers_the_listener_family() {
        let v4 = "127.0.0.1".parse().unwrap();
        assert_eq!(resolve_passive_address("127.0.0.1", v4), Ok(v4));
        // From /etc/hosts: no query leaves the machine.
        assert_eq!(
            resolve_passive_address("localhost", v4).map(|ip| ip.is_ipv4()),
            Ok(true)
        );
    }
}
