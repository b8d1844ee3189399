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
//! ```no_run
//! use std::net::TcpListener;
//! use std::sync::Arc;
//! use ftpwire_backend::{LocalFs, ServeConfig, UserDb};
//!
//! let config = ServeConfig::default();
//! let server = ftpwire_std::Server::new(
//!     config.driver_config(),
//!     Arc::new(LocalFs::new("/srv/ftp")?),
//!     Arc::new(UserDb::new()),
//! );
//! let listener = TcpListener::bind("127.0.0.1:2121")?;
//! server.serve(listener)?; // until server.shutdown_handle().shutdown(grace) is called
//! # Ok::<(), std::io::Error>(())
//! ```

mod data;
mod server;
mod session;

pub use server::{Server, ShutdownHandle};
