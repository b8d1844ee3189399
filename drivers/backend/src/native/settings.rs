//! A native server's settings, built in code: what it serves, who may log
//! in, and how its sessions run. Every native driver's `Server::new` takes
//! a [`ServerSettings`], so a library user never goes through the
//! `ftpwire` program's TOML or flags.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use ftpwire_core::ServerConfig;

use crate::native::bans::{BanPolicy, Bans};
use crate::native::limits::{
    DEFAULT_MAX_SESSIONS, DEFAULT_MAX_SESSIONS_PER_IP, Refusal, SessionLimits, SessionPermit,
};
use crate::native::metrics::Metrics;
use crate::native::passive::{PassivePorts, PortRange};
use crate::native::proxy::Balancers;
use crate::native::tls::TlsSettings;
use crate::served::storage::Storage;
use crate::served::users::Authenticator;

/// Control connections get TCP keepalive probes after this long idle
/// unless [`ServerSettings::control_keepalive`] says otherwise: well under
/// the idle timeouts of NAT gateways and load balancers (350 s on AWS NLB).
pub const DEFAULT_CONTROL_KEEPALIVE: Duration = Duration::from_secs(60);

/// Everything a native driver's server needs, built in code.
///
/// What is not here belongs to whoever runs the server: the listeners
/// (bound by the caller and handed to `serve`, or to
/// `serve_with_implicit_tls` for an implicit-FTPS port as well) and the
/// grace period running transfers get at shutdown (given to
/// `ShutdownHandle::shutdown`).
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use ftpwire_backend::{LocalFs, PortRange, ServerSettings, UserDb};
/// use ftpwire_core::ServerConfig;
///
/// let dir = std::env::temp_dir();
/// let mut users = UserDb::new();
/// users.allow_anonymous(true);
/// let settings = ServerSettings::new(Arc::new(LocalFs::new(&dir)?), Arc::new(users))
///     .session_config(ServerConfig {
///         idle_timeout: Duration::from_secs(120),
///         ..ServerConfig::default()
///     })
///     .passive_ports(PortRange::new(50000, 50099).unwrap())
///     .max_sessions(200)
///     .max_sessions_per_ip(20);
/// let (_storage, _users, config) = settings.into_parts();
/// assert_eq!(config.session.idle_timeout, Duration::from_secs(120));
/// assert!(!config.session.tls, "no certificate, so no AUTH TLS");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct ServerSettings {
    storage: Arc<dyn Storage>,
    authenticator: Arc<dyn Authenticator>,
    session: Arc<ServerConfig>,
    passive_ports: Option<PortRange>,
    max_sessions: usize,
    max_sessions_per_ip: usize,
    tls: Option<TlsSettings>,
    balancers: Balancers,
    bans: BanPolicy,
    control_keepalive: Option<Duration>,
    metrics: Arc<Metrics>,
    copy_only: bool,
}

impl ServerSettings {
    /// Serves `storage` to whoever `authenticator` lets in, with the core's
    /// default session settings, plain FTP only, passive ports the OS
    /// picks, and at most [`DEFAULT_MAX_SESSIONS`] sessions
    /// ([`DEFAULT_MAX_SESSIONS_PER_IP`] from one client address).
    pub fn new(storage: Arc<dyn Storage>, authenticator: Arc<dyn Authenticator>) -> Self {
        ServerSettings {
            storage,
            authenticator,
            session: Arc::default(),
            passive_ports: None,
            max_sessions: DEFAULT_MAX_SESSIONS,
            max_sessions_per_ip: DEFAULT_MAX_SESSIONS_PER_IP,
            tls: None,
            balancers: Balancers::default(),
            bans: BanPolicy::default(),
            control_keepalive: Some(DEFAULT_CONTROL_KEEPALIVE),
            metrics: Arc::default(),
            copy_only: false,
        }
    }

    /// The core's settings shared by every session (timeouts, the passive
    /// address policy, TLS policy, dot files, ...). Its `tls` flag is set
    /// from whether [`tls`](Self::tls) was given, since only a host with a
    /// certificate can offer `AUTH TLS`.
    pub fn session_config(mut self, config: impl Into<Arc<ServerConfig>>) -> Self {
        self.session = config.into();
        self
    }

