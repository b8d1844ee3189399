//! The async driver of ftpwire on smol / async-io: every session of a server
//! runs as a task of one executor that the server's own future drives, so it
//! works under `smol::block_on`, inside another smol executor, or on any
//! async-io based runtime. Storage and password checks run on smol's
//! blocking pool. No tokio, directly or indirectly.
//!
//! FTPS: with [`ServerSettings::tls`](ftpwire_backend::ServerSettings::tls)
//! given, the session task runs the control channel's TLS itself (it reads
//! raw bytes, so no byte the client sent before the handshake can be taken
//! for a command); PROT P data connections use futures-rustls.
//!
//! Serving a directory from code: a [`ServerSettings`](ftpwire_backend::ServerSettings)
//! says what is served to whom and how; the listener is yours to bind.
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use ftpwire_backend::{LocalFs, ServerSettings, UserDb};
//! use ftpwire_core::ServerConfig;
//!
//! let mut users = UserDb::new();
//! users.allow_anonymous(true); // read-only `anonymous` and `ftp` logins
//! let settings = ServerSettings::new(Arc::new(LocalFs::new("/srv/ftp")?), Arc::new(users))
//!     .session_config(ServerConfig {
//!         idle_timeout: Duration::from_secs(120),
//!         ..ServerConfig::default()
//!     })
//!     .max_sessions_per_ip(10); // add .tls(TlsSettings) for FTPS
//! let server = ftpwire_smol::Server::new(settings);
//! let shutdown = server.shutdown_handle();
//! # fn wait_for_sigterm() {}
//! std::thread::spawn(move || {
//!     wait_for_sigterm();
//!     // No new sessions; idle ones end now, transfers get 30 s to finish.
//!     shutdown.shutdown(Duration::from_secs(30));
//! });
//! smol::block_on(async {
//!     let listener = smol::net::TcpListener::bind("127.0.0.1:2121").await?;
//!     server.serve(listener).await // returns once shut down
//! })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod client;
mod data;
mod server;
mod session;

pub use server::{Server, ShutdownHandle};
