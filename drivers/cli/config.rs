//! The settings of `ftpwire serve`, whichever driver runs it: read from
//! TOML, overridden by command-line flags, checked at start, and turned into
//! the [`ServerSettings`] a driver's `Server::new` takes. The program's own
//! type: a library user builds [`ServerSettings`] in code instead.
//!
//! ```toml
//! listen = "0.0.0.0:21"
//! root = "/srv/ftp"              # relative paths are relative to this file
//! anonymous = false              # default: true only when no user is configured
//! passive_ports = "50000-50100"
//! passive_address = "ftp.example.com"   # or an IP; names resolve at each PASV
//! passive_port_map = "50000-50100:30000" # PASV/EPSV advertise 30000+ (NAT, NodePorts)
//! local_networks = ["10.0.0.0/8", "192.168.0.0/16"]
//! proxy_protocol_from = ["10.0.9.0/24"]   # load balancers sending PROXY headers
//! ban_after = 10                 # failed logins within ban_window that ban an address (0: never)
//! ban_window = 600               # seconds
//! ban_time = 900                 # seconds
//! control_keepalive = 60         # seconds idle before TCP keepalive probes (0: off)
//!
//! idle_timeout = 300             # seconds without a command before 421
//! login_timeout = 30             # seconds to log in (TLS handshake included) before 421
//! shutdown_grace = 30            # seconds running transfers get at shutdown
//!
//! tls_cert = "cert.pem"          # FTPS: AUTH TLS on `listen`
//! tls_key = "key.pem"
//! implicit_tls_listen = "0.0.0.0:990"   # optional implicit-FTPS listener
//! implicit_tls_prot_p = false    # implicit sessions start with PROT P
//! tls_passive_address = "203.0.113.7"   # PASV address for TLS sessions
//! require_tls = false
//! require_tls_session_reuse = false
//! allow_ccc = false              # CCC: plain control channel after login
//! metrics_listen = "127.0.0.1:9121"   # Prometheus metrics on /metrics
//! log_format = "text"            # or "json": one object per line
//! show_dot_files = false         # LIST/NLST show dot files without -a
//! share_dot_files = false        # read-only logins may reach .git, .env, ...
//!
//! # Serve an S3 bucket instead of `root` (path-style requests):
//! s3_endpoint = "http://127.0.0.1:3900"
//! s3_bucket = "ftp"
//! s3_region = "garage"           # the default (Garage's s3_region); AWS: the bucket's region
//! s3_prefix = "site-a"           # keys under site-a/ (default: the whole bucket)
//! s3_access_key_id = "GK..."     # else AWS_ACCESS_KEY_ID
//! s3_secret_access_key = "..."   # else AWS_SECRET_ACCESS_KEY
//!
//! [[users]]
//! name = "alice"
//! password = "plain text"
//!
//! [[users]]
//! name = "bob"
//! password_hash = "$argon2id$v=19$m=19456,t=2,p=1$..."
//! read_only = true
//! s3_prefix = "bob"              # with s3_endpoint: bob's / is the keys under site-a/bob/
//! ```

use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use ftpwire_backend::native::bans::{
    BanPolicy, DEFAULT_BAN_AFTER, DEFAULT_BAN_TIME, DEFAULT_BAN_WINDOW,
};
use ftpwire_backend::native::limits::{DEFAULT_MAX_SESSIONS, DEFAULT_MAX_SESSIONS_PER_IP};
use ftpwire_backend::native::proxy::Balancers;
use ftpwire_backend::served::s3::{S3Settings, S3SettingsError, S3Storage};

use crate::logging::LogFormat;
use ftpwire_backend::native::settings::DEFAULT_CONTROL_KEEPALIVE;
use ftpwire_backend::native::tls::TlsError;
use ftpwire_backend::{
    Authenticator, LocalFs, Password, PortRange, ServerSettings, Storage, TlsSettings, UserDb,
};
use ftpwire_core::ServerConfig;
use ftpwire_core::address::{
    IpNet, PassiveAddress, PassiveAdvertiser, PassivePolicy, PassivePortMap,
};
use serde::{Deserialize, Deserializer};

/// The region S3 requests are signed for when none is given: Garage's
/// usual `s3_region`, since Garage refuses requests signed for any other
/// (AWS: give the bucket's region, e.g. `us-east-1`).
pub const DEFAULT_S3_REGION: &str = "garage";

/// The address `ftpwire serve` listens on when none is given.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:2121";

