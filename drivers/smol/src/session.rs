//! One control connection as a task: the core session, the control socket,
//! the clock and the transfer task's reports, raced in one loop.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use ftpwire_backend::native::control::ControlConnection;
use ftpwire_backend::native::host::Work;
use ftpwire_backend::native::passive::open_passive;
use ftpwire_backend::native::tls::SessionTls;
use ftpwire_backend::native::transfer::{InFlight, Report, Running, TransferJob};
use ftpwire_core::Instant;
use ftpwire_core::server::{Output, PassiveError, TransferId};
use smol::channel::{self, Receiver, Sender};
use smol::future::FutureExt;
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::{TcpListener, TcpStream};

use crate::data::{self, Passive};
use crate::server::Shared;

/// Control-channel reads; a command line is far smaller.
const READ_SIZE: usize = 4096;

/// What woke the session task.
enum Wake {
    Read(io::Result<usize>),
    Transfer((TransferId, Report)),
    Timeout,
    /// Graceful shutdown began.
    Stop,
    /// The grace period is over.
    HardStop,
}

/// The transfer in flight; its task goes with it (dropping a smol task
/// cancels it, freeing its file and data connection).
type Transfer = InFlight<smol::Task<()>>;

/// Serves one control connection until the session closes; `implicit_tls`:
/// it came to the implicit-FTPS listener, so TLS starts before the greeting.
pub(crate) async fn run(control: TcpStream, shared: Arc<Shared>, implicit_tls: bool) {
    let (Ok(peer), Ok(local)) = (control.peer_addr(), control.local_addr()) else {
        return;
    };
    let _ = control.set_nodelay(true);
    // RFC 959 ABOR: Telnet IP then Synch, the DM as TCP urgent data. Inline,
    // the core's Telnet handling sees it like any other byte.
    let _ = socket2::SockRef::from(&control).set_out_of_band_inline(true);
    let (reports, reported) = channel::bounded(4);
    let mut host = Host {
        shared,
        control,
        peer,
        reports,
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
        return;
    };
    let mut buf = vec![0; READ_SIZE];
    loop {
        if !host.drain(&mut session).await {
            break;
        }
        let Some(deadline) = session.poll_timeout() else {
            break;
        };
        let wait = deadline.saturating_duration_since(host.now());
        // Past its input limit the session wants no more: TCP pushes back
        // on a client pipelining without end.
        let read_more = session.session().wants_input();
        match host.wait(&mut buf, read_more, &reported, wait).await {
            Wake::Read(Ok(0)) | Wake::Read(Err(_)) => session.handle_peer_closed(),
            Wake::Read(Ok(n)) => session.handle_input(host.now(), &buf[..n]),
            Wake::Transfer((id, report)) => {
                let now = host.now();
                Transfer::report(&mut host.transfer, session.session(), id, report, now);
            }
            Wake::Timeout => {
                let now = host.now();
                Transfer::report_progress(&mut host.transfer, session.session(), now);
                session.handle_timeout(now);
            }
            Wake::Stop => {
                // 421 now, or once the running transfer is over.
                host.stopping = true;
                session.session().shut_down(host.now());
            }
            Wake::HardStop => {
                // The grace period is over: a running transfer is ended (its
                // log line), then the session.
                session.session().shut_down_now(host.now());
                ftpwire_backend::native::host::log_end(session.session(), peer);
                break;
            }
        }
    }
    // A transfer still running is cancelled with its task.
    host.transfer = None;
    let _ = host.control.shutdown(std::net::Shutdown::Both);
}

/// The world the session's events act on.
struct Host {
    shared: Arc<Shared>,
    control: TcpStream,
    peer: SocketAddr,
    reports: Sender<(TransferId, Report)>,
    base: std::time::Instant,
    passive: Option<Arc<Passive>>,
    transfer: Option<Transfer>,
    /// Shutdown began: the session ends as soon as no transfer runs.
    stopping: bool,
}

impl Host {
    /// Writes to the control socket; a client that stops reading replies
    /// for the idle timeout is gone, too.
    async fn write_control(&mut self, bytes: &[u8]) -> io::Result<()> {
        let stall = self.shared.config.session.idle_timeout;
        let write = self.control.write_all(bytes);
        let gave_up = async {
            smol::Timer::after(stall).await;
            Err(io::ErrorKind::TimedOut.into())
        };
        write.or(gave_up).await
    }
    fn now(&self) -> Instant {
        Instant::from_duration(self.base.elapsed())
    }