    /// FTPS: `AUTH TLS` on every listener, implicit FTPS on the one given
    /// to `serve_with_implicit_tls`, and PROT P data connections.
    pub fn tls(mut self, tls: TlsSettings) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Passive listeners take their ports from `ports` (the range a
    /// firewall lets through) instead of any port the OS picks.
    pub fn passive_ports(mut self, ports: PortRange) -> Self {
        self.passive_ports = Some(ports);
        self
    }

    /// Sessions running at once; a connection past the limit reads `421`
    /// and is closed.
    pub fn max_sessions(mut self, max: usize) -> Self {
        self.max_sessions = max;
        self
    }

    /// Sessions running at once from one client address (IPv4-mapped IPv6
    /// addresses count as their IPv4 address).
    pub fn max_sessions_per_ip(mut self, max: usize) -> Self {
        self.max_sessions_per_ip = max;
        self
    }

    /// The PROXY protocol: connections from `balancers` (load balancers)
    /// must start with a PROXY header (v1 or v2), whose client address then
    /// stands for the connection's; from anyone else a header is refused.
    pub fn proxy_protocol_from(mut self, balancers: Balancers) -> Self {
        self.balancers = balancers;
        self
    }

    /// When failed logins ban an address ([`BanPolicy::default`]: 10
    /// within 10 minutes ban it for 15; `after: 0` never bans).
    pub fn bans(mut self, policy: BanPolicy) -> Self {
        self.bans = policy;
        self
    }

    /// TCP keepalive on control connections after `idle` without traffic
    /// (default [`DEFAULT_CONTROL_KEEPALIVE`]; `None`: off), so a NAT
    /// gateway or load balancer with an idle timeout (AWS NLB: 350 s) does
    /// not drop the control connection while a long transfer runs.
    pub fn control_keepalive(mut self, idle: Option<Duration>) -> Self {
        self.control_keepalive = idle;
        self
    }

    /// Count into `metrics` (to serve them, keep a clone: the driver only
    /// counts); by default the server has its own.
    pub fn metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Copy every transfer's bytes through user space, even a TYPE I RETR
    /// or STOR of a local file over a plain data connection, which Linux
    /// otherwise moves with sendfile/splice: the baseline for measuring
    /// the zero-copy path (`ftpwire serve` sets it from
    /// `FTPWIRE_NO_ZERO_COPY=1`).
    pub fn copy_only(mut self, copy_only: bool) -> Self {
        self.copy_only = copy_only;
        self
    }

    /// For a driver's `Server::new`: the storage, the authenticator, and
    /// what its sessions read, with fresh session counters.
    pub fn into_parts(self) -> (Arc<dyn Storage>, Arc<dyn Authenticator>, DriverConfig) {
        let mut session = self.session;
        // The session decides what a non-resumed data connection gets.
        let reuse = self
            .tls
            .as_ref()
            .is_some_and(TlsSettings::session_reuse_required);
        if reuse && !session.require_tls_session_reuse {
            Arc::make_mut(&mut session).require_tls_session_reuse = true;
        }
        if session.tls != self.tls.is_some() {
            Arc::make_mut(&mut session).tls = self.tls.is_some();
        }
        let config = DriverConfig {
            session,
            passive_ports: self.passive_ports,
            limits: SessionLimits::new(self.max_sessions, self.max_sessions_per_ip),
            tls: self.tls,
            balancers: self.balancers,
            bans: Bans::new(self.bans).counted_in(self.metrics.clone()),
            control_keepalive: self.control_keepalive,
            metrics: self.metrics,
            copy_only: self.copy_only,
        };
        (self.storage, self.authenticator, config)
    }

    /// For a driver's `Server::new`: what every session of the server
    /// shares ([`into_parts`](Self::into_parts) and the passive ports).
    pub fn into_served(self) -> Served {
        let (storage, authenticator, config) = self.into_parts();
        let ports = PassivePorts::new(config.passive_ports);
        Served {
            config,
            storage,
            authenticator,
            ports,
        }
    }
}

/// What every session of one server shares, whatever the driver.
pub struct Served {
    /// What sessions read.
    pub config: DriverConfig,
    /// The files.
    pub storage: Arc<dyn Storage>,
    /// The users.
    pub authenticator: Arc<dyn Authenticator>,
    /// Ports for passive listeners, handed out in turn.
    pub ports: PassivePorts,
}

impl fmt::Debug for ServerSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerSettings")
            .field("session", &self.session)
            .field("passive_ports", &self.passive_ports)
            .field("max_sessions", &self.max_sessions)
            .field("max_sessions_per_ip", &self.max_sessions_per_ip)
            .field("tls", &self.tls)
            .field("balancers", &self.balancers)
            .field("bans", &self.bans)
            .field("control_keepalive", &self.control_keepalive)
            .field("copy_only", &self.copy_only)
            .finish_non_exhaustive()
    }
}

