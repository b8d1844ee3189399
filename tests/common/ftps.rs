//! FTPS in the tests: a certificate made at test time (rcgen), and a raw TLS
//! control connection for reading reply text verbatim through TLS (227
//! addresses, refusals) and for protected data connections that resume the
//! control connection's session, as careful clients do.

use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use tempfile::TempDir;

use super::control::{Control, REPLY_TIMEOUT, Reply, parse_227, parse_229, read_reply};
use super::server::{PASSWORD, USER};

/// A self-signed certificate for `localhost` and its key, as PEM files.
pub struct Certificate {
    _dir: TempDir,
    /// The certificate file.
    pub cert: PathBuf,
    /// The private key file.
    pub key: PathBuf,
    der: CertificateDer<'static>,
}

impl Certificate {
    /// A fresh certificate and key in a temporary directory.
    pub fn generate() -> Certificate {
        let generated = rcgen::generate_simple_self_signed(vec!["localhost".into()])
            .expect("generate a certificate");
        let dir = tempfile::tempdir().expect("a directory for the certificate");
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&cert, generated.cert.pem()).unwrap();
        std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
        Certificate {
            _dir: dir,
            cert,
            key,
            der: generated.cert.der().clone(),
        }
    }

    /// `--tls-cert FILE --tls-key FILE`
    pub fn args(&self) -> Vec<String> {
        vec![
            "--tls-cert".into(),
            self.cert.display().to_string(),
            "--tls-key".into(),
            self.key.display().to_string(),
        ]
    }

    /// A client configuration that trusts this certificate (and keeps a
    /// session cache, so its data connections can resume).
    pub fn client_config(&self) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots
            .add(self.der.clone())
            .expect("trust the test certificate");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Arc::new(
            ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    }
}

type Tls = StreamOwned<ClientConnection, TcpStream>;

/// A data connection under TLS, as the client.
#[allow(dead_code)]
pub type DataTls = Tls;

/// A control connection under TLS.
pub struct TlsControl {
    stream: BufReader<Tls>,
    config: Arc<ClientConfig>,
}

impl TlsControl {
    /// Explicit FTPS: connect, read the 220, `AUTH TLS` (234), handshake.
    pub fn explicit(addr: SocketAddr, certificate: &Certificate) -> TlsControl {
        let mut control = Control::connect(addr);
        let reply = control.command("AUTH TLS");
        assert_eq!(reply.code, 234, "AUTH TLS: {reply:?}");
        TlsControl::handshake(control.into_socket(), certificate)
    }

    /// Implicit FTPS: TLS from the first byte, then the 220 under it.
    pub fn implicit(addr: SocketAddr, certificate: &Certificate) -> TlsControl {
        let socket = TcpStream::connect_timeout(&addr, REPLY_TIMEOUT)
            .unwrap_or_else(|e| panic!("cannot connect to {addr}: {e}"));
        socket.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
        socket.set_write_timeout(Some(REPLY_TIMEOUT)).unwrap();
        let mut control = TlsControl::handshake(socket, certificate);
        let greeting = control.reply();
        assert_eq!(greeting.code, 220, "greeting under TLS: {greeting:?}");
        control
    }

    /// Implicit FTPS on `socket` after `prefix` (a load balancer's PROXY
    /// header), sent in the same write as the ClientHello, so the server
    /// reads both at once; then the 220 under TLS.
    pub fn implicit_after(
        mut socket: TcpStream,
        prefix: &[u8],
        certificate: &Certificate,
    ) -> TlsControl {
        socket.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
        let config = certificate.client_config();
        let mut conn = ClientConnection::new(config.clone(), localhost()).unwrap();
        let mut first = prefix.to_vec();
        conn.write_tls(&mut first).expect("the ClientHello");
        socket
            .write_all(&first)
            .expect("send the header and ClientHello");
        while conn.is_handshaking() {
            conn.complete_io(&mut socket)
                .unwrap_or_else(|e| panic!("TLS handshake after the PROXY header: {e}"));
        }
        let mut control = TlsControl {
            stream: BufReader::new(StreamOwned::new(conn, socket)),
            config,
        };
        let greeting = control.reply();
        assert_eq!(greeting.code, 220, "greeting under TLS: {greeting:?}");
        control
    }

    /// The TLS handshake on a control connection whose `AUTH TLS` got 234.
    pub fn handshake(mut socket: TcpStream, certificate: &Certificate) -> TlsControl {
        let config = certificate.client_config();
        let mut conn = ClientConnection::new(config.clone(), localhost()).unwrap();
        while conn.is_handshaking() {
            conn.complete_io(&mut socket)
                .unwrap_or_else(|e| panic!("TLS handshake on the control connection: {e}"));
        }
        TlsControl {
            stream: BufReader::new(StreamOwned::new(conn, socket)),
            config,
        }
    }

    /// Sends `line` + CRLF and reads the reply.
    pub fn command(&mut self, line: &str) -> Reply {
        let stream = self.stream.get_mut();
        stream
            .write_all(format!("{line}\r\n").as_bytes())
            .and_then(|()| stream.flush())
            .unwrap_or_else(|e| panic!("sending {line:?} under TLS: {e}"));
        self.reply()
    }

