//! Server-wide settings shared by every session.

use alloc::borrow::Cow;
use alloc::sync::Arc;
use core::time::Duration;

use crate::address::{PassiveAddress, PassiveAdvertiser, PassivePolicy};

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
    /// Received bytes a session holds without running them (commands
    /// pipelined behind a transfer or a pending answer); past it
    /// [`wants_input`](super::ServerSession::wants_input) turns false so
    /// the host stops reading and TCP pushes back on the client (a host fed
    /// on regardless to twice this much ends the session with `421`).
    pub input_limit: usize,
    /// A session with no command for this long gets `421` and is closed.
    pub idle_timeout: Duration,
    /// A session not logged in this long after it connected (TLS handshake
    /// included) gets `421` and is closed, so silent connections cannot
    /// hold session places for the whole idle timeout.
    pub login_timeout: Duration,
    /// How long the session waits for the host's answer to an event (a
    /// login check, a passive listener, a file's facts, a change) before
    /// it closes with `421` and a notice: a host that loses an answer cannot
    /// leave a session open forever.
    pub host_answer_timeout: Duration,
    /// A transfer whose data connection moves nothing for this long (no
    /// progress reported) is aborted with `426`: the client is gone.
    pub data_stall_timeout: Duration,
    /// Refuse (`522`, RFC 4217 §10.2) a protected data connection that did
    /// not resume the control connection's TLS session: another party may
    /// have taken the data connection.
    pub require_tls_session_reuse: bool,
    /// How long a transfer may wait for its data connection (and then its
    /// TLS handshake) before `425`.
    pub data_connection_timeout: Duration,
    /// A failed PASS is answered only after this delay (slows password guessing).
    pub failed_login_delay: Duration,
    /// After this many failed logins the session gets `421` and is closed.
    pub max_login_failures: u32,
    /// Which address PASV replies advertise to which peer.
    pub passive: PassivePolicy,
    /// The host can do TLS (a certificate is configured): AUTH TLS, PBSZ and
    /// PROT are offered (RFC 4217).
    pub tls: bool,
    /// Refuse logins on a plain control channel and transfers without PROT P.
    pub require_tls: bool,
    /// Allow CCC (back to a plain control channel after login). Off: a NAT
    /// ALG is the only reason to want it, and it undoes the protection.
    pub allow_ccc: bool,
    /// Masquerade address for sessions whose control channel is protected,
    /// replacing `passive.external` for them: behind a NAT whose ALG rewrites
    /// plain-FTP 227 replies, only FTPS needs the masquerade.
    pub tls_passive_address: Option<PassiveAddress>,
    /// The host's choice of what PASV/EPSV replies advertise (address and
    /// port), given the policy's choice above and the bound port; `None`:
    /// the policy's choice with the bound port. For port-mapping NATs and
    /// NodePorts, where the port a client dials is not the bound one.
    pub passive_advertiser: Option<Arc<dyn PassiveAdvertiser>>,
    /// LIST and NLST show entries whose name starts with `.` even without
    /// `-a` (MLSD always does).
    pub show_dot_files: bool,
    /// Read-only logins (anonymous) may reach dot files. Off: any path
    /// with a component starting with `.` gets `550` for them (RETR, CWD,
    /// LIST, SIZE, ...) and listings leave such entries out, so a source
    /// tree served as it is does not hand out `.git` or `.env`. Writable
    /// logins are never restricted.
    pub share_dot_files: bool,
    /// Implicit-FTPS sessions start as if the client had sent `PBSZ 0` and
    /// `PROT P`: for clients that protect their data connections without
    /// saying so (suppaftp's implicit mode). Off: RFC 4217 data starts clear.
    pub implicit_tls_prot_p: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            greeting: Cow::Borrowed("ftpwire ready"),
            line_limit: 4096,
            input_limit: 64 * 1024,
            idle_timeout: Duration::from_secs(300),
            login_timeout: Duration::from_secs(30),
            host_answer_timeout: Duration::from_secs(120),
            data_connection_timeout: Duration::from_secs(30),
            data_stall_timeout: Duration::from_secs(300),
            require_tls_session_reuse: false,
            failed_login_delay: Duration::from_secs(1),
            max_login_failures: 3,
            passive: PassivePolicy::default(),
            tls: false,
            require_tls: false,
            allow_ccc: false,
            tls_passive_address: None,
            passive_advertiser: None,
            show_dot_files: false,
            share_dot_files: false,
            implicit_tls_prot_p: false,
        }
    }
}
