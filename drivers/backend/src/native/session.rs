//! What a native driver keeps for one control connection, written once:
//! the [`ControlConnection`] (session and TLS), the session's clock, its
//! passive listener and its running transfer, and the event handling that
//! needs no socket (transfer steps, aborts, notices, shutdown). The driver's
//! loop reads the socket, writes [`Next::Transmit`], and carries out only
//! the socket and storage work: [`Next::Blocking`], [`Next::OpenPassive`]
//! and [`Next::Transfer`].

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ftpwire_core::Instant;
use ftpwire_core::server::{
    Event, FileError, LoginOutcome, Notice, Output, PassiveError, PassiveToken, TransferId,
};
use socket2::{SockRef, TcpKeepalive};

use super::bans::Bans;
use super::control::ControlConnection;
use super::host::{Answer, Blocking, Work, log_end};
use super::metrics::{Login, Metrics, PassiveGauge, SessionGauge, TlsChannel};
use super::proxy;
use super::settings::DriverConfig;
use super::tls::SessionTls;
use super::transfer::{InFlight, Report, Running, Step, TransferJob};
use crate::served::storage::Storage;

/// A driver's passive listener, as the session kit sees it.
pub trait PassiveListener {
    /// ABOR of a transfer that had not started: also stop a data-connection
    /// TLS handshake begun before the transfer command (if the driver runs
    /// such handshakes early).
    fn abort_early(&self) {}
}

/// What the session asks of the driver next ([`NativeSession::poll`]).
/// Each is done before the next poll: replies and events are in order.
#[derive(Debug)]
pub enum Next<'a> {
    /// Write these bytes to the control socket as they are (TLS records
    /// while TLS is on); if that fails, [`NativeSession::handle_peer_closed`].
    Transmit(&'a [u8]),
    /// Storage or user work that may block: [`Blocking::run`] it (inline
    /// or on a blocking pool), then [`NativeSession::answer`].
    Blocking(Blocking),
    /// Open a passive listener on `bind` ([`open_passive`](super::passive::open_passive)),
    /// then [`NativeSession::passive_opened`].
    OpenPassive {
        /// Local IP to bind (the control connection's).
        bind: IpAddr,
        /// A passive-address hostname to resolve now.
        resolve: Option<String>,
        /// For the answer.
        token: PassiveToken,
    },
    /// Start a worker for the transfer, then
    /// [`NativeSession::transfer_started`] (or
    /// [`transfer_not_started`](NativeSession::transfer_not_started)).
    Transfer(TransferJob, Running),
    /// Done here (a step passed on, an abort, a notice logged): poll again.
    Done,
}

/// One control connection of a native driver; `P` is the driver's passive
/// listener, `W` its handle on a transfer worker (dropping it stops the
/// worker).
pub struct NativeSession<P, W> {
    control: ControlConnection,
    peer: SocketAddr,
    base: std::time::Instant,
    /// Shared with the transfer that accepts on it: it outlives a transfer
    /// refused before its data connection, until the session closes it.
    passive: Option<Arc<P>>,
    transfer: Option<InFlight<W>>,
    /// Graceful shutdown began (the session was told once).
    stopping: bool,
    /// No byte has come from the client yet (a PROXY header there is refused).
    first_input: bool,
    /// The server's failed logins and bans.
    bans: Bans,
    metrics: Arc<Metrics>,
    /// This session in `sessions_current` while it runs.
    _counted: SessionGauge,
    /// The passive listener in `passive_listeners_in_use` while it is held.
    passive_counted: Option<PassiveGauge>,
    /// The logged-in user's own storage ([`Authenticator::home`](crate::Authenticator::home)),
    /// if the user has one; else the server's is used.
    home: Option<Arc<dyn Storage>>,
}

impl<P: PassiveListener, W> NativeSession<P, W> {
    /// A new control connection on `socket` (TLS from the first byte when
    /// `implicit_tls`), with the control socket's options set: no Nagle
    /// delay, and urgent data inline (RFC 959 ABOR sends Telnet IP, then the
    /// Synch's DM as TCP urgent data: inline, the core's Telnet handling
    /// sees it like any other byte). `client`: the real client a load
    /// balancer's PROXY header named (the socket's peer is the balancer),
    /// which then stands for the peer everywhere. `None`, logged, when the
    /// socket has no addresses or TLS must start but cannot: close the
    /// socket.
    pub fn accept<S>(
        config: &DriverConfig,
        socket: &S,
        implicit_tls: bool,
        client: Option<SocketAddr>,
    ) -> Option<Self>
    where
        for<'s> SockRef<'s>: From<&'s S>,
    {
        let socket = SockRef::from(socket);
        let connected = socket.peer_addr().ok()?.as_socket()?;
        let peer = client.unwrap_or(connected);
        let local = socket.local_addr().ok()?.as_socket()?;
        let _ = socket.set_tcp_nodelay(true);
        let _ = socket.set_out_of_band_inline(true);
        if let Some(idle) = config.control_keepalive {
            // Probes every quarter of the idle time; 4 unanswered end it.
            let probes = TcpKeepalive::new()
                .with_time(idle)
                .with_interval((idle / 4).max(Duration::from_secs(1)))
                .with_retries(4);
            let _ = socket.set_tcp_keepalive(&probes);
        }
        let base = std::time::Instant::now();
        let now = Instant::from_duration(Duration::ZERO);
        let (session, tls) = (config.session.clone(), config.tls.clone());
        let mut control = ControlConnection::open(session, local, peer, now, tls, implicit_tls)?;
        if peer != connected {
            control.session().set_through_balancer();
        }
        if peer == connected {
            log::debug!("{peer}: connected");
        } else {
            log::debug!("{peer}: connected through the load balancer {connected}");
        }
        Some(NativeSession {
            control,
            peer,
            base,
            passive: None,
            transfer: None,
            stopping: false,
            first_input: true,
            bans: config.bans.clone(),
            metrics: config.metrics.clone(),
            _counted: config.metrics.session(),
            passive_counted: None,
            home: None,
        })
    }