    /// The first of: control bytes, a transfer report, the session's deadline.
    async fn wait(
        &mut self,
        buf: &mut [u8],
        read_more: bool,
        reported: &Receiver<(TransferId, Report)>,
        wait: std::time::Duration,
    ) -> Wake {
        let control = &mut self.control;
        // A read that loses the race has taken nothing (readiness-based I/O).
        let read = async {
            if !read_more {
                std::future::pending::<()>().await;
            }
            Wake::Read(control.read(buf).await)
        };
        let report = async {
            match reported.recv().await {
                Ok(report) => Wake::Transfer(report),
                Err(_) => std::future::pending().await,
            }
        };
        let timeout = async {
            smol::Timer::after(wait).await;
            Wake::Timeout
        };
        let stopping = self.stopping;
        let stop = async {
            if stopping {
                std::future::pending::<()>().await;
            }
            let _ = self.shared.stop.recv().await;
            Wake::Stop
        };
        let hard_stop = async {
            let _ = self.shared.hard_stop.recv().await;
            Wake::HardStop
        };
        hard_stop.or(stop).or(read).or(report).or(timeout).await
    }

    /// Sends replies and answers events until the session waits for the
    /// world; `false` once it has closed.
    async fn drain(&mut self, session: &mut ControlConnection) -> bool {
        loop {
            match session.poll_output() {
                Output::Transmit(bytes) => {
                    if self.write_control(bytes).await.is_err() {
                        session.handle_peer_closed();
                    }
                }
                Output::Event(event) => {
                    let work = Work::from_event(event, self.peer);
                    self.on_event(session, work).await;
                }
                Output::Timeout(_) => return true,
                Output::Closed => return false,
            }
        }
    }

    async fn on_event(&mut self, control: &mut ControlConnection, work: Work) {
        let peer = self.peer;
        match work {
            Work::Blocking(blocking) => {
                let shared = self.shared.clone();
                let answer = smol::unblock(move || {
                    blocking.run(&*shared.storage, &*shared.authenticator, peer)
                })
                .await;
                answer.apply(control.session());
            }
            Work::OpenPassive {
                bind,
                resolve,
                token,
            } => {
                let shared = self.shared.clone();
                let opened = smol::unblock(move || {
                    open_passive(&shared.ports, bind, resolve.as_deref(), peer)
                })
                .await
                .and_then(|(listener, port, resolved)| {
                    let listener =
                        TcpListener::try_from(listener).map_err(|_| PassiveError::NoFreePort)?;
                    Ok((listener, port, resolved))
                });
                match opened {
                    Ok((listener, port, resolved)) => {
                        let executor = &*self.shared.executor;
                        let protected = control.session().data_protected();
                        let early = control.data_tls(protected).map(|tls| (tls, executor));
                        self.passive = Some(Passive::new(listener, peer.ip(), early));
                        control.session().passive_opened(token, port, resolved);
                    }
                    Err(error) => control.session().passive_failed(token, error),
                }
            }
            Work::ClosePassive => self.passive = None,
            Work::Transfer(job, running) => {
                let tls = control.data_tls(true);
                self.start_transfer(job, running, tls);
            }
            Work::Step(work) => Transfer::step(&mut self.transfer, work),
            Work::AbortTransfer(id) => {
                Transfer::abort(&mut self.transfer, id);
            }
            Work::Nothing => {}
        }
    }

    fn start_transfer(&mut self, job: TransferJob, running: Running, tls: Option<SessionTls>) {
        let (steps, asked) = channel::bounded(1);
        let task = data::run(
            running.id,
            job,
            // A clone (of the same socket): the listener stays the
            // session's until it says to close it, so it outlives a
            // transfer refused before its data connection.
            self.passive.clone(),
            tls,
            self.shared.storage.clone(),
            asked,
            self.reports.clone(),
            running.progress.clone(),
        );
        let task = self.shared.executor.spawn(task);
        let send = move |step| {
            let _ = steps.try_send(step);
        };
        self.transfer = Some(Transfer::new(running, send, task));
    }
}
