//! [`Client`]: the smol host of a client session, the async twin of
//! `ftpwire_std::client`. Both carry out the steps of the backend's
//! `NativeClient`; this one with smol's sockets, futures-rustls and timers.
//!
//! ```no_run
//! use ftpwire_core::client::ClientConfig;
//! use ftpwire_smol::client::{Client, Connect};
//! smol::block_on(async {
//!     let connect = Connect::new("ftp.example.com:21", ClientConfig::default());
//!     let mut client = Client::connect(&connect).await.unwrap();
//!     let mut readme = Vec::new();
//!     client.get(b"pub/README", 0, &mut readme, &mut |_| {}).await.unwrap();
//! });
//! ```

use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant as Clock};

use ftpwire_backend::native::client::{NativeClient, Step};
use ftpwire_core::address::canonical_ip;
use ftpwire_core::client::{
    ClientError, ClientSession, DataToken, Direction, Finished, ListCommand, Request, RequestId,
    Security, StoreMode,
};
use futures_rustls::TlsConnector;
use futures_rustls::client::TlsStream;
use rustls::pki_types::{CertificateDer, ServerName};
use smol::Timer;
use smol::future::FutureExt;
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::{TcpListener, TcpStream};

pub use ftpwire_backend::native::client::{Connect, ConnectError};

/// A TCP connection, plain or under TLS.
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf).await,
            // A peer that closes TCP without close_notify ends the stream:
            // the final reply says whether the data was complete.
            Stream::Tls(s) => match s.read(buf).await {
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                other => other,
            },
        }
    }

    async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.write_all(bytes).await,
            Stream::Tls(s) => s.write_all(bytes).await,
        }
    }

    async fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush().await,
            Stream::Tls(s) => s.flush().await,
        }
    }

    /// Close our side: close_notify under TLS, then FIN.
    async fn close(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.close().await,
            Stream::Tls(s) => s.close().await,
        }
    }
}

/// A value, or `None` when `timeout` passed first.
async fn within<T>(timeout: Duration, work: impl Future<Output = T>) -> Option<T> {
    async { Some(work.await) }
        .or(async {
            Timer::after(timeout).await;
            None
        })
        .await
}

