//! What a client session is told before it connects.

use alloc::string::String;
use core::time::Duration;

use super::passive::PasvAddressPolicy;

/// How the control connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Security {
    /// Plain FTP.
    #[default]
    Plain,
    /// Explicit FTPS (RFC 4217): `AUTH TLS` after the greeting, before login.
    Explicit,
    /// Implicit FTPS (port 990 style): the host's TLS handshake comes
    /// before any FTP byte; the session starts secured.
    Implicit,
}

impl Security {
    /// Whether the control connection is (or will be) under TLS.
    pub fn is_tls(self) -> bool {
        !matches!(self, Security::Plain)
    }
}

/// How transfers get their data connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DataMode {
    /// `EPSV`, and `PASV` only if the server refuses `EPSV` (what every
    /// modern client should do: EPSV names no address NAT can get wrong).
    #[default]
    Passive,
    /// `EPSV` only: a refusal fails the transfer.
    ExtendedPassive,
    /// `PASV` only (what a diagnosis of the `227` address needs).
    Pasv,
    /// `PORT`/`EPRT`: the server dials the client. Only when the user asked:
    /// a session never falls back to it.
    Active,
}

/// A client session's settings.
///
/// ```
/// use ftpwire_core::client::{ClientConfig, Security};
/// let config = ClientConfig { security: Security::Explicit, ..ClientConfig::login("ann", "pw") };
/// assert_eq!(config.user, "ann");
/// assert!(config.protect_data);
/// ```
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The USER argument (`anonymous` for anonymous FTP).
    pub user: String,
    /// The PASS argument.
    pub password: String,
    /// Plain, explicit or implicit FTPS.
    pub security: Security,
    /// Under TLS, protect data connections too (`PROT P`); otherwise `PROT C`.
    pub protect_data: bool,
    /// What to do when a `227` names another address than the control peer.
    pub pasv_policy: PasvAddressPolicy,
    /// How transfers get their data connection (the session's default;
    /// [`ClientSession::set_data_mode`](super::ClientSession::set_data_mode) changes it).
    pub data_mode: DataMode,
    /// The longest reply accepted (all lines of a multi-line one): a server
    /// that sends more is cut off rather than buffered without bound.
    pub reply_limit: usize,
    /// How long to wait for a reply before giving up.
    pub reply_timeout: Duration,
    /// How long a data connection may move nothing before the transfer fails.
    pub data_timeout: Duration,
}

impl ClientConfig {
    /// Plain FTP as `user`, passive, defaults for the rest.
    pub fn login(user: &str, password: &str) -> Self {
        ClientConfig {
            user: user.into(),
            password: password.into(),
            ..ClientConfig::default()
        }
    }
}

impl Default for ClientConfig {
    /// Anonymous plain FTP, passive (EPSV then PASV), `227` addresses
    /// replaced with a warning, 64 KiB replies, 30 s reply and 60 s data timeouts.
    fn default() -> Self {
        ClientConfig {
            user: "anonymous".into(),
            password: "ftpwire@".into(),
            security: Security::Plain,
            protect_data: true,
            pasv_policy: PasvAddressPolicy::Replace,
            data_mode: DataMode::Passive,
            reply_limit: 64 * 1024,
            reply_timeout: Duration::from_secs(30),
            data_timeout: Duration::from_secs(60),
        }
    }
}
