//! The accept loop: one task per control connection.

use std::io;
use std::sync::Arc;

use ftpwire_backend::passive::PassivePorts;
use ftpwire_backend::{Authenticator, DriverConfig, Storage};
use smol::Executor;
use smol::io::AsyncWriteExt;
use smol::net::TcpListener;

use crate::session;

/// What every session of one server shares.
pub(crate) struct Shared {
    pub config: DriverConfig,
    pub storage: Arc<dyn Storage>,
    pub authenticator: Arc<dyn Authenticator>,
    pub ports: PassivePorts,
    pub executor: Arc<Executor<'static>>,
}

/// An async FTP server: [`serve`](Self::serve) a listener on any executor.
pub struct Server {
    shared: Arc<Shared>,
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
                executor: Arc::new(Executor::new()),
            }),
        }
    }

    /// Accepts control connections on `listener` and serves each as a task;
    /// the returned future drives all of them. Dropping it closes every session.
    pub async fn serve(&self, listener: TcpListener) -> io::Result<()> {
        let shared = self.shared.clone();
        let executor = shared.executor.clone();
        executor
            .run(async move {
                loop {
                    let (stream, _) = match listener.accept().await {
                        Ok(accepted) => accepted,
                        Err(error) => {
                            // Out of descriptors and the like: keep serving the others.
                            log::warn!("accept failed: {error}");
                            smol::Timer::after(std::time::Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let Ok(peer) = stream.peer_addr() else {
                        continue;
                    };
                    let task = match shared.config.limits.admit(peer.ip()) {
                        Ok(permit) => {
                            let session_shared = shared.clone();
                            shared.executor.spawn(async move {
                                session::run(stream, session_shared).await;
                                drop(permit);
                            })
                        }
                        Err(refusal) => {
                            log::warn!("{peer}: connection refused: {refusal}");
                            let mut stream = stream;
                            shared.executor.spawn(async move {
                                let _ = stream.write_all(&refusal.reply()).await;
                            })
                        }
                    };
                    task.detach();
                }
            })
            .await
    }
}
