//! The harness's FTP client: raw std sockets, replies framed by the core's
//! own parser, TLS (AUTH TLS, PROT P) through rustls.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

/// No read may hang the run: a stuck server fails its workload instead.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);

pub fn error(message: impl Into<String>) -> io::Error {
    io::Error::other(message.into())
}

/// A client config that trusts the run's one certificate; without
/// `resume`, every handshake is a full one (what a set-up costs a server).
pub fn tls_config(cert: &CertificateDer<'static>, resume: bool) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(cert.clone()).expect("the run's certificate");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    if !resume {
        config.resumption = rustls::client::Resumption::disabled();
    }
    Arc::new(config)
}

/// A socket, plain or under TLS.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => &s.sock,
        }
    }

    /// Wraps `socket` in TLS and completes the handshake.
    pub fn secure(mut socket: TcpStream, config: &Arc<ClientConfig>) -> io::Result<Stream> {
        let name = ServerName::try_from("localhost").unwrap();
        let mut conn = ClientConnection::new(config.clone(), name).map_err(io::Error::other)?;
        while conn.is_handshaking() {
            conn.complete_io(&mut socket)?;
        }
        Ok(Stream::Tls(Box::new(StreamOwned::new(conn, socket))))
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// A reply: its code and its whole text.
pub struct Reply {
    pub code: u16,
    pub text: String,
}

/// A control connection.
pub struct Control {
    stream: Stream,
    buf: Vec<u8>,
    filled: usize,
    peer: SocketAddr,
}

impl Control {
    /// Connects and reads the 220 greeting.
    pub fn connect(addr: SocketAddr) -> io::Result<Control> {
        let socket = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
        socket.set_read_timeout(Some(IO_TIMEOUT))?;
        socket.set_write_timeout(Some(IO_TIMEOUT))?;
        socket.set_nodelay(true)?;
        let mut control = Control {
            stream: Stream::Plain(socket),
            buf: vec![0; 16 * 1024],
            filled: 0,
            peer: addr,
        };
        control.expect(2)?;
        Ok(control)
    }

    /// The next reply.
    pub fn reply(&mut self) -> io::Result<Reply> {
        loop {
            match ftpwire_core::reply::parse(&self.buf[..self.filled]) {
                Ok(Some((reply, used))) => {
                    let parsed = Reply {
                        code: reply.code,
                        text: String::from_utf8_lossy(reply.raw).into_owned(),
                    };
                    self.buf.copy_within(used..self.filled, 0);
                    self.filled -= used;
                    return Ok(parsed);
                }
                Ok(None) => {}
                Err(e) => return Err(error(e.to_string())),
            }
            if self.filled == self.buf.len() {
                self.buf.resize(self.buf.len() * 2, 0);
            }
            let n = self.stream.read(&mut self.buf[self.filled..])?;
            if n == 0 {
                return Err(error("server closed the control connection"));
            }
            self.filled += n;
        }
    }

    /// The next reply, which must be of class `class` (2 for 2yz, ...).
    pub fn expect(&mut self, class: u16) -> io::Result<Reply> {
        let reply = self.reply()?;
        if reply.code / 100 != class {
            return Err(error(format!(
                "expected {class}yz, got {}",
                reply.text.trim()
            )));
        }
        Ok(reply)
    }

    pub fn send(&mut self, line: &str) -> io::Result<()> {
        self.stream.write_all(format!("{line}\r\n").as_bytes())
    }

    /// Sends `line` and expects a reply of class `class`.
    pub fn command(&mut self, line: &str, class: u16) -> io::Result<Reply> {
        self.send(line)?;
        self.expect(class)
            .map_err(|e| error(format!("{line}: {e}")))
    }

    /// USER, then PASS unless USER already logged in.
    pub fn login(&mut self, user: &str, pass: &str) -> io::Result<()> {
        self.send(&format!("USER {user}"))?;
        let reply = self.reply()?;
        match reply.code {
            230 => Ok(()),
            331 => self.command(&format!("PASS {pass}"), 2).map(drop),
            _ => Err(error(format!("USER: {}", reply.text.trim()))),
        }
    }

    /// AUTH TLS, then the handshake on the control connection.
    pub fn auth_tls(self, config: &Arc<ClientConfig>) -> io::Result<Control> {
        let mut control = self;
        control.command("AUTH TLS", 2)?;
        let Stream::Plain(socket) = control.stream else {
            return Err(error("already under TLS"));
        };
        Ok(Control {
            stream: Stream::secure(socket, config)?,
            ..control
        })
    }

    /// EPSV (RFC 2428), then the data connection.
    pub fn passive(&mut self) -> io::Result<TcpStream> {
        let reply = self.command("EPSV", 2)?;
        let port = ftpwire_core::address::parse_epsv_reply(reply.text.trim_end().as_bytes())
            .map_err(|e| error(format!("EPSV reply {:?}: {e}", reply.text)))?;
        let data = TcpStream::connect_timeout(&SocketAddr::new(self.peer.ip(), port), IO_TIMEOUT)?;
        data.set_read_timeout(Some(IO_TIMEOUT))?;
        data.set_write_timeout(Some(IO_TIMEOUT))?;
        Ok(data)
    }

    /// QUIT, its 221, and the server's close (so its session has ended).
    pub fn quit(mut self) -> io::Result<()> {
        self.command("QUIT", 2)?;
        if let Stream::Tls(tls) = &mut self.stream {
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
        let mut rest = [0; 512];
        while matches!(self.stream.read(&mut rest), Ok(n) if n > 0) {}
        let _ = self.stream.tcp().shutdown(Shutdown::Both);
        Ok(())
    }

    /// A second handle on the plain socket, for a writer thread.
    pub fn try_clone_plain(&self) -> io::Result<TcpStream> {
        match &self.stream {
            Stream::Plain(s) => s.try_clone(),
            Stream::Tls(_) => Err(error("not a plain connection")),
        }
    }
}
