//! The accept loop: one task per control connection, and the graceful
//! shutdown that stops it.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ftpwire_backend::ServerSettings;
use ftpwire_backend::native::limits::Refusal;
use ftpwire_backend::native::proxy::{HEADER_TIMEOUT, HeaderReader, Proxied, ProxyError};
use ftpwire_backend::native::settings::Served;
use smol::Executor;
use smol::channel::{self, Receiver, Sender};
use smol::future::FutureExt;
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::{TcpListener, TcpStream};

use crate::session::{self, Origin};

/// What every session of one server shares.
pub(crate) struct Shared {
    /// Configuration, storage, users, passive ports.
    pub served: Served,
    pub executor: Arc<Executor<'static>>,
    /// Closed when shutdown starts: idle sessions end, transfers finish.
    pub stop: Receiver<()>,
    /// Closed when the grace period is over: everything ends now.
    pub hard_stop: Receiver<()>,
    /// Kept so that `hard_stop` stays open until closed on purpose.
    _hard_stop_sender: Sender<()>,
}

/// An async FTP server: [`serve`](Self::serve) a listener on any executor.
pub struct Server {
    shared: Arc<Shared>,
    shutdown: ShutdownHandle,
}

/// Stops a running [`Server::serve`] gracefully, from any thread or task.
#[derive(Clone)]
pub struct ShutdownHandle {
    stop: Sender<()>,
    grace: Arc<Mutex<Duration>>,
}

impl ShutdownHandle {
    /// Stops accepting connections and ends idle sessions at once; sessions
    /// with a transfer running end when it does, or when `grace` has passed,
    /// whichever is first. `serve` returns once every session has ended.
    pub fn shutdown(&self, grace: Duration) {
        *self.grace.lock().unwrap_or_else(|e| e.into_inner()) = grace;
        self.stop.close();
    }

