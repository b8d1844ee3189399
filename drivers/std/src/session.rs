//! One control connection: the core session, fed from a reader thread and
//! answered on this thread, with each transfer on a thread of its own.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use ftpwire_backend::native::passive::open_passive;
use ftpwire_backend::native::session::{NativeSession, Next, PassiveListener};
use ftpwire_backend::native::transfer::{Report, Running, TransferJob};
use ftpwire_core::server::TransferId;

use crate::data::{self, Abort, Inbox, Passive};
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

/// The session with this driver's listener and transfer handle: dropping
/// the handle stops its thread (wherever that blocks) so the thread frees
/// its file and connection.
type Session = NativeSession<Passive, AbortOnDrop>;

/// [`Abort::abort`] when dropped.
struct AbortOnDrop(Arc<Abort>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Where a control connection came from, when a load balancer's PROXY
/// header said so.
#[derive(Default)]
pub(crate) struct Origin {
    /// The real client (`None`: the socket's peer).
    pub client: Option<SocketAddr>,
    /// What followed the header: the session's first input.
    pub first_input: Vec<u8>,
}

/// Serves one control connection until the session closes; `implicit_tls`:
/// it came to the implicit-FTPS listener, so TLS starts before the greeting.
pub(crate) fn run(mut control: TcpStream, shared: Arc<Shared>, implicit_tls: bool, origin: Origin) {
    let config = &shared.served.config;
    let Some(mut session) = Session::accept(config, &control, implicit_tls, origin.client) else {
        let _ = control.shutdown(Shutdown::Both);
        return;
    };
    if !origin.first_input.is_empty() {
        session.handle_input(&origin.first_input);
    }
    // A client that stops reading replies for this long is gone (the reader
    // clone shares the socket but sets no read timeout).
    let idle = config.session.idle_timeout.max(Duration::from_millis(1));
    let _ = control.set_write_timeout(Some(idle));
    let (wake, woken) = mpsc::sync_channel(64);
    let backlog = Arc::new(Backlog {
        state: Mutex::default(),
        room: Condvar::new(),
        limit: config.session.input_limit,
    });
    let (Ok(reader), Ok(registered)) = (control.try_clone(), control.try_clone()) else {
        return;
    };
    let (reader_wake, reader_backlog) = (wake.clone(), backlog.clone());
    let spawned = thread::Builder::new()
        .name("ftpwire-control-reader".into())
        .spawn(move || read_control(reader, reader_wake, &reader_backlog));
    if spawned.is_err() {
        return;
    }
    let _registration = shared.sessions.register(wake.clone(), registered);
    loop {
        serve_until_wait(&mut session, &mut control, &shared, &wake);
        let sessions = &shared.sessions;
        if sessions.hard_stopped() {
            // The grace period is over: the socket is already shut down.
            session.shut_down_now();
            break;
        }
        if sessions.stopping() && !session.is_stopping() {
            session.shut_down();
            continue;
        }
        // The reader reads on while the session holds less than its input limit.
        backlog.set_held(session.held_input());
        let Some(wait) = session.wait() else {
            break;
        };
        match woken.recv_timeout(wait) {
            Ok(Wake::Control(bytes)) => {
                session.handle_input(&bytes);
                backlog.release(bytes.len());
            }
            Ok(Wake::ControlClosed) => session.handle_peer_closed(),
            Ok(Wake::Transfer(id, report)) => session.handle_report(id, report),
            Ok(Wake::Nudge) => {}
            Err(RecvTimeoutError::Timeout) => session.handle_timeout(),
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    // Also ends the reader thread, blocked on its clone of the socket.
    backlog.close();
    let _ = control.shutdown(Shutdown::Both);
}

/// Writes replies and does what the session asks until it waits for the
/// world (or has closed).
fn serve_until_wait(
    session: &mut Session,
    control: &mut TcpStream,
    shared: &Shared,
    wake: &SyncSender<Wake>,
) {
    let peer = session.peer();
    while let Some(next) = session.poll() {
        match next {
            Next::Transmit(bytes) => {
                if control.write_all(bytes).is_err() {
                    session.handle_peer_closed();
                }
            }
            Next::Blocking(work) => {
                let storage = session.storage(&shared.served.storage);
                let answer = work.run(&**storage, &*shared.served.authenticator, peer);
                session.answer(answer);
            }
            Next::OpenPassive {
                bind,
                resolve,
                token,
            } => {
                let tls = session.passive_tls();
                let inbox = Arc::new(Inbox::default());
                let ports = &shared.served.ports;
                let opened = open_passive(
                    ports,
                    bind,
                    resolve.as_deref(),
                    peer,
                    inbox.clone(),
                    &data::start_accept,
                );
                let opened = opened.map(|(hold, resolved)| {
                    let port = hold.port();
                    let passive = match tls {
                        Some(tls) => Passive::protected(hold, inbox, tls),
                        None => Passive::new(hold, inbox),
                    };
                    (passive, port, resolved)
                });
                session.passive_opened(token, opened);
            }
            Next::Transfer(job, running) => start_transfer(session, shared, wake, job, running),
            Next::Done => {}
        }
    }
}

/// Runs the transfer on a thread of its own, which reports through `wake`.
fn start_transfer(
    session: &mut Session,
    shared: &Shared,
    wake: &SyncSender<Wake>,
    job: TransferJob,
    running: Running,
) {
    let Ok(abort) = Abort::new() else {
        return session.transfer_not_started(running);
    };
    let (steps, asked) = mpsc::sync_channel(1);
    let (listener, tls) = session.transfer_resources();
    let storage = session.storage(&shared.served.storage).clone();
    let wake = wake.clone();
    let (id, progress, worker) = (running.id, running.progress.clone(), abort.clone());
    let config = &shared.served.config;
    let zero_copy = (!config.copy_only).then(|| config.metrics.clone());
    let report = move |report| {
        let _ = wake.send(Wake::Transfer(id, report));
    };
    let spawned = thread::Builder::new()
        .name("ftpwire-transfer".into())
        .spawn(move || {
            data::run(
                job, listener, tls, storage, worker, asked, progress, zero_copy, report,
            )
        });
    if spawned.is_err() {
        return session.transfer_not_started(running);
    }
    let send = move |step| {
        let _ = steps.try_send(step);
    };
    session.transfer_started(running, send, AbortOnDrop(abort));
}

impl PassiveListener for Passive {
    fn abort_early(&self) {
        Passive::abort_early(self);
    }
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
