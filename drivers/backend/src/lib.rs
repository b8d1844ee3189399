//! I/O glue every ftpwire driver shares: the jailed local filesystem, the
//! user database, listings and transfer conversion, passive listeners, FTPS
//! (rustls) and the `ftpwire serve` configuration. Nothing here knows about a socket runtime,
//! so the std and smol drivers use it without copying.

pub mod config;
pub mod host;
pub mod limits;
pub mod listing;
pub mod local_fs;
pub mod passive;
pub mod storage;
pub mod tls;
pub mod transfer;
pub mod users;

pub use config::{ConfigError, DriverConfig, ServeConfig, UserConfig};
pub use local_fs::LocalFs;
pub use storage::{Storage, file_error};
pub use users::{Authenticator, Password, UserDb};