/// What a driver's sessions read, from [`ServerSettings::into_parts`].
#[derive(Debug, Clone, Default)]
pub struct DriverConfig {
    /// Settings shared by every session; `session.tls` is true exactly
    /// when `tls` is set.
    pub session: Arc<ServerConfig>,
    /// Ports for passive listeners; `None`: any port the OS picks.
    pub passive_ports: Option<PortRange>,
    /// How many sessions may run at once, checked at accept time.
    pub limits: SessionLimits,
    /// FTPS; `None`: plain FTP only.
    pub tls: Option<TlsSettings>,
    /// Load balancers whose connections start with a PROXY header.
    pub balancers: Balancers,
    /// Failed logins and bans, checked at accept time.
    pub bans: Bans,
    /// TCP keepalive idle time on control connections; `None`: off.
    pub control_keepalive: Option<Duration>,
    /// What the server's sessions count.
    pub metrics: Arc<Metrics>,
    /// Every transfer copies ([`ServerSettings::copy_only`]).
    pub copy_only: bool,
}

impl DriverConfig {
    /// A place for a session from `ip` (the real client's, behind a load
    /// balancer): refused while it is banned, or past a session limit.
    pub fn admit(&self, ip: IpAddr) -> Result<SessionPermit, Refusal> {
        let admitted = match self.bans.banned(ip, std::time::Instant::now()) {
            Some(left) => Err(Refusal::Banned(left)),
            None => self.limits.admit(ip),
        };
        if let Err(refusal) = &admitted {
            self.metrics.refused(refusal);
        }
        admitted
    }

    /// Implicit FTPS (TLS from the first byte) needs a certificate: an
    /// error that says so when there is none.
    pub fn check_implicit_tls(&self) -> std::io::Result<()> {
        if self.tls.is_none() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "implicit FTPS needs a certificate: give ServerSettings::tls",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LocalFs, UserDb};

    fn settings() -> ServerSettings {
        let dir = tempfile::tempdir().unwrap();
        ServerSettings::new(
            Arc::new(LocalFs::new(dir.path()).unwrap()),
            Arc::new(UserDb::new()),
        )
    }

    fn test_tls() -> TlsSettings {
        let key = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        TlsSettings::from_der(
            vec![key.cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.signing_key.serialize_der().into()),
        )
        .unwrap()
    }

    #[test]
    fn the_core_offers_tls_exactly_when_a_certificate_is_given() {
        let asks_for_tls = ServerConfig {
            tls: true,
            ..ServerConfig::default()
        };
        let (_, _, plain) = settings().session_config(asks_for_tls).into_parts();
        assert!(!plain.session.tls && plain.tls.is_none());
        let (_, _, ftps) = settings().tls(test_tls()).into_parts();
        assert!(ftps.session.tls && ftps.tls.is_some());
    }

    #[test]
    fn limits_and_ports_reach_the_driver() {
        let (_, _, config) = settings()
            .passive_ports(PortRange::new(50000, 50001).unwrap())
            .max_sessions(2)
            .max_sessions_per_ip(1)
            .into_parts();
        assert_eq!(config.passive_ports, PortRange::new(50000, 50001));
        let ip = "192.0.2.1".parse().unwrap();
        let _first = config.limits.admit(ip).unwrap();
        assert!(config.limits.admit(ip).is_err(), "per-IP limit of 1");
        let _other = config.limits.admit("192.0.2.2".parse().unwrap()).unwrap();
        assert!(
            config.limits.admit("192.0.2.3".parse().unwrap()).is_err(),
            "limit of 2 in all"
        );
    }
}