/// How long running transfers may go on after a shutdown signal.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Every setting of `ftpwire serve` (see the [module docs](self) for the TOML form).
///
/// ```
/// use ftpwire::config::ServeConfig;
/// let config = ServeConfig::from_toml(r#"
///     root = "/srv/ftp"
///     passive_ports = "50000-50010"
///     [[users]]
///     name = "alice"
///     password = "secret"
/// "#).unwrap();
/// assert_eq!(config.listen.port(), 2121);
/// assert!(!config.anonymous_allowed());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    /// The control connection listener.
    pub listen: SocketAddr,
    /// The directory served to every user.
    pub root: PathBuf,
    /// Named users.
    pub users: Vec<UserConfig>,
    /// Read-only `anonymous`/`ftp` logins; `None` means "only if there are no users".
    pub anonymous: Option<bool>,
    /// Ports for passive listeners; `None`: any port the OS picks.
    #[serde(deserialize_with = "some_from_str")]
    pub passive_ports: Option<PortRange>,
    /// The address PASV advertises to peers outside `local_networks`.
    #[serde(deserialize_with = "some_from_str")]
    pub passive_address: Option<PassiveAddress>,
    /// Ports PASV/EPSV advertise in place of the bound ones (a port-mapping
    /// NAT, Kubernetes NodePorts): `BOUND:ADVERTISED` or `LO-HI:ADVERTISED_LO`.
    #[serde(deserialize_with = "some_from_str")]
    pub passive_port_map: Option<PassivePortMap>,
    /// Peers in these networks get the control connection's local address in PASV.
    #[serde(deserialize_with = "vec_from_str")]
    pub local_networks: Vec<IpNet>,
    /// Load balancers whose connections start with a PROXY header.
    #[serde(deserialize_with = "balancers_from_strs")]
    pub proxy_protocol_from: Balancers,
    /// Failed logins from one address within `ban_window` that ban it for
    /// `ban_time`; 0 never bans.
    pub ban_after: u32,
    /// How far back failed logins count (TOML: whole seconds).
    #[serde(deserialize_with = "positive_duration_from_secs")]
    pub ban_window: Duration,
    /// How long a ban lasts (TOML: whole seconds).
    #[serde(deserialize_with = "positive_duration_from_secs")]
    pub ban_time: Duration,
    /// Idle time before TCP keepalive probes on control connections; zero
    /// turns them off (TOML: whole seconds).
    #[serde(deserialize_with = "duration_from_secs")]
    pub control_keepalive: Duration,
    /// Sessions running at once; more connections get `421` and are closed.
    pub max_sessions: usize,
    /// Sessions running at once from one client IP.
    pub max_sessions_per_ip: usize,
    /// A session without a command (or data moving) for this long gets
    /// `421` and is closed (TOML: whole seconds).
    #[serde(deserialize_with = "positive_duration_from_secs")]
    pub idle_timeout: Duration,
    /// A connection not logged in this long (TLS handshake included) gets
    /// `421` and is closed, so silent connections free their session place
    /// (TOML: whole seconds).
    #[serde(deserialize_with = "positive_duration_from_secs")]
    pub login_timeout: Duration,
    /// At shutdown (SIGINT/SIGTERM), how long running transfers may go on
    /// before their sessions are closed (TOML: whole seconds).
    #[serde(deserialize_with = "duration_from_secs")]
    pub shutdown_grace: Duration,
    /// PEM certificate chain for FTPS (with `tls_key`).
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// The address PASV advertises to outside peers on a TLS control
    /// channel, which no NAT helper can rewrite.
    #[serde(deserialize_with = "some_from_str")]
    pub tls_passive_address: Option<PassiveAddress>,
    /// A second listener where TLS starts before the first byte (port 990 style).
    pub implicit_tls_listen: Option<SocketAddr>,
    /// Implicit-FTPS sessions start with `PROT P` in force, for clients that
    /// protect data connections without sending it (suppaftp's implicit mode).
    pub implicit_tls_prot_p: bool,
    /// Refuse logins on a plain control channel and transfers without PROT P.
    pub require_tls: bool,
    /// Refuse protected data connections that do not resume the control
    /// connection's TLS session.
    pub require_tls_session_reuse: bool,
    /// Let a client turn its control channel back to plain text with CCC,
    /// so a NAT's FTP helper can read (and rewrite) the rest of the session;
    /// data connections keep their protection. Conflicts with `require_tls`.
    pub allow_ccc: bool,
    /// Serve Prometheus metrics on `http://ADDR/metrics`.
    pub metrics_listen: Option<SocketAddr>,
    /// `text` or `json` log lines.
    pub log_format: LogFormat,
    /// LIST and NLST show dot files even without `-a`.
    pub show_dot_files: bool,
    /// Read-only logins (anonymous) may reach dot files; off, a source
    /// tree served as it is keeps `.git` and `.env` to writable users.
    pub share_dot_files: bool,
    /// Serve this S3 endpoint's `s3_bucket` instead of `root`.
    pub s3_endpoint: Option<String>,
    /// The bucket (with `s3_endpoint`).
    pub s3_bucket: Option<String>,
    /// The region requests are signed for; `None`: [`DEFAULT_S3_REGION`].
    pub s3_region: Option<String>,
    /// The key prefix under which `/` lies; `None`: the whole bucket.
    pub s3_prefix: Option<String>,
    /// The access key; `None`: `AWS_ACCESS_KEY_ID`.
    pub s3_access_key_id: Option<String>,
    /// Its secret; `None`: `AWS_SECRET_ACCESS_KEY`.
    pub s3_secret_access_key: Option<String>,
}

impl Default for ServeConfig {
    /// The current directory, read-only to anonymous users, on 127.0.0.1:2121.
    fn default() -> Self {
        ServeConfig {
            listen: DEFAULT_LISTEN.parse().expect("valid default address"),
            root: PathBuf::from("."),
            users: Vec::new(),
            anonymous: None,
            passive_ports: None,
            passive_address: None,
            passive_port_map: None,
            local_networks: Vec::new(),
            proxy_protocol_from: Balancers::default(),
            ban_after: DEFAULT_BAN_AFTER,
            ban_window: DEFAULT_BAN_WINDOW,
            ban_time: DEFAULT_BAN_TIME,
            control_keepalive: DEFAULT_CONTROL_KEEPALIVE,
            max_sessions: DEFAULT_MAX_SESSIONS,
            max_sessions_per_ip: DEFAULT_MAX_SESSIONS_PER_IP,
            idle_timeout: ServerConfig::default().idle_timeout,
            login_timeout: ServerConfig::default().login_timeout,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            tls_cert: None,
            tls_key: None,
            tls_passive_address: None,
            implicit_tls_listen: None,
            implicit_tls_prot_p: false,
            require_tls: false,
            require_tls_session_reuse: false,
            allow_ccc: false,
            metrics_listen: None,
            log_format: LogFormat::Text,
            show_dot_files: false,
            share_dot_files: false,
            s3_endpoint: None,
            s3_bucket: None,
            s3_region: None,
            s3_prefix: None,
            s3_access_key_id: None,
            s3_secret_access_key: None,
        }
    }
}

