//! The accept loop: one thread per control connection; and shutdown, which
//! has to reach every running session.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use ftpwire_backend::ServerSettings;
use ftpwire_backend::native::limits::Refusal;
use ftpwire_backend::native::proxy::{HEADER_TIMEOUT, HeaderReader, Proxied, ProxyError};
use ftpwire_backend::native::settings::Served;

use crate::session::{self, Origin, Wake};

/// Pause after a failed accept (EMFILE fails again at once).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// What every session of one server shares.
pub(crate) struct Shared {
    /// Configuration, storage, users, passive ports.
    pub served: Served,
    pub sessions: Sessions,
}

/// A blocking FTP server: give it a listener and it serves until shut down.
pub struct Server {
    shared: Arc<Shared>,
    shutdown: ShutdownHandle,
}

/// Stops a running [`Server::serve`] gracefully, from any thread.
#[derive(Clone, Default)]
pub struct ShutdownHandle {
    stop: Arc<AtomicBool>,
    grace: Arc<Mutex<Duration>>,
    /// The listeners' addresses, to wake their `accept`.
    listening: Arc<Mutex<Vec<SocketAddr>>>,
}

impl ShutdownHandle {
    /// Stops accepting connections and ends idle sessions at once; sessions
    /// with a transfer running end when it does, or when `grace` has passed,
    /// whichever is first. `serve` returns once every session has ended.
    pub fn shutdown(&self, grace: Duration) {
        *self.grace.lock().unwrap_or_else(|e| e.into_inner()) = grace;
        self.stop.store(true, Ordering::SeqCst);
        // `accept` cannot be interrupted portably; a connection wakes it.
        for addr in self
            .listening
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = TcpStream::connect(addr);
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn grace(&self) -> Duration {
        *self.grace.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Server {
    /// A server serving what `settings` says, ready to [`serve`](Self::serve).
    pub fn new(settings: ServerSettings) -> Self {
        let served = settings.into_served();
        Server {
            shared: Arc::new(Shared {
                served,
                sessions: Sessions::default(),
            }),
            shutdown: ShutdownHandle::default(),
        }
    }

    /// A handle that stops [`serve`](Self::serve).
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// Accepts control connections on `listener`, each served on its own
    /// thread, until [shut down](ShutdownHandle::shutdown); then returns
    /// once every session has ended. With [`ServerSettings::tls`] given, clients
    /// may turn on TLS with `AUTH TLS` (explicit FTPS).
    pub fn serve(&self, listener: TcpListener) -> io::Result<()> {
        self.serve_listeners(listener, None)
    }

    /// [`serve`](Self::serve), and implicit FTPS on `implicit_tls` (TLS
    /// from the first byte, port 990 style) for the same sessions, limits
    /// and shutdown. Needs [`ServerSettings::tls`].
    pub fn serve_with_implicit_tls(
        &self,
        listener: TcpListener,
        implicit_tls: TcpListener,
    ) -> io::Result<()> {
        self.shared.served.config.check_implicit_tls()?;
        self.serve_listeners(listener, Some(implicit_tls))
    }

    fn serve_listeners(
        &self,
        listener: TcpListener,
        implicit_tls: Option<TcpListener>,
    ) -> io::Result<()> {
        {
            let mut listening = self
                .shutdown
                .listening
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            for listener in std::iter::once(&listener).chain(implicit_tls.as_ref()) {
                listening.push(wake_address(listener.local_addr()?));
            }
        }
        let result = thread::scope(|scope| {
            let implicit = implicit_tls.map(|implicit| {
                thread::Builder::new()
                    .name("ftpwire-accept-ftps".into())
                    .spawn_scoped(scope, move || self.accept(&implicit, true))
            });
            let explicit = self.accept(&listener, false);
            drop(listener);
            match implicit {
                Some(Ok(handle)) => {
                    let implicit = handle.join().unwrap_or(Ok(()));
                    explicit.and(implicit)
                }
                Some(Err(error)) => Err(error),
                None => explicit,
            }
        });
        self.shared.sessions.stop(self.shutdown.grace());
        result
    }

    fn accept(&self, listener: &TcpListener, implicit_tls: bool) -> io::Result<()> {
        // A shutdown that came before `listening` was set had nothing to wake.
        if self.shutdown.stopped() {
            return Ok(());
        }
        for stream in listener.incoming() {
            if self.shutdown.stopped() {
                break;
            }
            let stream = match stream {
                Ok(stream) => stream,
                Err(error) => {
                    // Out of descriptors and the like: keep serving the
                    // others, without spinning on an error that repeats
                    // until some session ends.
                    log::warn!("accept failed: {error}");
                    thread::sleep(ACCEPT_BACKOFF);
                    continue;
                }
            };
            let Ok(peer) = stream.peer_addr() else {
                continue;
            };
            let shared = self.shared.clone();
            if shared.served.config.balancers.contains(peer.ip()) {
                // The header names the client the limits count: read it on
                // the session's own thread, not here.
                let spawned =
                    thread::Builder::new()
                        .name("ftpwire-session".into())
                        .spawn(move || {
                            let Some(proxied) = read_proxy_header(&stream, peer) else {
                                shared.served.config.metrics.refused_proxy();
                                return;
                            };
                            let client = proxied.client.unwrap_or(peer);
                            match shared.served.config.admit(client.ip()) {
                                Ok(permit) => {
                                    let origin = Origin {
                                        client: proxied.client,
                                        first_input: proxied.rest,
                                    };
                                    session::run(stream, shared.clone(), implicit_tls, origin);
                                    drop(permit);
                                }
                                Err(refusal) => refuse(&stream, client, refusal),
                            }
                        });
                if let Err(error) = spawned {
                    log::warn!("cannot start a session thread: {error}");
                }
                continue;
            }
            let permit = match shared.served.config.admit(peer.ip()) {
                Ok(permit) => permit,
                Err(refusal) => {
                    refuse(&stream, peer, refusal);
                    continue;
                }
            };
            let spawned = thread::Builder::new()
                .name("ftpwire-session".into())
                .spawn(move || {
                    session::run(stream, shared, implicit_tls, Origin::default());
                    drop(permit);
                });
            if let Err(error) = spawned {
                log::warn!("cannot start a session thread: {error}");
            }
        }
        Ok(())
    }
}

/// Turns a connection away past a session limit: `421`, then close.
fn refuse(stream: &TcpStream, client: SocketAddr, refusal: Refusal) {
    log::warn!("{client}: connection refused: {refusal}");
    let _ = (&*stream).write_all(&refusal.reply());
}

/// Reads a load balancer's PROXY header, bounded in size and time; `None`,
/// logged, when there is none.
fn read_proxy_header(stream: &TcpStream, balancer: SocketAddr) -> Option<Proxied> {
    let _ = stream.set_read_timeout(Some(HEADER_TIMEOUT));
    let mut header = HeaderReader::default();
    let mut buf = [0u8; 512];
    let read = loop {
        match (&*stream).read(&mut buf) {
            Ok(0) => break Err(ProxyError::Closed),
            Ok(n) => match header.push(&buf[..n]) {
                Ok(None) => continue,
                Ok(Some(proxied)) => break Ok(proxied),
                Err(error) => break Err(error),
            },
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                break Err(ProxyError::Timeout);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break Err(ProxyError::Closed),
        }
    };
    let _ = stream.set_read_timeout(None);
    read.map_err(|error| log::warn!("{balancer}: {error}: closing"))
        .ok()
}

/// Where a connection wakes a listener bound to `addr` (`0.0.0.0` is not
/// an address to connect to).
fn wake_address(mut addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    addr
}

/// The sessions running now, so that a shutdown can reach each of them.
#[derive(Default)]
pub(crate) struct Sessions {
    state: Mutex<SessionsState>,
    /// A session ended.
    ended: Condvar,
    stopping: AtomicBool,
    hard_stop: AtomicBool,
}

#[derive(Default)]
struct SessionsState {
    next_id: u64,
    running: HashMap<u64, Entry>,
}

struct Entry {
    wake: SyncSender<Wake>,
    control: TcpStream,
}

/// A session's place in [`Sessions`]; dropping it removes the session.
pub(crate) struct Registration<'a> {
    sessions: &'a Sessions,
    id: u64,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.sessions.lock().running.remove(&self.id);
        self.sessions.ended.notify_all();
    }
}

impl Sessions {
    fn lock(&self) -> MutexGuard<'_, SessionsState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a session: `wake` nudges it, `control` is closed by a hard stop.
    pub(crate) fn register(&self, wake: SyncSender<Wake>, control: TcpStream) -> Registration<'_> {
        let mut state = self.lock();
        let id = state.next_id;
        state.next_id += 1;
        state.running.insert(id, Entry { wake, control });
        Registration { sessions: self, id }
    }

