//! The `ftpwire` program's own pieces, as a library so that its fuzz
//! target and tests reach them: the `ftpwire serve` configuration (TOML
//! and flags). A library user of the drivers does not need this crate:
//! `ftpwire_backend::ServerSettings` is built in code.

pub mod config;
pub mod ftp_url;
pub mod logging;
