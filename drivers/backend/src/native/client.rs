//! [`NativeClient`]: what the std and smol client hosts share, as
//! `NativeSession` is for the server: the core's `ClientSession`, its clock,
//! the warnings and the first failure, and the reading of its events. A
//! driver asks [`NativeClient::next`] what to do and carries out only the
//! I/O: write these bytes, run this TLS handshake, dial, listen, accept,
//! move the data, read the control connection for so long.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant as Clock};

use ftpwire_core::Instant;
use ftpwire_core::client::{
    ClientConfig, ClientError, ClientEvent, ClientOutput, ClientSession, ConnectData, DataToken,
    Finished, ListenData, MoveData, RequestId, TlsToken,
};

/// What the driver does next.
#[derive(Debug)]
pub enum Step<'a> {
    /// Write these bytes to the control connection.
    Transmit(&'a [u8]),
    /// Run the TLS client handshake on the control connection; then
    /// `session.tls_established(token)` or [`NativeClient::control_tls_failed`].
    UpgradeTls(TlsToken),
    /// Dial a passive data port.
    Connect(ConnectData),
    /// Open an active-mode listener.
    Listen(ListenData),
    /// Accept the server's active-mode connection.
    Accept(DataToken),
    /// Run the TLS client handshake on the data connection.
    Secure(DataToken),
    /// Move the transfer's bytes.
    Move(MoveData),
    /// Drop the data connection and listener.
    DropData,
    /// Read the control connection for at most this long (`None`: until
    /// input comes), then [`input`](NativeClient::input),
    /// [`read_timed_out`](NativeClient::read_timed_out) or
    /// [`peer_closed`](NativeClient::peer_closed).
    Read(Option<Duration>),
    /// What was waited for is over: the request's result (or, without a
    /// request, the set-up's). After a failure the control connection is
    /// done: drop it.
    Done(Result<Finished, ClientError>),
}

/// A client session with what a native host keeps beside it.
#[derive(Debug)]
pub struct NativeClient {
    /// The core's session (for requests, answers and what it knows).
    pub session: ClientSession,
    epoch: Clock,
    /// The session's warnings, in order, each said in full.
    pub warnings: Vec<String>,
    failed: Option<ClientError>,
    out: Vec<u8>,
}

impl NativeClient {
    /// A session for a control connection from `local` to `peer`.
    pub fn new(config: ClientConfig, local: SocketAddr, peer: SocketAddr) -> Self {
        NativeClient {
            session: ClientSession::new(config, local, peer, Instant::default()),
            epoch: Clock::now(),
            warnings: Vec::new(),
            failed: None,
            out: Vec::new(),
        }
    }

    /// The session's clock.
    pub fn now(&self) -> Instant {
        Instant::from_duration(self.epoch.elapsed())
    }