    /// Shutdown began: sessions end as soon as no transfer runs.
    pub(crate) fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// The grace period is over: sessions end now.
    pub(crate) fn hard_stopped(&self) -> bool {
        self.hard_stop.load(Ordering::SeqCst)
    }

    /// Ends every session: idle ones now, busy ones when their transfer
    /// ends or `grace` has passed; returns when none is left.
    fn stop(&self, grace: Duration) {
        let deadline = Instant::now() + grace;
        let mut state = self.lock();
        self.stopping.store(true, Ordering::SeqCst);
        nudge(&state);
        while !state.running.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = self
                .ended
                .wait_timeout(state, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        if !state.running.is_empty() {
            log::warn!(
                "grace period of {grace:?} over: closing {} remaining session(s)",
                state.running.len()
            );
            self.hard_stop.store(true, Ordering::SeqCst);
            for entry in state.running.values() {
                // Also unblocks a session thread stuck writing to its client.
                let _ = entry.control.shutdown(Shutdown::Both);
            }
            nudge(&state);
        }
        while !state.running.is_empty() {
            state = self.ended.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Wakes every session to look at the stop flags; a session whose queue is
/// full is awake anyway.
fn nudge(state: &SessionsState) {
    for entry in state.running.values() {
        let _ = entry.wake.try_send(Wake::Nudge);
    }
}