/// One `[[users]]` entry.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// The login name.
    pub name: String,
    /// A plain-text password (either this or `password_hash`).
    #[serde(default)]
    pub password: Option<String>,
    /// An argon2 PHC string (either this or `password`).
    #[serde(default)]
    pub password_hash: Option<String>,
    /// Refuse every command that writes.
    #[serde(default)]
    pub read_only: bool,
    /// With `s3_endpoint`: this user's `/` is the keys under this prefix
    /// (beneath the server's `s3_prefix`), not the server's `/`.
    #[serde(default)]
    pub s3_prefix: Option<String>,
}

impl fmt::Debug for UserConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserConfig")
            .field("name", &self.name)
            .field("read_only", &self.read_only)
            .field("s3_prefix", &self.s3_prefix)
            .finish_non_exhaustive()
    }
}

impl UserConfig {
    /// A user with a plain password, from `NAME:PASSWORD` (the password may
    /// contain `:`).
    ///
    /// ```
    /// let user: ftpwire::config::UserConfig = "alice:pa:ss".parse().unwrap();
    /// assert_eq!((user.name.as_str(), user.password.as_deref()), ("alice", Some("pa:ss")));
    /// ```
    pub fn plain(name: &str, password: &str) -> Self {
        UserConfig {
            name: name.to_owned(),
            password: Some(password.to_owned()),
            password_hash: None,
            read_only: false,
            s3_prefix: None,
        }
    }
}

impl FromStr for UserConfig {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        match s.split_once(':') {
            Some((name, password)) if !name.is_empty() => Ok(UserConfig::plain(name, password)),
            _ => Err(ConfigError::UserSyntax),
        }
    }
}

/// Checks a user's `s3_prefix`: key names joined by `/` (a trailing `/`
/// is allowed), none empty, `.` or `..`, no leading `/`: a prefix that
/// could name another user's keys, or the server's own, is refused at start.
fn check_user_prefix(prefix: &str) -> Result<(), &'static str> {
    let names = prefix.strip_suffix('/').unwrap_or(prefix);
    if names.is_empty() {
        return Err(
            "s3_prefix is empty; give the key prefix this user's files live under, e.g. \"alice\"",
        );
    }
    if names.starts_with('/') {
        return Err(
            "s3_prefix starts with /; give it relative to the server's s3_prefix, e.g. \"alice\"",
        );
    }
    if names.split('/').any(|name| matches!(name, "" | "." | "..")) {
        return Err(
            "s3_prefix has an empty, \".\" or \"..\" part; give plain names joined by /, e.g. \"team/alice\"",
        );
    }
    if names.chars().any(char::is_control) {
        return Err("s3_prefix has a control character; give plain names joined by /");
    }
    Ok(())
}

