//! [`Client`]: the core's `ClientSession` for JavaScript hosts, in the same
//! shape as [`Session`](crate::Session): outputs as [`Value`]s, tokens kept
//! in a table under numeric ids until the host answers. An edge runtime
//! that can dial out but not listen can be an FTP client through it; the
//! session never asks for active mode unless told to, so a host never has
//! to listen.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::net::SocketAddr;

use ftpwire_core::Instant;
use ftpwire_core::client::{
    ClientConfig, ClientEvent, ClientOutput, ClientSession, DataMode, DataToken, Direction,
    ListCommand, Request, Security, StoreMode, TlsToken,
};
use ftpwire_core::text::Quoted;

use crate::value::Value;

/// The client side of one control connection.
#[derive(Debug)]
pub struct Client {
    inner: ClientSession,
    pending: Vec<(u32, Pending)>,
    next_id: u32,
}

#[derive(Debug)]
enum Pending {
    Tls(TlsToken),
    Data(DataToken),
}

/// An answer with an id the client does not wait for.
#[derive(Debug, thiserror::Error)]
#[error("no pending {0} with this id: it was answered already, or never asked")]
pub struct UnknownId(&'static str);

fn instant(ms: f64) -> Instant {
    Instant::from_millis(if ms.is_finite() && ms > 0.0 {
        ms as u64
    } else {
        0
    })
}

impl Client {
    /// A client for a control connection from `local` to `peer`;
    /// `security` is `plain`, `explicit` or `implicit` (the host ran the
    /// TLS handshake first).
    pub fn new(
        user: &str,
        password: &str,
        security: &str,
        local: SocketAddr,
        peer: SocketAddr,
        now_ms: f64,
    ) -> Result<Client, String> {
        let security = match security {
            "plain" => Security::Plain,
            "explicit" => Security::Explicit,
            "implicit" => Security::Implicit,
            other => {
                return Err(alloc::format!(
                    "security must be plain, explicit or implicit, not {}",
                    Quoted(other)
                ));
            }
        };
        let config = ClientConfig {
            security,
            ..ClientConfig::login(user, password)
        };
        Ok(Client {
            inner: ClientSession::new(config, local, peer, instant(now_ms)),
            pending: Vec::new(),
            next_id: 1,
        })
    }

    /// Received control bytes.
    pub fn handle_input(&mut self, now_ms: f64, data: &[u8]) {
        self.inner.handle_input(instant(now_ms), data);
    }

    /// The control connection ended.
    pub fn handle_peer_closed(&mut self) {
        self.inner.handle_peer_closed();
    }

    /// The time is now `now_ms`.
    pub fn handle_timeout(&mut self, now_ms: f64) {
        self.inner.handle_timeout(instant(now_ms));
    }

    /// Queues a request: `kind` is `retrieve`, `store`, `append`, `list`,
    /// `mlsd`, `nlst`, `size`, `mkd`, `rmd`, `dele`, `cwd`, `pwd`, `noop`,
    /// `quit` or `command` (then `path` is the whole line); `offset` is
    /// where a retrieve or store starts. Returns the request's number.
    pub fn request(&mut self, kind: &str, path: &[u8], offset: u64) -> Result<u32, String> {
        let path = path.to_vec();
        let request = match kind {
            "retrieve" => Request::Retrieve { path, offset },
            "store" => Request::Store {
                path,
                mode: if offset > 0 {
                    StoreMode::At(offset)
                } else {
                    StoreMode::Replace
                },
            },
            "append" => Request::Store {
                path,
                mode: StoreMode::Append,
            },
            "list" | "mlsd" | "nlst" => Request::List {
                path: (!path.is_empty()).then_some(path),
                command: match kind {
                    "list" => ListCommand::List,
                    "mlsd" => ListCommand::MachineList,
                    _ => ListCommand::NameList,
                },
            },
            "size" => Request::Size(path),
            "mkd" => Request::MakeDirectory(path),
            "rmd" => Request::RemoveDirectory(path),
            "dele" => Request::Delete(path),
            "cwd" => Request::ChangeDirectory(path),
            "pwd" => Request::PrintDirectory,
            "noop" => Request::Noop,
            "quit" => Request::Quit,
            "command" => Request::Command(path),
            other => return Err(alloc::format!("unknown request kind {}", Quoted(other))),
        };
        Ok(self.inner.request(request).number())
    }

    fn keep(&mut self, pending: Pending) -> u32 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        self.pending.push((id, pending));
        id
    }

    fn take(&mut self, id: u32, what: &'static str) -> Result<Pending, UnknownId> {
        let at = self
            .pending
            .iter()
            .position(|(i, _)| *i == id)
            .ok_or(UnknownId(what))?;
        Ok(self.pending.swap_remove(at).1)
    }

    fn take_data(&mut self, id: u32) -> Result<DataToken, UnknownId> {
        match self.take(id, "data step")? {
            Pending::Data(token) => Ok(token),
            other => {
                self.pending.push((id, other));
                Err(UnknownId("data step"))
            }
        }
    }

    /// Answers `upgradeTls`.
    pub fn tls_established(&mut self, id: u32) -> Result<(), UnknownId> {
        match self.take(id, "TLS upgrade")? {
            Pending::Tls(token) => {
                self.inner.tls_established(token);
                Ok(())
            }
            other => {
                self.pending.push((id, other));
                Err(UnknownId("TLS upgrade"))
            }
        }
    }

    /// Answers `connectData`: connected.
    pub fn data_connected(&mut self, id: u32, now_ms: f64) -> Result<(), UnknownId> {
        let token = self.take_data(id)?;
        self.inner.data_connected(token, instant(now_ms));
        Ok(())
    }

    /// Answers `connectData`: not connected, because of `reason`.
    pub fn data_connect_failed(
        &mut self,
        id: u32,
        reason: &str,
        now_ms: f64,
    ) -> Result<(), UnknownId> {
        let token = self.take_data(id)?;
        self.inner
            .data_connect_failed(token, reason, instant(now_ms));
        Ok(())
    }

    /// Answers `secureData`.
    pub fn data_secured(&mut self, id: u32, resumed: bool, now_ms: f64) -> Result<(), UnknownId> {
        let token = self.take_data(id)?;
        self.inner.data_secured(token, resumed, instant(now_ms));
        Ok(())
    }

    /// Answers `secureData`: the handshake failed.
    pub fn data_tls_failed(&mut self, id: u32, reason: &str, now_ms: f64) -> Result<(), UnknownId> {
        let token = self.take_data(id)?;
        self.inner.data_tls_failed(token, reason, instant(now_ms));
        Ok(())
    }

    /// Answers `moveData`: `bytes` moved and the data connection closed.
    pub fn data_done(&mut self, id: u32, bytes: u64, now_ms: f64) -> Result<(), UnknownId> {
        let token = self.take_data(id)?;
        self.inner.data_done(token, Ok(bytes), instant(now_ms));
        Ok(())
    }

    /// Answers `moveData`: the data connection broke.
    pub fn data_failed(&mut self, id: u32, reason: &str, now_ms: f64) -> Result<(), UnknownId> {
        let token = self.take_data(id)?;
        self.inner.data_done(token, Err(reason), instant(now_ms));
        Ok(())
    }

    /// How later transfers get their data connection: `passive` (EPSV,
    /// then PASV if refused), `epsv` or `pasv`. Active mode needs a
    /// listener, which JS hosts do not have.
    pub fn set_data_mode(&mut self, mode: &str) -> Result<(), String> {
        let mode = match mode {
            "passive" => DataMode::Passive,
            "epsv" => DataMode::ExtendedPassive,
            "pasv" => DataMode::Pasv,
            other => {
                return Err(alloc::format!(
                    "data mode must be passive, epsv or pasv, not {}",
                    Quoted(other)
                ));
            }
        };
        self.inner.set_data_mode(mode);
        Ok(())
    }

    /// Whether the set-up is done.
    pub fn is_ready(&self) -> bool {
        self.inner.is_ready()
    }

    /// The next output, as plain data.
    pub fn poll_output(&mut self) -> Value {
        let event = match self.inner.poll_output() {
            ClientOutput::Transmit(bytes) => {
                return Value::tagged("transmit", [("data", Value::from(bytes))]);
            }
            ClientOutput::Timeout(at) => {
                // Whole milliseconds, as `as_millis` (without its u128).
                let since = at.as_duration();
                let ms = since.as_secs() as f64 * 1000.0 + f64::from(since.subsec_millis());
                return Value::tagged("timeout", [("at", Value::Number(ms))]);
            }
            ClientOutput::Idle => return Value::tagged("idle", []),
            ClientOutput::Closed => return Value::tagged("closed", []),
            ClientOutput::Event(event) => event,
        };
        match event {
            ClientEvent::Ready => Value::tagged("ready", []),
            ClientEvent::UpgradeTls(token) => {
                let id = self.keep(Pending::Tls(token));
                Value::tagged("upgradeTls", [("id", Value::from(id))])
            }
            ClientEvent::ConnectData(connect) => {
                let request = connect.request.number();
                let id = self.keep(Pending::Data(connect.token));
                Value::tagged(
                    "connectData",
                    [
                        ("id", Value::from(id)),
                        ("request", Value::from(request)),
                        ("address", Value::Text(connect.addr.ip().to_string())),
                        ("port", Value::from(u32::from(connect.addr.port()))),
                    ],
                )
            }
            ClientEvent::SecureData(token) => {
                let id = self.keep(Pending::Data(token));
                Value::tagged("secureData", [("id", Value::from(id))])
            }
            ClientEvent::AcceptData(token) => {
                // Never asked for: the JS client has no active mode.
                let id = self.keep(Pending::Data(token));
                Value::tagged("acceptData", [("id", Value::from(id))])
            }
            ClientEvent::ListenData(_) => Value::tagged(
                "failed",
                [(
                    "error",
                    Value::from("active mode needs a listener; this host has none"),
                )],
            ),
            ClientEvent::MoveData(moving) => {
                let request = moving.request.number();
                let id = self.keep(Pending::Data(moving.token));
                let direction = match moving.direction {
                    Direction::Download => "download",
                    Direction::Upload => "upload",
                };
                Value::tagged(
                    "moveData",
                    [
                        ("id", Value::from(id)),
                        ("request", Value::from(request)),
                        ("direction", Value::from(direction)),
                    ],
                )
            }
            ClientEvent::AbortData(request) => {
                // Its pending data steps are void now.
                self.pending.retain(|(_, p)| matches!(p, Pending::Tls(_)));
                let request = request.number();
                Value::tagged("abortData", [("request", Value::from(request))])
            }
            ClientEvent::Done(done) => {
                let request = done.request.number();
                match done.result {
                    Ok(finished) => Value::tagged(
                        "done",
                        [
                            ("request", Value::from(request)),
                            ("ok", Value::from(true)),
                            ("code", Value::from(u32::from(finished.code))),
                            (
                                "text",
                                Value::Text(String::from_utf8_lossy(&finished.text).into_owned()),
                            ),
                            ("bytes", finished.bytes.map_or(Value::Null, Value::from)),
                        ],
                    ),
                    Err(error) => Value::tagged(
                        "done",
                        [
                            ("request", Value::from(request)),
                            ("ok", Value::from(false)),
                            ("error", Value::Text(error.to_string())),
                        ],
                    ),
                }
            }
            ClientEvent::Warning(warning) => {
                Value::tagged("warning", [("message", Value::Text(warning.to_string()))])
            }
            ClientEvent::Failed(error) => {
                Value::tagged("failed", [("error", Value::Text(error.to_string()))])
            }
        }
    }
}
