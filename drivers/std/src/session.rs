//! One control connection: the core session, fed from a reader thread and
//! answered on this thread, with each transfer on a thread of its own.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use ftpwire_backend::native::control::ControlConnection;
use ftpwire_backend::native::host::{Work, log_end};
use ftpwire_backend::native::passive::open_passive;
use ftpwire_backend::native::transfer::{InFlight, Report, Running, TransferJob};
use ftpwire_core::Instant;
use ftpwire_core::server::{FileError, Output, TransferId};

use crate::data::{self, Abort, Passive};
use crate::server::Shared;

/// Control-channel reads; a command line is far smaller.
const READ_SIZE: usize = 4096;

/// Most control bytes read but not yet handed to the session; the session
/// bounds what it holds itself (`ServerConfig::input_limit`).
const MAX_IN_FLIGHT: usize = 16 * 1024;

/// Everything that wakes the session thread.
pub(crate) enum Wake {
    Control(Vec<u8>),
    ControlClosed,
    Transfer(TransferId, Report),
    /// The server is shutting down: look at its stop flags.
    Nudge,
}

/// The transfer in flight; dropping it stops its thread (wherever that
/// blocks) so the thread frees its file and connection.
type Transfer = InFlight<AbortOnDrop>;

/// [`Abort::abort`] when dropped.
struct AbortOnDrop(Arc<Abort>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
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
        transfer: None,
        stopping: false,
    };
    let (config, tls) = (&host.shared.config.session, &host.shared.config.tls);
    let opened = ControlConnection::open(
        config.clone(),
        local,
        peer,
        host.now(),
        tls.clone(),
        implicit_tls,
    );
    let Some(mut session) = opened else {
        // Also ends the reader thread, blocked on its clone of the socket.
        backlog.close();
        let _ = host.control.shutdown(Shutdown::Both);
        return;
    };
    log::debug!("{peer}: connected");
    loop {
        if !host.drain(&mut session) {
            break;
        }
        let sessions = &host.shared.sessions;
        if sessions.hard_stopped() {
            // The grace period is over: the socket is already shut down. The
            // session still ends a running transfer, for its log line.
            session.session().shut_down_now(host.now());
            log_end(session.session(), peer);
            break;
        }
        if sessions.stopping() && !host.stopping {
            // 421 now, or once the running transfer is over.
            host.stopping = true;
            session.session().shut_down(host.now());
            continue;
        }
        // The reader reads on while the session holds less than its input limit.
        backlog.set_held(session.session().held_input());
        let Some(deadline) = session.poll_timeout() else {
            break;
        };
        let wait = deadline.saturating_duration_since(host.now());
        match woken.recv_timeout(wait) {
            Ok(Wake::Control(wire)) => {
                session.handle_input(host.now(), &wire);
                backlog.release(wire.len());
            }
            Ok(Wake::ControlClosed) => session.handle_peer_closed(),
            Ok(Wake::Transfer(id, report)) => {
                let now = host.now();
                Transfer::report(&mut host.transfer, session.session(), id, report, now);
            }
            Ok(Wake::Nudge) => {}
            Err(RecvTimeoutError::Timeout) => {
                let now = host.now();
                Transfer::report_progress(&mut host.transfer, session.session(), now);
                session.handle_timeout(now);
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    // A transfer still running is given up with the session.
    host.transfer = None;
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
    transfer: Option<Transfer>,
    /// Shutdown began (the session was told once).
    stopping: bool,
}

impl Host {
    fn now(&self) -> Instant {
        Instant::from_duration(self.base.elapsed())
    }

    /// Sends replies and answers events until the session waits for the
    /// world; `false` once it has closed.
    fn drain(&mut self, session: &mut ControlConnection) -> bool {
        loop {
            match session.poll_output() {
                Output::Transmit(bytes) => {
                    if self.control.write_all(bytes).is_err() {
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

    fn on_event(&mut self, control: &mut ControlConnection, work: Work) {
        let peer = self.peer;
        match work {
            Work::Blocking(blocking) => {
                let shared = &self.shared;
                blocking
                    .run(&*shared.storage, &*shared.authenticator, peer)
                    .apply(control.session());
            }
            Work::OpenPassive {
                bind,
                resolve,
                token,
            } => match open_passive(&self.shared.ports, bind, resolve.as_deref(), peer) {
                Ok((listener, port, resolved)) => {
                    let protected = control.session().data_protected();
                    self.passive = Some(match control.data_tls(protected) {
                        Some(tls) => Passive::protected(listener, peer.ip(), tls),
                        None => Passive::new(listener),
                    });
                    control.session().passive_opened(token, port, resolved);
                }
                Err(error) => control.session().passive_failed(token, error),
            },
            Work::ClosePassive => self.passive = None,
            Work::Transfer(job, running) => self.start_transfer(control, job, running),
            Work::Step(work) => Transfer::step(&mut self.transfer, work),
            Work::AbortTransfer(id) => {
                if Transfer::abort(&mut self.transfer, id)
                    && let Some(passive) = &self.passive
                {
                    passive.abort_early();
                }
            }
            Work::Nothing => {}
        }
    }

    fn start_transfer(
        &mut self,
        control: &mut ControlConnection,
        job: TransferJob,
        mut running: Running,
    ) {
        let tls = control.data_tls(true);
        let session = control.session();
        let Ok(abort) = Abort::new() else {
            log::warn!("{}: cannot start a transfer", self.peer);
            return running.apply(session, Report::OpenFailed(FileError::Local), self.now());
        };
        let (steps, asked) = mpsc::sync_channel(1);
        let listener = self.passive.clone();
        let storage = self.shared.storage.clone();
        let wake = self.wake.clone();
        let (id, progress) = (running.id, running.progress.clone());
        let worker = abort.clone();
        let spawned = thread::Builder::new()
            .name("ftpwire-transfer".into())
            .spawn(move || {
                data::run(
                    job,
                    listener,
                    tls,
                    storage,
                    worker,
                    asked,
                    progress,
                    |report| {
                        let _ = wake.send(Wake::Transfer(id, report));
                    },
                )
            });
        if spawned.is_err() {
            log::warn!("{}: cannot start a transfer thread", self.peer);
            return running.apply(session, Report::OpenFailed(FileError::Local), self.now());
        }
        let send = move |step| {
            let _ = steps.try_send(step);
        };
        self.transfer = Some(Transfer::new(running, send, AbortOnDrop(abort)));
    }
}
