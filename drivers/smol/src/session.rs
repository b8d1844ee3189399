//! One control connection as a task: the session, the control socket, the
//! clock, shutdown and the transfer task's reports, raced in one loop.

use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ftpwire_backend::native::passive::resolve_for_passive;
use ftpwire_backend::native::session::{NativeSession, Next, PassiveListener};
use ftpwire_backend::native::transfer::{Report, Running, TransferJob};
use ftpwire_core::server::{PassiveError, TransferId};
use smol::Async;
use smol::channel::{self, Receiver, Recv, Sender};
use smol::future::FutureExt;
use smol::io::AsyncWriteExt;
use smol::net::TcpStream;

use crate::data::{self, Passive};
use crate::server::Shared;

/// Control-channel reads; a command line is far smaller.
const READ_SIZE: usize = 4096;

/// The channel transfer tasks report through.
type Reports = (Sender<(TransferId, Report)>, Receiver<(TransferId, Report)>);

/// What woke the session task.
enum Wake {
    /// The control socket has bytes (or its end) to read.
    Readable,
    Transfer((TransferId, Report)),
    Timeout,
    /// Graceful shutdown began.
    Stop,
    /// The grace period is over.
    HardStop,
}

/// The session with this driver's listener and transfer handle (dropping a
/// smol task cancels it, freeing its file and data connection).
type Session = NativeSession<Passive, smol::Task<()>>;

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
pub(crate) async fn run(
    mut control: TcpStream,
    shared: Arc<Shared>,
    implicit_tls: bool,
    origin: Origin,
) {
    let config = &shared.served.config;
    let Some(mut session) = Session::accept(config, &control, implicit_tls, origin.client) else {
        return;
    };
    if !origin.first_input.is_empty() {
        session.handle_input(&origin.first_input);
    }
    // Made with the first transfer: an idle session holds no channel.
    let mut reports: Option<Reports> = None;
    // Readiness and non-blocking reads on the socket itself: the bytes go
    // through a buffer of the thread's, so an idle session holds none.
    let socket: Arc<Async<std::net::TcpStream>> = control.clone().into();
    // One timer for the session's life, moved only when its deadline comes
    // earlier: arming a timer wakes async-io's reactor (a syscall or more),
    // and most commands only push the idle deadline later. Fired early, it
    // costs a timeout the session finds nothing due in.
    let mut timer = smol::Timer::never();
    let mut armed: Option<Instant> = None;
    let mut more_waiting = false;
    // Shutdown is listened for once for the session's life, not once per
    // wait: a channel listener made per wait is an allocation and two locks
    // on every round trip. Pinned in the task's own state, not boxed.
    let mut stop = Some(std::pin::pin!(shared.stop.recv()));
    let mut hard_stop = std::pin::pin!(shared.hard_stop.recv());
    loop {
        serve_until_wait(&mut session, &mut control, &shared, &mut reports).await;
        let Some(wait) = session.wait() else {
            break;
        };
        // Past its input limit the session wants no more: TCP pushes back
        // on a client pipelining without end.
        let read_more = session.wants_input();
        // After a read that filled the buffer, more is likely waiting (a
        // pipelining client): read on without parking the task. After a
        // shorter one the socket was empty, and a client waiting for its
        // reply sends nothing until it has it: a read now would be a
        // syscall that finds nothing on every round trip.
        if read_more && more_waiting {
            match read_ready(&socket, &mut session) {
                Some(full) => {
                    more_waiting = full;
                    continue;
                }
                None => more_waiting = false,
            }
        }
        let stopping = session.is_stopping();
        let reported = reports.as_ref().map(|(_, rx)| rx);
        let due = Instant::now().checked_add(wait);
        if let Some(due) = due
            && armed.is_none_or(|at| due < at)
        {
            timer.set_at(due);
            armed = Some(due);
        }
        let signals = Signals {
            stop: stop.as_mut().filter(|_| !stopping),
            hard_stop: &mut hard_stop,
        };
        match next_wake(&socket, read_more, reported, signals, &mut timer).await {
            Wake::Readable => {
                more_waiting = read_ready(&socket, &mut session) == Some(true);
            }
            Wake::Transfer((id, report)) => session.handle_report(id, report),
            Wake::Timeout => {
                armed = None;
                session.handle_timeout();
            }
            Wake::Stop => {
                stop = None;
                session.shut_down();
            }
            Wake::HardStop => {
                session.shut_down_now();
                break;
            }
        }
    }
    let _ = control.shutdown(std::net::Shutdown::Both);
}

/// Writes to the control socket; a client that stops reading replies for
/// the idle timeout is gone, too.
async fn write_control(control: &mut TcpStream, bytes: &[u8], stall: Duration) -> io::Result<()> {
    let gave_up = async {
        smol::Timer::after(stall).await;
        Err(io::ErrorKind::TimedOut.into())
    };
    control.write_all(bytes).or(gave_up).await
}

thread_local! {
    /// Control-channel reads of every session on this thread: a read hands
    /// its bytes to the session before the task can yield.
    static READ_BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; READ_SIZE]);
}

