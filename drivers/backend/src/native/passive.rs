//! Passive data listeners: picking a port from the operator's range (the
//! range the firewall lets through) and resolving the configured external
//! hostname at each PASV, so a public IP that changes keeps working.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener, ToSocketAddrs};
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};

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

/// Binds passive listeners for all sessions of one server, spreading them
/// over the range so sessions do not all race for its first port.
#[derive(Debug, Default)]
pub struct PassivePorts {
    range: Option<PortRange>,
    next: AtomicU32,
}

impl PassivePorts {
    /// Ports from `range`, or any port the OS picks when `None`.
    pub fn new(range: Option<PortRange>) -> Self {
        PassivePorts {
            range,
            next: AtomicU32::new(0),
        }
    }

    /// The configured range, if any.
    pub fn range(&self) -> Option<PortRange> {
        self.range
    }

    /// A listener on `ip` (IPv4-mapped addresses bind as IPv4) with a port
    /// from the range; [`PassiveError::NoFreePort`] when every port is taken.
    ///
    /// ```
    /// use ftpwire_backend::native::passive::PassivePorts;
    /// let ports = PassivePorts::new(None);
    /// let listener = ports.bind("127.0.0.1".parse().unwrap()).unwrap();
    /// assert_ne!(listener.local_addr().unwrap().port(), 0);
    /// ```
    pub fn bind(&self, ip: IpAddr) -> Result<TcpListener, PassiveError> {
        let ip = canonical_ip(ip);
        let Some(range) = self.range else {
            return TcpListener::bind((ip, 0)).map_err(|error| {
                log::warn!("cannot open a passive listener on {ip}: {error}");
                PassiveError::NoFreePort
            });
        };
        let start = self.next.fetch_add(1, Ordering::Relaxed) % range.len();
        for step in 0..range.len() {
            let port = range.first() as u32 + (start + step) % range.len();
            match TcpListener::bind((ip, port as u16)) {
                Ok(listener) => return Ok(listener),
                Err(error) if error.kind() == io::ErrorKind::AddrInUse => continue,
                Err(error) => {
                    log::warn!("cannot open a passive listener on {ip}:{port}: {error}");
                    return Err(PassiveError::NoFreePort);
                }
            }
        }
        log::warn!("every passive port in {range} on {ip} is in use");
        Err(PassiveError::NoFreePort)
    }
}

/// A passive listener opened for an `OpenPassive` event: the listener, its
/// port, and the masquerade address if a hostname had to be resolved.
pub type OpenedPassive = (TcpListener, u16, Option<IpAddr>);

/// Does what an `OpenPassive` event asks, blocking (DNS): resolves
/// `resolve` if given, then binds a port of `ports` on `bind`. Every driver
/// answers the session from this result.
pub fn open_passive(
    ports: &PassivePorts,
    bind: IpAddr,
    resolve: Option<&str>,
    peer: SocketAddr,
) -> Result<OpenedPassive, PassiveError> {
    let resolved = match resolve {
        None => None,
        Some(name) => Some(resolve_passive_address(name, bind).inspect_err(|_| {
            log::warn!("{peer}: PASV refused: passive address {name} did not resolve")
        })?),
    };
    let listener = ports.bind(bind)?;
    let port = listener
        .local_addr()
        .map_err(|_| PassiveError::NoFreePort)?
        .port();
    Ok((listener, port, resolved))
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

    #[test]
    fn listeners_take_ports_from_the_range_until_it_is_exhausted() {
        let range = free_range(3);
        let ports = PassivePorts::new(Some(range));
        let ip = "127.0.0.1".parse().unwrap();
        let held: Vec<TcpListener> = (0..3).map(|_| ports.bind(ip).unwrap()).collect();
        let mut got: Vec<u16> = held
            .iter()
            .map(|l| l.local_addr().unwrap().port())
            .collect();
        got.sort();
        assert_eq!(got, (range.first()..=range.last()).collect::<Vec<_>>());
        assert_eq!(ports.bind(ip).unwrap_err(), PassiveError::NoFreePort);
        drop(held);
        assert!(ports.bind(ip).is_ok());
    }

    #[test]
    fn ipv4_mapped_binds_as_ipv4() {
        let ports = PassivePorts::new(None);
        let listener = ports.bind("::ffff:127.0.0.1".parse().unwrap()).unwrap();
        assert!(listener.local_addr().unwrap().is_ipv4());
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