    /// Sends `line` + CRLF without waiting for its reply.
    #[allow(dead_code)]
    pub fn send(&mut self, line: &str) {
        let stream = self.stream.get_mut();
        stream
            .write_all(format!("{line}\r\n").as_bytes())
            .and_then(|()| stream.flush())
            .unwrap_or_else(|e| panic!("sending {line:?} under TLS: {e}"));
    }

    /// The reply if one starts within `wait`, else `None` (nothing sent).
    #[allow(dead_code)]
    pub fn reply_within(&mut self, wait: std::time::Duration) -> Option<Reply> {
        use std::io::BufRead;
        self.stream
            .get_ref()
            .sock
            .set_read_timeout(Some(wait))
            .unwrap();
        let started = match self.stream.fill_buf() {
            Ok(bytes) => !bytes.is_empty(),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                false
            }
            Err(e) => panic!("waiting for a reply under TLS: {e}"),
        };
        self.stream
            .get_ref()
            .sock
            .set_read_timeout(Some(REPLY_TIMEOUT))
            .unwrap();
        started.then(|| self.reply())
    }

    /// A TLS client for a data connection, with this control connection's
    /// session cache, for a handshake driven step by step.
    #[allow(dead_code)]
    pub fn data_client(&self) -> ClientConnection {
        ClientConnection::new(self.config.clone(), localhost()).unwrap()
    }

    /// Reads one complete reply.
    pub fn reply(&mut self) -> Reply {
        read_reply(&mut self.stream)
    }

    /// Logs in as alice, binary mode.
    pub fn login(&mut self) {
        let reply = self.command(&format!("USER {USER}"));
        assert_eq!(reply.code, 331, "USER under TLS: {reply:?}");
        let reply = self.command(&format!("PASS {PASSWORD}"));
        assert_eq!(reply.code, 230, "PASS under TLS: {reply:?}");
        let reply = self.command("TYPE I");
        assert_eq!(reply.code, 200, "TYPE I: {reply:?}");
    }

    /// `PBSZ 0` and `PROT P`: data connections in TLS from now on.
    pub fn protect_data(&mut self) {
        let reply = self.command("PBSZ 0");
        assert_eq!(reply.code, 200, "PBSZ 0: {reply:?}");
        let reply = self.command("PROT P");
        assert_eq!(reply.code, 200, "PROT P: {reply:?}");
    }

    /// `PASV`, read through TLS: the 227's address and the reply.
    pub fn pasv(&mut self) -> (SocketAddr, Reply) {
        let reply = self.command("PASV");
        assert_eq!(reply.code, 227, "PASV: {reply:?}");
        let addr = parse_227(&reply.text).unwrap_or_else(|| panic!("bad 227: {reply:?}"));
        (addr, reply)
    }

    /// `EPSV`: the port.
    pub fn epsv(&mut self) -> u16 {
        let reply = self.command("EPSV");
        assert_eq!(reply.code, 229, "EPSV: {reply:?}");
        parse_229(&reply.text).unwrap_or_else(|| panic!("bad 229: {reply:?}"))
    }

    /// TLS on a data connection, as the client (the server is the TLS
    /// server); with this control connection's session cache, so it resumes.
    pub fn secure_data(&self, data: TcpStream) -> Result<Tls, std::io::Error> {
        secure_data_with(&self.config, data)
    }

    /// `CCC` (must get `200`), then the TLS closure both ways (RFC 4217 §6):
    /// the control connection in plain text again, and the client TLS
    /// settings whose session cache data connections keep using.
    #[allow(dead_code)]
    pub fn clear_command_channel(mut self) -> (Control, Arc<ClientConfig>) {
        let reply = self.command("CCC");
        assert_eq!(reply.code, 200, "CCC: {reply:?}");
        assert!(
            self.stream.buffer().is_empty(),
            "the server sent more under TLS after CCC's reply"
        );
        let mut tls = self.stream.into_inner();
        let mut rest = Vec::new();
        tls.read_to_end(&mut rest)
            .unwrap_or_else(|e| panic!("waiting for the server's close_notify after CCC: {e}"));
        assert!(rest.is_empty(), "bytes under TLS after CCC: {rest:?}");
        tls.conn.send_close_notify();
        tls.flush()
            .unwrap_or_else(|e| panic!("sending our close_notify after CCC: {e}"));
        (Control::from_stream(tls.sock), self.config)
    }
}

/// TLS on a data connection with `config` (and its session cache).
pub fn secure_data_with(
    config: &Arc<ClientConfig>,
    mut data: TcpStream,
) -> Result<Tls, std::io::Error> {
    data.set_read_timeout(Some(REPLY_TIMEOUT))?;
    let mut conn = ClientConnection::new(config.clone(), localhost()).unwrap();
    while conn.is_handshaking() {
        conn.complete_io(&mut data)?;
    }
    Ok(StreamOwned::new(conn, data))
}

fn localhost() -> ServerName<'static> {
    ServerName::try_from("localhost").unwrap()
}

/// Reads a protected data connection to its end (the server's close_notify).
pub fn read_protected(data: &mut Tls) -> Vec<u8> {
    let mut bytes = Vec::new();
    data.read_to_end(&mut bytes)
        .unwrap_or_else(|e| panic!("reading the protected data connection: {e}"));
    bytes
}