/// Reads what the control socket holds now (without waiting) into the
/// session: `None` when there was nothing to read, else whether the read
/// filled the buffer (so more may be waiting).
fn read_ready(socket: &Async<std::net::TcpStream>, session: &mut Session) -> Option<bool> {
    READ_BUF.with_borrow_mut(|buf| match socket.get_ref().read(buf) {
        Ok(0) => {
            session.handle_peer_closed();
            Some(false)
        }
        Ok(n) => {
            session.handle_input(&buf[..n]);
            Some(n == buf.len())
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
        Err(e) if e.kind() == io::ErrorKind::Interrupted => None,
        Err(_) => {
            session.handle_peer_closed();
            Some(false)
        }
    })
}

/// The server's shutdown signals, as one session waits for them: `stop`
/// is `None` once the session is stopping.
struct Signals<'a, 'p, 'r> {
    stop: Option<&'a mut Pin<&'p mut Recv<'r, ()>>>,
    hard_stop: &'a mut Pin<&'p mut Recv<'r, ()>>,
}

/// The first of: a readable control socket (while the session wants its
/// bytes), a transfer report, shutdown, the session's timer.
async fn next_wake(
    socket: &Async<std::net::TcpStream>,
    read_more: bool,
    reported: Option<&Receiver<(TransferId, Report)>>,
    signals: Signals<'_, '_, '_>,
    timer: &mut smol::Timer,
) -> Wake {
    // Readiness only: the bytes are read after the race is won.
    let read = async {
        if !read_more {
            std::future::pending::<()>().await;
        }
        match socket.readable().await {
            // An error shows again on the read that follows.
            Ok(()) | Err(_) => Wake::Readable,
        }
    };
    let report = async {
        let Some(reported) = reported else {
            return std::future::pending().await;
        };
        match reported.recv().await {
            Ok(report) => Wake::Transfer(report),
            Err(_) => std::future::pending().await,
        }
    };
    let timeout = async {
        timer.await;
        Wake::Timeout
    };
    let stop = async {
        let Some(stop) = signals.stop else {
            return std::future::pending().await;
        };
        let _ = stop.await;
        Wake::Stop
    };
    let hard_stop = async {
        let _ = signals.hard_stop.await;
        Wake::HardStop
    };
    hard_stop.or(stop).or(read).or(report).or(timeout).await
}

/// Writes replies and does what the session asks until it waits for the
/// world (or has closed).
async fn serve_until_wait(
    session: &mut Session,
    control: &mut TcpStream,
    shared: &Arc<Shared>,
    reports: &mut Option<Reports>,
) {
    let peer = session.peer();
    let stall = shared.served.config.session.idle_timeout;
    while let Some(next) = session.poll() {
        match next {
            Next::Transmit(bytes) => {
                if write_control(control, bytes, stall).await.is_err() {
                    session.handle_peer_closed();
                }
            }
            Next::Blocking(work) => {
                let storage = session.storage(&shared.served.storage).clone();
                let users = shared.served.authenticator.clone();
                let answer = smol::unblock(move || work.run(&*storage, &*users, peer));
                session.answer(answer.await);
            }
            Next::OpenPassive {
                bind,
                resolve,
                token,
            } => {
                let opened = listen(session, shared, bind, resolve).await;
                session.passive_opened(token, opened);
            }
            Next::Transfer(job, running) => {
                let (tx, _) = reports.get_or_insert_with(|| channel::bounded(4));
                start_transfer(session, shared, tx, job, running)
            }
            Next::Done => {}
        }
    }
}

/// A passive port on `bind` held for the peer (the hostname resolved on
/// the blocking pool), as the session's answer wants it.
async fn listen(
    session: &mut Session,
    shared: &Arc<Shared>,
    bind: IpAddr,
    resolve: Option<String>,
) -> Result<(Arc<Passive>, u16, Option<IpAddr>), PassiveError> {
    let peer = session.peer();
    let resolved = smol::unblock(move || resolve_for_passive(resolve.as_deref(), bind, peer));
    let resolved = resolved.await?;
    let (deliver, delivered) = channel::bounded(1);
    let start = data::start_accept(&shared.executor);
    let inbox = Arc::new(data::Inbox(deliver));
    let hold = shared.served.ports.hold(bind, peer.ip(), inbox, &start)?;
    let port = hold.port();
    let early = session.passive_tls().map(|tls| (tls, &*shared.executor));
    Ok((Passive::new(hold, delivered, early), port, resolved))
}

/// Runs the transfer as a task of its own, which reports through `reports`.
fn start_transfer(
    session: &mut Session,
    shared: &Shared,
    reports: &Sender<(TransferId, Report)>,
    job: TransferJob,
    running: Running,
) {
    let (steps, asked) = channel::bounded(1);
    // The listener is a clone (of the same socket): it stays the session's
    // until it says to close it, so it outlives a transfer refused before
    // its data connection.
    let (listener, tls) = session.transfer_resources();
    let storage = session.storage(&shared.served.storage).clone();
    let progress = running.progress.clone();
    let config = &shared.served.config;
    let zero_copy = (!config.copy_only).then(|| config.metrics.clone());
    let task = data::run(
        running.id,
        job,
        listener,
        tls,
        storage,
        asked,
        reports.clone(),
        progress,
        zero_copy,
    );
    let task = shared.executor.spawn(task);
    let send = move |step| {
        let _ = steps.try_send(step);
    };
    session.transfer_started(running, send, task);
}

/// The smol driver stops early handshakes by dropping their task.
impl PassiveListener for Passive {}
