//! The blocking driver of ftpwire: `std::net` sockets and a thread per
//! session. Every protocol decision is the core's
//! ([`ftpwire_core::ServerSession`]); this crate only moves bytes between the
//! session, the sockets and a [`Storage`](ftpwire_backend::Storage).
//!
//! Threads of one session:
//!
//! ```text
//!  control socket ──► reader thread ──┐ (bytes, at most 64 KiB ahead)
//!                                     ▼
//!                      session thread: ServerSession, logins, storage calls,
//!                      passive listeners, replies written to the socket
//!                                     ▲
//!  data socket ◄──► transfer thread ──┘ (started, finished)
//! ```
//!
//! A transfer runs on its own thread, so ABOR, STAT and NOOP are answered
//! while it runs; ABOR (or the data-connection timeout) interrupts it
//! wherever it is blocked: waiting for a passive connection, connecting in
//! active mode, or moving data. The control socket has `SO_OOBINLINE` set,
//! so an RFC 959 ABOR (Telnet IP, then Synch as TCP urgent data) reaches
//! the core's Telnet handling like any other byte.
//!
//! FTPS: with [`DriverConfig::tls`](ftpwire_backend::DriverConfig::tls)
//! set, `AUTH TLS` turns the control channel into TLS on the session thread
//! (the reader thread keeps passing raw bytes, so no byte the client sent
//! before the handshake can be taken for a command), and PROT P data
//! connections are TLS on their transfer thread.
//!
//! ```no_run
//! use std::net::TcpListener;
//! use std::path::PathBuf;
//! use std::sync::Arc;
//! use ftpwire_backend::{LocalFs, ServeConfig, UserDb};
//!
//! let config = ServeConfig {
//!     tls_cert: Some(PathBuf::from("/etc/ftpwire/cert.pem")),
//!     tls_key: Some(PathBuf::from("/etc/ftpwire/key.pem")),
//!     ..ServeConfig::default()
//! };
//! let server = ftpwire_std::Server::new(
//!     config.driver_config()?, // fails here if the certificate cannot be used
//!     Arc::new(LocalFs::new("/srv/ftp")?),
//!     Arc::new(UserDb::new()),
//! );
//! let explicit = TcpListener::bind("127.0.0.1:2121")?;
//! let implicit = TcpListener::bind("127.0.0.1:2990")?;
//! // Until server.shutdown_handle().shutdown(grace) is called:
//! server.serve_with_implicit_tls(explicit, implicit)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod data;
mod server;
mod session;

pub use server::{Server, ShutdownHandle};
