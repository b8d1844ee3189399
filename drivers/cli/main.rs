//! `ftpwire`, the command-line FTP server. `ftpwire serve` with no flags
//! serves the current directory read-only to anonymous users on
//! 127.0.0.1:2121; see the README for every flag and the TOML config.

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};

mod client;
mod doctor;
mod metrics;
use ftpwire::config::{ServeConfig, UserConfig};
use ftpwire::logging::{self, LogFormat};
use ftpwire_backend::PortRange;
use ftpwire_backend::native::metrics::Metrics;
use ftpwire_backend::native::proxy::Balancers;
use ftpwire_core::address::{IpNet, PassiveAddress, PassivePortMap};

#[derive(Parser)]
#[command(
    name = "ftpwire",
    version,
    about = "FTP server and client on the ftpwire sans-IO engine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve a directory over FTP (defaults: the current directory,
    /// read-only anonymous, 127.0.0.1:2121).
    Serve(Box<ServeArgs>),
    /// Download a file: ftpwire get ftp://user:pass@host/path [-o FILE].
    Get(client::GetArgs),
    /// Upload a file: ftpwire put FILE ftp://user:pass@host/dir/.
    Put(client::PutArgs),
    /// List a directory: ftpwire ls ftp://host/dir/.
    Ls(client::LsArgs),
    /// Copy a directory tree: mirror URL DIR downloads, mirror DIR URL uploads.
    Mirror(client::MirrorArgs),
    /// Diagnose a server: FEAT, EPSV and PASV with real listings, the 227
    /// address, FTPS, NAT helpers; exits 1 when it finds a fault.
    Doctor(doctor::DoctorArgs),
}

/// Which driver runs the sessions.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Driver {
    /// A thread per session (blocking std sockets).
    Std,
    /// Many sessions per thread (smol / async-io).
    Smol,
}

