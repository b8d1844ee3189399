//! Auto-ban: after too many failed logins from one address within a
//! window, that address's connections are refused for a while (what
//! fail2ban or ProFTPD's mod_ban do from outside). Each session already
//! closes after a few failures (`ServerConfig::max_login_failures`); this
//! stops the reconnect that would start the next few.
//!
//! The defaults (10 failures within 10 minutes, banned for 15 minutes)
//! stop a password-guessing run long before it gets far, and leave a user
//! who mistypes a password three or four times, or a client retrying a
//! stale saved password, untouched. With a load balancer in front, the
//! address is the real client's (PROXY protocol), never the balancer's.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ftpwire_core::address::canonical_ip;

use super::metrics::Metrics;

/// Failed logins that start a ban unless [`BanPolicy`] says otherwise.
pub const DEFAULT_BAN_AFTER: u32 = 10;
/// The window the failures are counted in.
pub const DEFAULT_BAN_WINDOW: Duration = Duration::from_secs(600);
/// How long a ban lasts.
pub const DEFAULT_BAN_TIME: Duration = Duration::from_secs(900);

/// Addresses tracked at most; past it, new addresses are not counted
/// (their sessions still close after `max_login_failures`).
const MAX_TRACKED: usize = 65_536;

/// When bans start and how long they last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BanPolicy {
    /// Failed logins within `window` that ban the address; 0: never ban.
    pub after: u32,
    /// How far back failures count.
    pub window: Duration,
    /// How long the address is refused.
    pub ban_time: Duration,
}

impl Default for BanPolicy {
    fn default() -> Self {
        BanPolicy {
            after: DEFAULT_BAN_AFTER,
            window: DEFAULT_BAN_WINDOW,
            ban_time: DEFAULT_BAN_TIME,
        }
    }
}

/// The failed logins and bans of one server, shared by its sessions.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ftpwire_backend::native::bans::{BanPolicy, Bans};
/// let bans = Bans::new(BanPolicy { after: 2, window: Duration::from_secs(60), ban_time: Duration::from_secs(300) });
/// let ip = "192.0.2.9".parse().unwrap();
/// let now = Instant::now();
/// assert!(!bans.record_failure(ip, now));
/// assert!(bans.record_failure(ip, now), "the second failure bans");
/// assert!(bans.banned(ip, now).is_some());
/// assert!(bans.banned(ip, now + Duration::from_secs(301)).is_none());
/// ```
#[derive(Debug, Clone)]
pub struct Bans {
    policy: BanPolicy,
    inner: Arc<Mutex<HashMap<IpAddr, Record>>>,
    metrics: Option<Arc<Metrics>>,
}

#[derive(Debug)]
struct Record {
    /// When the window of the failures counted began.
    window_start: Instant,
    failures: u32,
    banned_until: Option<Instant>,
}

impl Bans {
    /// Bans by `policy`.
    pub fn new(policy: BanPolicy) -> Self {
        Bans {
            policy,
            inner: Arc::default(),
            metrics: None,
        }
    }

    /// Bans and their ends counted in `metrics` too.
    pub fn counted_in(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The policy.
    pub fn policy(&self) -> BanPolicy {
        self.policy
    }

    /// A failed login from `ip` at `now`; `true` when it starts a ban
    /// (logged).
    pub fn record_failure(&self, ip: IpAddr, now: Instant) -> bool {
        if self.policy.after == 0 {
            return false;
        }
        let ip = canonical_ip(ip);
        let mut records = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if records.len() >= MAX_TRACKED && !records.contains_key(&ip) {
            self.sweep(&mut records, now);
            if records.len() >= MAX_TRACKED {
                return false;
            }
        }
        let record = records.entry(ip).or_insert(Record {
            window_start: now,
            failures: 0,
            banned_until: None,
        });
        if record.banned_until.is_some() {
            return false;
        }
        if now.duration_since(record.window_start) > self.policy.window {
            record.window_start = now;
            record.failures = 0;
        }
        record.failures += 1;
        if record.failures < self.policy.after {
            return false;
        }
        record.banned_until = Some(now + self.policy.ban_time);
        if let Some(metrics) = &self.metrics {
            metrics.banned();
        }
        log::warn!(
            "{ip}: banned for {} s after {} failed logins within {} s",
            self.policy.ban_time.as_secs(),
            record.failures,
            self.policy.window.as_secs()
        );
        true
    }

    /// How long `ip` stays banned at `now`, or `None`. An expired ban ends
    /// here (logged), as do other addresses' expired records.
    pub fn banned(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let ip = canonical_ip(ip);
        let mut records = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let until = records.get(&ip).and_then(|r| r.banned_until);
        match until {
            Some(until) if now < until => Some(until - now),
            Some(_) => {
                self.sweep(&mut records, now);
                None
            }
            None => None,
        }
    }

    /// Forgets expired bans (each logged as over) and stale windows.
    fn sweep(&self, records: &mut HashMap<IpAddr, Record>, now: Instant) {
        records.retain(|ip, record| match record.banned_until {
            Some(until) if now >= until => {
                log::info!("{ip}: ban over");
                if let Some(metrics) = &self.metrics {
                    metrics.bans_ended(1);
                }
                false
            }
            Some(_) => true,
            None => now.duration_since(record.window_start) <= self.policy.window,
        });
    }
}

impl Default for Bans {
    fn default() -> Self {
        Bans::new(BanPolicy::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> BanPolicy {
        BanPolicy {
            after: 3,
            window: Duration::from_secs(60),
            ban_time: Duration::from_secs(120),
        }
    }

    #[test]
    fn failures_outside_the_window_do_not_add_up() {
        let bans = Bans::new(policy());
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t0 = Instant::now();
        assert!(!bans.record_failure(ip, t0));
        assert!(!bans.record_failure(ip, t0 + Duration::from_secs(30)));
        // The window began at t0: this third one is past it, a new start.
        assert!(!bans.record_failure(ip, t0 + Duration::from_secs(61)));
        assert!(bans.banned(ip, t0 + Duration::from_secs(61)).is_none());
        assert!(!bans.record_failure(ip, t0 + Duration::from_secs(62)));
        assert!(bans.record_failure(ip, t0 + Duration::from_secs(63)));
    }

    #[test]
    fn a_ban_ends_and_counts_start_again() {
        let bans = Bans::new(policy());
        let ip: IpAddr = "::ffff:192.0.2.2".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..2 {
            bans.record_failure(ip, t0);
        }
        assert!(bans.record_failure(ip, t0));
        // IPv4-mapped and plain IPv4 are one address.
        let plain: IpAddr = "192.0.2.2".parse().unwrap();
        assert_eq!(bans.banned(plain, t0), Some(Duration::from_secs(120)));
        assert!(!bans.record_failure(ip, t0), "already banned");
        let later = t0 + Duration::from_secs(120);
        assert_eq!(bans.banned(plain, later), None);
        assert!(!bans.record_failure(ip, later), "counting starts over");
        assert!(bans.banned(plain, later).is_none());
        // Another address was never affected.
        assert!(bans.banned("192.0.2.3".parse().unwrap(), t0).is_none());
    }

    #[test]
    fn zero_never_bans() {
        let bans = Bans::new(BanPolicy {
            after: 0,
            ..policy()
        });
        let ip: IpAddr = "192.0.2.4".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..100 {
            assert!(!bans.record_failure(ip, t0));
        }
        assert!(bans.banned(ip, t0).is_none());
    }
}