    fn grace(&self) -> Duration {
        *self.grace.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Server {
    /// A server serving what `settings` says, ready to [`serve`](Self::serve).
    pub fn new(settings: ServerSettings) -> Self {
        let served = settings.into_served();
        let (stop_tx, stop) = channel::bounded(1);
        let (hard_stop_sender, hard_stop) = channel::bounded(1);
        Server {
            shared: Arc::new(Shared {
                served,
                executor: Arc::new(Executor::new()),
                stop,
                hard_stop,
                _hard_stop_sender: hard_stop_sender,
            }),
            shutdown: ShutdownHandle {
                stop: stop_tx,
                grace: Arc::default(),
            },
        }
    }

    /// A handle that shuts [`serve`](Self::serve) down.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// Accepts control connections on `listener` and serves each as a task;
    /// the returned future drives all of them and ends after a
    /// [shutdown](ShutdownHandle::shutdown). Dropping it instead freezes
    /// every session until the server is dropped. With
    /// [`ServerSettings::tls`] given, clients may turn on TLS with `AUTH TLS`.
    pub async fn serve(&self, listener: TcpListener) -> io::Result<()> {
        self.serve_listeners(listener, None).await
    }

    /// [`serve`](Self::serve), and implicit FTPS on `implicit_tls` (TLS
    /// from the first byte, port 990 style) for the same sessions, limits
    /// and shutdown. Needs [`ServerSettings::tls`].
    pub async fn serve_with_implicit_tls(
        &self,
        listener: TcpListener,
        implicit_tls: TcpListener,
    ) -> io::Result<()> {
        self.shared.served.config.check_implicit_tls()?;
        self.serve_listeners(listener, Some(implicit_tls)).await
    }

    async fn serve_listeners(
        &self,
        listener: TcpListener,
        implicit_tls: Option<TcpListener>,
    ) -> io::Result<()> {
        let shared = self.shared.clone();
        let executor = shared.executor.clone();
        // Every session task holds a clone; `recv` fails once all are gone.
        let (running, all_ended) = channel::bounded::<()>(1);
        // The accept loops are tasks of their own, not the future `run`
        // drives: that one is polled on every wake of the executor's
        // thread, and an accept polled there tries `accept4` (and re-arms
        // the listener) once per command of every session.
        let accepting = executor.spawn(accept_loop(
            listener,
            shared.clone(),
            running.clone(),
            false,
        ));
        let accepting_implicit = match implicit_tls {
            Some(implicit) => {
                Some(executor.spawn(accept_loop(implicit, shared.clone(), running, true)))
            }
            None => {
                drop(running);
                None
            }
        };
        let stopped = async {
            let _ = shared.stop.recv().await;
        };
        executor.run(stopped).await;
        // Cancelled: the listeners close, and the loops' `running` go.
        drop(accepting);
        drop(accepting_implicit);
        log::info!("shutting down: no new connections");
        let ended = async {
            let _ = all_ended.recv().await;
            true
        };
        let grace = self.shutdown.grace();
        let deadline = async {
            smol::Timer::after(grace).await;
            false
        };
        if !executor.run(ended.or(deadline)).await {
            log::warn!("grace period of {grace:?} over: closing the remaining sessions");
            shared.hard_stop.close();
            let _ = executor.run(all_ended.recv()).await;
        }
        Ok(())
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    running: Sender<()>,
    implicit_tls: bool,
) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of descriptors and the like: back off, keep serving.
                log::warn!("accept failed: {error}");
                smol::Timer::after(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(peer) = stream.peer_addr() else {
            continue;
        };
        let session_shared = shared.clone();
        let running = running.clone();
        let task = if shared.served.config.balancers.contains(peer.ip()) {
            // The header names the client the limits count: read it in the
            // session's own task, not here.
            shared.executor.spawn(async move {
                let mut stream = stream;
                let Some(proxied) = read_proxy_header(&mut stream, peer).await else {
                    session_shared.served.config.metrics.refused_proxy();
                    return;
                };
                let client = proxied.client.unwrap_or(peer);
                match session_shared.served.config.admit(client.ip()) {
                    Ok(permit) => {
                        let origin = Origin {
                            client: proxied.client,
                            first_input: proxied.rest,
                        };
                        session::run(stream, session_shared, implicit_tls, origin).await;
                        drop(permit);
                    }
                    Err(refusal) => refuse(stream, client, refusal).await,
                }
                drop(running);
            })
        } else {
            match shared.served.config.admit(peer.ip()) {
                Ok(permit) => shared.executor.spawn(async move {
                    session::run(stream, session_shared, implicit_tls, Origin::default()).await;
                    drop(permit);
                    drop(running);
                }),
                Err(refusal) => shared.executor.spawn(refuse(stream, peer, refusal)),
            }
        };
        task.detach();
    }
}

/// Turns a connection away past a session limit: `421`, then close.
async fn refuse(mut stream: TcpStream, client: SocketAddr, refusal: Refusal) {
    log::warn!("{client}: connection refused: {refusal}");
    let _ = stream.write_all(&refusal.reply()).await;
}

/// Reads a load balancer's PROXY header, bounded in size and time; `None`,
/// logged, when there is none.
async fn read_proxy_header(stream: &mut TcpStream, balancer: SocketAddr) -> Option<Proxied> {
    let mut header = HeaderReader::default();
    let mut buf = [0u8; 512];
    let reading = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) => return Err(ProxyError::Closed),
                Ok(n) => match header.push(&buf[..n]) {
                    Ok(None) => continue,
                    Ok(Some(proxied)) => return Ok(proxied),
                    Err(error) => return Err(error),
                },
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return Err(ProxyError::Closed),
            }
        }
    };
    let deadline = async {
        smol::Timer::after(HEADER_TIMEOUT).await;
        Err(ProxyError::Timeout)
    };
    reading
        .or(deadline)
        .await
        .map_err(|error| log::warn!("{balancer}: {error}: closing"))
        .ok()
}