/// Flags override the same settings from `--config`.
#[derive(clap::Args)]
struct ServeArgs {
    /// The driver: `smol` (async, the default) or `std` (a thread per session).
    #[arg(long, value_enum, default_value = "smol")]
    driver: Driver,
    /// Control connection address, e.g. 0.0.0.0:21 (`:0` picks a free port).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// The directory to serve.
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Serve an S3 bucket at this endpoint instead of --root, e.g.
    /// http://127.0.0.1:3900 (path-style requests; credentials from
    /// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or the config file).
    #[arg(long, value_name = "URL", conflicts_with = "root")]
    s3_endpoint: Option<String>,
    /// The bucket to serve (with --s3-endpoint).
    #[arg(long, value_name = "NAME")]
    s3_bucket: Option<String>,
    /// The region S3 requests are signed for: Garage's s3_region, or the
    /// AWS bucket's region [default: garage].
    #[arg(long, value_name = "REGION")]
    s3_region: Option<String>,
    /// Serve only the keys under this prefix, as `/`.
    #[arg(long, value_name = "PREFIX")]
    s3_prefix: Option<String>,
    /// A user with a plain password; repeat for more users.
    #[arg(long = "user", value_name = "NAME:PASSWORD")]
    users: Vec<UserConfig>,
    /// Also allow read-only `anonymous`/`ftp` logins with any password.
    #[arg(long)]
    anonymous: bool,
    /// Ports for passive data connections, e.g. 50000-50100.
    #[arg(long, value_name = "LO-HI")]
    passive_ports: Option<PortRange>,
    /// Address PASV advertises to outside peers: the public IP, or a DNS
    /// name resolved at each PASV.
    #[arg(long, value_name = "IP_OR_HOSTNAME")]
    passive_address: Option<PassiveAddress>,
    /// Ports PASV/EPSV advertise in place of the bound ones, for a
    /// port-mapping NAT or NodePorts: BOUND:ADVERTISED or LO-HI:ADVERTISED_LO,
    /// comma-separated.
    #[arg(long, value_name = "BOUND:ADVERTISED")]
    passive_port_map: Option<PassivePortMap>,
    /// Peers in this network get the server's local address in PASV; repeat.
    #[arg(long = "local-network", value_name = "CIDR")]
    local_networks: Vec<IpNet>,
    /// A load balancer (address or network) whose connections start with a
    /// PROXY header (v1 or v2) naming the real client; repeat. A header
    /// from anyone else, or none from a balancer, closes the connection.
    #[arg(long = "proxy-protocol-from", value_name = "CIDR")]
    proxy_protocol_from: Vec<Balancers>,
    /// Failed logins from one address within --ban-window that ban it for
    /// --ban-time (its connections get 421); 0 never bans [default: 10].
    #[arg(long, value_name = "N")]
    ban_after: Option<u32>,
    /// Seconds in which --ban-after failed logins count [default: 600].
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    ban_window: Option<u64>,
    /// Seconds a ban lasts [default: 900].
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    ban_time: Option<u64>,
    /// Seconds of silence before TCP keepalive probes on control
    /// connections, so NATs and load balancers keep them through long
    /// transfers; 0 turns them off [default: 60].
    #[arg(long, value_name = "SECONDS")]
    control_keepalive: Option<u64>,
    /// Sessions running at once; more connections get 421 [default: 1000].
    #[arg(long, value_name = "N")]
    max_sessions: Option<usize>,
    /// Sessions running at once from one client IP [default: 50].
    #[arg(long, value_name = "N")]
    max_sessions_per_ip: Option<usize>,
    /// Seconds a session may go without a command (or data moving) before
    /// it gets 421 and is closed [default: 300].
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout: Option<u64>,
    /// Seconds a connection may take to log in (TLS handshake included)
    /// before it gets 421 and is closed [default: 30].
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    login_timeout: Option<u64>,
    /// Seconds running transfers may go on after SIGINT/SIGTERM before their
    /// sessions are closed; a second signal stops at once [default: 30].
    #[arg(long, value_name = "SECONDS")]
    shutdown_grace: Option<u64>,
    /// PEM certificate chain for FTPS (with --tls-key): clients may then
    /// send AUTH TLS on the --listen port (explicit FTPS).
    #[arg(long, value_name = "FILE.pem")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE.pem")]
    tls_key: Option<PathBuf>,
    /// Address PASV advertises to outside peers on a TLS control channel
    /// (a NAT helper can rewrite plain 227 replies, never encrypted ones).
    #[arg(long, value_name = "IP_OR_HOSTNAME")]
    tls_passive_address: Option<PassiveAddress>,
    /// Also serve implicit FTPS (TLS from the first byte) here, e.g. 0.0.0.0:990.
    #[arg(long, value_name = "ADDR")]
    implicit_tls_listen: Option<SocketAddr>,
    /// Implicit-FTPS sessions start with PROT P (protected data connections)
    /// without PBSZ/PROT, for clients that encrypt data without asking
    /// (suppaftp's implicit mode).
    #[arg(long)]
    implicit_tls_prot_p: bool,
    /// Refuse logins on a plain control channel and transfers without PROT P.
    #[arg(long)]
    require_tls: bool,
    /// Refuse protected data connections that do not resume the control
    /// connection's TLS session (RFC 4217 §10.2; Python's ftplib cannot).
    #[arg(long)]
    require_tls_session_reuse: bool,
    /// Let clients turn the control channel back to plain text with CCC
    /// after login, for NAT helpers that must read it (data stays protected).
    #[arg(long)]
    allow_ccc: bool,
    /// LIST and NLST show dot files even without -a (MLSD always does).
    #[arg(long)]
    show_dot_files: bool,
    /// Let read-only logins (anonymous) reach dot files such as .git and .env.
    #[arg(long)]
    share_dot_files: bool,
    /// Serve Prometheus metrics on http://ADDR/metrics (e.g. 127.0.0.1:9121).
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<SocketAddr>,
    /// Log lines as `text` (the default) or `json` (one object per line).
    #[arg(long, value_enum, value_name = "FORMAT")]
    log_format: Option<LogFormat>,
    /// Read settings from a TOML file (flags given too take precedence).
    #[arg(long, value_name = "FILE.toml")]
    config: Option<PathBuf>,
}

