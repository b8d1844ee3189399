//! Data-connection addresses: PASV/EPSV replies, PORT/EPRT arguments
//! (RFC 959 §4.1.2, RFC 2428) and the passive-address policy.
//!
//! The policy is the reason ftpwire exists: behind NAT the address a PASV
//! reply advertises must be the *public* one for outside peers and the
//! *local* one for peers inside the private network.

use alloc::string::String;
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};

mod advertise;
mod ip_text;
pub use advertise::{PassiveAdvertiser, PassivePortMap, PassiveRequest};
pub use ip_text::{parse_ip, parse_ipv4, parse_ipv6};

/// A malformed address argument or configuration value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// PORT/EPRT/CIDR text could not be parsed.
    Malformed(&'static str),
    /// EPRT named a network protocol other than 1 (IPv4) or 2 (IPv6).
    UnsupportedProtocol,
}

impl AddressError {
    /// The message in two parts (`["malformed address: ", why]`), which a
    /// small host joins without `core::fmt` (the WebAssembly module leaves
    /// its machinery out).
    ///
    /// ```
    /// use ftpwire_core::address::AddressError;
    /// let error = AddressError::Malformed("expected h1,h2,h3,h4,p1,p2");
    /// assert_eq!(error.message_parts().concat(), error.to_string());
    /// ```
    pub const fn message_parts(&self) -> [&'static str; 2] {
        match self {
            AddressError::Malformed(why) => ["malformed address: ", why],
            AddressError::UnsupportedProtocol => {
                ["unsupported network protocol; use 1 (IPv4) or 2 (IPv6)", ""]
            }
        }
    }
}

/// The [`message_parts`](AddressError::message_parts) joined: written by
/// hand rather than by thiserror's `#[error]`, whose messages with a field
/// go through `core::fmt::write`.
impl core::fmt::Display for AddressError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let [first, second] = self.message_parts();
        f.write_str(first)?;
        f.write_str(second)
    }
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
    ///
    /// ```
    /// use ftpwire_core::address::IpNet;
    /// let net = IpNet::new("10.0.0.0".parse().unwrap(), 8).unwrap();
    /// assert!(net.contains("10.1.2.3".parse().unwrap()));
    /// assert!(IpNet::new("10.0.0.0".parse().unwrap(), 33).is_err());
    /// ```
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Self, AddressError> {
        let addr = canonical_ip(addr);
        let max = match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        if prefix > max {
            return Err(AddressError::Malformed("CIDR prefix length too long"));
        }
        Ok(IpNet { addr, prefix })
    }

    /// Whether `ip` is inside this network (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical_ip(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl core::fmt::Display for IpNet {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl core::str::FromStr for IpNet {
    type Err = AddressError;
    /// `10.0.0.0/8`, `fd00::/8`; a bare address is a /32 or /128.
    fn from_str(s: &str) -> Result<Self, AddressError> {
        let (addr, prefix) = match advertise::split_once(s.as_bytes(), b'/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s.as_bytes(), None),
        };
        let addr =
            parse_ip(addr).ok_or(AddressError::Malformed("CIDR address is not an IP address"))?;
        let prefix = match prefix {
            Some(p) if !p.is_empty() && p.iter().all(u8::is_ascii_digit) => {
                // Leading zeros are read as `u8::from_str` reads them.
                let zeros = p.iter().take_while(|&&b| b == b'0').count();
                let digits = p.get(zeros.min(p.len() - 1)..).unwrap_or_default();
                parse_decimal(digits, 3)
                    .and_then(|p| u8::try_from(p).ok())
                    .ok_or(AddressError::Malformed("CIDR prefix length too long"))?
            }
            Some(_) => {
                return Err(AddressError::Malformed(
                    "CIDR prefix length is not a number",
                ));
            }
            None if addr.is_ipv4() => 32,
            None => 128,
        };
        // `::ffff:10.0.0.0/104` is the IPv4 network 10.0.0.0/8.
        let prefix = match (addr, canonical_ip(addr)) {
            (IpAddr::V6(_), IpAddr::V4(_)) if prefix >= 96 => prefix - 96,
            (IpAddr::V6(_), IpAddr::V4(_)) => {
                return Err(AddressError::Malformed(
                    "IPv4-mapped CIDR prefix shorter than 96",
                ));
            }
            _ => prefix,
        };
        IpNet::new(addr, prefix)
    }
}

impl core::fmt::Display for PassiveAddress {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PassiveAddress::Ip(ip) => write!(f, "{ip}"),
            PassiveAddress::Hostname(name) => f.write_str(name),
        }
    }
}