    /// The next step; `until` is the request waited for (`None`: the set-up).
    pub fn next(&mut self, until: Option<RequestId>) -> Step<'_> {
        loop {
            let event = match self.session.poll_output() {
                ClientOutput::Transmit(bytes) => {
                    // Copied, so the step's borrow is of this host, not the
                    // session the loop polls (control traffic is small).
                    self.out.clear();
                    self.out.extend_from_slice(bytes);
                    return Step::Transmit(&self.out);
                }
                ClientOutput::Event(event) => event,
                ClientOutput::Timeout(at) => {
                    let now = self.epoch.elapsed();
                    let wait = at.as_duration().saturating_sub(now);
                    return Step::Read(Some(wait.max(Duration::from_millis(1))));
                }
                ClientOutput::Idle => {
                    if until.is_none() && self.session.is_ready() {
                        return Step::Done(Ok(ready()));
                    }
                    return Step::Read(None);
                }
                ClientOutput::Closed => {
                    return Step::Done(Err(self.failed.clone().unwrap_or(ClientError::Closed)));
                }
            };
            match event {
                ClientEvent::Ready if until.is_none() => return Step::Done(Ok(ready())),
                ClientEvent::Ready => {}
                ClientEvent::UpgradeTls(token) => return Step::UpgradeTls(token),
                ClientEvent::ConnectData(connect) => return Step::Connect(connect),
                ClientEvent::ListenData(listen) => return Step::Listen(listen),
                ClientEvent::AcceptData(token) => return Step::Accept(token),
                ClientEvent::SecureData(token) => return Step::Secure(token),
                ClientEvent::MoveData(moving) => return Step::Move(moving),
                ClientEvent::AbortData(_) => return Step::DropData,
                ClientEvent::Done(done) if Some(done.request) == until => {
                    // The host's own failure (a TLS handshake) says more
                    // than the session's "closed" that followed it.
                    return Step::Done(match (done.result, &self.failed) {
                        (Err(ClientError::Closed), Some(first)) => Err(first.clone()),
                        (result, _) => result,
                    });
                }
                ClientEvent::Done(_) => {}
                ClientEvent::Warning(warning) => {
                    log::warn!("{warning}");
                    self.warnings.push(warning.to_string());
                }
                ClientEvent::Failed(error) => {
                    let first = self.failed.get_or_insert(error).clone();
                    if until.is_none() {
                        return Step::Done(Err(first));
                    }
                }
            }
        }
    }

    /// Control bytes arrived.
    pub fn input(&mut self, bytes: &[u8]) {
        let now = self.now();
        self.session.handle_input(now, bytes);
    }

    /// A read of [`Step::Read`] timed out.
    pub fn read_timed_out(&mut self) {
        let now = self.now();
        self.session.handle_timeout(now);
    }

    /// The control connection ended (EOF, an error, a failed write).
    pub fn peer_closed(&mut self) {
        self.session.handle_peer_closed();
    }

    /// The control connection's TLS handshake failed: the session ends with `reason`.
    pub fn control_tls_failed(&mut self, reason: String) {
        self.failed.get_or_insert(ClientError::Tls(reason));
        self.session.handle_peer_closed();
    }

    /// Whether to report progress now (at most twice a second), with the time.
    pub fn progress_due(&self, last: &mut Clock) -> Option<Instant> {
        (last.elapsed() >= Duration::from_millis(500)).then(|| {
            *last = Clock::now();
            self.now()
        })
    }
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct Connect {
    /// `host:port`.
    pub address: String,
    /// The name the server's certificate must carry (the host part of `address`).
    pub server_name: String,
    /// The session's settings (login, TLS mode, passive policy, data mode).
    pub config: ClientConfig,
    /// For FTPS: which certificates to trust (see `ftpwire_backend::native::client_tls`).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// How long a TCP connect may take.
    pub connect_timeout: Duration,
}

impl Connect {
    /// Plain FTP to `address` (`host:port`).
    pub fn new(address: &str, config: ClientConfig) -> Self {
        let host = match address.rsplit_once(':') {
            Some((host, _)) => host.trim_start_matches('[').trim_end_matches(']'),
            None => address,
        };
        Connect {
            address: address.into(),
            server_name: host.into(),
            config,
            tls: None,
            connect_timeout: Duration::from_secs(15),
        }
    }
}

/// What stopped a client before or besides the protocol.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The address did not resolve or nothing answered.
    #[error("cannot connect to {address}: {reason}")]
    Connect {
        /// `host:port`.
        address: String,
        /// What the system said.
        reason: String,
    },
    /// FTPS asked for without a TLS configuration.
    #[error("FTPS needs a TLS configuration (a bug in the caller)")]
    NoTlsConfig,
    /// The server name is not a valid DNS name or IP address.
    #[error("{0:?} is not a name a certificate can carry")]
    ServerName(String),
    /// The protocol failed (the session's own error).
    #[error(transparent)]
    Session(#[from] ClientError),
}

fn ready() -> Finished {
    Finished {
        code: 230,
        text: Vec::new(),
        bytes: None,
    }
}
