//! [`Client`]: the blocking host of a [`ClientSession`]. It moves bytes
//! (control and data sockets, rustls), keeps time and files; the session
//! decides every command, how to read every reply, where to dial.
//!
//! ```no_run
//! use ftpwire_core::client::{ClientConfig, Request};
//! use ftpwire_std::client::{Client, Connect};
//! let connect = Connect::new("ftp.example.com:21", ClientConfig::login("anonymous", "me@"));
//! let mut client = Client::connect(&connect).unwrap();
//! let mut file = Vec::new();
//! client.get(b"/pub/README", 0, &mut file, &mut |_| {}).unwrap();
//! client.quit().ok();
//! ```

use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant as StdInstant};

use ftpwire_backend::native::client::{NativeClient, Step};
use ftpwire_core::Instant;
use ftpwire_core::client::{
    ClientError, ClientSession, DataToken, Direction, Finished, ListCommand, Request, RequestId,
    Security, StoreMode,
};
use rustls::pki_types::ServerName;
use rustls::{ClientConnection, StreamOwned};

pub use ftpwire_backend::native::client::{Connect, ConnectError};

enum Control {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Control {
    fn tcp(&self) -> &TcpStream {
        match self {
            Control::Plain(s) => s,
            Control::Tls(s) => &s.sock,
        }
    }
}

impl Read for Control {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Control::Plain(s) => s.read(buf),
            Control::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Control {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Control::Plain(s) => s.write(buf),
            Control::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Control::Plain(s) => s.flush(),
            Control::Tls(s) => s.flush(),
        }
    }
}

enum Data {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
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
    control: Option<Control>,
    tls: Option<Arc<rustls::ClientConfig>>,
    server_name: ServerName<'static>,
    data: Option<Data>,
    listener: Option<(TcpListener, IpAddr)>,
    connect_timeout: Duration,
}