impl core::str::FromStr for PassiveAddress {
    type Err = AddressError;
    /// An IP literal becomes [`PassiveAddress::Ip`]; anything else that is a
    /// valid DNS name becomes [`PassiveAddress::Hostname`].
    ///
    /// ```
    /// use ftpwire_core::address::PassiveAddress;
    /// assert!(matches!("203.0.113.7".parse(), Ok(PassiveAddress::Ip(_))));
    /// assert!(matches!("ftp.example.com".parse(), Ok(PassiveAddress::Hostname(_))));
    /// assert!("not a host".parse::<PassiveAddress>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self, AddressError> {
        if let Some(ip) = parse_ip(s.as_bytes()) {
            return Ok(PassiveAddress::Ip(ip));
        }
        if is_dns_name(s) {
            Ok(PassiveAddress::Hostname(String::from(s)))
        } else {
            Err(AddressError::Malformed(
                "passive address is neither an IP address nor a DNS name",
            ))
        }
    }
}

/// RFC 1123 host name syntax; a last label of digits only is a mistyped IP.
/// (Bytes split by hand: `str`'s char-pattern splitting from both ends
/// cost a small host, the WebAssembly module, about 1 KiB.)
fn is_dns_name(s: &str) -> bool {
    let name = s.as_bytes();
    let name = name.strip_suffix(b".").unwrap_or(name);
    if name.is_empty() || name.len() > 253 {
        return false;
    }
    let mut last_numeric = false;
    for label in name.split(|&b| b == b'.') {
        let fits = !label.is_empty()
            && label.len() <= 63
            && label.first() != Some(&b'-')
            && label.last() != Some(&b'-')
            && label
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'-');
        if !fits {
            return false;
        }
        last_numeric = label.iter().all(u8::is_ascii_digit);
    }
    !last_numeric
}

impl PassivePolicy {
    /// The address a PASV reply should advertise to `peer`.
    ///
    /// ```
    /// use ftpwire_core::address::{PassiveChoice, PassivePolicy};
    /// let policy = PassivePolicy {
    ///     external: Some("203.0.113.7".parse().unwrap()),
    ///     local_networks: vec!["10.0.0.0/8".parse().unwrap()],
    /// };
    /// assert_eq!(policy.choose("10.1.1.1".parse().unwrap()), PassiveChoice::Local);
    /// assert_eq!(
    ///     policy.choose("198.51.100.2".parse().unwrap()),
    ///     PassiveChoice::External("203.0.113.7".parse().unwrap())
    /// );
    /// ```
    pub fn choose(&self, peer: IpAddr) -> PassiveChoice<'_> {
        if self.local_networks.iter().any(|net| net.contains(peer)) {
            return PassiveChoice::Local;
        }
        match &self.external {
            None => PassiveChoice::Local,
            Some(PassiveAddress::Ip(ip)) => PassiveChoice::External(*ip),
            Some(PassiveAddress::Hostname(name)) => PassiveChoice::Resolve(name),
        }
    }
}

/// Whether an IPv4 address only works inside a private network: RFC 1918,
/// link-local, carrier-grade NAT (RFC 6598), loopback or unspecified. A
/// `227` naming one cannot be dialled from the internet.
///
/// ```
/// use ftpwire_core::address::is_internal_v4;
/// assert!(is_internal_v4("10.1.2.3".parse().unwrap()));
/// assert!(is_internal_v4("100.64.0.1".parse().unwrap()));
/// assert!(!is_internal_v4("203.0.113.9".parse().unwrap()));
/// ```
pub fn is_internal_v4(ip: core::net::Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_private()
        || ip.is_link_local()
        || ip.is_loopback()
        || ip.is_unspecified()
        || (a == 100 && (64..128).contains(&b))
}

/// `::ffff:a.b.c.d` as the IPv4 address it is; any other address unchanged.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => ip,
        },
        v4 => v4,
    }
}

/// Appends `h1,h2,h3,h4,p1,p2` (the PASV reply's and PORT's argument form).
pub fn write_host_port(out: &mut Vec<u8>, addr: SocketAddrV4) {
    let [a, b, c, d] = addr.ip().octets();
    let [p1, p2] = addr.port().to_be_bytes();
    for (i, n) in [a, b, c, d, p1, p2].into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        crate::reply::write_decimal(out, u64::from(n));
    }
}

