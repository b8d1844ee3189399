//! One control connection: the core session, fed from a reader thread and
//! answered on this thread, with each transfer on a thread of its own.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use ftpwire_backend::native::host::{Blocking, Work, log_transfer};
use ftpwire_backend::native::passive::open_passive;
use ftpwire_backend::native::tls::ControlChannel;
use ftpwire_backend::native::transfer::TransferJob;
use ftpwire_core::server::{Output, TransferKind, TransferToken};
use ftpwire_core::{Instant, ServerSession};

use crate::data::{self, Abort, Passive, Report};
use crate::server::Shared;

/// Control-channel reads; a command line is far smaller.
const READ_SIZE: usize = 4096;

/// Most control bytes read but not yet handed to the session; the session
/// bounds what it holds itself (`ServerConfig::input_limit`).
const MAX_IN_FLIGHT: usize = 64 * 1024;

/// Everything that wakes the session thread.
pub(crate) enum Wake {
    Control(Vec<u8>),
    ControlClosed,
    Transfer(Report),
    /// The server is shutting down: look at its stop flags.
    Nudge,
}

/// The transfer in flight, as this thread tracks it.
struct Running {
    token: Option<TransferToken>,
    abort: Arc<Abort>,
    kind: TransferKind,
    path: Vec<u8>,
    started: std::time::Instant,
}

