//! `ftpwire`, the command-line FTP server. `ftpwire serve` with no flags
//! serves the current directory read-only to anonymous users on
//! 127.0.0.1:2121; see the README for every flag and the TOML config.

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use ftpwire_backend::passive::PortRange;
use ftpwire_backend::{ServeConfig, UserConfig};
use ftpwire_core::address::{IpNet, PassiveAddress};

#[derive(Parser)]
#[command(
    name = "ftpwire",
    version,
    about = "FTP server on the ftpwire sans-IO engine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve a directory over FTP (defaults: the current directory,
    /// read-only anonymous, 127.0.0.1:2121).
    Serve(ServeArgs),
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
    /// Peers in this network get the server's local address in PASV; repeat.
    #[arg(long = "local-network", value_name = "CIDR")]
    local_networks: Vec<IpNet>,
    /// Sessions running at once; more connections get 421 [default: 1000].
    #[arg(long, value_name = "N")]
    max_sessions: Option<usize>,
    /// Sessions running at once from one client IP [default: 50].
    #[arg(long, value_name = "N")]
    max_sessions_per_ip: Option<usize>,
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
        config.local_networks.extend(self.local_networks);
        if let Some(n) = self.max_sessions {
            config.max_sessions = n;
        }
        if let Some(n) = self.max_sessions_per_ip {
            config.max_sessions_per_ip = n;
        }
        Ok((self.driver, config))
    }
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_target(false)
        .init();
    let Cli {
        command: Command::Serve(args),
    } = Cli::parse();
    match serve(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("ftpwire: error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> Result<(), String> {
    let (driver, config) = args.settings()?;
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
    let storage = config.storage().map_err(|e| e.to_string())?;
    let listener = TcpListener::bind(config.listen).map_err(|e| {
        format!(
            "cannot listen on {}: {e} (pick another --listen address or stop what uses it)",
            config.listen
        )
    })?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let host = match addr {
        SocketAddr::V6(v6) => format!("[{}]", v6.ip()),
        SocketAddr::V4(v4) => v4.ip().to_string(),
    };
    log::info!(
        "serving {} ({}{} user(s))",
        storage.root().display(),
        if config.anonymous_allowed() {
            "anonymous read-only, "
        } else {
            ""
        },
        config.users.len()
    );
    let (storage, users) = (Arc::new(storage), Arc::new(users));
    let announce = || {
        let mut stdout = std::io::stdout();
        writeln!(stdout, "listening ftp://{host}:{}", addr.port())
            .and_then(|()| stdout.flush())
            .map_err(|e| format!("cannot write to stdout: {e}"))
    };
    match driver {
        Driver::Std => {
            let server = ftpwire_std::Server::new(config.driver_config(), storage, users);
            announce()?;
            server.serve(listener).map_err(|e| e.to_string())
        }
        Driver::Smol => {
            let server = ftpwire_smol::Server::new(config.driver_config(), storage, users);
            let listener = smol::net::TcpListener::try_from(listener).map_err(|e| e.to_string())?;
            announce()?;
            smol::block_on(server.serve(listener)).map_err(|e| e.to_string())
        }
    }
}