/// A decimal number of at most `max_digits` digits, no sign, no spaces.
fn parse_decimal(text: &[u8], max_digits: usize) -> Option<u32> {
    if text.is_empty() || text.len() > max_digits || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(text.iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0')))
}

/// Parses PORT's argument `h1,h2,h3,h4,p1,p2` (surrounding spaces allowed).
///
/// ```
/// use ftpwire_core::address::parse_host_port;
/// let addr = parse_host_port(b"127,0,0,1,195,80").unwrap();
/// assert_eq!(addr.to_string(), "127.0.0.1:50000");
/// ```
pub fn parse_host_port(arg: &[u8]) -> Result<SocketAddrV4, AddressError> {
    let arg = arg.trim_ascii();
    let mut numbers = [0u8; 6];
    let mut count = 0;
    for field in arg.split(|&b| b == b',') {
        let slot = numbers
            .get_mut(count)
            .ok_or(AddressError::Malformed("more than six numbers"))?;
        let n = parse_decimal(field.trim_ascii(), 3)
            .ok_or(AddressError::Malformed("not a decimal number"))?;
        *slot = u8::try_from(n).map_err(|_| AddressError::Malformed("number above 255"))?;
        count += 1;
    }
    if count != 6 {
        return Err(AddressError::Malformed("fewer than six numbers"));
    }
    let [a, b, c, d, p1, p2] = numbers;
    Ok(SocketAddrV4::new(
        Ipv4Addr::new(a, b, c, d),
        u16::from_be_bytes([p1, p2]),
    ))
}

/// Appends `ip` as text, exactly as its `Display` writes it (IPv6 in RFC
/// 5952's form: lowercase, the longest run of two or more zero groups as
/// `::`, an IPv4-mapped address as `::ffff:a.b.c.d`), without `core::fmt`:
/// small hosts (the WebAssembly module) leave the formatting machinery out.
///
/// ```
/// use ftpwire_core::address::write_ip;
/// let mut out = Vec::new();
/// write_ip(&mut out, "2001:db8:0:0:1:0:0:1".parse().unwrap());
/// assert_eq!(out, b"2001:db8::1:0:0:1");
/// ```
pub fn write_ip(out: &mut Vec<u8>, ip: IpAddr) {
    let v6 = match ip {
        IpAddr::V4(v4) => return write_ipv4(out, v4),
        IpAddr::V6(v6) => v6,
    };
    if let Some(v4) = v6.to_ipv4_mapped() {
        out.extend_from_slice(b"::ffff:");
        return write_ipv4(out, v4);
    }
    let groups = v6.segments();
    // The longest run of zero groups (the first of equals), if two or more.
    let (mut start, mut len, mut run) = (0, 0, 0);
    for (i, &group) in groups.iter().enumerate() {
        run = if group == 0 { run + 1 } else { 0 };
        if run > len {
            (start, len) = (i + 1 - run, run);
        }
    }
    let write_groups = |out: &mut Vec<u8>, groups: &[u16]| {
        for (i, &group) in groups.iter().enumerate() {
            if i > 0 {
                out.push(b':');
            }
            let digits = (16 - group.leading_zeros()).div_ceil(4).max(1);
            for shift in (0..digits).rev() {
                out.push(b"0123456789abcdef"[usize::from(group >> (shift * 4)) & 15]);
            }
        }
    };
    if len > 1 {
        write_groups(out, &groups[..start]);
        out.extend_from_slice(b"::");
        write_groups(out, &groups[start + len..]);
    } else {
        write_groups(out, &groups);
    }
}

fn write_ipv4(out: &mut Vec<u8>, ip: Ipv4Addr) {
    for (i, octet) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        crate::reply::write_decimal(out, u64::from(octet));
    }
}

/// Appends `addr` as text, exactly as its `Display` writes it (`1.2.3.4:21`,
/// `[::1]:21`, a scope as `[fe80::1%2]:21`), without `core::fmt`.
pub fn write_socket_addr(out: &mut Vec<u8>, addr: SocketAddr) {
    match addr {
        SocketAddr::V4(v4) => write_ipv4(out, *v4.ip()),
        SocketAddr::V6(v6) => {
            out.push(b'[');
            write_ip(out, IpAddr::V6(*v6.ip()));
            if v6.scope_id() != 0 {
                out.push(b'%');
                crate::reply::write_decimal(out, u64::from(v6.scope_id()));
            }
            out.push(b']');
        }
    }
    out.push(b':');
    crate::reply::write_decimal(out, u64::from(addr.port()));
}