/// What a request's data connection reads from or writes to.
enum Io<'a> {
    None,
    Sink(&'a mut dyn Write),
    Source(&'a mut dyn Read),
}

/// A connected, logged-in client.
pub struct Client {
    native: NativeClient,
    control: Option<Stream>,
    tls: Option<Arc<rustls::ClientConfig>>,
    server_name: ServerName<'static>,
    data: Option<Stream>,
    listener: Option<(TcpListener, IpAddr)>,
    connect_timeout: Duration,
}

impl Client {
    /// Connects, secures (explicit or implicit FTPS) and logs in.
    pub async fn connect(connect: &Connect) -> Result<Client, ConnectError> {
        let server_name = ServerName::try_from(connect.server_name.clone())
            .map_err(|_| ConnectError::ServerName(connect.server_name.clone()))?;
        if connect.config.security.is_tls() && connect.tls.is_none() {
            return Err(ConnectError::NoTlsConfig);
        }
        let error = |reason: String| ConnectError::Connect {
            address: connect.address.clone(),
            reason,
        };
        let addrs = smol::net::resolve(connect.address.as_str())
            .await
            .map_err(|e| error(e.to_string()))?;
        let mut stream = None;
        let mut last = String::from("the name resolved to no address");
        for addr in addrs {
            match within(connect.connect_timeout, TcpStream::connect(addr)).await {
                Some(Ok(s)) => {
                    stream = Some(s);
                    break;
                }
                Some(Err(e)) => last = format!("{addr}: {e}"),
                None => last = format!("{addr}: no answer in time"),
            }
        }
        let stream = stream.ok_or_else(|| error(last))?;
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().map_err(|e| error(e.to_string()))?;
        let peer = stream.peer_addr().map_err(|e| error(e.to_string()))?;
        let mut client = Client {
            native: NativeClient::new(connect.config.clone(), local, peer),
            control: Some(Stream::Plain(stream)),
            tls: connect.tls.clone(),
            server_name,
            data: None,
            listener: None,
            connect_timeout: connect.connect_timeout,
        };
        if connect.config.security == Security::Implicit {
            client
                .upgrade_control()
                .await
                .map_err(|e| ClientError::Tls(format!("implicit FTPS with {peer}: {e}")))?;
        }
        client.run(None, &mut Io::None, &mut |_| {}).await?;
        Ok(client)
    }

    /// The session (its greeting, features, last passive reply...).
    pub fn session(&self) -> &ClientSession {
        &self.native.session
    }

    /// The session's warnings, in order, each said in full.
    pub fn warnings(&self) -> &[String] {
        &self.native.warnings
    }

    /// The server's certificate on the control connection (under TLS).
    pub fn peer_certificate(&self) -> Option<CertificateDer<'static>> {
        match self.control.as_ref()? {
            Stream::Tls(s) => s.get_ref().1.peer_certificates()?.first().cloned(),
            Stream::Plain(_) => None,
        }
    }

    /// How later transfers get their data connections.
    pub fn set_data_mode(&mut self, mode: ftpwire_core::client::DataMode) {
        self.native.session.set_data_mode(mode);
    }

    /// What later `227` replies are checked with.
    pub fn set_pasv_policy(&mut self, policy: ftpwire_core::client::PasvAddressPolicy) {
        self.native.session.set_pasv_policy(policy);
    }

    /// Any request without data (SIZE, MKD, a raw command...).
    pub async fn request(&mut self, request: Request) -> Result<Finished, ClientError> {
        let id = self.native.session.request(request);
        self.run(Some(id), &mut Io::None, &mut |_| {}).await
    }

    /// RETR from `offset` into `sink`; `progress` hears the bytes so far.
    pub async fn get(
        &mut self,
        path: &[u8],
        offset: u64,
        sink: &mut dyn Write,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Finished, ClientError> {
        let id = self.native.session.request(Request::Retrieve {
            path: path.to_vec(),
            offset,
        });
        self.run(Some(id), &mut Io::Sink(sink), progress).await
    }

    /// STOR (or REST+STOR, or APPE) from `source`.
    pub async fn put(
        &mut self,
        path: &[u8],
        mode: StoreMode,
        source: &mut dyn Read,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Finished, ClientError> {
        let id = self.native.session.request(Request::Store {
            path: path.to_vec(),
            mode,
        });
        self.run(Some(id), &mut Io::Source(source), progress).await
    }

    /// A listing's raw bytes.
    pub async fn list(
        &mut self,
        path: Option<&[u8]>,
        command: ListCommand,
    ) -> Result<Vec<u8>, ClientError> {
        let mut out = Vec::new();
        let id = self.native.session.request(Request::List {
            path: path.map(<[u8]>::to_vec),
            command,
        });
        self.run(Some(id), &mut Io::Sink(&mut out), &mut |_| {})
            .await?;
        Ok(out)
    }

    /// QUIT and close.
    pub async fn quit(mut self) -> Result<Finished, ClientError> {
        self.request(Request::Quit).await
    }

    /// Carries out the session's steps until request `until` is done (or,
    /// with `None`, until it is ready).
    async fn run(
        &mut self,
        until: Option<RequestId>,
        io: &mut Io<'_>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Finished, ClientError> {
        loop {
            match self.native.next(until) {
                Step::Transmit(bytes) => {
                    let written = match self.control.as_mut() {
                        Some(control) => match control.write_all(bytes).await {
                            Ok(()) => control.flush().await,
                            Err(e) => Err(e),
                        },
                        None => Err(io::ErrorKind::NotConnected.into()),
                    };
                    if written.is_err() {
                        self.native.peer_closed();
                    }
                }
                Step::UpgradeTls(token) => match self.upgrade_control().await {
                    Ok(()) => self.native.session.tls_established(token),
                    Err(e) => {
                        self.control = None;
                        self.native.control_tls_failed(e);
                    }
                },
                Step::Connect(connect) => {
                    let result =
                        within(self.connect_timeout, TcpStream::connect(connect.addr)).await;
                    let now = self.native.now();
                    match result {
                        Some(Ok(stream)) => {
                            let _ = stream.set_nodelay(true);
                            self.data = Some(Stream::Plain(stream));
                            self.native.session.data_connected(connect.token, now);
                        }
                        Some(Err(e)) => {
                            let reason = e.to_string();
                            self.native
                                .session
                                .data_connect_failed(connect.token, &reason, now)
                        }
                        None => self.native.session.data_connect_failed(
                            connect.token,
                            "no answer in time",
                            now,
                        ),
                    }
                }
                Step::Listen(listen) => {
                    let bound = match TcpListener::bind((listen.bind, 0)).await {
                        Ok(l) => l.local_addr().map(|a| (l, a.port())),
                        Err(e) => Err(e),
                    };
                    let now = self.native.now();
                    match bound {
                        Ok((listener, port)) => {
                            self.listener = Some((listener, listen.peer));
                            self.native.session.listening(listen.token, port, now);
                        }
                        Err(e) => {
                            let reason = e.to_string();
                            self.native
                                .session
                                .listen_failed(listen.token, &reason, now)
                        }
                    }
                }
                Step::Accept(token) => self.accept(token).await,
                Step::Secure(token) => self.secure_data(token).await,
                Step::Move(moving) => {
                    let result = self
                        .move_data(moving.direction, io, &moving.token, progress)
                        .await;
                    let now = self.native.now();
                    match result {
                        Ok(bytes) => self.native.session.data_done(moving.token, Ok(bytes), now),
                        Err(e) => {
                            let reason = e.to_string();
                            self.native
                                .session
                                .data_done(moving.token, Err(&reason), now)
                        }
                    }
                }
                Step::DropData => {
                    self.data = None;
                    self.listener = None;
                }
                Step::Read(wait) => self.read_control(wait).await,
                Step::Done(result) => {
                    if result.is_err() && self.native.session.is_closed() {
                        self.control = None;
                    }
                    return result;
                }
            }
        }
    }

    /// One read of the control connection (at most `wait`), handed to the session.
    async fn read_control(&mut self, wait: Option<Duration>) {
        let Some(control) = self.control.as_mut() else {
            self.native.peer_closed();
            return;
        };
        let mut buf = [0u8; 4096];
        let read = match wait {
            Some(wait) => within(wait, control.read(&mut buf)).await,
            None => Some(control.read(&mut buf).await),
        };
        match read {
            None => self.native.read_timed_out(),
            Some(Ok(0)) => self.native.peer_closed(),
            Some(Ok(n)) => self.native.input(&buf[..n]),
            Some(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            Some(Err(_)) => self.native.peer_closed(),
        }
    }

    async fn handshake(&self, tcp: TcpStream) -> Result<TlsStream<TcpStream>, String> {
        let config = self.tls.clone().ok_or("no TLS configuration")?;
        let connecting = TlsConnector::from(config).connect(self.server_name.clone(), tcp);
        match within(self.connect_timeout, connecting).await {
            Some(Ok(stream)) => Ok(stream),
            Some(Err(e)) => Err(e.to_string()),
            None => Err("the TLS handshake did not finish in time".into()),
        }
    }

    async fn upgrade_control(&mut self) -> Result<(), String> {
        let Some(Stream::Plain(tcp)) = self.control.take() else {
            return Err("the control connection is not plain".into());
        };
        let secured = self.handshake(tcp).await?;
        self.control = Some(Stream::Tls(Box::new(secured)));
        Ok(())
    }

    async fn accept(&mut self, token: DataToken) {
        let accepted = match self.listener.take() {
            None => Err("no listener".to_string()),
            Some((listener, peer)) => {
                let from_peer = async {
                    loop {
                        match listener.accept().await {
                            Ok((stream, from)) if canonical_ip(from.ip()) == peer => {
                                break Ok(stream);
                            }
                            Ok((_, from)) => log::warn!(
                                "refused an active-mode data connection from {from}: not the server"
                            ),
                            Err(e) => break Err(e.to_string()),
                        }
                    }
                };
                within(self.connect_timeout, from_peer).await.unwrap_or_else(|| {
                    Err("the server did not connect in time (a firewall in front of this client?)"
                        .into())
                })
            }
        };
        let now = self.native.now();
        match accepted {
            Ok(stream) => {
                self.data = Some(Stream::Plain(stream));
                self.native.session.data_connected(token, now);
            }
            Err(e) => self.native.session.data_connect_failed(token, &e, now),
        }
    }

    async fn secure_data(&mut self, token: DataToken) {
        let result = match self.data.take() {
            Some(Stream::Plain(tcp)) => self.handshake(tcp).await,
            _ => Err("no plain data connection".to_string()),
        };
        let now = self.native.now();
        match result {
            Ok(stream) => {
                let resumed =
                    stream.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
                self.data = Some(Stream::Tls(Box::new(stream)));
                self.native.session.data_secured(token, resumed, now);
            }
            Err(e) => self.native.session.data_tls_failed(token, &e, now),
        }
    }

    async fn move_data(
        &mut self,
        direction: Direction,
        io: &mut Io<'_>,
        token: &DataToken,
        progress: &mut dyn FnMut(u64),
    ) -> io::Result<u64> {
        let mut data = self
            .data
            .take()
            .ok_or_else(|| io::Error::other("no data connection"))?;
        let mut buf = vec![0u8; 64 * 1024];
        let mut moved = 0u64;
        let mut last_report = Clock::now();
        let stall = Duration::from_secs(60);
        let stalled = || io::Error::new(io::ErrorKind::TimedOut, "the data connection stalled");
        match direction {
            Direction::Download => loop {
                let n = within(stall, data.read(&mut buf))
                    .await
                    .ok_or_else(stalled)??;
                if n == 0 {
                    if let Io::Sink(sink) = io {
                        sink.flush()?;
                    }
                    break;
                }
                if let Io::Sink(sink) = io {
                    sink.write_all(&buf[..n])?;
                }
                moved += n as u64;
                progress(moved);
                if let Some(now) = self.native.progress_due(&mut last_report) {
                    self.native.session.data_progress(token, now);
                }
            },
            Direction::Upload => {
                let Io::Source(source) = io else {
                    return Err(io::Error::other("an upload without a source"));
                };
                loop {
                    let n = match source.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(e),
                    };
                    within(stall, data.write_all(&buf[..n]))
                        .await
                        .ok_or_else(stalled)??;
                    moved += n as u64;
                    progress(moved);
                    if let Some(now) = self.native.progress_due(&mut last_report) {
                        self.native.session.data_progress(token, now);
                    }
                }
                within(stall, data.close()).await.ok_or_else(stalled)??;
            }
        }
        Ok(moved)
    }
}
