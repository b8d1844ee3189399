//! The server session state machine.

use alloc::sync::Arc;
use core::net::{IpAddr, SocketAddr};

use super::config::ServerConfig;
use super::event::*;
use crate::Instant;
use crate::listing::Metadata;

/// One FTP control connection, server side, as a value the host owns.
///
/// The host loop:
///
/// ```no_run
/// # use std::sync::Arc;
/// # use ftpwire_core::{Instant, Output, ServerConfig, ServerSession};
/// # fn io() -> (Vec<u8>, Instant) { unimplemented!() }
/// let (local, peer) = ("127.0.0.1:21".parse().unwrap(), "127.0.0.1:5000".parse().unwrap());
/// let mut session = ServerSession::new(Arc::new(ServerConfig::default()), local, peer, Instant::default());
/// let mut pending: Vec<u8> = Vec::new();
/// loop {
///     match session.poll_output() {
///         Output::Transmit(bytes) => { /* write all of `bytes` to the socket */ }
///         Output::Event(event) => { /* do the I/O, answer the event's token */ }
///         Output::Timeout(deadline) => {
///             // wait for input or the deadline; then one of:
///             let (data, now) = io();
///             pending.extend_from_slice(&data);
///             let used = session.handle_input(now, &pending);
///             pending.drain(..used);
///             // or: session.handle_timeout(now);
///         }
///         Output::Closed => break,
///     }
/// }
/// ```
#[derive(Debug)]
pub struct ServerSession {
    config: Arc<ServerConfig>,
}

impl ServerSession {
    /// A new session on a control connection from `peer` accepted on `local`;
    /// the `220` greeting is queued.
    pub fn new(config: Arc<ServerConfig>, local: SocketAddr, peer: SocketAddr, now: Instant) -> Self {
        todo!("{config:?} {local} {peer} {now:?}")
    }

    /// Feeds received control-channel bytes; returns how many were consumed.
    /// Bytes not consumed (the session is waiting for an answer, or its
    /// buffer is full) must be offered again after the next answer.
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) -> usize {
        todo!("{now:?} {data:?}")
    }

    /// The control connection reached end of file: the session closes.
    pub fn handle_peer_closed(&mut self) {
        todo!()
    }

    /// The next thing the host must do. Call until it returns
    /// [`Output::Timeout`] or [`Output::Closed`].
    pub fn poll_output(&mut self) -> Output<'_> {
        todo!()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        todo!()
    }

    /// Tells the session the time is now `now` (at or after the deadline it asked for).
    pub fn handle_timeout(&mut self, now: Instant) {
        todo!("{now:?}")
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        todo!()
    }

    /// Answers [`Event::Login`].
    pub fn login(&mut self, token: LoginToken, outcome: LoginOutcome) {
        todo!("{token:?} {outcome:?}")
    }

    /// Answers [`Event::OpenPassive`]: the listener is bound on `port`;
    /// `resolved` is the address the requested hostname resolved to.
    pub fn passive_opened(&mut self, token: PassiveToken, port: u16, resolved: Option<IpAddr>) {
        todo!("{token:?} {port} {resolved:?}")
    }

    /// Answers [`Event::OpenPassive`]: no listener could be opened.
    pub fn passive_failed(&mut self, token: PassiveToken, error: PassiveError) {
        todo!("{token:?} {error:?}")
    }

    /// Answers [`Event::Stat`].
    pub fn stat_done(&mut self, token: StatToken, result: Result<Metadata, FileError>) {
        todo!("{token:?} {result:?}")
    }

    /// Answers [`Event::FileChange`].
    pub fn change_done(&mut self, token: ChangeToken, result: Result<(), FileError>) {
        todo!("{token:?} {result:?}")
    }

    /// The transfer's file is open and its data connection is up: `150` is sent.
    /// For STOU, use [`store_unique_started`](Self::store_unique_started).
    pub fn transfer_started(&mut self, token: &TransferToken) {
        todo!("{token:?}")
    }

    /// STOU's file `name` (in the requested directory) is open and the data connection is up.
    pub fn store_unique_started(&mut self, token: &TransferToken, name: &[u8]) {
        todo!("{token:?} {name:?}")
    }

    /// The transfer ended: `Ok(bytes)` only if every byte was moved and the
    /// file is complete (`226`); otherwise the error picks the reply.
    pub fn transfer_finished(&mut self, token: TransferToken, result: Result<u64, TransferError>) {
        todo!("{token:?} {result:?}")
    }
}