/// Appends EPRT's argument `|1|132.235.1.2|6275|` or `|2|::1|6275|`.
pub fn write_eprt_argument(out: &mut Vec<u8>, addr: SocketAddr) {
    use core::fmt::Write as _;
    let mut text = ByteWriter(out);
    let protocol = if addr.is_ipv4() { 1 } else { 2 };
    // Writing into a Vec cannot fail.
    let _ = write!(text, "|{protocol}|{}|{}|", addr.ip(), addr.port());
}

/// `core::fmt::Write` into a byte vector.
struct ByteWriter<'a>(&'a mut Vec<u8>);

impl core::fmt::Write for ByteWriter<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Parses EPRT's argument; any delimiter in 33..=126 is allowed (RFC 2428 §2).
///
/// ```
/// use ftpwire_core::address::parse_eprt_argument;
/// assert_eq!(parse_eprt_argument(b"|2|::1|6275|").unwrap().to_string(), "[::1]:6275");
/// ```
pub fn parse_eprt_argument(arg: &[u8]) -> Result<SocketAddr, AddressError> {
    let arg = arg.trim_ascii();
    let (&delimiter, rest) = arg
        .split_first()
        .ok_or(AddressError::Malformed("empty EPRT argument"))?;
    if !(33..=126).contains(&delimiter) {
        return Err(AddressError::Malformed(
            "EPRT delimiter must be printable ASCII",
        ));
    }
    let mut fields = rest.split(|&b| b == delimiter);
    let (Some(protocol), Some(host), Some(port), Some(b""), None) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        return Err(AddressError::Malformed("EPRT needs |proto|address|port|"));
    };
    let host = core::str::from_utf8(host)
        .map_err(|_| AddressError::Malformed("EPRT address is not text"))?;
    let ip: IpAddr = match protocol {
        b"1" => parse_ipv4(host.as_bytes())
            .ok_or(AddressError::Malformed("EPRT address is not IPv4"))?
            .into(),
        b"2" => parse_ipv6(host.as_bytes())
            .ok_or(AddressError::Malformed("EPRT address is not IPv6"))?
            .into(),
        _ => return Err(AddressError::UnsupportedProtocol),
    };
    let port = parse_decimal(port, 5)
        .and_then(|p| u16::try_from(p).ok())
        .ok_or(AddressError::Malformed(
            "EPRT port is not a number below 65536",
        ))?;
    Ok(SocketAddr::new(ip, port))
}

/// Client side: the address in a `227 Entering Passive Mode (h1,...,p2)` reply text.
///
/// ```
/// use ftpwire_core::address::parse_pasv_reply;
/// let addr = parse_pasv_reply(b"227 Entering Passive Mode (203,0,113,7,195,80).").unwrap();
/// assert_eq!(addr.to_string(), "203.0.113.7:50000");
/// ```
pub fn parse_pasv_reply(text: &[u8]) -> Result<SocketAddrV4, AddressError> {
    // Servers vary the words and the parentheses; the six numbers are the contract.
    let start = text
        .iter()
        .skip(3)
        .position(u8::is_ascii_digit)
        .map(|p| p + 3)
        .ok_or(AddressError::Malformed("no address in 227 reply"))?;
    let rest = &text[start..];
    let end = rest
        .iter()
        .position(|b| !(b.is_ascii_digit() || *b == b','))
        .unwrap_or(rest.len());
    parse_host_port(&rest[..end])
}

/// Client side: the port in a `229 Entering Extended Passive Mode (|||port|)` reply text.
///
/// ```
/// use ftpwire_core::address::parse_epsv_reply;
/// assert_eq!(parse_epsv_reply(b"229 Entering Extended Passive Mode (|||50000|)").unwrap(), 50000);
/// ```
pub fn parse_epsv_reply(text: &[u8]) -> Result<u16, AddressError> {
    let open = text
        .iter()
        .position(|&b| b == b'(')
        .ok_or(AddressError::Malformed("no ( in 229 reply"))?;
    let inner = &text[open + 1..];
    let close = inner
        .iter()
        .position(|&b| b == b')')
        .ok_or(AddressError::Malformed("no ) in 229 reply"))?;
    let inner = &inner[..close];
    let Some((&d, rest)) = inner.split_first() else {
        return Err(AddressError::Malformed("empty 229 argument"));
    };
    match rest {
        [a, b, port @ .., last] if *a == d && *b == d && *last == d => parse_decimal(port, 5)
            .and_then(|p| u16::try_from(p).ok())
            .ok_or(AddressError::Malformed(
                "229 port is not a number below 65536",
            )),
        _ => Err(AddressError::Malformed("229 argument is not (|||port|)")),
    }
}

#[cfg(test)]
mod tests;
