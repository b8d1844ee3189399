//! What ftpwire's native drivers (std, smol) share, in two parts:
//!
//! - [`served`]: *what a host serves*, with no socket, runtime or TLS in
//!   it: the [`Storage`] trait and the jailed local filesystem
//!   ([`LocalFs`]), who may log in ([`Authenticator`], [`UserDb`]), and
//!   directory listings as a byte stream. An embedder with storage or users
//!   of their own implements these traits once, for every driver.
//! - [`native`]: *the native host kit*, how a host on an operating system
//!   carries out the core's events: the event work and its answers
//!   ([`native::host`]), passive listeners, FTPS with rustls, the transfer
//!   streams, the session limits checked at accept time, and the
//!   [`ServerSettings`] a library user builds in code and hands to a
//!   driver's `Server::new`.
//!
//! They are one crate, not two, because every native driver needs both and
//! the kit is written in terms of the served traits (a transfer opens
//! [`Storage`] streams, the event work calls the [`Authenticator`]): a
//! crate boundary would only add a dependency edge every user crosses
//! anyway. The line is kept by the module tree instead: nothing in
//! [`served`] uses [`native`].
//!
//! The `ftpwire` program's TOML and flags are not here: they belong to the
//! program, which turns them into [`ServerSettings`].

pub mod native;
pub mod served;

pub use native::passive::PortRange;
pub use native::settings::{DriverConfig, ServerSettings};
pub use native::tls::TlsSettings;
pub use served::local_fs::LocalFs;
pub use served::storage::{Storage, file_error};
pub use served::users::{Authenticator, Password, UserDb};
