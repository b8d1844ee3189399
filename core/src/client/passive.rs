//! The address a client dials after `PASV`. Behind NAT a misconfigured
//! server's `227` names its private address (or `0.0.0.0`, or `127.0.0.1`);
//! clients that trust it hang, and clients that silently replace it hide
//! the fault from the operator. The default here replaces it with the
//! control connection's peer *and says so*, naming what was advertised and
//! why it was not used.

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};

use crate::address::canonical_ip;

/// What to do when a `227` names another address than the control peer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PasvAddressPolicy {
    /// Dial the control connection's peer on the advertised port, with a
    /// warning (what vsftpd's and most modern clients' users need).
    #[default]
    Replace,
    /// Dial what the server advertised, with a warning.
    Trust,
    /// Do not dial: the transfer fails with the reason.
    Refuse,
}

/// Why an advertised address is not the control peer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mismatch {
    /// `0.0.0.0`: the server printed the address it listens on.
    Unspecified,
    /// `127.0.0.0/8`: a server that believes it is only talking to itself.
    Loopback,
    /// RFC 1918, link-local or carrier-grade NAT (RFC 6598): the server's
    /// address inside its NAT, unreachable from outside it.
    Private,
    /// A public address, but not the one the control connection reached
    /// (a stale `--passive-address`, a load balancer, or FXP).
    Different,
}

impl Mismatch {
    fn of(advertised: Ipv4Addr) -> Mismatch {
        let [a, b, ..] = advertised.octets();
        if advertised.is_unspecified() {
            Mismatch::Unspecified
        } else if advertised.is_loopback() {
            Mismatch::Loopback
        } else if advertised.is_private()
            || advertised.is_link_local()
            || (a == 100 && (64..128).contains(&b))
        {
            Mismatch::Private
        } else {
            Mismatch::Different
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Mismatch::Unspecified => "the unspecified address",
            Mismatch::Loopback => "a loopback address",
            Mismatch::Private => "a private address",
            Mismatch::Different => "another address than the control connection's",
        }
    }
}

/// The outcome for one `227`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasvTarget {
    /// The server advertised the control peer's own address: dial it.
    Dial(SocketAddr),
    /// The advertised address was not used (policy [`Replace`](PasvAddressPolicy::Replace)):
    /// dial `dial`; log the warning (this value's `Display`).
    Replaced {
        /// What the `227` named.
        advertised: SocketAddrV4,
        /// The control peer's address on the advertised port.
        dial: SocketAddr,
        /// Why.
        mismatch: Mismatch,
    },
    /// The advertised address is used although it differs (policy
    /// [`Trust`](PasvAddressPolicy::Trust)): dial it; log the warning.
    Trusted {
        /// What the `227` named, dialled as it is.
        advertised: SocketAddrV4,
        /// The control connection's peer.
        control_peer: IpAddr,
        /// How they differ.
        mismatch: Mismatch,
    },
    /// Nothing is dialled (policy [`Refuse`](PasvAddressPolicy::Refuse)):
    /// the transfer fails with this value's `Display` as its reason.
    Refused {
        /// What the `227` named.
        advertised: SocketAddrV4,
        /// The control connection's peer.
        control_peer: IpAddr,
        /// How they differ.
        mismatch: Mismatch,
    },
}

impl PasvTarget {
    /// Where to connect the data connection; `None` when refused.
    pub fn dial(&self) -> Option<SocketAddr> {
        match *self {
            PasvTarget::Dial(addr) | PasvTarget::Replaced { dial: addr, .. } => Some(addr),
            PasvTarget::Trusted { advertised, .. } => Some(SocketAddr::V4(advertised)),
            PasvTarget::Refused { .. } => None,
        }
    }

    /// What the `227` named and why it is not the control peer's, when it
    /// is not (`None` for [`PasvTarget::Dial`]).
    pub fn advertised(&self) -> Option<(SocketAddrV4, Mismatch)> {
        match *self {
            PasvTarget::Dial(_) => None,
            PasvTarget::Replaced {
                advertised,
                mismatch,
                ..
            }
            | PasvTarget::Trusted {
                advertised,
                mismatch,
                ..
            }
            | PasvTarget::Refused {
                advertised,
                mismatch,
                ..
            } => Some((advertised, mismatch)),
        }
    }

    /// Whether the operator should hear about it (every case but [`Dial`](Self::Dial)).
    pub fn is_warning(&self) -> bool {
        !matches!(self, PasvTarget::Dial(_))
    }
}

