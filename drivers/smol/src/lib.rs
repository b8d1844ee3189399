//! The async driver of ftpwire on smol / async-io: every session of a server
//! runs as a task of one executor that the server's own future drives, so it
//! works under `smol::block_on`, inside another smol executor, or on any
//! async-io based runtime. Storage and password checks run on smol's
//! blocking pool. No tokio, directly or indirectly.
//!
//! FTPS: with [`DriverConfig::tls`](ftpwire_backend::DriverConfig::tls)
//! set, the session task runs the control channel's TLS itself (it reads
//! raw bytes, so no byte the client sent before the handshake can be taken
//! for a command); PROT P data connections use futures-rustls.
//!
//! ```no_run
//! use std::sync::Arc;
//! use ftpwire_backend::{LocalFs, ServeConfig, UserDb};
//!
//! let config = ServeConfig::default(); // set tls_cert and tls_key for FTPS
//! let server = ftpwire_smol::Server::new(
//!     config.driver_config()?,
//!     Arc::new(LocalFs::new("/srv/ftp")?),
//!     Arc::new(UserDb::new()),
//! );
//! smol::block_on(async {
//!     let listener = smol::net::TcpListener::bind("127.0.0.1:2121").await?;
//!     server.serve(listener).await
//! })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod data;
mod server;
mod session;

pub use server::{Server, ShutdownHandle};