impl Client {
    /// Connects, secures (explicit or implicit FTPS) and logs in.
    pub fn connect(connect: &Connect) -> Result<Client, ConnectError> {
        let server_name = ServerName::try_from(connect.server_name.clone())
            .map_err(|_| ConnectError::ServerName(connect.server_name.clone()))?;
        let stream = dial(&connect.address, connect.connect_timeout)?;
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().map_err(|e| connect_error(connect, e))?;
        let peer = stream.peer_addr().map_err(|e| connect_error(connect, e))?;
        if connect.config.security.is_tls() && connect.tls.is_none() {
            return Err(ConnectError::NoTlsConfig);
        }
        let mut client = Client {
            native: NativeClient::new(connect.config.clone(), local, peer),
            control: Some(Control::Plain(stream)),
            tls: connect.tls.clone(),
            server_name,
            data: None,
            listener: None,
            connect_timeout: connect.connect_timeout,
        };
        if connect.config.security == Security::Implicit {
            client
                .upgrade_control()
                .map_err(|e| ClientError::Tls(format!("implicit FTPS with {peer}: {e}")))?;
        }
        client.run(None, &mut Io::None, &mut |_| {})?;
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
    pub fn peer_certificate(&self) -> Option<rustls::pki_types::CertificateDer<'static>> {
        match self.control.as_ref()? {
            Control::Tls(s) => s.conn.peer_certificates()?.first().cloned(),
            Control::Plain(_) => None,
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
    pub fn request(&mut self, request: Request) -> Result<Finished, ClientError> {
        let id = self.native.session.request(request);
        self.run(Some(id), &mut Io::None, &mut |_| {})
    }

    /// RETR from `offset` into `sink`; `progress` hears the bytes so far.
    pub fn get(
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
        self.run(Some(id), &mut Io::Sink(sink), progress)
    }

    /// STOR (or REST+STOR, or APPE) from `source`.
    pub fn put(
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
        self.run(Some(id), &mut Io::Source(source), progress)
    }

    /// A listing's raw bytes.
    pub fn list(
        &mut self,
        path: Option<&[u8]>,
        command: ListCommand,
    ) -> Result<Vec<u8>, ClientError> {
        let mut out = Vec::new();
        let id = self.native.session.request(Request::List {
            path: path.map(<[u8]>::to_vec),
            command,
        });
        self.run(Some(id), &mut Io::Sink(&mut out), &mut |_| {})?;
        Ok(out)
    }

    /// QUIT and close.
    pub fn quit(mut self) -> Result<Finished, ClientError> {
        self.request(Request::Quit)
    }

    fn now(&self) -> Instant {
        self.native.now()
    }

    /// Carries out the session's steps until request `until` is done (or,
    /// with `None`, until it is ready).
    fn run(
        &mut self,
        until: Option<RequestId>,
        io: &mut Io<'_>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Finished, ClientError> {
        loop {
            match self.native.next(until) {
                Step::Transmit(bytes) => {
                    let written = match self.control.as_mut() {
                        Some(control) => control.write_all(bytes).and_then(|()| control.flush()),
                        None => Err(io::ErrorKind::NotConnected.into()),
                    };
                    if written.is_err() {
                        self.native.peer_closed();
                    }
                }
                Step::UpgradeTls(token) => match self.upgrade_control() {
                    Ok(()) => self.native.session.tls_established(token),
                    Err(e) => {
                        self.control = None;
                        self.native.control_tls_failed(e);
                    }
                },
                Step::Connect(connect) => {
                    let result = TcpStream::connect_timeout(&connect.addr, self.connect_timeout);
                    let now = self.now();
                    match result {
                        Ok(stream) => {
                            let _ = stream.set_nodelay(true);
                            self.data = Some(Data::Plain(stream));
                            self.native.session.data_connected(connect.token, now);
                        }
                        Err(e) => {
                            let reason = e.to_string();
                            self.native
                                .session
                                .data_connect_failed(connect.token, &reason, now)
                        }
                    }
                }
                Step::Listen(listen) => {
                    let bound = TcpListener::bind((listen.bind, 0)).and_then(|l| {
                        let port = l.local_addr()?.port();
                        Ok((l, port))
                    });
                    let now = self.now();
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
                Step::Accept(token) => self.accept(token),
                Step::Secure(token) => self.secure_data(token),
                Step::Move(moving) => {
                    let result = self.move_data(moving.direction, io, &moving.token, progress);
                    let now = self.now();
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
                Step::Read(wait) => self.read_control(wait),
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
    fn read_control(&mut self, wait: Option<Duration>) {
        let Some(control) = self.control.as_mut() else {
            self.native.peer_closed();
            return;
        };
        let _ = control.tcp().set_read_timeout(wait);
        let mut buf = [0u8; 4096];
        match control.read(&mut buf) {
            Ok(0) => self.native.peer_closed(),
            Ok(n) => self.native.input(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                self.native.read_timed_out()
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => self.native.peer_closed(),
        }
    }

    fn upgrade_control(&mut self) -> Result<(), String> {
        let config = self.tls.clone().ok_or("no TLS configuration")?;
        let Some(Control::Plain(mut sock)) = self.control.take() else {
            return Err("the control connection is not plain".into());
        };
        let _ = sock.set_read_timeout(Some(self.connect_timeout));
        let mut conn =
            ClientConnection::new(config, self.server_name.clone()).map_err(|e| e.to_string())?;
        while conn.is_handshaking() {
            conn.complete_io(&mut sock).map_err(|e| e.to_string())?;
        }
        self.control = Some(Control::Tls(Box::new(StreamOwned::new(conn, sock))));
        Ok(())
    }

    fn accept(&mut self, token: DataToken) {
        let Some((listener, peer)) = self.listener.take() else {
            let now = self.now();
            self.native
                .session
                .data_connect_failed(token, "no listener", now);
            return;
        };
        let result = accept_from(&listener, peer, self.connect_timeout);
        let now = self.now();
        match result {
            Ok(stream) => {
                self.data = Some(Data::Plain(stream));
                self.native.session.data_connected(token, now);
            }
            Err(e) => self.native.session.data_connect_failed(token, &e, now),
        }
    }

    fn secure_data(&mut self, token: DataToken) {
        let result = (|| {
            let config = self.tls.clone().ok_or("no TLS configuration")?;
            let Some(Data::Plain(mut sock)) = self.data.take() else {
                return Err("no plain data connection".to_string());
            };
            let _ = sock.set_read_timeout(Some(self.connect_timeout));
            let mut conn = ClientConnection::new(config, self.server_name.clone())
                .map_err(|e| e.to_string())?;
            while conn.is_handshaking() {
                conn.complete_io(&mut sock).map_err(|e| e.to_string())?;
            }
            let resumed = conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
            self.data = Some(Data::Tls(Box::new(StreamOwned::new(conn, sock))));
            Ok(resumed)
        })();
        let now = self.now();
        match result {
            Ok(resumed) => {
                self.native.session.data_secured(token, resumed, now);
            }
            Err(e) => self.native.session.data_tls_failed(token, &e, now),
        }
    }

    fn move_data(
        &mut self,
        direction: Direction,
        io: &mut Io<'_>,
        token: &DataToken,
        progress: &mut dyn FnMut(u64),
    ) -> io::Result<u64> {
        let data = self
            .data
            .take()
            .ok_or_else(|| io::Error::other("no data connection"))?;
        let mut buf = vec![0u8; 64 * 1024];
        let mut moved = 0u64;
        let mut last_report = StdInstant::now();
        let mut report = |moved: u64, native: &mut NativeClient| {
            progress(moved);
            if let Some(now) = native.progress_due(&mut last_report) {
                native.session.data_progress(token, now);
            }
        };
        let stall = Some(Duration::from_secs(60));
        match (direction, data) {
            (Direction::Download, data) => {
                let mut reader: Box<dyn Read> = match data {
                    Data::Plain(s) => {
                        s.set_read_timeout(stall)?;
                        Box::new(s)
                    }
                    Data::Tls(s) => {
                        s.sock.set_read_timeout(stall)?;
                        Box::new(TlsReader(s))
                    }
                };
                loop {
                    let n = match reader.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(e),
                    };
                    if let Io::Sink(sink) = io {
                        sink.write_all(&buf[..n])?;
                    }
                    moved += n as u64;
                    report(moved, &mut self.native);
                }
                if let Io::Sink(sink) = io {
                    sink.flush()?;
                }
            }
            (Direction::Upload, data) => {
                let Io::Source(source) = io else {
                    return Err(io::Error::other("an upload without a source"));
                };
                let mut write_all =
                    |w: &mut dyn Write, native: &mut NativeClient| -> io::Result<()> {
                        loop {
                            let n = match source.read(&mut buf) {
                                Ok(0) => return w.flush(),
                                Ok(n) => n,
                                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                                Err(e) => return Err(e),
                            };
                            w.write_all(&buf[..n])?;
                            moved += n as u64;
                            report(moved, native);
                        }
                    };
                match data {
                    Data::Plain(mut s) => {
                        write_all(&mut s, &mut self.native)?;
                        s.shutdown(Shutdown::Write)?;
                    }
                    Data::Tls(mut s) => {
                        write_all(&mut *s, &mut self.native)?;
                        s.conn.send_close_notify();
                        while s.conn.wants_write() {
                            s.conn.write_tls(&mut s.sock)?;
                        }
                        s.sock.shutdown(Shutdown::Write)?;
                    }
                }
            }
        }
        Ok(moved)
    }
}

/// A TLS data stream read to its end: a peer that closes TCP without
/// close_notify (many servers) ends the download rather than failing it;
/// the `226` (or its absence) says whether it was complete.
struct TlsReader(Box<StreamOwned<ClientConnection, TcpStream>>);

impl Read for TlsReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.0.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
            other => other,
        }
    }
}

fn dial(address: &str, timeout: Duration) -> Result<TcpStream, ConnectError> {
    let error = |reason: String| ConnectError::Connect {
        address: address.into(),
        reason,
    };
    let addrs: Vec<SocketAddr> = address
        .to_socket_addrs()
        .map_err(|e| error(e.to_string()))?
        .collect();
    let mut last = String::from("the name resolved to no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = format!("{addr}: {e}"),
        }
    }
    Err(error(last))
}

fn connect_error(connect: &Connect, e: io::Error) -> ConnectError {
    ConnectError::Connect {
        address: connect.address.clone(),
        reason: e.to_string(),
    }
}

/// Accepts the server's active-mode connection, only from `peer`, within `timeout`.
fn accept_from(
    listener: &TcpListener,
    peer: IpAddr,
    timeout: Duration,
) -> Result<TcpStream, String> {
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let poller = polling::Poller::new().map_err(|e| e.to_string())?;
    // SAFETY: `listener` outlives the registration: it is deleted from the
    // poller before this function returns, on every path below.
    unsafe { poller.add(listener, polling::Event::readable(0)) }.map_err(|e| e.to_string())?;
    let deadline = StdInstant::now() + timeout;
    let result = loop {
        match listener.accept() {
            Ok((stream, from)) => {
                if ftpwire_core::address::canonical_ip(from.ip()) == peer {
                    break stream
                        .set_nonblocking(false)
                        .map(|()| stream)
                        .map_err(|e| e.to_string());
                }
                log::warn!("refused an active-mode data connection from {from}: not the server");
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let left = deadline.saturating_duration_since(StdInstant::now());
                if left.is_zero() {
                    break Err(
                        "the server did not connect in time (a firewall in front of this client?)"
                            .into(),
                    );
                }
                let mut events = polling::Events::new();
                let _ = poller.wait(&mut events, Some(left));
                let _ = poller.modify(listener, polling::Event::readable(0));
            }
            Err(e) => break Err(e.to_string()),
        }
    };
    let _ = poller.delete(listener);
    result
}
