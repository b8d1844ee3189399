//! One control connection as a task: the core session, the control socket,
//! the clock and the transfer task's reports, raced in one loop.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use ftpwire_backend::native::host::Work;
use ftpwire_backend::native::passive::open_passive;
use ftpwire_backend::native::tls::ControlChannel;
use ftpwire_backend::native::transfer::{InFlight, Report, Running, TransferJob};
use ftpwire_core::server::{Output, PassiveError, TransferId};
use ftpwire_core::{Instant, ServerSession};
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
        channel: ControlChannel::default(),
    };
    let config = host.shared.config.session.clone();
    let mut session = if implicit_tls {
        if !host.channel.start(host.shared.config.tls.as_ref(), peer) {
            return;
        }
        ServerSession::new_implicit_tls(config, local, peer, host.now())
    } else {
        ServerSession::new(config, local, peer, host.now())
    };
    let mut buf = vec![0; READ_SIZE];
    loop {
        if !host.drain(&mut session).await {
            break;
        }
        let Some(deadline) = host.channel.poll_timeout(&session) else {
            break;
        };
        let wait = deadline.saturating_duration_since(host.now());
        // Past its input limit the session wants no more: TCP pushes back
        // on a client pipelining without end.
        let read_more = session.wants_input();
        match host.wait(&mut buf, read_more, &reported, wait).await {
            Wake::Read(Ok(0)) | Wake::Read(Err(_)) => session.handle_peer_closed(),
            Wake::Read(Ok(n)) => {
                let plain;
                let bytes = if host.channel.is_tls() {
                    match host.receive(&mut session, &buf[..n]).await {
                        Some(decrypted) => plain = decrypted,
                        None => continue,
                    }
                    &plain[..]
                } else {
                    &buf[..n]
                };
                session.handle_input(host.now(), bytes);
            }
            Wake::Transfer(report) => host.on_report(&mut session, report),
            Wake::Timeout => {
                let now = host.now();
                Transfer::report_progress(&mut host.transfer, &mut session, now);
                let mut wire = Vec::new();
                host.channel
                    .handle_timeout(&mut session, host.now(), &mut wire);
                if !wire.is_empty() && host.write_control(&wire).await.is_err() {
                    session.handle_peer_closed();
                }
            }
            Wake::Stop => {
                // 421 now, or once the running transfer is over.
                host.stopping = true;
                session.shut_down(host.now());
            }
            Wake::HardStop => {
                // The grace period is over: a running transfer is ended (its
                // log line), then the session.
                session.shut_down_now(host.now());
                ftpwire_backend::native::host::log_end(&mut session, peer);
                break;
            }
        }
    }
    // A transfer still running is cancelled with its task.
    host.transfer = None;
    let mut wire = Vec::new();
    host.channel.close(&mut wire);
    if !wire.is_empty() {
        let _ = host.write_control(&wire).await;
    }
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
    /// Plain text or TLS, and the TLS session data connections resume.
    channel: ControlChannel,
}

impl Host {
    /// What bytes read from a TLS control channel decrypt to (handshake
    /// replies are sent on the way); `None` if the channel failed.
    async fn receive(&mut self, session: &mut ServerSession, input: &[u8]) -> Option<Vec<u8>> {
        let mut wire = Vec::new();
        let plain = self.channel.receive(session, input, &mut wire, self.peer);
        if !wire.is_empty() && self.write_control(&wire).await.is_err() {
            session.handle_peer_closed();
            return None;
        }
        plain
    }

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
    async fn drain(&mut self, session: &mut ServerSession) -> bool {
        loop {
            match session.poll_output() {
                Output::Transmit(bytes) => {
                    let written = if self.channel.is_tls() {
                        let mut wire = Vec::new();
                        self.channel.send(bytes, &mut wire);
                        self.write_control(&wire).await
                    } else {
                        self.write_control(bytes).await
                    };
                    if written.is_err() {
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

    async fn on_event(&mut self, session: &mut ServerSession, work: Work) {
        let peer = self.peer;
        match work {
            Work::Blocking(blocking) => {
                let shared = self.shared.clone();
                let answer = smol::unblock(move || {
                    blocking.run(&*shared.storage, &*shared.authenticator, peer)
                })
                .await;
                answer.apply(session);
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
                        let early = self
                            .channel
                            .data_tls(session.data_protected())
                            .map(|tls| (tls, executor));
                        self.passive = Some(Passive::new(listener, peer.ip(), early));
                        session.passive_opened(token, port, resolved);
                    }
                    Err(error) => session.passive_failed(token, error),
                }
            }
            Work::ClosePassive => self.passive = None,
            Work::Transfer(job, running) => self.start_transfer(job, running),
            Work::Step(work) => Transfer::step(&mut self.transfer, work),
            Work::AbortTransfer(id) => {
                Transfer::abort(&mut self.transfer, id);
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

    fn start_transfer(&mut self, job: TransferJob, running: Running) {
        let (steps, asked) = channel::bounded(1);
        let task = data::run(
            running.id,
            job,
            // A clone (of the same socket): the listener stays the
            // session's until it says to close it, so it outlives a
            // transfer refused before its data connection.
            self.passive.clone(),
            self.channel.data_tls(true),
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

    fn on_report(&mut self, session: &mut ServerSession, (id, report): (TransferId, Report)) {
        let now = self.now();
        Transfer::report(&mut self.transfer, session, id, report, now);
    }
}
