//! The control connection as one sans-IO object: the core session with the
//! control channel's TLS as a layer under it, driven by the session's own
//! calls (`handle_input`, `poll_output`, `poll_timeout`, `handle_timeout`).
//! A driver runs one loop whether TLS is off, starting (`AUTH TLS`), on
//! (implicit FTPS), or ending (`CCC`): it reads the socket into
//! [`handle_input`](ControlConnection::handle_input), writes every
//! [`Output::Transmit`] to the socket, answers events and waits for the
//! deadline; the TLS records, the handshake, the CCC closure and its timer
//! happen in here.
//!
//! ```text
//!            AUTH TLS: 234 out        handshake done
//!   Plain ───────────────────▶ Handshaking ───────────▶ Secured
//!     ▲                          (tls_established)        │
//!     │   client speaks plain text          CCC: 200 out  │
//!     └──────────────── Closing (close_notify both ways) ◀┘
//!   Implicit FTPS: the layer starts Handshaking with the session already
//!   Secured (no AUTH TLS, no token); the greeting is sealed and goes out
//!   when the handshake is done.
//! ```

use std::net::SocketAddr;
use std::sync::Arc;

use ftpwire_core::server::{Output, TlsChange, TlsToken};
use ftpwire_core::{Instant, ServerConfig, ServerSession};

use super::tls::{ControlTls, Received, SessionTls, TlsSettings};

/// One control connection: the session, and TLS under it when it is on.
///
/// ```
/// # use std::sync::Arc;
/// use ftpwire_backend::native::control::ControlConnection;
/// use ftpwire_core::{Instant, Output, ServerConfig};
/// # let addr = "127.0.0.1:21".parse().unwrap();
/// let now = Instant::from_millis(0);
/// let config = Arc::new(ServerConfig::default());
/// let mut control = ControlConnection::open(config, addr, addr, now, None, false).unwrap();
/// let mut socket = Vec::new();
/// control.handle_input(now, b"NOOP\r\n");
/// loop {
///     match control.poll_output() {
///         Output::Transmit(bytes) => socket.extend_from_slice(bytes),
///         Output::Event(_) => unreachable!("NOOP asks the host nothing"),
///         Output::Timeout(_) | Output::Closed => break,
///     }
/// }
/// assert!(socket.starts_with(b"220 ") && socket.ends_with(b"200 NOOP ok.\r\n"));
/// ```
pub struct ControlConnection {
    /// Boxed so a connection stays small while it is built and moved (a
    /// thread driver's stack would otherwise hold several copies at once).
    session: Box<ServerSession>,
    settings: Option<TlsSettings>,
    peer: SocketAddr,
    /// The TLS sessions data connections resume: made when TLS first starts.
    cache: Option<SessionTls>,
    /// Boxed: a plain session does not carry rustls' state inline.
    tls: Option<Box<ControlTls>>,
    /// `AUTH TLS` waits for the handshake to finish.
    upgrading: Option<TlsToken>,
    /// Bytes for the socket that are not the session's own: TLS records,
    /// handshake messages, alerts.
    wire: Vec<u8>,
    /// `wire` went out in the last [`Output::Transmit`]: cleared next time.
    wire_taken: bool,
    /// The session ended and our close_notify (if TLS was on) is queued,
    /// or TLS failed and nothing more can be said.
    finished: bool,
    /// The time as last told (CCC's closure timer starts from it).
    now: Instant,
    /// A TLS handshake is under way on the control connection.
    handshaking: bool,
    /// How the last handshake ended, until [`take_handshake`](Self::take_handshake).
    handshake: Option<bool>,
}

impl ControlConnection {
    /// A new control connection from `peer` to `local`; `implicit_tls`: it
    /// came to the implicit-FTPS listener, so TLS starts before the greeting.
    /// `None` (logged) when TLS must start but cannot (no certificate, or
    /// rustls refuses): close the socket.
    pub fn open(
        config: Arc<ServerConfig>,
        local: SocketAddr,
        peer: SocketAddr,
        now: Instant,
        tls: Option<TlsSettings>,
        implicit_tls: bool,
    ) -> Option<Self> {
        let session = Box::new(if implicit_tls {
            ServerSession::new_implicit_tls(config, local, peer, now)
        } else {
            ServerSession::new(config, local, peer, now)
        });
        let mut control = ControlConnection {
            session,
            settings: tls,
            peer,
            cache: None,
            tls: None,
            upgrading: None,
            wire: Vec::new(),
            wire_taken: false,
            finished: false,
            now,
            handshaking: false,
            handshake: None,
        };
        if implicit_tls && !control.start_tls() {
            return None;
        }
        Some(control)
    }

    /// The session, for answering its events (and asking it things). Drive
    /// the connection through this type's own calls, not the session's.
    pub fn session(&mut self) -> &mut ServerSession {
        &mut self.session
    }

    /// Bytes read from the socket: decrypted first when TLS is on (the
    /// handshake's answer is queued as output).
    pub fn handle_input(&mut self, now: Instant, bytes: &[u8]) {
        self.settle_wire();
        self.now = now;
        if self.tls.is_some() {
            self.receive_tls(now, bytes);
        } else {
            self.session.handle_input(now, bytes);
        }
    }

