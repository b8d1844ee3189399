//! The PROXY protocol (HAProxy's, versions 1 and 2) on control connections:
//! behind a TCP load balancer every connection comes from the balancer, and
//! the header it sends first names the real client. Only connections from
//! the configured balancers may (and must) send one; the real address then
//! drives the session: logs, per-IP limits, bans, the passive-address
//! policy and the data-connection peer check. Data connections do not go
//! through the balancer (each instance advertises its own address), so they
//! carry no header.
//!
//! The header is parsed by the `ppp` crate; this module keeps the decisions
//! every host shares: who is a balancer, and the reading of the first
//! bytes into a real address plus whatever followed the header. It needs
//! `std` (feature `proxy`), as `ppp` does; no operating system. Only
//! [`starts_with_header`] is there without the feature: a host that does not
//! offer the PROXY protocol still refuses connections that start with a
//! header (the WebAssembly driver's plain server module).

#[cfg(feature = "proxy")]
use alloc::borrow::ToOwned;
#[cfg(feature = "proxy")]
use alloc::string::{String, ToString};
#[cfg(feature = "proxy")]
use alloc::vec::Vec;
#[cfg(feature = "proxy")]
use core::fmt;
#[cfg(feature = "proxy")]
use core::net::{IpAddr, SocketAddr};
#[cfg(feature = "proxy")]
use core::str::FromStr;
#[cfg(feature = "proxy")]
use core::time::Duration;

#[cfg(feature = "proxy")]
use crate::address::IpNet;
#[cfg(feature = "proxy")]
use ppp::{HeaderResult, PartialResult, v1, v2};

#[cfg(feature = "proxy")]
/// The longest header accepted: a v1 header is at most 107 bytes; a v2
/// header's TLVs (HAProxy sends a few) stay far below this.
pub const MAX_HEADER: usize = 4096;

#[cfg(feature = "proxy")]
/// How long a balancer may take to send its header after connecting
/// (HAProxy sends it with the connection's first segment).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The 12 bytes that start every version 2 header.
const V2_SIGNATURE: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";

#[cfg(feature = "proxy")]
/// The balancers allowed to send a PROXY header: addresses or networks,
/// written as in `--proxy-protocol-from 10.0.0.0/8` (a bare address is a
/// network of one).
///
/// ```
/// use ftpwire_core::proxy::Balancers;
/// let balancers: Balancers = "10.0.0.0/8,192.0.2.7".parse().unwrap();
/// assert!(balancers.contains("10.1.2.3".parse().unwrap()));
/// assert!(balancers.contains("::ffff:192.0.2.7".parse().unwrap()));
/// assert!(!balancers.contains("192.0.2.8".parse().unwrap()));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Balancers {
    networks: Vec<IpNet>,
}

/// A `--proxy-protocol-from` value that is not an address or a network.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{} is not an address or a network of load balancers (write 10.0.0.5, 10.0.0.0/24 or fd00::/8)",
    crate::text::Quoted(.0)
)]
#[cfg(feature = "proxy")]
pub struct BalancerError(String);

#[cfg(feature = "proxy")]
impl Balancers {
    /// These networks.
    pub fn new(networks: Vec<IpNet>) -> Self {
        Balancers { networks }
    }

    /// Whether no balancer is configured (the PROXY protocol is off).
    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }

    /// Whether `ip` (IPv4-mapped IPv6 folded to IPv4) is a balancer's.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.networks.iter().any(|net| net.contains(ip))
    }

    /// Adds the networks of another list.
    pub fn extend(&mut self, other: Balancers) {
        self.networks.extend(other.networks);
    }
}

#[cfg(feature = "proxy")]
impl FromStr for Balancers {
    type Err = BalancerError;
    /// Comma-separated addresses or networks.
    fn from_str(s: &str) -> Result<Self, BalancerError> {
        let networks = s
            .split(',')
            .map(|part| {
                let part = part.trim();
                part.parse::<IpNet>()
                    .map_err(|_| BalancerError(part.to_owned()))
            })
            .collect::<Result<_, _>>()?;
        Ok(Balancers { networks })
    }
}

#[cfg(feature = "proxy")]
impl fmt::Display for Balancers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, net) in self.networks.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{net}")?;
        }
        Ok(())
    }
}

#[cfg(feature = "proxy")]
/// What a balancer's header said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxied {
    /// The real client, or `None` when the balancer speaks for itself (a
    /// v2 `LOCAL` header, as in health checks, or v1 `UNKNOWN`): the
    /// connection's own peer stands.
    pub client: Option<SocketAddr>,
    /// Bytes that came after the header (an implicit-FTPS ClientHello, say):
    /// the session's first input.
    pub rest: Vec<u8>,
}

