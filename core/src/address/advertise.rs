//! The host's say in what a PASV (227) or EPSV (229) reply advertises.
//!
//! Behind a port-mapping NAT or a Kubernetes NodePort the port a client
//! must dial is not the port the listener is bound on, and the address may
//! depend on more than the [`PassivePolicy`](super::PassivePolicy) knows.
//! A [`PassiveAdvertiser`] set in
//! [`ServerConfig::passive_advertiser`](crate::ServerConfig::passive_advertiser)
//! is asked once per PASV/EPSV, after the host has bound the listener; the
//! policy's choice is what it is given, and what it returns unless it is
//! told otherwise. It is a pure decision (no I/O), so it runs inside the
//! core like the policy itself: a hostname to resolve still goes through the
//! host (`OpenPassive::resolve`) before it is asked.

use alloc::vec::Vec;
use core::fmt;
use core::net::SocketAddr;

use super::AddressError;

/// What an advertiser knows about one PASV/EPSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PassiveRequest {
    /// The client's control-connection address.
    pub peer: SocketAddr,
    /// The control connection's local address (the listener is bound on its IP).
    pub local: SocketAddr,
    /// The port the host bound the listener on.
    pub bound_port: u16,
    /// EPSV: the 229 reply carries only the port.
    pub extended: bool,
    /// The control channel is protected by TLS (no NAT helper can rewrite the reply).
    pub secured: bool,
    /// What the server's passive policy advertises: the policy's address
    /// (the local one for EPSV) with the bound port.
    pub policy: SocketAddr,
}

/// Chooses the address and port a PASV reply advertises (only the port,
/// for EPSV) to one session's client.
///
/// The provided method is today's policy: whatever
/// [`PassiveRequest::policy`] says. A NodePort-style mapping overrides it:
///
/// ```
/// use std::net::SocketAddr;
/// use std::sync::Arc;
/// use ftpwire_core::address::{PassiveAdvertiser, PassiveRequest};
/// use ftpwire_core::ServerConfig;
///
/// /// Listeners bound on 50000-50009 are reached through 30000-30009.
/// #[derive(Debug)]
/// struct NodePorts;
///
/// impl PassiveAdvertiser for NodePorts {
///     fn advertise(&self, request: &PassiveRequest) -> SocketAddr {
///         let port = request.bound_port - 50000 + 30000;
///         SocketAddr::new(request.policy.ip(), port)
///     }
/// }
///
/// let config = ServerConfig {
///     passive_advertiser: Some(Arc::new(NodePorts)),
///     ..ServerConfig::default()
/// };
/// # let _ = config;
/// ```
pub trait PassiveAdvertiser: Send + Sync {
    /// The address (PASV) and port (PASV and EPSV) to advertise. An IPv6
    /// address cannot go into a 227 reply: the client then gets `425`.
    fn advertise(&self, request: &PassiveRequest) -> SocketAddr {
        request.policy
    }
}

/// An advertiser prints as its name only: a `Debug` supertrait would keep
/// every implementation's `Debug` code in a trait object's vtable (and so
/// in the WebAssembly module) though nothing prints it.
impl fmt::Debug for dyn PassiveAdvertiser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PassiveAdvertiser")
    }
}

/// A fixed translation of bound ports to advertised ones (a port-mapping
/// NAT's or a set of NodePorts' table), written `BOUND:ADVERTISED` or
/// `LO-HI:ADVERTISED_LO` for a run of ports, several separated by commas.
/// Ports it does not name are advertised as they are; the address is the
/// policy's.
///
/// ```
/// use ftpwire_core::address::PassivePortMap;
/// let map: PassivePortMap = "50000-50009:30000,50100:2121".parse().unwrap();
/// assert_eq!(map.advertised(50003), 30003);
/// assert_eq!(map.advertised(50100), 2121);
/// assert_eq!(map.advertised(50200), 50200);
/// assert!("50009-50000:1".parse::<PassivePortMap>().is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassivePortMap {
    /// `(first bound, last bound, first advertised)`.
    runs: Vec<(u16, u16, u16)>,
}

impl PassivePortMap {
    /// The port advertised for a listener bound on `bound`.
    pub fn advertised(&self, bound: u16) -> u16 {
        self.runs
            .iter()
            .find(|(first, last, _)| (*first..=*last).contains(&bound))
            .map_or(bound, |(first, _, to)| to + (bound - first))
    }
}

impl PassiveAdvertiser for PassivePortMap {
    fn advertise(&self, request: &PassiveRequest) -> SocketAddr {
        SocketAddr::new(request.policy.ip(), self.advertised(request.bound_port))
    }
}

impl core::str::FromStr for PassivePortMap {
    type Err = AddressError;
    /// Split on bytes rather than chars, and trimmed of ASCII white space
    /// only: `str`'s char patterns and Unicode trimming cost a small host
    /// (the WebAssembly module) their searchers and tables.
    fn from_str(s: &str) -> Result<Self, AddressError> {
        let port = |text: &[u8]| {
            core::str::from_utf8(text.trim_ascii())
                .ok()
                .and_then(|text| text.parse::<u16>().ok())
                .filter(|p| *p != 0)
                .ok_or(AddressError::Malformed(
                    "passive port map: a port is not a number in 1-65535",
                ))
        };
        let mut runs = Vec::new();
        for entry in s.as_bytes().split(|&b| b == b',') {
            let (bound, to) = split_once(entry, b':').ok_or(AddressError::Malformed(
                "passive port map entry is not BOUND:ADVERTISED",
            ))?;
            let (first, last) = match split_once(bound, b'-') {
                Some((first, last)) => (port(first)?, port(last)?),
                None => (port(bound)?, port(bound)?),
            };
            let to = port(to)?;
            if first > last {
                return Err(AddressError::Malformed(
                    "passive port map: LO-HI with LO above HI",
                ));
            }
            if u32::from(to) + u32::from(last - first) > u32::from(u16::MAX) {
                return Err(AddressError::Malformed(
                    "passive port map: advertised ports run past 65535",
                ));
            }
            runs.push((first, last, to));
        }
        Ok(PassivePortMap { runs })
    }
}

/// `text` split at the first `byte`, as `str::split_once` splits.
pub(super) fn split_once(text: &[u8], byte: u8) -> Option<(&[u8], &[u8])> {
    let at = text.iter().position(|&b| b == byte)?;
    Some((&text[..at], &text[at + 1..]))
}

impl fmt::Display for PassivePortMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (first, last, to)) in self.runs.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if first == last {
                write!(f, "{first}:{to}")?;
            } else {
                write!(f, "{first}-{last}:{to}")?;
            }
        }
        Ok(())
    }
}