impl ServeArgs {
    /// The config file (or defaults) with the flags applied on top.
    fn settings(self) -> Result<(Driver, ServeConfig), String> {
        let mut config = match &self.config {
            Some(path) => ServeConfig::load(path).map_err(|e| e.to_string())?,
            None => ServeConfig::default(),
        };
        if let Some(listen) = self.listen {
            config.listen = listen;
        }
        if let Some(root) = self.root {
            config.root = root;
        }
        let s3 = [
            (self.s3_endpoint, &mut config.s3_endpoint),
            (self.s3_bucket, &mut config.s3_bucket),
            (self.s3_region, &mut config.s3_region),
            (self.s3_prefix, &mut config.s3_prefix),
        ];
        for (flag, setting) in s3 {
            if flag.is_some() {
                *setting = flag;
            }
        }
        config.users.extend(self.users);
        if self.anonymous {
            config.anonymous = Some(true);
        }
        if self.passive_ports.is_some() {
            config.passive_ports = self.passive_ports;
        }
        if self.passive_address.is_some() {
            config.passive_address = self.passive_address;
        }
        if self.passive_port_map.is_some() {
            config.passive_port_map = self.passive_port_map;
        }
        config.local_networks.extend(self.local_networks);
        for balancers in self.proxy_protocol_from {
            config.proxy_protocol_from.extend(balancers);
        }
        if let Some(n) = self.ban_after {
            config.ban_after = n;
        }
        if let Some(secs) = self.ban_window {
            config.ban_window = Duration::from_secs(secs);
        }
        if let Some(secs) = self.ban_time {
            config.ban_time = Duration::from_secs(secs);
        }
        if let Some(secs) = self.control_keepalive {
            config.control_keepalive = Duration::from_secs(secs);
        }
        if let Some(n) = self.max_sessions {
            config.max_sessions = n;
        }
        if let Some(n) = self.max_sessions_per_ip {
            config.max_sessions_per_ip = n;
        }
        if let Some(secs) = self.idle_timeout {
            config.idle_timeout = Duration::from_secs(secs);
        }
        if let Some(secs) = self.login_timeout {
            config.login_timeout = Duration::from_secs(secs);
        }
        if let Some(secs) = self.shutdown_grace {
            config.shutdown_grace = Duration::from_secs(secs);
        }
        if self.tls_cert.is_some() {
            config.tls_cert = self.tls_cert;
        }
        if self.tls_key.is_some() {
            config.tls_key = self.tls_key;
        }
        if self.tls_passive_address.is_some() {
            config.tls_passive_address = self.tls_passive_address;
        }
        if self.implicit_tls_listen.is_some() {
            config.implicit_tls_listen = self.implicit_tls_listen;
        }
        config.implicit_tls_prot_p |= self.implicit_tls_prot_p;
        config.require_tls |= self.require_tls;
        config.require_tls_session_reuse |= self.require_tls_session_reuse;
        config.allow_ccc |= self.allow_ccc;
        config.show_dot_files |= self.show_dot_files;
        config.share_dot_files |= self.share_dot_files;
        if self.metrics_listen.is_some() {
            config.metrics_listen = self.metrics_listen;
        }
        if let Some(format) = self.log_format {
            config.log_format = format;
        }
        Ok((self.driver, config))
    }
}

fn main() -> ExitCode {
    let command = Cli::parse().command;
    if !matches!(command, Command::Serve(_)) {
        logging::init(LogFormat::Text);
    }
    let result = match command {
        Command::Serve(args) => serve(*args),
        Command::Get(args) => client::get(args),
        Command::Put(args) => client::put(args),
        Command::Ls(args) => client::ls(args),
        Command::Mirror(args) => client::mirror(args),
        Command::Doctor(args) => match doctor::doctor(args) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::FAILURE,
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("ftpwire: error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> Result<(), String> {
    let settings = args.settings();
    // The log's format may come from the config file.
    logging::init(
        settings
            .as_ref()
            .map_or(LogFormat::Text, |(_, c)| c.log_format),
    );
    let (driver, config) = settings?;
    // Each session holds a control socket, maybe a passive listener, a data
    // socket and a file: the usual soft limit of 1024 descriptors would cap
    // a server far below --max-sessions.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if (limit as usize) < config.max_sessions.saturating_mul(4) => log::warn!(
            "only {limit} file descriptors are allowed; --max-sessions {} may need more",
            config.max_sessions
        ),
        Ok(_) => {}
        Err(error) => log::warn!("cannot raise the file descriptor limit: {error}"),
    }
    let users = config.user_db().map_err(|e| e.to_string())?;
    let (storage, served) = config.served_storage().map_err(|e| e.to_string())?;
    let metrics = Arc::new(Metrics::default());
    let settings = config
        .server_settings(storage, Arc::new(users))
        .map_err(|e| e.to_string())?
        .metrics(metrics.clone())
        .copy_only(copy_only_from_env());
    if let Some(addr) = config.metrics_listen {
        metrics::serve(addr, metrics)?;
    }
    // Checked by server_settings: a certificate is there with its key.
    let tls = config.tls_cert.is_some();
    let listener = bind(config.listen, "--listen")?;
    let implicit = match config.implicit_tls_listen {
        Some(addr) => Some(bind(addr, "--implicit-tls-listen")?),
        None => None,
    };
    let mut listening = vec![("ftp", listener.local_addr().map_err(|e| e.to_string())?)];
    if let Some(implicit) = &implicit {
        listening.push(("ftps", implicit.local_addr().map_err(|e| e.to_string())?));
    }
    log::info!(
        "serving {} ({}{} user(s))",
        served,
        if config.anonymous_allowed() {
            "anonymous read-only, "
        } else {
            ""
        },
        config.users.len()
    );
    if tls {
        log::info!(
            "FTPS: AUTH TLS on {}{}{}",
            listening[0].1,
            match listening.get(1) {
                Some((_, addr)) => format!(", implicit TLS on {addr}"),
                None => String::new(),
            },
            if config.require_tls {
                "; plain FTP refused"
            } else {
                ""
            }
        );
    }
    let announce = || {
        let mut stdout = std::io::stdout();
        listening
            .iter()
            .try_for_each(|(scheme, addr)| {
                let host = match addr {
                    SocketAddr::V6(v6) => format!("[{}]", v6.ip()),
                    SocketAddr::V4(v4) => v4.ip().to_string(),
                };
                writeln!(stdout, "listening {scheme}://{host}:{}", addr.port())
            })
            .and_then(|()| stdout.flush())
            .map_err(|e| format!("cannot write to stdout: {e}"))
    };
    let grace = config.shutdown_grace;
    match driver {
        Driver::Std => {
            let server = ftpwire_std::Server::new(settings);
            let handle = server.shutdown_handle();
            stop_on_signals(move || handle.shutdown(grace), grace)?;
            announce()?;
            match implicit {
                Some(implicit) => server.serve_with_implicit_tls(listener, implicit),
                None => server.serve(listener),
            }
            .map_err(|e| e.to_string())
        }
        Driver::Smol => {
            let server = ftpwire_smol::Server::new(settings);
            let handle = server.shutdown_handle();
            stop_on_signals(move || handle.shutdown(grace), grace)?;
            let listener = smol::net::TcpListener::try_from(listener).map_err(|e| e.to_string())?;
            let implicit = implicit
                .map(smol::net::TcpListener::try_from)
                .transpose()
                .map_err(|e| e.to_string())?;
            announce()?;
            smol::block_on(async {
                match implicit {
                    Some(implicit) => server.serve_with_implicit_tls(listener, implicit).await,
                    None => server.serve(listener).await,
                }
            })
            .map_err(|e| e.to_string())
        }
    }
}

