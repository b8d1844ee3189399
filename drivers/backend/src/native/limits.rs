//! How many sessions a server runs at once, in total and per client IP: an
//! operator's guard against one host (or a scan) eating every thread,
//! descriptor and passive port. Checked by every native driver as it
//! accepts a connection; the numbers come from
//! [`ServerSettings`](crate::ServerSettings).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use ftpwire_core::address::canonical_ip;

/// Sessions at once unless [`ServerSettings::max_sessions`](crate::ServerSettings::max_sessions) says otherwise.
pub const DEFAULT_MAX_SESSIONS: usize = 1000;
/// Sessions at once from one address unless
/// [`ServerSettings::max_sessions_per_ip`](crate::ServerSettings::max_sessions_per_ip) says otherwise.
pub const DEFAULT_MAX_SESSIONS_PER_IP: usize = 50;

/// Counts running sessions against the limits.
///
/// ```
/// use ftpwire_backend::native::limits::SessionLimits;
/// let limits = SessionLimits::new(10, 1);
/// let ip = "192.0.2.1".parse().unwrap();
/// let first = limits.admit(ip).unwrap();
/// assert!(limits.admit(ip).is_err());
/// drop(first);
/// assert!(limits.admit(ip).is_ok());
/// ```
#[derive(Debug, Clone)]
pub struct SessionLimits {
    inner: Arc<Mutex<Counts>>,
    max_total: usize,
    max_per_ip: usize,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// A running session's place; dropping it frees the place.
#[derive(Debug)]
pub struct SessionPermit {
    limits: SessionLimits,
    ip: IpAddr,
}

/// Why a connection was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The most sessions allowed at once are running.
    #[error("{0} sessions are running, the most allowed at once")]
    Total(usize),
    /// The most sessions allowed from one address are running from this one.
    #[error("{0} sessions from this address are running, the most allowed per address")]
    PerIp(usize),
    /// The address is banned for failed logins, for this much longer.
    #[error("banned for failed logins, {} s to go", .0.as_secs())]
    Banned(std::time::Duration),
}

impl Refusal {
    /// The `421` a refused client reads before the connection closes.
    pub fn reply(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let text = match self {
            Refusal::Total(_) => "Too many sessions; try again later.",
            Refusal::PerIp(_) => "Too many sessions from your address; try again later.",
            Refusal::Banned(_) => "Too many failed logins from your address; try again later.",
        };
        ftpwire_core::reply::write(&mut out, 421, text);
        out
    }
}

impl SessionLimits {
    /// At most `max_total` sessions, `max_per_ip` of them from one address.
    pub fn new(max_total: usize, max_per_ip: usize) -> Self {
        SessionLimits {
            inner: Arc::default(),
            max_total,
            max_per_ip,
        }
    }

    /// A place for a session from `ip`, or why there is none.
    pub fn admit(&self, ip: IpAddr) -> Result<SessionPermit, Refusal> {
        let ip = canonical_ip(ip);
        let mut counts = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if counts.total >= self.max_total {
            return Err(Refusal::Total(self.max_total));
        }
        let from_ip = counts.per_ip.entry(ip).or_insert(0);
        if *from_ip >= self.max_per_ip {
            return Err(Refusal::PerIp(self.max_per_ip));
        }
        *from_ip += 1;
        counts.total += 1;
        Ok(SessionPermit {
            limits: self.clone(),
            ip,
        })
    }
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits::new(DEFAULT_MAX_SESSIONS, DEFAULT_MAX_SESSIONS_PER_IP)
    }
}

impl Drop for SessionPermit {
    fn drop(&mut self) {
        let mut counts = self.limits.inner.lock().unwrap_or_else(|e| e.into_inner());
        counts.total -= 1;
        if let Some(n) = counts.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                counts.per_ip.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_and_per_ip_limits() {
        let limits = SessionLimits::new(3, 2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let a1 = limits.admit(a).unwrap();
        let _a2 = limits.admit("::ffff:192.0.2.1".parse().unwrap()).unwrap();
        assert_eq!(limits.admit(a).unwrap_err(), Refusal::PerIp(2));
        let _b1 = limits.admit(b).unwrap();
        assert_eq!(limits.admit(b).unwrap_err(), Refusal::Total(3));
        drop(a1);
        assert!(limits.admit(b).is_ok());
        assert!(Refusal::Total(3).reply().starts_with(b"421 "));
    }
}
