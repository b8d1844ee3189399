//! The blocking driver of ftpwire: `std::net` sockets and a thread per
//! session. Every protocol decision is the core's
//! ([`ftpwire_core::ServerSession`]); this crate only moves bytes between the
//! session, the sockets and a [`Storage`](ftpwire_backend::Storage).
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
