//! The accept loop: one thread per control connection.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use ftpwire_backend::passive::PassivePorts;
use ftpwire_backend::{Authenticator, DriverConfig, Storage};

use crate::session;

/// What every session of one server shares.
pub(crate) struct Shared {
    pub config: DriverConfig,
    pub storage: Arc<dyn Storage>,
    pub authenticator: Arc<dyn Authenticator>,
    pub ports: PassivePorts,
}

/// A blocking FTP server: give it a listener and it serves until shut down.
pub struct Server {
    shared: Arc<Shared>,
    shutdown: ShutdownHandle,
}

/// Stops a running [`Server::serve`] from any thread: no new connection is
/// accepted; sessions already running finish on their own.
#[derive(Clone, Default)]
pub struct ShutdownHandle {
    stop: Arc<AtomicBool>,
    listening: Arc<Mutex<Option<SocketAddr>>>,
}

impl ShutdownHandle {
    /// Asks the accept loop to stop.
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::SeqCst);
        // `accept` cannot be interrupted portably; a connection wakes it.
        if let Some(addr) = *self.listening.lock().unwrap_or_else(|e| e.into_inner()) {
            let _ = TcpStream::connect(addr);
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

impl Server {
    /// A server with the given settings, storage and user check.
    pub fn new(
        config: DriverConfig,
        storage: Arc<dyn Storage>,
        authenticator: Arc<dyn Authenticator>,
    ) -> Self {
        let ports = PassivePorts::new(config.passive_ports);
        Server {
            shared: Arc::new(Shared {
                config,
                storage,
                authenticator,
                ports,
            }),
            shutdown: ShutdownHandle::default(),
        }
    }

    /// A handle that stops [`serve`](Self::serve).
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// Accepts control connections on `listener` until shut down, each
    /// served on its own thread.
    pub fn serve(&self, listener: TcpListener) -> io::Result<()> {
        let mut wake = listener.local_addr()?;
        if wake.ip().is_unspecified() {
            wake.set_ip(match wake {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        *self
            .shutdown
            .listening
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(wake);
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
                    // Out of descriptors and the like: keep serving the others.
                    log::warn!("accept failed: {error}");
                    continue;
                }
            };
            let permit = match stream
                .peer_addr()
                .map(|peer| (peer, self.shared.config.limits.admit(peer.ip())))
            {
                Ok((_, Ok(permit))) => permit,
                Ok((peer, Err(refusal))) => {
                    log::warn!("{peer}: connection refused: {refusal}");
                    let _ = (&stream).write_all(&refusal.reply());
                    continue;
                }
                Err(_) => continue,
            };
            let shared = self.shared.clone();
            let spawned = thread::Builder::new()
                .name("ftpwire-session".into())
                .spawn(move || {
                    session::run(stream, shared);
                    drop(permit);
                });
            if let Err(error) = spawned {
                log::warn!("cannot start a session thread: {error}");
            }
        }
        Ok(())
    }
}