/// Serves one control connection until the session closes; `implicit_tls`:
/// it came to the implicit-FTPS listener, so TLS starts before the greeting.
pub(crate) fn run(control: TcpStream, shared: Arc<Shared>, implicit_tls: bool) {
    let (Ok(peer), Ok(local)) = (control.peer_addr(), control.local_addr()) else {
        return;
    };
    let _ = control.set_nodelay(true);
    // A client that stops reading replies for this long is gone (the reader
    // clone shares the socket but sets no read timeout).
    let idle = shared
        .config
        .session
        .idle_timeout
        .max(Duration::from_millis(1));
    let _ = control.set_write_timeout(Some(idle));
    // RFC 959 ABOR: Telnet IP then Synch, the DM as TCP urgent data. Inline,
    // the core's Telnet handling sees it like any other byte.
    let _ = socket2::SockRef::from(&control).set_out_of_band_inline(true);
    let (wake, woken) = mpsc::sync_channel(64);
    let Ok(reader) = control.try_clone() else {
        return;
    };
    let reader_wake = wake.clone();
    let backlog = Arc::new(Backlog {
        state: Mutex::default(),
        room: Condvar::new(),
        limit: shared.config.session.input_limit,
    });
    let reader_backlog = backlog.clone();
    let spawned = thread::Builder::new()
        .name("ftpwire-control-reader".into())
        .spawn(move || read_control(reader, reader_wake, &reader_backlog));
    if spawned.is_err() {
        return;
    }
    let Ok(registered) = control.try_clone() else {
        return;
    };
    let sessions = shared.clone();
    let _registration = sessions.sessions.register(wake.clone(), registered);
    let mut host = Host {
        shared,
        control,
        peer,
        wake,
        base: std::time::Instant::now(),
        passive: None,
        running: None,
        user: String::new(),
        channel: ControlChannel::default(),
    };
    let now = host.now();
    let config = host.shared.config.session.clone();
    let mut session = if implicit_tls {
        if !host.channel.start(host.shared.config.tls.as_ref(), peer) {
            // Also ends the reader thread, blocked on its clone of the socket.
            backlog.close();
            let _ = host.control.shutdown(Shutdown::Both);
            return;
        }
        ServerSession::new_implicit_tls(config, local, peer, now)
    } else {
        ServerSession::new(config, local, peer, now)
    };
    log::debug!("{peer}: connected");
    loop {
        if !host.drain(&mut session) {
            break;
        }
        let sessions = &host.shared.sessions;
        if sessions.hard_stopped() {
            // The grace period is over: the socket is already shut down.
            break;
        }
        if sessions.stopping() && host.running.is_none() {
            // Shutting down, every reply so far sent and no transfer
            // running: 421, then the session closes.
            session.shut_down(host.now());
            continue;
        }
        // The reader reads on while the session holds less than its input limit.
        backlog.set_held(session.held_input());
        let Some(deadline) = host.channel.poll_timeout(&session) else {
            break;
        };
        let wait = deadline.saturating_duration_since(host.now());
        match woken.recv_timeout(wait) {
            Ok(Wake::Control(wire)) => {
                let read = wire.len();
                if let Some(bytes) = host.receive(&mut session, wire) {
                    session.handle_input(host.now(), &bytes);
                }
                backlog.release(read);
            }
            Ok(Wake::ControlClosed) => session.handle_peer_closed(),
            Ok(Wake::Transfer(report)) => host.on_report(&mut session, report),
            Ok(Wake::Nudge) => {}
            Err(RecvTimeoutError::Timeout) => host.timeout(&mut session),
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    if let Some(running) = host.running.take() {
        running.abort.abort();
        // Its report will find no session: the one log line is written here.
        log_transfer(
            host.peer,
            &host.user,
            running.kind,
            &running.path,
            &Err(ftpwire_core::server::TransferError::Aborted),
            running.started.elapsed(),
        );
    }
    let mut wire = Vec::new();
    host.channel.close(&mut wire);
    let _ = host.control.write_all(&wire);
    backlog.close();
    let _ = host.control.shutdown(Shutdown::Both);
    log::debug!("{peer}: session closed");
}

/// Feeds the session what the control connection receives, while the
/// session wants input and no more than [`MAX_IN_FLIGHT`] bytes wait for it.
fn read_control(mut control: TcpStream, wake: SyncSender<Wake>, backlog: &Backlog) {
    let mut buf = vec![0; READ_SIZE];
    loop {
        if !backlog.wait_for_room() {
            return;
        }
        match control.read(&mut buf) {
            Ok(0) | Err(_) => {
                let _ = wake.send(Wake::ControlClosed);
                return;
            }
            Ok(n) => {
                backlog.hold(n);
                if wake.send(Wake::Control(buf[..n].to_vec())).is_err() {
                    return;
                }
            }
        }
    }
}

/// Counts control bytes read but not handed to the session yet, and those
/// the session holds without running them: the reader waits while there
/// are too many (TCP then pushes back on a client that pipelines without end).
struct Backlog {
    state: Mutex<BacklogState>,
    room: Condvar,
    /// The session's `input_limit`: it wants no input while it holds this much.
    limit: usize,
}

#[derive(Default)]
struct BacklogState {
    in_flight: usize,
    /// What the session held when last asked.
    held: usize,
    closed: bool,
}

impl Backlog {
    fn lock(&self) -> std::sync::MutexGuard<'_, BacklogState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Blocks while the backlog is full; `false` once the session has ended.
    fn wait_for_room(&self) -> bool {
        let mut state = self.lock();
        while (state.in_flight >= MAX_IN_FLIGHT || state.held >= self.limit) && !state.closed {
            state = self.room.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        !state.closed
    }

    fn hold(&self, n: usize) {
        self.lock().in_flight += n;
    }

    fn release(&self, n: usize) {
        if n > 0 {
            let mut state = self.lock();
            state.in_flight = state.in_flight.saturating_sub(n);
            self.room.notify_one();
        }
    }

    fn set_held(&self, held: usize) {
        let mut state = self.lock();
        if state.held != held {
            state.held = held;
            self.room.notify_one();
        }
    }

    fn close(&self) {
        self.lock().closed = true;
        self.room.notify_one();
    }
}

/// The world the session's events act on.
struct Host {
    shared: Arc<Shared>,
    control: TcpStream,
    peer: SocketAddr,
    wake: SyncSender<Wake>,
    base: std::time::Instant,
    /// Shared with the transfer that accepts on it: it outlives a transfer
    /// refused before its data connection, until the session closes it.
    passive: Option<Arc<Passive>>,
    running: Option<Running>,
    user: String,
    /// Plain text or TLS, and the TLS session data connections resume.
    channel: ControlChannel,
}

impl Host {
    /// What the session should see of bytes read from the socket (their
    /// decryption on a TLS channel, the backlog then counting the decrypted
    /// bytes); `None` if the channel failed.
    fn receive(&mut self, session: &mut ServerSession, input: Vec<u8>) -> Option<Vec<u8>> {
        if !self.channel.is_tls() {
            return Some(input);
        }
        let mut wire = Vec::new();
        let plain = self.channel.receive(session, &input, &mut wire, self.peer);
        if !wire.is_empty() && self.control.write_all(&wire).is_err() {
            session.handle_peer_closed();
        }
        plain
    }

    /// A deadline passed: the session's timers and the control channel's
    /// (after CCC); writes what the channel has to say.
    fn timeout(&mut self, session: &mut ServerSession) {
        let mut wire = Vec::new();
        self.channel.handle_timeout(session, self.now(), &mut wire);
        if !wire.is_empty() && self.control.write_all(&wire).is_err() {
            session.handle_peer_closed();
        }
    }

    /// Sends reply bytes, through TLS when it is on.
    fn transmit(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if !self.channel.is_tls() {
            return self.control.write_all(bytes);
        }
        let mut wire = Vec::new();
        self.channel.send(bytes, &mut wire);
        self.control.write_all(&wire)
    }

    fn now(&self) -> Instant {
        Instant::from_duration(self.base.elapsed())
    }

    /// Sends replies and answers events until the session waits for the
    /// world; `false` once it has closed.
    fn drain(&mut self, session: &mut ServerSession) -> bool {
        loop {
            match session.poll_output() {
                Output::Transmit(bytes) => {
                    if self.transmit(bytes).is_err() {
                        session.handle_peer_closed();
                    }
                }
                Output::Event(event) => {
                    let work = Work::from_event(event, self.peer);
                    self.on_event(session, work);
                }
                Output::Timeout(_) => return true,
                Output::Closed => return false,
            }
        }
    }

    fn on_event(&mut self, session: &mut ServerSession, work: Work) {
        let peer = self.peer;
        match work {
            Work::Blocking(blocking) => {
                if let Blocking::Login { user, .. } = &blocking {
                    self.user = String::from_utf8_lossy(user).into_owned();
                }
                let shared = &self.shared;
                blocking
                    .run(&*shared.storage, &*shared.authenticator, peer)
                    .apply(session);
            }
            Work::OpenPassive {
                bind,
                resolve,
                token,
            } => match open_passive(&self.shared.ports, bind, resolve.as_deref(), peer) {
                Ok((listener, port, resolved)) => {
                    let stall = self.shared.config.session.idle_timeout;
                    self.passive = Some(match self.channel.data_tls(session.data_protected()) {
                        Some(tls) => Passive::protected(listener, peer.ip(), tls, stall),
                        None => Passive::new(listener),
                    });
                    session.passive_opened(token, port, resolved);
                }
                Err(error) => session.passive_failed(token, error),
            },
            Work::ClosePassive => self.passive = None,
            Work::Transfer(job, token) => self.start_transfer(session, job, token),
            Work::AbortTransfer(id) => {
                if let Some(running) = &self.running
                    && running.token.as_ref().is_some_and(|t| t.id() == id)
                {
                    running.abort.abort();
                    if let Some(passive) = &self.passive {
                        passive.abort_early();
                    }
                }
            }
            Work::UpgradeTls(token) => {
                let settings = self.shared.config.tls.as_ref();
                if !self.channel.upgrade(settings, token, peer) {
                    session.handle_peer_closed();
                }
            }
            Work::DowngradeTls => self.channel.downgrade(self.now()),
            Work::Nothing => {}
        }
    }

    fn start_transfer(
        &mut self,
        session: &mut ServerSession,
        job: TransferJob,
        token: TransferToken,
    ) {
        let abort = match Abort::new() {
            Ok(abort) => abort,
            Err(error) => {
                log::warn!("{}: cannot start a transfer: {error}", self.peer);
                let _ = session.transfer_finished(
                    token,
                    Err(ftpwire_core::server::TransferError::NoDataConnection),
                );
                return;
            }
        };
        let listener = self.passive.clone();
        let tls = self.channel.data_tls(job.protected);
        let storage = self.shared.storage.clone();
        let wake = self.wake.clone();
        let stall = self.shared.config.session.idle_timeout;
        self.running = Some(Running {
            token: Some(token),
            abort: abort.clone(),
            kind: job.kind,
            path: job.path.clone(),
            started: std::time::Instant::now(),
        });
        let spawned = thread::Builder::new()
            .name("ftpwire-transfer".into())
            .spawn(move || {
                data::run(job, listener, tls, storage, abort, stall, |report| {
                    let _ = wake.send(Wake::Transfer(report));
                })
            });
        if spawned.is_err() {
            let token = self.running.take().and_then(|r| r.token);
            if let Some(token) = token {
                let _ = session.transfer_finished(
                    token,
                    Err(ftpwire_core::server::TransferError::NoDataConnection),
                );
            }
        }
    }

    fn on_report(&mut self, session: &mut ServerSession, report: Report) {
        let Some(running) = &mut self.running else {
            return;
        };
        match report {
            Report::Started { unique_name, size } => {
                if let Some(token) = &running.token {
                    if let Some(size) = size {
                        session.retrieve_opened(token, size);
                    }
                    match unique_name {
                        Some(name) => session.store_unique_started(token, &name),
                        None => session.transfer_started(token),
                    }
                }
            }
            Report::Finished(result) => {
                let running = self.running.take().expect("checked above");
                // The core may turn a short RETR into a failure: log its verdict.
                let outcome = match running.token {
                    Some(token) => session.transfer_finished(token, result),
                    None => result,
                };
                log_transfer(
                    self.peer,
                    &self.user,
                    running.kind,
                    &running.path,
                    &outcome,
                    running.started.elapsed(),
                );
            }
        }
    }
}
