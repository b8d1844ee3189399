//! The client half of the protocol: [`ClientSession`], the sans-IO client
//! session (commands out, replies in, events for the host), and the
//! decisions real clients get wrong: what to do with the address a `227`
//! names ([`passive`]), how to read a listing ([`listing`]).
//!
//! A host drives it as it drives a server session: feed it the control
//! connection's bytes, send what [`ClientSession::poll_output`] transmits,
//! answer its events (dial this data port, run the TLS handshake, move the
//! bytes), and pass the time in. The session decides every command and how
//! to read every reply.

mod config;
mod event;
mod features;
pub mod listing;
pub mod passive;
mod session;

pub use config::{ClientConfig, DataMode, Security};
pub use event::{
    ClientError, ClientEvent, ClientOutput, ConnectData, DataToken, Direction, Done, Finished,
    ListCommand, ListenData, ListenToken, MoveData, Request, RequestId, StoreMode, TlsToken,
    Warning,
};
pub use features::{Features, escape};
pub use passive::{Mismatch, PasvAddressPolicy, PasvTarget, pasv_target};
pub use session::{ClientSession, PassiveUsed};

#[cfg(test)]
mod tests;