#[cfg(feature = "proxy")]
/// Why a balancer's connection was closed before its session began.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    /// The first bytes are not a PROXY header.
    #[error(
        "no PROXY header from a load balancer (--proxy-protocol-from); enable send-proxy or send-proxy-v2 on its server lines"
    )]
    Missing,
    /// A header that does not parse.
    #[error("malformed PROXY header: {0}")]
    Malformed(String),
    /// Still no complete header after [`MAX_HEADER`] bytes.
    #[error("PROXY header longer than {MAX_HEADER} bytes")]
    TooLong,
    /// The balancer closed the connection first.
    #[error("the load balancer closed the connection before its PROXY header ended")]
    Closed,
    /// The header did not come within [`HEADER_TIMEOUT`].
    // Whole seconds (as Duration's Debug writes them, "10s"), without
    // Duration's Debug formatting, which is large in a small host.
    #[error("no complete PROXY header within {}s", HEADER_TIMEOUT.as_secs())]
    Timeout,
}

#[cfg(feature = "proxy")]
/// Collects a balancer's first bytes until they hold a whole header.
///
/// ```
/// use ftpwire_core::proxy::HeaderReader;
/// let mut reader = HeaderReader::default();
/// assert_eq!(reader.push(b"PROXY TCP4 203.0.113.9 10.0.0.2 4000"), Ok(None));
/// let proxied = reader.push(b"0 21\r\nUSER").unwrap().unwrap();
/// assert_eq!(proxied.client, Some("203.0.113.9:40000".parse().unwrap()));
/// assert_eq!(proxied.rest, b"USER");
/// ```
#[derive(Debug, Default)]
pub struct HeaderReader {
    received: Vec<u8>,
}

#[cfg(feature = "proxy")]
impl HeaderReader {
    /// Adds bytes just read: `Ok(Some(..))` once the header is whole,
    /// `Ok(None)` while more are needed.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Option<Proxied>, ProxyError> {
        self.received.extend_from_slice(bytes);
        let received = &self.received[..];
        if !could_be_header(received) {
            return Err(ProxyError::Missing);
        }
        // A v1 header is one line: ppp reads a line cut short inside a
        // field (`... 40000 ` of a header sent in pieces) as a bad field,
        // not as a part yet to come, so it parses only once the LF is here.
        if received.starts_with(b"PROXY ") && !received.contains(&b'\n') {
            return if received.len() >= MAX_HEADER {
                Err(ProxyError::TooLong)
            } else {
                Ok(None)
            };
        }
        let parsed = HeaderResult::parse(received);
        if parsed.is_incomplete() {
            // A v1 header is one line: once it has ended, a part missing
            // from it will not come.
            if received.starts_with(b"PROXY ") && received.contains(&b'\n') {
                return Err(ProxyError::Malformed(
                    "the v1 header line lacks addresses or ports".into(),
                ));
            }
            return if received.len() >= MAX_HEADER {
                Err(ProxyError::TooLong)
            } else {
                Ok(None)
            };
        }
        let (client, used) = match parsed {
            HeaderResult::V1(Ok(header)) => (v1_client(&header.addresses), header.header.len()),
            HeaderResult::V2(Ok(header)) => (v2_client(&header), header.len()),
            HeaderResult::V1(Err(e)) => return Err(ProxyError::Malformed(e.to_string())),
            HeaderResult::V2(Err(e)) => return Err(ProxyError::Malformed(e.to_string())),
        };
        Ok(Some(Proxied {
            client,
            rest: received[used..].to_vec(),
        }))
    }
}

#[cfg(feature = "proxy")]
/// Whether `bytes` start like a v1 or v2 header (as far as they go).
fn could_be_header(bytes: &[u8]) -> bool {
    let prefix = |sig: &[u8]| {
        let n = bytes.len().min(sig.len());
        bytes[..n] == sig[..n]
    };
    prefix(b"PROXY ") || prefix(V2_SIGNATURE)
}

/// Whether a client's first bytes are a PROXY header, sent where none is
/// expected (a balancer not listed in `--proxy-protocol-from`, or the
/// PROXY protocol not turned on): such a connection is closed.
///
/// ```
/// use ftpwire_core::proxy::starts_with_header;
/// assert!(starts_with_header(b"PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\n"));
/// assert!(!starts_with_header(b"USER alice\r\n"));
/// ```
pub fn starts_with_header(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PROXY ") || bytes.starts_with(V2_SIGNATURE)
}

