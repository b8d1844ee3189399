//! One control connection: the core session, fed from a reader thread and
//! answered on this thread, with each transfer on a thread of its own.

use std::io::{Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::thread;

use ftpwire_backend::file_error;
use ftpwire_backend::passive::resolve_passive_address;
use ftpwire_backend::transfer::TransferJob;
use ftpwire_core::server::{
    Change, ChangeToken, Event, FileChange, LoginToken, Notice, Output, PassiveError, PassiveToken,
    StatToken, TransferKind, TransferToken,
};
use ftpwire_core::{Instant, ServerSession};

use crate::data::{self, Abort, Report};
use crate::server::Shared;

/// Control-channel reads; a command line is far smaller.
const READ_SIZE: usize = 4096;

/// Everything that wakes the session thread.
enum Wake {
    Control(Vec<u8>),
    ControlClosed,
    Transfer(Report),
}

/// The transfer in flight, as this thread tracks it.
struct Running {
    token: Option<TransferToken>,
    abort: Arc<Abort>,
    kind: TransferKind,
    path: Vec<u8>,
    started: std::time::Instant,
}

/// Serves one control connection until the session closes.
pub(crate) fn run(control: TcpStream, shared: Arc<Shared>) {
    let (Ok(peer), Ok(local)) = (control.peer_addr(), control.local_addr()) else {
        return;
    };
    let _ = control.set_nodelay(true);
    // RFC 959 ABOR: Telnet IP then Synch, the DM as TCP urgent data. Inline,
    // the core's Telnet handling sees it like any other byte.
    let _ = socket2::SockRef::from(&control).set_out_of_band_inline(true);
    let (wake, woken) = mpsc::sync_channel(64);
    let Ok(reader) = control.try_clone() else {
        return;
    };
    let reader_wake = wake.clone();
    let spawned = thread::Builder::new()
        .name("ftpwire-control-reader".into())
        .spawn(move || read_control(reader, reader_wake));
    if spawned.is_err() {
        return;
    }
    let mut host = Host {
        shared,
        control,
        peer,
        wake,
        base: std::time::Instant::now(),
        passive: None,
        running: None,
        user: String::new(),
    };
    let now = host.now();
    let mut session = ServerSession::new(host.shared.config.session.clone(), local, peer, now);
    log::debug!("{peer}: connected");
    let mut pending: Vec<u8> = Vec::new();
    loop {
        if !host.drain(&mut session) {
            break;
        }
        if !pending.is_empty() && session.wants_input() {
            let used = session.handle_input(host.now(), &pending);
            pending.drain(..used);
            if used > 0 {
                continue;
            }
        }
        let Some(deadline) = session.poll_timeout() else {
            break;
        };
        let wait = deadline.saturating_duration_since(host.now());
        match woken.recv_timeout(wait) {
            Ok(Wake::Control(bytes)) => {
                if pending.is_empty() && session.wants_input() {
                    let used = session.handle_input(host.now(), &bytes);
                    pending.extend_from_slice(&bytes[used..]);
                } else {
                    pending.extend_from_slice(&bytes);
                }
            }
            Ok(Wake::ControlClosed) => session.handle_peer_closed(),
            Ok(Wake::Transfer(report)) => host.on_report(&mut session, report),
            Err(RecvTimeoutError::Timeout) => session.handle_timeout(host.now()),
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    if let Some(running) = &host.running {
        running.abort.abort();
    }
    let _ = host.control.shutdown(Shutdown::Both);
    log::debug!("{peer}: session closed");
}

/// Feeds the session what the control connection receives.
fn read_control(mut control: TcpStream, wake: SyncSender<Wake>) {
    let mut buf = vec![0; READ_SIZE];
    loop {
        match control.read(&mut buf) {
            Ok(0) | Err(_) => {
                let _ = wake.send(Wake::ControlClosed);
                return;
            }
            Ok(n) => {
                if wake.send(Wake::Control(buf[..n].to_vec())).is_err() {
                    return;
                }
            }
        }
    }
}

/// The world the session's events act on.
struct Host {
    shared: Arc<Shared>,
    control: TcpStream,
    peer: SocketAddr,
    wake: SyncSender<Wake>,
    base: std::time::Instant,
    passive: Option<TcpListener>,
    running: Option<Running>,
    user: String,
}

impl Host {
    fn now(&self) -> Instant {
        Instant::from_duration(self.base.elapsed())
    }

    /// Sends replies and answers events until the session waits for the
    /// world; `false` once it has closed.
    fn drain(&mut self, session: &mut ServerSession) -> bool {
        loop {
            match session.poll_output() {
                Output::Transmit(bytes) => {
                    if self.control.write_all(bytes).is_err() {
                        session.handle_peer_closed();
                    }
                }
                Output::Event(event) => {
                    let owned = self.own(event);
                    self.on_event(session, owned);
                }
                Output::Timeout(_) => return true,
                Output::Closed => return false,
            }
        }
    }

    /// Copies what an event needs out of the session's buffers (and logs
    /// notices), so the session can be answered while acting on it.
    fn own(&self, event: Event<'_>) -> Owned {
        match event {
            Event::Login(login) => Owned::Login {
                user: login.user.to_vec(),
                password: login.password.to_vec(),
                token: login.token,
            },
            Event::OpenPassive(open) => Owned::OpenPassive {
                bind: open.bind,
                resolve: open.resolve.map(str::to_owned),
                token: open.token,
            },
            Event::ClosePassive => Owned::ClosePassive,
            Event::Stat(stat) => Owned::Stat {
                path: stat.path.to_vec(),
                token: stat.token,
            },
            Event::FileChange(FileChange { change, token }) => {
                let (kind, from, to) = match change {
                    Change::MakeDirectory(p) => (ChangeKind::MakeDirectory, p, &b""[..]),
                    Change::RemoveDirectory(p) => (ChangeKind::RemoveDirectory, p, &b""[..]),
                    Change::Delete(p) => (ChangeKind::Delete, p, &b""[..]),
                    Change::Rename { from, to } => (ChangeKind::Rename, from, to),
                };
                Owned::Change {
                    kind,
                    from: from.to_vec(),
                    to: to.to_vec(),
                    token,
                }
            }
            Event::Transfer(transfer) => {
                let job = TransferJob::new(&transfer);
                Owned::Transfer(job, transfer.token)
            }
            Event::AbortTransfer => Owned::Abort,
            Event::UpgradeTls(_) | Event::DowngradeTls => Owned::Tls,
            Event::Notice(notice) => {
                self.log_notice(notice);
                Owned::Nothing
            }
        }
    }

    fn on_event(&mut self, session: &mut ServerSession, event: Owned) {
        let peer = self.peer;
        match event {
            Owned::Login {
                user,
                mut password,
                token,
            } => {
                let outcome = self.shared.authenticator.authenticate(&user, &password);
                password.fill(0);
                self.user = String::from_utf8_lossy(&user).into_owned();
                session.login(token, outcome);
            }
            Owned::OpenPassive {
                bind,
                resolve,
                token,
            } => {
                let resolved = match resolve {
                    None => None,
                    Some(name) => match resolve_passive_address(&name, bind) {
                        Ok(ip) => Some(ip),
                        Err(_) => {
                            log::warn!(
                                "{peer}: PASV refused: passive address {name} did not resolve"
                            );
                            return session.passive_failed(token, PassiveError::Unresolved);
                        }
                    },
                };
                let bound = self
                    .shared
                    .ports
                    .bind(bind)
                    .ok()
                    .and_then(|l| l.local_addr().ok().map(|a| (l, a.port())));
                match bound {
                    Some((listener, port)) => {
                        self.passive = Some(listener);
                        session.passive_opened(token, port, resolved);
                    }
                    None => session.passive_failed(token, PassiveError::NoFreePort),
                }
            }
            Owned::ClosePassive => self.passive = None,
            Owned::Stat { path, token } => {
                let result = self.shared.storage.stat(&path).map_err(|e| file_error(&e));
                session.stat_done(token, result);
            }
            Owned::Change {
                kind,
                from,
                to,
                token,
            } => {
                let storage = &self.shared.storage;
                let result = match kind {
                    ChangeKind::MakeDirectory => storage.make_directory(&from),
                    ChangeKind::RemoveDirectory => storage.remove_directory(&from),
                    ChangeKind::Delete => storage.delete(&from),
                    ChangeKind::Rename => storage.rename(&from, &to),
                };
                let what = kind.describe(&from, &to);
                match &result {
                    Ok(()) => log::info!("{peer}: {what} by {}", self.user),
                    Err(error) => log::info!("{peer}: {what} failed: {error}"),
                }
                session.change_done(token, result.map_err(|e| file_error(&e)));
            }
            Owned::Transfer(job, token) => self.start_transfer(session, job, token),
            Owned::Abort => {
                if let Some(running) = &self.running {
                    running.abort.abort();
                }
            }
            Owned::Tls => {
                // This driver has no TLS configured, so the core never asks.
                log::warn!("{peer}: TLS requested but not configured; closing");
                session.handle_peer_closed();
            }
            Owned::Nothing => {}
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
                return session.transfer_finished(
                    token,
                    Err(ftpwire_core::server::TransferError::NoDataConnection),
                );
            }
        };
        let listener = self.passive.take();
        let storage = self.shared.storage.clone();
        let wake = self.wake.clone();
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
                data::run(job, listener, storage, abort, |report| {
                    let _ = wake.send(Wake::Transfer(report));
                })
            });
        if spawned.is_err() {
            let token = self.running.take().and_then(|r| r.token);
            if let Some(token) = token {
                session.transfer_finished(
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
            Report::Started { unique_name } => {
                if let Some(token) = &running.token {
                    match unique_name {
                        Some(name) => session.store_unique_started(token, &name),
                        None => session.transfer_started(token),
                    }
                }
            }
            Report::Finished(result) => {
                let running = self.running.take().expect("checked above");
                let elapsed = running.started.elapsed();
                let path = String::from_utf8_lossy(&running.path);
                match &result {
                    Ok(bytes) => log::info!(
                        "{}: {:?} {path} done: {bytes} bytes in {:.3} s by {}",
                        self.peer,
                        running.kind,
                        elapsed.as_secs_f64(),
                        self.user
                    ),
                    Err(error) => log::info!(
                        "{}: {:?} {path} failed after {:.3} s: {error}",
                        self.peer,
                        running.kind,
                        elapsed.as_secs_f64()
                    ),
                }
                if let Some(token) = running.token {
                    session.transfer_finished(token, result);
                }
            }
        }
    }

    fn log_notice(&self, notice: Notice<'_>) {
        let peer = self.peer;
        match notice {
            Notice::LoginSucceeded { user } => {
                log::info!("{peer}: login ok as {}", String::from_utf8_lossy(user))
            }
            Notice::LoginFailed { user } => {
                log::warn!("{peer}: login failed as {}", String::from_utf8_lossy(user))
            }
            Notice::TooManyLoginFailures => {
                log::warn!("{peer}: too many failed logins; closing")
            }
            Notice::PortRefused { addr, reason } => {
                log::warn!("{peer}: data connection to {addr} refused: {reason}")
            }
            Notice::LineTooLong => log::warn!("{peer}: command line too long; discarded"),
            Notice::IdleTimeout => log::info!("{peer}: idle timeout; closing"),
            Notice::TlsRequired => log::warn!("{peer}: refused: TLS is required"),
        }
    }
}

/// An event's data, copied out of the session.
enum Owned {
    Login {
        user: Vec<u8>,
        password: Vec<u8>,
        token: LoginToken,
    },
    OpenPassive {
        bind: IpAddr,
        resolve: Option<String>,
        token: PassiveToken,
    },
    ClosePassive,
    Stat {
        path: Vec<u8>,
        token: StatToken,
    },
    Change {
        kind: ChangeKind,
        from: Vec<u8>,
        to: Vec<u8>,
        token: ChangeToken,
    },
    Transfer(TransferJob, TransferToken),
    Abort,
    Tls,
    Nothing,
}

#[derive(Clone, Copy)]
enum ChangeKind {
    MakeDirectory,
    RemoveDirectory,
    Delete,
    Rename,
}

impl ChangeKind {
    fn describe(self, from: &[u8], to: &[u8]) -> String {
        let from = String::from_utf8_lossy(from);
        match self {
            ChangeKind::MakeDirectory => format!("MKD {from}"),
            ChangeKind::RemoveDirectory => format!("RMD {from}"),
            ChangeKind::Delete => format!("DELE {from}"),
            ChangeKind::Rename => format!("rename {from} to {}", String::from_utf8_lossy(to)),
        }
    }
}
