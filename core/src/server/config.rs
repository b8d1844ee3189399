//! Server-wide settings shared by every session.

use alloc::borrow::Cow;
use core::time::Duration;

use crate::address::PassivePolicy;

/// Settings every [`ServerSession`](super::ServerSession) of one server shares
/// (wrap it in an `Arc`). `Default` is the safe operator default.
///
/// ```
/// use ftpwire_core::ServerConfig;
/// let config = ServerConfig { max_login_failures: 5, ..ServerConfig::default() };
/// assert_eq!(config.line_limit, 4096);
/// ```
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Text of the `220` greeting.
    pub greeting: Cow<'static, str>,
    /// Longest command line accepted, CRLF included; longer lines get `500`
    /// and are discarded without being buffered.
    pub line_limit: usize,
    /// A session with no command for this long gets `421` and is closed.
    pub idle_timeout: Duration,
    /// How long a transfer may wait for its data connection before `425`.
    pub data_connection_timeout: Duration,
    /// A failed PASS is answered only after this delay (slows password guessing).
    pub failed_login_delay: Duration,
    /// After this many failed logins the session gets `421` and is closed.
    pub max_login_failures: u32,
    /// Which address PASV replies advertise to which peer.
    pub passive: PassivePolicy,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            greeting: Cow::Borrowed("ftpwire ready"),
            line_limit: 4096,
            idle_timeout: Duration::from_secs(300),
            data_connection_timeout: Duration::from_secs(30),
            failed_login_delay: Duration::from_secs(1),
            max_login_failures: 3,
            passive: PassivePolicy::default(),
        }
    }
}