/// SIGINT or SIGTERM (Ctrl-C, `systemctl stop`) calls `shutdown`: no new
/// connections, idle sessions get 421, running transfers get `grace`, then
/// `serve` returns and the process exits 0. A second signal exits at once.
#[cfg(unix)]
fn stop_on_signals(shutdown: impl Fn() + Send + 'static, grace: Duration) -> Result<(), String> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .map_err(|e| format!("cannot handle SIGINT/SIGTERM: {e}"))?;
    std::thread::Builder::new()
        .name("ftpwire-signals".into())
        .spawn(move || {
            let mut stopping = false;
            for signal in signals.forever() {
                if stopping {
                    log::warn!("signal {signal} again: stopping now");
                    std::process::exit(128 + signal);
                }
                stopping = true;
                log::info!(
                    "signal {signal}: shutting down; running transfers get {}s (signal again to stop now)",
                    grace.as_secs()
                );
                shutdown();
            }
        })
        .map_err(|e| format!("cannot start the signal thread: {e}"))?;
    Ok(())
}

#[cfg(not(unix))]
fn stop_on_signals(_shutdown: impl Fn() + Send + 'static, _grace: Duration) -> Result<(), String> {
    Ok(())
}

/// `FTPWIRE_NO_ZERO_COPY=1` (read once, at start): every transfer copies
/// through user space, the baseline benches/transfer_cpu.sh measures the
/// sendfile/splice path against.
fn copy_only_from_env() -> bool {
    let copy_only =
        std::env::var_os("FTPWIRE_NO_ZERO_COPY").is_some_and(|v| !v.is_empty() && v != "0");
    if copy_only {
        log::info!("FTPWIRE_NO_ZERO_COPY: every transfer copies its bytes through user space");
    }
    copy_only
}

/// Connections the kernel may hold before the server accepts them: a
/// burst of clients (a load balancer's failover, a scheduled sync fleet)
/// finds more room than std's 128 (Linux caps it at `net.core.somaxconn`).
const LISTEN_BACKLOG: i32 = 1024;

/// A listener on `addr`, or one line that says what to do.
fn bind(addr: SocketAddr, flag: &str) -> Result<TcpListener, String> {
    let listen = || -> std::io::Result<TcpListener> {
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )?;
        // As std does: a restarted server binds again at once.
        socket.set_reuse_address(true)?;
        socket.bind(&addr.into())?;
        socket.listen(LISTEN_BACKLOG)?;
        Ok(socket.into())
    };
    listen().map_err(|e| {
        let advice = match e.kind() {
            std::io::ErrorKind::PermissionDenied if addr.port() < 1024 => format!(
                "ports below 1024 need root or the CAP_NET_BIND_SERVICE capability \
                 (setcap cap_net_bind_service=+ep on the binary, or \
                 AmbientCapabilities=CAP_NET_BIND_SERVICE in a systemd unit); \
                 or pick a port above 1023 with {flag}"
            ),
            std::io::ErrorKind::AddrNotAvailable => format!(
                "{} is not an address of this machine; use 0.0.0.0 (or [::]) to listen on all of them",
                addr.ip()
            ),
            _ => format!("pick another {flag} address or stop what uses it"),
        };
        format!("cannot listen on {addr}: {e} ({advice})")
    })
}