    /// [`handle_input`](Self::handle_input) while TLS is on.
    fn receive_tls(&mut self, now: Instant, bytes: &[u8]) {
        let Some(tls) = &mut self.tls else {
            return;
        };
        let mut plain = Vec::new();
        let received = tls.receive(bytes, &mut plain);
        tls.take_wire(&mut self.wire);
        match received {
            Err(error) => {
                log::info!(
                    "{}: TLS failed on the control connection: {error}",
                    self.peer
                );
                if std::mem::take(&mut self.handshaking) {
                    self.handshake = Some(false);
                }
                // The alert is in `wire`; nothing after it can be read.
                self.finished = true;
                return self.session.handle_peer_closed();
            }
            Ok(Received::Closed) => self.session.handle_peer_closed(),
            Ok(Received::Plain) => {
                log::debug!("{}: control connection back to plain text (CCC)", self.peer);
                self.tls = None;
            }
            Ok(Received::Tls) => {}
        }
        if self.handshaking && self.tls.as_ref().is_some_and(|tls| !tls.is_handshaking()) {
            self.handshaking = false;
            self.handshake = Some(true);
        }
        if self.tls.as_ref().is_some_and(|tls| !tls.is_handshaking())
            && let Some(token) = self.upgrading.take()
        {
            log::debug!("{}: control connection secured", self.peer);
            self.session.tls_established(token);
        }
        if !plain.is_empty() {
            self.session.handle_input(now, &plain);
        }
    }

    /// How a TLS handshake on the control connection ended since the last
    /// call (`true`: it succeeded), for the metrics.
    pub fn take_handshake(&mut self) -> Option<bool> {
        self.handshake.take()
    }

    /// The client closed the control connection (or it broke).
    pub fn handle_peer_closed(&mut self) {
        self.session.handle_peer_closed();
    }

    /// The next thing the driver must do, as
    /// [`ServerSession::poll_output`]: `Transmit` bytes are for the socket
    /// as they are (TLS records while TLS is on; none at all while a
    /// reply waits for the handshake to finish). TLS changes are carried
    /// out here and never reach the driver.
    pub fn poll_output(&mut self) -> Output<'_> {
        self.settle_wire();
        while let Some(change) = self.session.take_tls_change() {
            self.change_tls(change);
        }
        if !self.wire.is_empty() {
            self.wire_taken = true;
            return Output::Transmit(&self.wire);
        }
        let sealing = self.tls.as_ref().is_some_and(|tls| !tls.sends_plain());
        match self.session.poll_output() {
            Output::Transmit(plain) if sealing => {
                if let Some(tls) = &mut self.tls {
                    tls.send(plain);
                    tls.take_wire(&mut self.wire);
                }
                self.wire_taken = true;
                Output::Transmit(&self.wire)
            }
            Output::Timeout(deadline) => {
                let ours = self.tls.as_ref().and_then(|tls| tls.deadline());
                Output::Timeout(ours.map_or(deadline, |ours| deadline.min(ours)))
            }
            Output::Closed if !self.finished => {
                self.finished = true;
                if let Some(tls) = &mut self.tls {
                    tls.close();
                    tls.take_wire(&mut self.wire);
                }
                if self.wire.is_empty() {
                    return Output::Closed;
                }
                self.wire_taken = true;
                Output::Transmit(&self.wire)
            }
            other => other,
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called: the
    /// session's deadline, or the CCC closure's if sooner. `None` once the
    /// session has ended.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let deadline = self.session.poll_timeout()?;
        let ours = self.tls.as_ref().and_then(|tls| tls.deadline());
        Some(ours.map_or(deadline, |ours| deadline.min(ours)))
    }

    /// The [`poll_timeout`](Self::poll_timeout) deadline passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.settle_wire();
        self.now = now;
        self.session.handle_timeout(now);
        if let Some(tls) = &mut self.tls {
            tls.handle_timeout(now);
            tls.take_wire(&mut self.wire);
        }
    }

    /// What a transfer's data connection needs: the control connection's
    /// TLS session cache when the data connection is `protected` (PROT P).
    pub fn data_tls(&self, protected: bool) -> Option<SessionTls> {
        self.cache.clone().filter(|_| protected)
    }

    /// Whether the control channel is TLS now (handshaking, on, or closing).
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Drops what the last `Transmit` handed out, before anything new is queued.
    fn settle_wire(&mut self) {
        if self.wire_taken {
            self.wire.clear();
            self.wire_taken = false;
        }
    }

    fn change_tls(&mut self, change: TlsChange) {
        match change {
            TlsChange::Upgrade(upgrade) => {
                // The 234 is out: what the socket brings now is the handshake.
                if self.start_tls() {
                    self.upgrading = Some(upgrade.token);
                } else {
                    self.session.handle_peer_closed();
                }
            }
            TlsChange::Downgrade => {
                // CCC's 200 is out (sealed): the TLS closure starts.
                if let Some(tls) = &mut self.tls {
                    tls.downgrade(self.now);
                }
            }
        }
    }

    /// Turns TLS on; `false`, logged, if the server has no certificate or
    /// rustls refuses.
    fn start_tls(&mut self) -> bool {
        let Some(settings) = &self.settings else {
            log::warn!(
                "{}: TLS requested but no certificate is configured; closing",
                self.peer
            );
            return false;
        };
        let cache = self.cache.get_or_insert_with(|| settings.for_session());
        match cache.control() {
            Ok(tls) => {
                self.tls = Some(Box::new(tls));
                self.handshaking = true;
                true
            }
            Err(error) => {
                log::warn!("{}: cannot start TLS: {error}", self.peer);
                false
            }
        }
    }
}

#[cfg(test)]
mod tests;
