//! Data-connection addresses: PASV/EPSV replies, PORT/EPRT arguments
//! (RFC 959 §4.1.2, RFC 2428) and the passive-address policy.
//!
//! The policy is the reason ftpwire exists: behind NAT the address a PASV
//! reply advertises must be the *public* one for outside peers and the
//! *local* one for peers inside the private network.

use alloc::string::String;
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};

/// A malformed address argument or configuration value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// PORT/EPRT/CIDR text could not be parsed.
    #[error("malformed address: {0}")]
    Malformed(&'static str),
    /// EPRT named a network protocol other than 1 (IPv4) or 2 (IPv6).
    #[error("unsupported network protocol; use 1 (IPv4) or 2 (IPv6)")]
    UnsupportedProtocol,
}

/// An IP network in CIDR notation, such as `10.0.0.0/8` or `fd00::/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

/// Where PASV replies should point when the peer is outside the local networks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PassiveAddress {
    /// A fixed public address.
    Ip(IpAddr),
    /// A DNS name the host resolves at each PASV, so a changing public IP keeps working.
    Hostname(String),
}

/// Which address a PASV reply advertises to which peer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassivePolicy {
    /// The masquerade address for peers outside `local_networks`; `None` means
    /// the control connection's local address.
    pub external: Option<PassiveAddress>,
    /// Peers inside these networks get the control connection's local address.
    pub local_networks: Vec<IpNet>,
}

/// The policy's decision for one peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassiveChoice<'a> {
    /// Advertise the control connection's local address.
    Local,
    /// Advertise this address.
    External(IpAddr),
    /// Resolve this name (the host does it) and advertise the result.
    Resolve(&'a str),
}

impl IpNet {
    /// A network from an address and a prefix length (at most 32 for IPv4, 128 for IPv6).
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Self, AddressError> {
        todo!("H1: {addr} {prefix}")
    }

    /// Whether `ip` is inside this network (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        todo!("H1: {ip} {self:?}")
    }
}

impl core::str::FromStr for IpNet {
    type Err = AddressError;
    /// `10.0.0.0/8`, `fd00::/8`; a bare address is a /32 or /128.
    fn from_str(s: &str) -> Result<Self, AddressError> {
        todo!("H1: {s}")
    }
}

impl core::str::FromStr for PassiveAddress {
    type Err = AddressError;
    /// An IP literal becomes [`PassiveAddress::Ip`]; anything else that is a
    /// valid DNS name becomes [`PassiveAddress::Hostname`].
    fn from_str(s: &str) -> Result<Self, AddressError> {
        todo!("H1: {s}")
    }
}

impl PassivePolicy {
    /// The address a PASV reply should advertise to `peer`.
    pub fn choose(&self, peer: IpAddr) -> PassiveChoice<'_> {
        todo!("H1: {peer}")
    }
}

/// `::ffff:a.b.c.d` as the IPv4 address it is; any other address unchanged.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    todo!("H1: {ip}")
}

/// Appends `h1,h2,h3,h4,p1,p2` (the PASV reply's and PORT's argument form).
pub fn write_host_port(out: &mut Vec<u8>, addr: SocketAddrV4) {
    todo!("H1: {out:?} {addr}")
}

/// Parses PORT's argument `h1,h2,h3,h4,p1,p2` (surrounding spaces allowed).
pub fn parse_host_port(arg: &[u8]) -> Result<SocketAddrV4, AddressError> {
    todo!("H1: {arg:?}")
}

/// Appends EPRT's argument `|1|132.235.1.2|6275|` or `|2|::1|6275|`.
pub fn write_eprt_argument(out: &mut Vec<u8>, addr: SocketAddr) {
    todo!("H1: {out:?} {addr}")
}

/// Parses EPRT's argument; any delimiter in 33..=126 is allowed (RFC 2428 §2).
pub fn parse_eprt_argument(arg: &[u8]) -> Result<SocketAddr, AddressError> {
    todo!("H1: {arg:?}")
}

/// Client side: the address in a `227 Entering Passive Mode (h1,...,p2)` reply text.
pub fn parse_pasv_reply(text: &[u8]) -> Result<SocketAddrV4, AddressError> {
    todo!("H1: {text:?}")
}

/// Client side: the port in a `229 Entering Extended Passive Mode (|||port|)` reply text.
pub fn parse_epsv_reply(text: &[u8]) -> Result<u16, AddressError> {
    todo!("H1: {text:?}")
}

#[allow(dead_code)]
fn _unused(_: Ipv4Addr) {}