/// A configuration that cannot be used; each message is one line that says
/// what is wrong and where.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The config file is not valid TOML or has a bad value.
    #[error("{origin}, line {line}: {message}")]
    Syntax {
        /// The file (or "config").
        origin: String,
        /// 1-based line of the problem.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// `--user` without `NAME:`.
    #[error("user must be given as NAME:PASSWORD")]
    UserSyntax,
    /// A user entry is incomplete or contradictory.
    #[error("user {name:?}: {problem}")]
    User {
        /// The user's name.
        name: String,
        /// What is wrong.
        problem: String,
    },
    /// The certificate or key cannot be used.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// A TLS setting was given without a certificate.
    #[error(
        "{setting} needs a certificate: give --tls-cert FILE.pem and --tls-key FILE.pem (tls_cert and tls_key in the config file)"
    )]
    TlsNotConfigured {
        /// The setting that needs TLS.
        setting: &'static str,
    },
    /// CCC would undo what `--require-tls` demands.
    #[error(
        "--allow-ccc conflicts with --require-tls: a session that must stay protected cannot drop TLS; give only one of them"
    )]
    CccWithRequireTls,
    /// Half of the S3 settings.
    #[error("{given} needs {missing} too (or neither, to serve --root)")]
    S3Incomplete {
        /// The setting given.
        given: &'static str,
        /// The one missing.
        missing: &'static str,
    },
    /// No S3 credentials anywhere.
    #[error(
        "serving an S3 bucket needs credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \
         (or s3_access_key_id and s3_secret_access_key in the config file)"
    )]
    S3Credentials,
    /// The S3 endpoint cannot be used.
    #[error(transparent)]
    S3(#[from] S3SettingsError),
    /// The root directory cannot be served.
    #[error("root directory {path} cannot be served: {source}")]
    Root {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// A parser message as one printable line: the TOML parser quotes keys and
/// values from the file verbatim, so a quoted key holding `\r` would
/// otherwise split the log line (or rewrite the terminal).
fn one_line(message: &str) -> String {
    let mut line = String::with_capacity(message.len());
    for c in message.chars() {
        match c {
            '\n' => line.push_str("; "),
            c if c.is_control() => line.extend(c.escape_default()),
            c => line.push(c),
        }
    }
    line
}

impl ServeConfig {
    /// Parses TOML text (relative paths stay relative to the current directory).
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        Self::parse(text, "config")
    }

    /// Reads a TOML config file; relative paths in it (`root`, `tls_cert`,
    /// `tls_key`) are taken relative to the file's directory.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config = Self::parse(&text, &path.display().to_string())?;
        if let Some(dir) = path.parent() {
            let paths = [
                Some(&mut config.root),
                config.tls_cert.as_mut(),
                config.tls_key.as_mut(),
            ];
            for path in paths.into_iter().flatten() {
                if path.is_relative() {
                    *path = dir.join(&*path);
                }
            }
        }
        Ok(config)
    }

    fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|error: toml::de::Error| {
            let offset = error.span().map_or(0, |span| span.start);
            ConfigError::Syntax {
                origin: origin.to_owned(),
                line: text[..offset.min(text.len())].matches('\n').count() + 1,
                message: one_line(error.message().trim()),
            }
        })
    }

    /// Whether anonymous read-only logins are allowed: as configured, or
    /// when no user is configured at all (so `ftpwire serve` alone works).
    pub fn anonymous_allowed(&self) -> bool {
        self.anonymous.unwrap_or(self.users.is_empty())
    }

    /// The user database, with every user entry checked.
    pub fn user_db(&self) -> Result<UserDb, ConfigError> {
        let mut db = UserDb::new();
        let mut seen = HashSet::new();
        for user in &self.users {
            let problem = |problem: &str| ConfigError::User {
                name: user.name.clone(),
                problem: problem.to_owned(),
            };
            if user.name.is_empty() {
                return Err(problem("the name is empty"));
            }
            if !seen.insert(&user.name) {
                return Err(problem("configured twice"));
            }
            let password = match (&user.password, &user.password_hash) {
                (Some(plain), None) => Password::Plain(plain.clone().into_bytes()),
                (None, Some(hash)) => {
                    Password::argon2(hash).map_err(|e| problem(&format!("password_hash is {e}")))?
                }
                (Some(_), Some(_)) => {
                    return Err(problem("give either password or password_hash, not both"));
                }
                (None, None) => return Err(problem("needs a password or a password_hash")),
            };
            db.add(user.name.as_bytes(), password, user.read_only);
            if let Some(prefix) = &user.s3_prefix {
                check_user_prefix(prefix).map_err(problem)?;
            }
        }
        self.add_s3_homes(&mut db, |name| std::env::var(name).ok())?;
        db.allow_anonymous(self.anonymous_allowed());
        Ok(db)
    }

    /// Gives each user with an `s3_prefix` their own view of the bucket:
    /// the keys under `<s3_prefix>/<user's s3_prefix>/`.
    fn add_s3_homes(
        &self,
        db: &mut UserDb,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        let Some(first) = self.users.iter().find(|u| u.s3_prefix.is_some()) else {
            return Ok(());
        };
        let Some(settings) = self.s3_settings(env)? else {
            return Err(ConfigError::User {
                name: first.name.clone(),
                problem: "s3_prefix needs s3_endpoint and s3_bucket (a served directory has no \
                          per-user prefix); remove it or serve a bucket"
                    .to_owned(),
            });
        };
        for user in &self.users {
            let Some(prefix) = &user.s3_prefix else {
                continue;
            };
            let server = settings.prefix.trim_matches('/');
            let prefix = prefix.trim_end_matches('/');
            let home = S3Settings {
                prefix: match server {
                    "" => prefix.to_owned(),
                    server => format!("{server}/{prefix}"),
                },
                ..settings.clone()
            };
            db.set_home(user.name.as_bytes(), Arc::new(S3Storage::new(&home)?));
        }
        Ok(())
    }

    /// The jailed storage at `root`; fails now if the root cannot be served.
    pub fn storage(&self) -> Result<LocalFs, ConfigError> {
        LocalFs::new(&self.root).map_err(|source| ConfigError::Root {
            path: self.root.clone(),
            source,
        })
    }

    /// What `ftpwire serve` serves, and how to name it in the log: the S3
    /// bucket when `s3_endpoint` is set (credentials from the environment
    /// when the file has none), else the jailed directory `root`.
    pub fn served_storage(&self) -> Result<(Arc<dyn Storage>, String), ConfigError> {
        match self.s3_settings(|name| std::env::var(name).ok())? {
            Some(settings) => {
                let storage = S3Storage::new(&settings)?;
                let name = format!(
                    "s3 bucket {} at {}{}",
                    settings.bucket,
                    settings.endpoint,
                    match storage.prefix() {
                        "" => String::new(),
                        prefix => format!(", keys under {prefix}"),
                    }
                );
                Ok((Arc::new(storage), name))
            }
            None => {
                let storage = self.storage()?;
                let name = storage.root().display().to_string();
                Ok((Arc::new(storage), name))
            }
        }
    }

    /// The S3 settings, `None` without `s3_endpoint` and `s3_bucket`;
    /// `env` looks up the credentials the file does not give.
    ///
    /// ```
    /// let config = ftpwire::config::ServeConfig::from_toml(r#"
    ///     s3_endpoint = "http://127.0.0.1:3900"
    ///     s3_bucket = "ftp"
    /// "#).unwrap();
    /// let env = |name: &str| Some(format!("from {name}"));
    /// let settings = config.s3_settings(env).unwrap().unwrap();
    /// assert_eq!(settings.region, "garage");
    /// assert_eq!(settings.access_key_id, "from AWS_ACCESS_KEY_ID");
    /// ```
    pub fn s3_settings(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<S3Settings>, ConfigError> {
        let (endpoint, bucket) = match (&self.s3_endpoint, &self.s3_bucket) {
            (Some(endpoint), Some(bucket)) => (endpoint, bucket),
            (None, None) => return Ok(None),
            (Some(_), None) => {
                return Err(ConfigError::S3Incomplete {
                    given: "--s3-endpoint",
                    missing: "--s3-bucket",
                });
            }
            (None, Some(_)) => {
                return Err(ConfigError::S3Incomplete {
                    given: "--s3-bucket",
                    missing: "--s3-endpoint",
                });
            }
        };
        let credential = |file: &Option<String>, name: &str| {
            file.clone()
                .or_else(|| env(name))
                .filter(|value| !value.is_empty())
                .ok_or(ConfigError::S3Credentials)
        };
        Ok(Some(S3Settings {
            endpoint: endpoint.clone(),
            bucket: bucket.clone(),
            region: self
                .s3_region
                .clone()
                .unwrap_or_else(|| DEFAULT_S3_REGION.to_owned()),
            prefix: self.s3_prefix.clone().unwrap_or_default(),
            access_key_id: credential(&self.s3_access_key_id, "AWS_ACCESS_KEY_ID")?,
            secret_access_key: credential(&self.s3_secret_access_key, "AWS_SECRET_ACCESS_KEY")?,
        }))
    }

    /// The core's settings.
    pub fn server_config(&self) -> ServerConfig {
        ServerConfig {
            passive: PassivePolicy {
                external: self.passive_address.clone(),
                local_networks: self.local_networks.clone(),
            },
            idle_timeout: self.idle_timeout,
            // A data connection on which nothing moves for as long as an idle
            // control connection may last: the client is gone (426).
            data_stall_timeout: self.idle_timeout,
            login_timeout: self.login_timeout,
            tls: self.tls_cert.is_some(),
            require_tls_session_reuse: self.require_tls_session_reuse,
            require_tls: self.require_tls,
            allow_ccc: self.allow_ccc,
            tls_passive_address: self.tls_passive_address.clone(),
            show_dot_files: self.show_dot_files,
            share_dot_files: self.share_dot_files,
            implicit_tls_prot_p: self.implicit_tls_prot_p,
            passive_advertiser: self
                .passive_port_map
                .clone()
                .map(|map| Arc::new(map) as Arc<dyn PassiveAdvertiser>),
            ..ServerConfig::default()
        }
    }

    /// The FTPS settings: `None` without a certificate; fails now if the
    /// certificate or key cannot be used, or if a TLS-only setting is given
    /// without them.
    pub fn tls(&self) -> Result<Option<TlsSettings>, ConfigError> {
        let (cert, key) = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => (cert, key),
            (Some(_), None) => {
                return Err(ConfigError::TlsNotConfigured {
                    setting: "--tls-cert",
                });
            }
            (None, Some(_)) => {
                return Err(ConfigError::TlsNotConfigured {
                    setting: "--tls-key",
                });
            }
            (None, None) => {
                let needs_tls = [
                    (self.implicit_tls_listen.is_some(), "--implicit-tls-listen"),
                    (self.implicit_tls_prot_p, "--implicit-tls-prot-p"),
                    (self.require_tls, "--require-tls"),
                    (
                        self.require_tls_session_reuse,
                        "--require-tls-session-reuse",
                    ),
                    (self.tls_passive_address.is_some(), "--tls-passive-address"),
                    (self.allow_ccc, "--allow-ccc"),
                ];
                return match needs_tls.into_iter().find(|(given, _)| *given) {
                    Some((_, setting)) => Err(ConfigError::TlsNotConfigured { setting }),
                    None => Ok(None),
                };
            }
        };
        if self.allow_ccc && self.require_tls {
            return Err(ConfigError::CccWithRequireTls);
        }
        let tls = TlsSettings::from_pem_files(cert, key)?
            .with_session_reuse_required(self.require_tls_session_reuse);
        Ok(Some(tls))
    }

    /// The settings a driver's `Server::new` takes, serving `storage` to
    /// `users` (from [`storage`](Self::storage) and [`user_db`](Self::user_db));
    /// fails as [`tls`](Self::tls) does.
    pub fn server_settings(
        &self,
        storage: Arc<dyn Storage>,
        users: Arc<dyn Authenticator>,
    ) -> Result<ServerSettings, ConfigError> {
        let mut settings = ServerSettings::new(storage, users)
            .session_config(self.server_config())
            .max_sessions(self.max_sessions)
            .max_sessions_per_ip(self.max_sessions_per_ip)
            .proxy_protocol_from(self.proxy_protocol_from.clone())
            .bans(BanPolicy {
                after: self.ban_after,
                window: self.ban_window,
                ban_time: self.ban_time,
            })
            .control_keepalive(Some(self.control_keepalive).filter(|idle| !idle.is_zero()));
        if let Some(ports) = self.passive_ports {
            settings = settings.passive_ports(ports);
        }
        if let Some(tls) = self.tls()? {
            settings = settings.tls(tls);
        }
        Ok(settings)
    }
}

