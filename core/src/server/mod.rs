//! The server side of the protocol: one [`ServerSession`] per control connection.
//!
//! RFC 959 (commands, replies), RFC 2428 (EPSV/EPRT), RFC 2577 (security),
//! RFC 3659 (SIZE, MDTM, REST, MLST/MLSD), RFC 2389 (FEAT/OPTS), RFC 7151 (HOST).

mod config;
mod event;
mod names;
mod session;

pub use config::ServerConfig;
pub use event::*;
pub use session::ServerSession;

#[cfg(test)]
mod tests;