/// Decides where a client dials after a `227` naming `advertised`, on a
/// control connection to `control_peer`.
///
/// ```
/// use ftpwire_core::client::passive::{pasv_target, PasvAddressPolicy};
/// let peer = "203.0.113.7:21".parse().unwrap();
/// let target = pasv_target("10.0.0.5:50000".parse().unwrap(), peer, PasvAddressPolicy::Replace);
/// assert_eq!(target.dial(), Some("203.0.113.7:50000".parse().unwrap()));
/// assert_eq!(
///     target.to_string(),
///     "the server's 227 named 10.0.0.5:50000, a private address, not 203.0.113.7 \
///      (the control connection's peer); connecting to 203.0.113.7:50000 instead. \
///      The server's passive address is misconfigured (behind NAT it must advertise \
///      its public address); EPSV avoids the problem"
/// );
/// ```
pub fn pasv_target(
    advertised: SocketAddrV4,
    control_peer: SocketAddr,
    policy: PasvAddressPolicy,
) -> PasvTarget {
    let peer_ip = canonical_ip(control_peer.ip());
    if peer_ip == IpAddr::V4(*advertised.ip()) {
        return PasvTarget::Dial(SocketAddr::new(peer_ip, advertised.port()));
    }
    let mismatch = Mismatch::of(*advertised.ip());
    match policy {
        PasvAddressPolicy::Replace => PasvTarget::Replaced {
            advertised,
            dial: SocketAddr::new(peer_ip, advertised.port()),
            mismatch,
        },
        PasvAddressPolicy::Trust => PasvTarget::Trusted {
            advertised,
            control_peer: peer_ip,
            mismatch,
        },
        PasvAddressPolicy::Refuse => PasvTarget::Refused {
            advertised,
            control_peer: peer_ip,
            mismatch,
        },
    }
}

impl fmt::Display for PasvTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const ADVICE: &str = "The server's passive address is misconfigured (behind NAT it \
                              must advertise its public address); EPSV avoids the problem";
        match *self {
            PasvTarget::Dial(addr) => write!(f, "connecting to {addr} as the server's 227 said"),
            PasvTarget::Replaced {
                advertised,
                dial,
                mismatch,
            } => write!(
                f,
                "the server's 227 named {advertised}, {}, not {} (the control connection's \
                 peer); connecting to {dial} instead. {ADVICE}",
                mismatch.describe(),
                dial.ip()
            ),
            PasvTarget::Trusted {
                advertised,
                control_peer,
                mismatch,
            } => write!(
                f,
                "the server's 227 named {advertised}, {}, not {control_peer} (the control \
                 connection's peer); connecting to it as asked. {ADVICE}",
                mismatch.describe()
            ),
            PasvTarget::Refused {
                advertised,
                control_peer,
                mismatch,
            } => write!(
                f,
                "the server's 227 named {advertised}, {}, not {control_peer} (the control \
                 connection's peer); not connecting. {ADVICE}",
                mismatch.describe()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;

    use super::*;

    fn target(advertised: &str, peer: &str, policy: PasvAddressPolicy) -> PasvTarget {
        pasv_target(advertised.parse().unwrap(), peer.parse().unwrap(), policy)
    }

    #[test]
    fn the_peers_own_address_is_dialled_without_a_warning() {
        let t = target(
            "203.0.113.7:50000",
            "203.0.113.7:21",
            PasvAddressPolicy::Refuse,
        );
        assert_eq!(t, PasvTarget::Dial("203.0.113.7:50000".parse().unwrap()));
        assert!(!t.is_warning());
        // An IPv4-mapped IPv6 control peer is the same address.
        let t = target(
            "203.0.113.7:50000",
            "[::ffff:203.0.113.7]:21",
            PasvAddressPolicy::Refuse,
        );
        assert_eq!(t.dial(), Some("203.0.113.7:50000".parse().unwrap()));
    }

    #[test]
    fn each_kind_of_wrong_address_is_named() {
        let kind = |advertised: &str| match target(
            advertised,
            "198.51.100.1:21",
            PasvAddressPolicy::Replace,
        ) {
            PasvTarget::Replaced { mismatch, .. } => mismatch,
            other => panic!("{other:?}"),
        };
        assert_eq!(kind("0.0.0.0:1"), Mismatch::Unspecified);
        assert_eq!(kind("127.0.0.1:1"), Mismatch::Loopback);
        for private in [
            "10.1.2.3:1",
            "172.16.0.1:1",
            "192.168.1.1:1",
            "169.254.0.9:1",
            "100.64.0.1:1",
        ] {
            assert_eq!(kind(private), Mismatch::Private, "{private}");
        }
        assert_eq!(
            kind("100.128.0.1:1"),
            Mismatch::Different,
            "outside 100.64.0.0/10"
        );
        assert_eq!(kind("203.0.113.9:1"), Mismatch::Different);
    }

    #[test]
    fn the_policy_decides_what_is_dialled() {
        let replace = target(
            "10.0.0.5:50000",
            "203.0.113.7:21",
            PasvAddressPolicy::Replace,
        );
        assert_eq!(replace.dial(), Some("203.0.113.7:50000".parse().unwrap()));
        let trust = target("10.0.0.5:50000", "203.0.113.7:21", PasvAddressPolicy::Trust);
        assert_eq!(trust.dial(), Some("10.0.0.5:50000".parse().unwrap()));
        let refuse = target(
            "10.0.0.5:50000",
            "203.0.113.7:21",
            PasvAddressPolicy::Refuse,
        );
        assert_eq!(refuse.dial(), None);
        for t in [replace, trust, refuse] {
            assert!(t.is_warning());
            let text = t.to_string();
            assert!(
                text.contains("10.0.0.5:50000") && text.contains("a private address"),
                "{text}"
            );
            assert!(
                text.contains("203.0.113.7"),
                "names the control peer: {text}"
            );
        }
        assert!(refuse.to_string().contains("not connecting"));
    }
}