#[cfg(feature = "proxy")]
fn v1_client(addresses: &v1::Addresses) -> Option<SocketAddr> {
    match addresses {
        v1::Addresses::Tcp4(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
        v1::Addresses::Tcp6(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
        v1::Addresses::Unknown => None,
    }
}

#[cfg(feature = "proxy")]
fn v2_client(header: &v2::Header<'_>) -> Option<SocketAddr> {
    if header.command == v2::Command::Local {
        return None;
    }
    match &header.addresses {
        v2::Addresses::IPv4(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
        v2::Addresses::IPv6(a) => Some(SocketAddr::from((a.source_address, a.source_port))),
        v2::Addresses::Unspecified | v2::Addresses::Unix(_) => None,
    }
}

#[cfg(all(test, feature = "proxy"))]
mod tests {
    use super::*;

    /// The timeout's message names the timeout as Duration's Debug would
    /// ("10s"), though it is written from whole seconds.
    #[test]
    fn timeout_message_names_the_timeout() {
        assert_eq!(
            ProxyError::Timeout.to_string(),
            std::format!("no complete PROXY header within {HEADER_TIMEOUT:?}")
        );
        assert_eq!(HEADER_TIMEOUT.subsec_nanos(), 0, "whole seconds only");
    }

    /// A v1 header arriving in pieces (a writer's formatted pieces, or TCP
    /// segments) is whole only at its LF, wherever it was cut.
    #[test]
    fn v1_header_in_pieces() {
        let header = b"PROXY TCP4 127.0.0.13 127.0.0.1 40000 2121\r\nUSER a\r\n";
        for cut in 1..header.len() - 10 {
            let mut reader = HeaderReader::default();
            assert_eq!(reader.push(&header[..cut]), Ok(None), "cut at {cut}");
            let proxied = reader.push(&header[cut..]).unwrap().unwrap();
            assert_eq!(proxied.client, Some("127.0.0.13:40000".parse().unwrap()));
            assert_eq!(proxied.rest, b"USER a\r\n");
        }
    }

    #[test]
    fn v2_header_with_the_rest() {
        let header = v2::Builder::with_addresses(
            v2::Version::Two | v2::Command::Proxy,
            v2::Protocol::Stream,
            v2::IPv6::new(
                "2001:db8::7".parse::<std::net::Ipv6Addr>().unwrap(),
                "2001:db8::1".parse::<std::net::Ipv6Addr>().unwrap(),
                5000,
                21,
            ),
        )
        .build()
        .unwrap();
        let mut bytes = header.clone();
        bytes.extend_from_slice(b"\x16\x03\x01");
        let mut reader = HeaderReader::default();
        // One byte at a time: incomplete until the last header byte.
        for b in &bytes[..header.len() - 1] {
            assert_eq!(reader.push(&[*b]), Ok(None));
        }
        let proxied = reader.push(&bytes[header.len() - 1..]).unwrap().unwrap();
        assert_eq!(proxied.client, Some("[2001:db8::7]:5000".parse().unwrap()));
        assert_eq!(proxied.rest, b"\x16\x03\x01");
    }

    #[test]
    fn local_and_unknown_keep_the_connection_peer() {
        let local = v2::Builder::with_addresses(
            v2::Version::Two | v2::Command::Local,
            v2::Protocol::Unspecified,
            v2::Addresses::Unspecified,
        )
        .build()
        .unwrap();
        let proxied = HeaderReader::default().push(&local).unwrap().unwrap();
        assert_eq!(proxied.client, None);
        let proxied = HeaderReader::default()
            .push(b"PROXY UNKNOWN\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(proxied.client, None);
    }

    #[test]
    fn refusals() {
        let mut reader = HeaderReader::default();
        assert_eq!(reader.push(b"USER alice\r\n"), Err(ProxyError::Missing));
        let mut reader = HeaderReader::default();
        let r = reader.push(b"PROXY TCP4 nonsense here\r\n");
        assert!(matches!(r, Err(ProxyError::Malformed(_))), "{r:?}");
        let mut reader = HeaderReader::default();
        let mut long = b"PROXY TCP4 ".to_vec();
        long.resize(MAX_HEADER + 1, b'1');
        assert!(reader.push(&long).is_err());
        assert!("10.0.0.0/33".parse::<Balancers>().is_err());
        assert!("nobody".parse::<Balancers>().is_err());
        let both: Balancers = "10.9.0.0/16, 2001:db8::1".parse().unwrap();
        assert_eq!(both.to_string(), "10.9.0.0/16,2001:db8::1/128");
        assert!(both.contains("10.9.200.1".parse().unwrap()));
    }
}
