//! The native host kit: how a driver on an operating system (std sockets,
//! threads or an async runtime, rustls) carries out what the core asks,
//! written once for every native driver. A driver adds only its own
//! sockets, tasks and the session loop.

pub mod bans;
pub mod client;
pub mod client_tls;
pub mod control;
pub mod host;
pub mod limits;
pub mod metrics;
pub mod passive;
/// The PROXY protocol, from the core (feature `proxy`).
pub use ftpwire_core::proxy;
pub mod session;
pub mod settings;
pub mod tls;
pub mod transfer;
pub mod zero_copy;