fn some_from_str<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    let text = String::deserialize(deserializer)?;
    text.parse().map(Some).map_err(serde::de::Error::custom)
}

fn duration_from_secs<'de, D>(deserializer: D) -> Result<Duration, D::Error>
where
    D: Deserializer<'de>,
{
    u64::deserialize(deserializer).map(Duration::from_secs)
}

fn positive_duration_from_secs<'de, D>(deserializer: D) -> Result<Duration, D::Error>
where
    D: Deserializer<'de>,
{
    match u64::deserialize(deserializer)? {
        0 => Err(serde::de::Error::custom("must be at least 1 second")),
        secs => Ok(Duration::from_secs(secs)),
    }
}

fn balancers_from_strs<'de, D>(deserializer: D) -> Result<Balancers, D::Error>
where
    D: Deserializer<'de>,
{
    let mut balancers = Balancers::default();
    for text in Vec::<String>::deserialize(deserializer)? {
        balancers.extend(text.parse().map_err(serde::de::Error::custom)?);
    }
    Ok(balancers)
}

fn vec_from_str<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    let texts = Vec::<String>::deserialize(deserializer)?;
    texts
        .iter()
        .map(|text| {
            text.parse()
                .map_err(|e| serde::de::Error::custom(format!("{text:?}: {e}")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use ftpwire_core::server::LoginOutcome;

    use ftpwire_backend::DriverConfig;

    use super::*;

    /// What a driver's sessions would read, serving an empty directory.
    fn driver_config(config: &ServeConfig) -> Result<DriverConfig, ConfigError> {
        let root = tempfile::tempdir().unwrap();
        let storage = Arc::new(LocalFs::new(root.path()).unwrap());
        let settings = config.server_settings(storage, Arc::new(UserDb::new()))?;
        Ok(settings.into_parts().2)
    }

    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$sDq4SJydHwxWnLTlXqq5ZzNDfmXrJUlaeTohxQaFrio";

    #[test]
    fn an_empty_file_is_the_no_flags_default() {
        let config = ServeConfig::from_toml("").unwrap();
        assert_eq!(config, ServeConfig::default());
        assert_eq!(config.listen, "127.0.0.1:2121".parse().unwrap());
        assert_eq!(config.root, PathBuf::from("."));
        assert!(config.anonymous_allowed());
    }

    #[test]
    fn every_setting_parses() {
        let text = format!(
            r#"
            listen = "[::1]:0"
            root = "/srv"
            anonymous = true
            passive_ports = "50000-50009"
            passive_port_map = "50000-50009:30000"
            local_networks = []

            [[users]]
            name = "alice"
            password = "pw"

            [[users]]
            name = "bob"
            password_hash = "{HASH}"
            read_only = true
            "#
        );
        let config = ServeConfig::from_toml(&text).unwrap();
        assert_eq!(config.listen, "[::1]:0".parse().unwrap());
        assert_eq!(config.root, PathBuf::from("/srv"));
        assert_eq!(config.passive_ports, PortRange::new(50000, 50009));
        let map = config.passive_port_map.as_ref().expect("the port map");
        assert_eq!(map.advertised(50003), 30003);
        assert!(config.server_config().passive_advertiser.is_some());
        assert_eq!(config.users.len(), 2);
        assert!(config.anonymous_allowed());
        let db = config.user_db().unwrap();
        assert_eq!(
            db.authenticate(b"alice", b"pw"),
            LoginOutcome::Accepted { read_only: false }
        );
        assert_eq!(
            db.authenticate(b"bob", b"correct horse"),
            LoginOutcome::Accepted { read_only: true }
        );
        assert_eq!(
            db.authenticate(b"ftp", b"x"),
            LoginOutcome::Accepted { read_only: true }
        );
        let driver = driver_config(&config).unwrap();
        assert_eq!(driver.passive_ports, config.passive_ports);
    }

    #[test]
    fn session_limits_reach_the_driver() {
        let config = ServeConfig::from_toml("max_sessions = 2\nmax_sessions_per_ip = 1").unwrap();
        let limits = driver_config(&config).unwrap().limits;
        let (a, b) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let _first = limits.admit(a).unwrap();
        assert!(limits.admit(a).is_err(), "max_sessions_per_ip = 1");
        let _second = limits.admit(b).unwrap();
        assert!(
            limits.admit("192.0.2.3".parse().unwrap()).is_err(),
            "max_sessions = 2"
        );
    }

    #[test]
    fn balancers_bans_and_keepalive_reach_the_driver() {
        let config = ServeConfig::from_toml(
            "proxy_protocol_from = [\"10.9.0.0/16\", \"192.0.2.7\"]\n\
             ban_after = 4\nban_window = 30\nban_time = 5\ncontrol_keepalive = 0",
        )
        .unwrap();
        let driver = driver_config(&config).unwrap();
        assert!(driver.balancers.contains("10.9.1.1".parse().unwrap()));
        assert!(driver.balancers.contains("192.0.2.7".parse().unwrap()));
        assert!(!driver.balancers.contains("192.0.2.8".parse().unwrap()));
        let policy = driver.bans.policy();
        assert_eq!(
            (policy.after, policy.window, policy.ban_time),
            (4, Duration::from_secs(30), Duration::from_secs(5))
        );
        assert_eq!(driver.control_keepalive, None, "0 turns keepalive off");
        let defaults = driver_config(&ServeConfig::default()).unwrap();
        assert_eq!(defaults.control_keepalive, Some(Duration::from_secs(60)));
        assert_eq!(defaults.bans.policy().after, 10);
        assert!(defaults.balancers.is_empty());
        assert!(ServeConfig::from_toml("proxy_protocol_from = [\"10.0.0.0/40\"]").is_err());
        assert!(ServeConfig::from_toml("ban_window = 0").is_err());
    }

    #[test]
    fn metrics_and_log_format_parse() {
        let config =
            ServeConfig::from_toml("metrics_listen = \"127.0.0.1:9121\"\nlog_format = \"json\"")
                .unwrap();
        assert_eq!(
            config.metrics_listen,
            Some("127.0.0.1:9121".parse().unwrap())
        );
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(ServeConfig::default().log_format, LogFormat::Text);
        assert!(ServeConfig::from_toml("log_format = \"xml\"").is_err());
    }

    #[test]
    fn users_turn_anonymous_off_unless_asked_for() {
        let config = ServeConfig::from_toml("[[users]]\nname = \"a\"\npassword = \"b\"\n").unwrap();
        assert!(!config.anonymous_allowed());
        let db = config.user_db().unwrap();
        assert_eq!(db.authenticate(b"anonymous", b"x"), LoginOutcome::Rejected);
    }

    fn syntax_error(text: &str) -> (usize, String) {
        match ServeConfig::from_toml(text) {
            Err(ConfigError::Syntax { line, message, .. }) => {
                assert!(!message.contains(|c: char| c.is_control()), "{message:?}");
                (line, message)
            }
            other => panic!("expected a syntax error, got {other:?}"),
        }
    }

    #[test]
    fn bad_values_name_their_line() {
        let (line, message) = syntax_error("root = \"/srv\"\npassive_ports = \"9-1\"\n");
        assert_eq!(line, 2);
        assert!(message.contains("LO <= HI"), "{message}");
        let (line, message) = syntax_error("passive_port_map = \"50000\"\n");
        assert_eq!(line, 1);
        assert!(message.contains("BOUND:ADVERTISED"), "{message}");
        let (line, message) = syntax_error("\n\nlisten = \"localhost\"\n");
        assert_eq!(line, 3);
        assert!(!message.is_empty());
        let (line, message) = syntax_error("root = \"/\"\nrot = \"/\"\n");
        assert_eq!(line, 2);
        assert!(message.contains("rot"), "{message}");
        let (line, _) = syntax_error("[[users]]\nname = \"a\"\npasword = \"x\"\n");
        assert!(line >= 1);
    }

    /// Found by the `config` fuzzer: an unknown quoted key with an escaped
    /// CR came back verbatim in the message, so the error was two lines.
    #[test]
    fn control_characters_in_a_key_are_escaped() {
        let (line, message) = syntax_error("\".5.0psso\\r`\"= 8");
        assert_eq!(line, 1);
        assert!(message.contains(".5.0psso\\r`"), "{message:?}");
        let (_, message) = syntax_error("\"a\\u001b[2Jb\" = 1");
        assert!(message.contains("a\\u{1b}[2Jb"), "{message:?}");
    }

    #[test]
    fn user_entries_are_checked() {
        let problem = |users: &str| -> String {
            let config = ServeConfig::from_toml(users).unwrap();
            match config.user_db() {
                Err(error @ ConfigError::User { .. }) => error.to_string(),
                other => panic!("expected a user error, got {other:?}"),
            }
        };
        assert!(problem("[[users]]\nname = \"a\"\n").contains("needs a password"));
        assert!(
            problem(&format!(
                "[[users]]\nname = \"a\"\npassword = \"x\"\npassword_hash = \"{HASH}\"\n"
            ))
            .contains("not both")
        );
        assert!(problem("[[users]]\nname = \"a\"\npassword_hash = \"nope\"\n").contains("argon2"));
        assert!(
            problem("[[users]]\nname = \"a\"\npassword = \"x\"\n[[users]]\nname = \"a\"\npassword = \"y\"\n")
                .contains("twice")
        );
        assert!(problem("[[users]]\nname = \"\"\npassword = \"x\"\n").contains("empty"));
    }

    #[test]
    fn user_flags_split_at_the_first_colon() {
        let user: UserConfig = "bob:a:b".parse().unwrap();
        assert_eq!(user.name, "bob");
        assert_eq!(user.password.as_deref(), Some("a:b"));
        let user: UserConfig = "bob:".parse().unwrap();
        assert_eq!(user.password.as_deref(), Some(""));
        assert!(matches!(
            "bob".parse::<UserConfig>(),
            Err(ConfigError::UserSyntax)
        ));
        assert!(matches!(
            ":pw".parse::<UserConfig>(),
            Err(ConfigError::UserSyntax)
        ));
    }

    #[test]
    fn a_relative_root_in_a_file_is_relative_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("files")).unwrap();
        let file = dir.path().join("ftpwire.toml");
        std::fs::write(&file, "root = \"files\"\n").unwrap();
        let config = ServeConfig::load(&file).unwrap();
        assert_eq!(config.root, dir.path().join("files"));
        assert!(config.storage().is_ok());
    }

    #[test]
    fn s3_settings_need_both_halves_and_credentials() {
        let none = |_: &str| None;
        assert!(ServeConfig::default().s3_settings(none).unwrap().is_none());
        let half = ServeConfig::from_toml("s3_bucket = \"ftp\"").unwrap();
        let message = half.s3_settings(none).unwrap_err().to_string();
        assert!(message.contains("--s3-endpoint"), "{message}");
        let both = ServeConfig::from_toml(
            "s3_endpoint = \"http://127.0.0.1:3900\"\ns3_bucket = \"ftp\"\ns3_prefix = \"p\"",
        )
        .unwrap();
        let message = both.s3_settings(none).unwrap_err().to_string();
        assert!(message.contains("AWS_ACCESS_KEY_ID"), "{message}");
        // The file's keys win over the environment.
        let keyed = ServeConfig {
            s3_access_key_id: Some("GKfile".into()),
            s3_secret_access_key: Some("file-secret".into()),
            ..both
        };
        let env = |name: &str| Some(format!("env {name}"));
        let settings = keyed.s3_settings(env).unwrap().unwrap();
        assert_eq!(settings.access_key_id, "GKfile");
        assert_eq!(settings.secret_access_key, "file-secret");
        assert_eq!(settings.prefix, "p");
        assert_eq!(settings.region, DEFAULT_S3_REGION);
        let bad = ServeConfig {
            s3_endpoint: Some("ftp://nowhere".into()),
            ..keyed
        };
        let message = match bad.served_storage() {
            Err(e) => e.to_string(),
            Ok(_) => panic!("an ftp:// endpoint was accepted"),
        };
        assert!(message.contains("ftp://nowhere"), "{message}");
    }

    #[test]
    fn a_user_s3_prefix_is_checked_and_gives_that_user_a_home() {
        let bucket = "s3_endpoint = \"http://127.0.0.1:3900\"\ns3_bucket = \"ftp\"\n\
                      s3_access_key_id = \"GK1\"\ns3_secret_access_key = \"s\"\n";
        let users = |prefix: &str| {
            format!(
                "{bucket}[[users]]\nname = \"alice\"\npassword = \"a\"\n\
                 [[users]]\nname = \"bob\"\npassword = \"b\"\ns3_prefix = {prefix}\n"
            )
        };
        let db = ServeConfig::from_toml(&users("\"team/bob/\""))
            .unwrap()
            .user_db()
            .unwrap();
        assert!(db.home(b"bob").is_some());
        assert!(db.home(b"alice").is_none());
        assert!(db.home(b"BOB").is_none());
        let bad = [
            ("\"\"", "is empty"),
            ("\"/\"", "is empty"),
            ("\"/bob\"", "starts with /"),
            ("\"a//b\"", "empty, \".\" or \"..\" part"),
            ("\"../alice\"", "empty, \".\" or \"..\" part"),
            ("\"bob/./x\"", "empty, \".\" or \"..\" part"),
            ("\"bob\\n\"", "control character"),
        ];
        for (prefix, expected) in bad {
            let config = ServeConfig::from_toml(&users(prefix)).unwrap();
            let message = match config.user_db() {
                Err(error @ ConfigError::User { .. }) => error.to_string(),
                other => panic!("s3_prefix = {prefix} was accepted: {other:?}"),
            };
            assert!(message.starts_with("user \"bob\": s3_prefix"), "{message}");
            assert!(message.contains(expected), "{prefix}: {message}");
        }
        // Without a bucket there is nothing for the prefix to apply to.
        let local = "[[users]]\nname = \"bob\"\npassword = \"b\"\ns3_prefix = \"bob\"\n";
        let message = ServeConfig::from_toml(local)
            .unwrap()
            .user_db()
            .unwrap_err()
            .to_string();
        assert!(message.contains("needs s3_endpoint"), "{message}");
    }

    #[test]
    fn an_unusable_root_or_file_is_one_clear_line() {
        let dir = tempfile::tempdir().unwrap();
        let config = ServeConfig {
            root: dir.path().join("missing"),
            ..ServeConfig::default()
        };
        let message = config.storage().unwrap_err().to_string();
        assert!(
            message.contains("missing") && !message.contains('\n'),
            "{message}"
        );
        let message = ServeConfig::load(&dir.path().join("none.toml"))
            .unwrap_err()
            .to_string();
        assert!(message.starts_with("cannot read config file") && !message.contains('\n'));
    }

    #[test]
    fn debug_output_hides_passwords() {
        let user = UserConfig::plain("alice", "hunter2");
        assert!(!format!("{user:?}").contains("hunter2"));
    }

    #[test]
    fn tls_settings_parse_with_paths_relative_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        std::fs::create_dir(dir.path().join("tls")).unwrap();
        std::fs::write(dir.path().join("tls/cert.pem"), key.cert.pem()).unwrap();
        std::fs::write(
            dir.path().join("tls/key.pem"),
            key.signing_key.serialize_pem(),
        )
        .unwrap();
        let file = dir.path().join("ftpwire.toml");
        std::fs::write(
            &file,
            r#"
            tls_cert = "tls/cert.pem"
            tls_key = "tls/key.pem"
            tls_passive_address = "203.0.113.7"
            implicit_tls_listen = "127.0.0.1:0"
            implicit_tls_prot_p = true
            require_tls = true
            require_tls_session_reuse = true
            "#,
        )
        .unwrap();
        let config = ServeConfig::load(&file).unwrap();
        assert_eq!(config.tls_cert, Some(dir.path().join("tls/cert.pem")));
        assert_eq!(
            config.implicit_tls_listen,
            Some("127.0.0.1:0".parse().unwrap())
        );
        let core = config.server_config();
        assert!(core.tls && core.require_tls && core.implicit_tls_prot_p);
        assert!(!ServeConfig::default().server_config().implicit_tls_prot_p);
        assert_eq!(
            core.tls_passive_address,
            Some("203.0.113.7".parse().unwrap())
        );
        let driver = driver_config(&config).unwrap();
        assert!(driver.tls.expect("TLS configured").session_reuse_required());
    }

    #[test]
    fn tls_only_settings_without_a_certificate_fail() {
        for (text, setting) in [
            ("require_tls = true", "--require-tls"),
            (
                "require_tls_session_reuse = true",
                "--require-tls-session-reuse",
            ),
            (
                "implicit_tls_listen = \"127.0.0.1:990\"",
                "--implicit-tls-listen",
            ),
            (
                "tls_passive_address = \"203.0.113.7\"",
                "--tls-passive-address",
            ),
            ("allow_ccc = true", "--allow-ccc"),
            ("implicit_tls_prot_p = true", "--implicit-tls-prot-p"),
            ("tls_cert = \"cert.pem\"", "--tls-cert"),
        ] {
            let config = ServeConfig::from_toml(text).unwrap();
            let error = driver_config(&config).unwrap_err().to_string();
            assert!(error.starts_with(setting), "{text}: {error}");
            assert!(error.contains("--tls-key FILE.pem"), "{error}");
        }
        assert!(
            driver_config(&ServeConfig::default())
                .unwrap()
                .tls
                .is_none()
        );
    }

    #[test]
    fn dot_file_settings_reach_the_core() {
        let config =
            ServeConfig::from_toml("show_dot_files = true\nshare_dot_files = true").unwrap();
        assert!(config.server_config().show_dot_files);
        assert!(config.server_config().share_dot_files);
        let default = ServeConfig::default().server_config();
        assert!(!default.show_dot_files && !default.share_dot_files);
    }

    #[test]
    fn allow_ccc_reaches_the_core_and_conflicts_with_require_tls() {
        let config = ServeConfig::from_toml("allow_ccc = true").unwrap();
        assert!(config.server_config().allow_ccc);
        assert!(!ServeConfig::default().server_config().allow_ccc);
        let both = ServeConfig::from_toml(
            "tls_cert = \"c.pem\"\ntls_key = \"k.pem\"\nallow_ccc = true\nrequire_tls = true",
        )
        .unwrap();
        let error = driver_config(&both).unwrap_err().to_string();
        assert!(
            error.starts_with("--allow-ccc conflicts with --require-tls"),
            "{error}"
        );
    }

    #[test]
    fn timeouts_are_whole_seconds() {
        let config =
            ServeConfig::from_toml("idle_timeout = 60\nshutdown_grace = 0\nlogin_timeout = 5")
                .unwrap();
        assert_eq!(config.server_config().idle_timeout, Duration::from_secs(60));
        assert_eq!(config.server_config().login_timeout, Duration::from_secs(5));
        assert_eq!(
            ServeConfig::default().server_config().login_timeout,
            Duration::from_secs(30)
        );
        assert_eq!(config.shutdown_grace, Duration::ZERO);
        assert_eq!(
            ServeConfig::default().shutdown_grace,
            Duration::from_secs(30)
        );
        let error = ServeConfig::from_toml("idle_timeout = 0")
            .unwrap_err()
            .to_string();
        assert!(error.contains("at least 1 second"), "{error}");
    }
}