    /// The storage this session's files are in: the logged-in user's own
    /// ([`Answer::Login`]'s), else `server`, the server's. Storage work and
    /// transfers take it from here, so a user with a home never reaches
    /// the server's storage.
    pub fn storage<'a>(&'a self, server: &'a Arc<dyn Storage>) -> &'a Arc<dyn Storage> {
        self.home.as_ref().unwrap_or(server)
    }

    /// The client's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The session's clock.
    pub fn now(&self) -> Instant {
        Instant::from_duration(self.base.elapsed())
    }

    /// The next thing to do; `None` when there is nothing until input, a
    /// report, shutdown or the deadline ([`wait`](Self::wait)), or the
    /// session is over (`wait` says `None` too): close the socket.
    pub fn poll(&mut self) -> Option<Next<'_>> {
        let event = match self.control.poll_output() {
            Output::Transmit(bytes) => return Some(Next::Transmit(bytes)),
            Output::Event(event) => event,
            Output::Timeout(_) | Output::Closed => return None,
        };
        if let Event::Notice(notice) = &event {
            match notice {
                Notice::TransferEnded {
                    kind,
                    bytes,
                    outcome,
                    ..
                } => self.metrics.transfer(*kind, outcome, *bytes),
                Notice::PassiveFallback { .. } => self.metrics.passive_fallback(),
                Notice::PrivatePassiveAddress { .. } => self.metrics.pasv_private_address(),
                _ => {}
            }
        }
        Some(match Work::from_event(event, self.peer) {
            Work::Blocking(blocking) => Next::Blocking(blocking),
            Work::OpenPassive {
                bind,
                resolve,
                token,
            } => {
                // The port held for the last PASV/EPSV goes first, so the
                // client's IP may take it again (the core no longer uses it).
                self.passive = None;
                self.passive_counted = None;
                Next::OpenPassive {
                    bind,
                    resolve,
                    token,
                }
            }
            Work::Transfer(job, running) => Next::Transfer(job, running),
            Work::ClosePassive => {
                self.passive = None;
                self.passive_counted = None;
                Next::Done
            }
            Work::Step(work) => {
                InFlight::step(&mut self.transfer, work);
                Next::Done
            }
            Work::AbortTransfer(id) => {
                if InFlight::abort(&mut self.transfer, id)
                    && let Some(passive) = &self.passive
                {
                    passive.abort_early();
                }
                Next::Done
            }
            Work::Nothing => Next::Done,
        })
    }

    /// How long to wait for input or a report before
    /// [`handle_timeout`](Self::handle_timeout); `None` once the session
    /// has ended.
    pub fn wait(&self) -> Option<Duration> {
        let deadline = self.control.poll_timeout()?;
        Some(deadline.saturating_duration_since(self.now()))
    }

    /// Bytes read from the control socket. A PROXY header as a client's
    /// first bytes (a balancer this server does not trust, or the PROXY
    /// protocol not turned on) closes the session with a log line: its
    /// address would be taken for the client's.
    pub fn handle_input(&mut self, bytes: &[u8]) {
        if std::mem::take(&mut self.first_input) && proxy::starts_with_header(bytes) {
            log::warn!(
                "{}: sent a PROXY header but is not a configured load balancer (--proxy-protocol-from): closing",
                self.peer
            );
            self.metrics.refused_proxy();
            self.control.handle_peer_closed();
            return;
        }
        let now = self.now();
        self.control.handle_input(now, bytes);
        if let Some(ok) = self.control.take_handshake() {
            self.metrics.tls_handshake(TlsChannel::Control, ok);
        }
    }

    /// The control socket was closed by the client, or broke.
    pub fn handle_peer_closed(&mut self) {
        self.control.handle_peer_closed();
    }

    /// The [`wait`](Self::wait) is over: what the transfer moved so far,
    /// then the session's and TLS's timers.
    pub fn handle_timeout(&mut self) {
        let now = self.now();
        InFlight::report_progress(&mut self.transfer, self.control.session(), now);
        self.control.handle_timeout(now);
    }

    /// A transfer worker's report (dropped if that transfer is over).
    pub fn handle_report(&mut self, id: TransferId, report: Report) {
        match report {
            Report::Secured { .. } => self.metrics.tls_handshake(TlsChannel::Data, true),
            Report::TlsFailed => self.metrics.tls_handshake(TlsChannel::Data, false),
            _ => {}
        }
        let now = self.now();
        InFlight::report(&mut self.transfer, self.control.session(), id, report, now);
    }

    /// Whether the session takes more input now (below its input limit).
    pub fn wants_input(&mut self) -> bool {
        self.control.session().wants_input()
    }

    /// Bytes the session holds without having run them.
    pub fn held_input(&mut self) -> usize {
        self.control.session().held_input()
    }

    /// Graceful shutdown: `421` now, or once the running transfer is over.
    /// Told once; later calls do nothing.
    pub fn shut_down(&mut self) {
        if !self.stopping {
            self.stopping = true;
            let now = self.now();
            self.control.session().shut_down(now);
        }
    }

    /// Whether [`shut_down`](Self::shut_down) was called.
    pub fn is_stopping(&self) -> bool {
        self.stopping
    }

    /// The grace period is over: a running transfer is ended and its line
    /// logged; nothing more is sent. Close the socket after this.
    pub fn shut_down_now(&mut self) {
        let now = self.now();
        self.control.session().shut_down_now(now);
        log_end(self.control.session(), self.peer);
        self.transfer = None;
    }

    /// Answers a [`Next::Blocking`].
    /// Failed logins count towards a ban of the client's address, and a
    /// banned address logs in no more, even with the right password (its
    /// open sessions included).
    /// An accepted login switches the session to the user's home, if any
    /// (a rejected one changes nothing: the core keeps no one logged in
    /// after it, and a session never falls back to the server's storage
    /// while its user is logged in).
    pub fn answer(&mut self, mut answer: Answer) {
        if let Answer::Login(_, outcome, home) = &mut answer {
            let now = std::time::Instant::now();
            let ip = self.peer.ip();
            if matches!(outcome, LoginOutcome::Accepted { .. })
                && self.bans.banned(ip, now).is_some()
            {
                log::warn!("{}: login refused: the address is banned", self.peer);
                *outcome = LoginOutcome::Rejected;
                self.metrics.login(Login::Banned);
            } else if *outcome == LoginOutcome::Rejected {
                self.metrics.login(Login::Failed);
                self.bans.record_failure(ip, now);
            } else {
                self.metrics.login(Login::Ok);
                self.home = home.take();
            }
        }
        answer.apply(self.control.session());
    }

    /// What a new passive listener needs: the control connection's TLS when
    /// data connections are protected now (PROT P), for drivers that start
    /// a data connection's handshake before the transfer command.
    pub fn passive_tls(&mut self) -> Option<SessionTls> {
        let protected = self.control.session().data_protected();
        self.control.data_tls(protected)
    }

    /// Answers [`Next::OpenPassive`]: the listener on `port` (with the
    /// address `resolved` from the hostname), or why there is none.
    pub fn passive_opened(
        &mut self,
        token: PassiveToken,
        opened: Result<(Arc<P>, u16, Option<IpAddr>), PassiveError>,
    ) {
        let session = self.control.session();
        match opened {
            Ok((passive, port, resolved)) => {
                session.passive_opened(token, port, resolved);
                self.passive = Some(passive);
                self.passive_counted = Some(self.metrics.passive_listener());
            }
            Err(error) => {
                if error == PassiveError::NoFreePort {
                    self.metrics.passive_exhausted();
                }
                session.passive_failed(token, error);
            }
        }
    }

    /// For a [`Next::Transfer`]'s worker: the passive listener (if any) and
    /// the control connection's TLS (for PROT P; the session says when).
    pub fn transfer_resources(&self) -> (Option<Arc<P>>, Option<SessionTls>) {
        (self.passive.clone(), self.control.data_tls(true))
    }

    /// The worker for `running` runs; `send` hands it each step.
    pub fn transfer_started(
        &mut self,
        running: Running,
        send: impl Fn(Step) + Send + 'static,
        worker: W,
    ) {
        self.transfer = Some(InFlight::new(running, send, worker));
    }

    /// No worker could be started for `running` (logged): the transfer fails.
    pub fn transfer_not_started(&mut self, mut running: Running) {
        log::warn!("{}: cannot start a transfer", self.peer);
        let now = self.now();
        running.apply(
            self.control.session(),
            Report::OpenFailed(FileError::Local),
            now,
        );
    }
}

impl<P, W> Drop for NativeSession<P, W> {
    fn drop(&mut self) {
        log::debug!("{}: session closed", self.peer);
    }
}
