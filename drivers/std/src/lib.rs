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
//! FTPS: with [`ServerSettings::tls`](ftpwire_backend::ServerSettings::tls)
//! given, `AUTH TLS` turns the control channel into TLS on the session thread
//! (the reader thread keeps passing raw bytes, so no byte the client sent
//! before the handshake can be taken for a command), and PROT P data
//! connections are TLS on their transfer thread.
//!
//! Serving a directory from code: a [`ServerSettings`](ftpwire_backend::ServerSettings)
//! says what is served to whom and how; the listeners are yours to bind.
//!
//! ```no_run
//! use std::net::TcpListener;
//! use std::path::Path;
//! use std::sync::Arc;
//! use std::time::Duration;
//! use ftpwire_backend::{LocalFs, Password, PortRange, ServerSettings, TlsSettings, UserDb};
//! use ftpwire_core::ServerConfig;
//!
//! let mut users = UserDb::new();
//! users.add(b"alice", Password::Plain(b"secret".to_vec()), false);
//! let tls = TlsSettings::from_pem_files(
//!     Path::new("/etc/ftpwire/cert.pem"),
//!     Path::new("/etc/ftpwire/key.pem"),
//! )?; // fails here if the certificate cannot be used
//! let settings = ServerSettings::new(Arc::new(LocalFs::new("/srv/ftp")?), Arc::new(users))
//!     .session_config(ServerConfig {
//!         require_tls: true,
//!         ..ServerConfig::default()
//!     })
//!     .tls(tls)
//!     .passive_ports(PortRange::new(50000, 50100).expect("a valid range"))
//!     .max_sessions(100);
//! let server = ftpwire_std::Server::new(settings);
//! let shutdown = server.shutdown_handle();
//! # fn wait_for_sigterm() {}
//! std::thread::spawn(move || {
//!     wait_for_sigterm();
//!     // No new sessions; idle ones end now, transfers get 30 s to finish.
//!     shutdown.shutdown(Duration::from_secs(30));
//! });
//! let explicit = TcpListener::bind("127.0.0.1:2121")?;
//! let implicit = TcpListener::bind("127.0.0.1:2990")?;
//! server.serve_with_implicit_tls(explicit, implicit)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod client;
mod data;
mod server;
mod session;

pub use server::{Server, ShutdownHandle};
