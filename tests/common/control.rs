//! A raw control connection, for what no polite client sends (garbage,
//! bounce attempts, endless lines) and for reading reply text verbatim.
//! Every read is bounded, so a server that stops answering fails the test.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

use socket2::{Domain, SockAddr, Socket, Type};

use super::server::{PASSWORD, USER};

/// The bound on waiting for one reply (a failed PASS is delayed about 1 s).
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// One complete reply, possibly multi-line.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// Every line, CRLFs included, as received (lossy UTF-8).
    pub text: String,
}

impl Reply {
    /// Whether the code is in the `5xx` (permanent negative) class.
    pub fn is_permanent_error(&self) -> bool {
        (500..600).contains(&self.code)
    }
}

/// A control connection to the server under test.
pub struct Control {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Control {
    /// Connects and reads the greeting, which must be `220`.
    pub fn connect(addr: SocketAddr) -> Control {
        let stream = TcpStream::connect_timeout(&addr, REPLY_TIMEOUT)
            .unwrap_or_else(|e| panic!("cannot connect to {addr}: {e}"));
        let mut control = Control::from_stream(stream);
        let greeting = control.reply();
        assert_eq!(greeting.code, 220, "greeting: {greeting:?}");
        control
    }

    /// The control socket, for what `send` cannot do (TCP urgent data).
    #[allow(dead_code)]
    pub fn socket(&self) -> &TcpStream {
        &self.writer
    }

    /// Connects and logs in as alice.
    pub fn login(addr: SocketAddr) -> Control {
        let mut control = Control::connect(addr);
        control.log_in_as(USER, PASSWORD);
        control
    }

    /// A control connection on `stream`, with the reply timeouts set.
    pub fn from_stream(stream: TcpStream) -> Control {
        stream
            .set_read_timeout(Some(REPLY_TIMEOUT))
            .expect("set a read timeout");
        stream
            .set_write_timeout(Some(REPLY_TIMEOUT))
            .expect("set a write timeout");
        let writer = stream.try_clone().expect("clone the control stream");
        Control {
            reader: BufReader::new(stream),
            writer,
        }
    }

    /// `USER name`, `PASS password`; panics unless the answers are 331, 230.
    pub fn log_in_as(&mut self, user: &str, password: &str) {
        let reply = self.command(&format!("USER {user}"));
        assert_eq!(reply.code, 331, "USER {user}: {reply:?}");
        let reply = self.command(&format!("PASS {password}"));
        assert_eq!(reply.code, 230, "PASS for {user}: {reply:?}");
    }

    /// `TYPE I`, so RETR sends the file's bytes unchanged (the default
    /// TYPE A converts line endings).
    pub fn binary(&mut self) {
        let reply = self.command("TYPE I");
        assert_eq!(reply.code, 200, "TYPE I: {reply:?}");
    }

    /// Sends raw bytes as they are.
    pub fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap_or_else(|e| {
            panic!(
                "sending {} bytes on the control connection: {e}",
                bytes.len()
            )
        });
    }

    /// Sends `line` + CRLF and reads the reply.
    pub fn command(&mut self, line: &str) -> Reply {
        self.send(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    /// Reads one complete reply.
    pub fn reply(&mut self) -> Reply {
        read_reply(&mut self.reader)
    }

    /// Reads one complete reply, waiting up to `timeout` instead of
    /// [`REPLY_TIMEOUT`]: for a reply that follows slow work, such as the
    /// `226` after an upload's last part goes to an object store.
    pub fn reply_within(&mut self, timeout: Duration) -> Reply {
        let socket = self.reader.get_ref();
        socket
            .set_read_timeout(Some(timeout))
            .expect("set the read timeout");
        let reply = read_reply(&mut self.reader);
        self.reader
            .get_ref()
            .set_read_timeout(Some(REPLY_TIMEOUT))
            .expect("set the read timeout");
        reply
    }

    /// The bare socket, for a TLS client to take over after `AUTH TLS`;
    /// panics if reply bytes were read ahead (they would be lost).
    pub fn into_socket(self) -> TcpStream {
        assert!(
            self.reader.buffer().is_empty(),
            "the server sent more than the reply before the TLS handshake: {:?}",
            String::from_utf8_lossy(self.reader.buffer())
        );
        self.writer
    }

    /// Panics unless the server closes the connection (EOF or reset) within
    /// the reply timeout, without sending anything more.
    pub fn expect_closed(&mut self) {
        let mut rest = Vec::new();
        match self.reader.read_to_end(&mut rest) {
            Ok(_) | Err(_) if !rest.is_empty() => panic!(
                "expected the connection to close, got more bytes: {:?}",
                String::from_utf8_lossy(&rest)
            ),
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {
                panic!("the server did not close the connection within {REPLY_TIMEOUT:?}")
            }
            Err(_) => {} // reset: closed too
        }
    }

    /// `PASV`; returns the address of the 227 reply and the reply itself.
    pub fn pasv(&mut self) -> (SocketAddr, Reply) {
        let reply = self.command("PASV");
        assert_eq!(reply.code, 227, "PASV: {reply:?}");
        let addr = parse_227(&reply.text).unwrap_or_else(|| panic!("unparsable 227: {reply:?}"));
        (addr, reply)
    }

    /// `EPSV`; returns the port of the 229 reply.
    pub fn epsv(&mut self) -> u16 {
        let reply = self.command("EPSV");
        assert_eq!(reply.code, 229, "EPSV: {reply:?}");
        parse_229(&reply.text).unwrap_or_else(|| panic!("unparsable 229: {reply:?}"))
    }

    /// The local address of the control connection.
    pub fn local_addr(&self) -> SocketAddr {
        self.writer.local_addr().expect("local address")
    }
}

/// Reads one complete reply, framed by the core's reply parser (the one
/// `ClientSession` uses: RFC 959 §4.2 multi-line replies). Reads line by
/// line, so nothing after the reply is taken from `reader`.
pub fn read_reply(reader: &mut impl BufRead) -> Reply {
    let mut received = Vec::new();
    loop {
        reply_line(reader, &mut received);
        match ftpwire_core::reply::parse(&received) {
            Ok(Some((reply, used))) => {
                assert_eq!(used, received.len(), "a reply ends at a line end");
                return Reply {
                    code: reply.code,
                    text: String::from_utf8_lossy(reply.raw).into_owned(),
                };
            }
            Ok(None) => continue,
            Err(e) => panic!("{e}: {:?}", String::from_utf8_lossy(&received)),
        }
    }
}

/// Appends one line (up to and with its LF) to `received`.
fn reply_line(reader: &mut impl BufRead, received: &mut Vec<u8>) {
    let start = received.len();
    match reader.read_until(b'\n', received) {
        Ok(0) => panic!("the server closed the control connection while a reply was expected"),
        Ok(_) if received.ends_with(b"\n") => {}
        Ok(_) => panic!(
            "the control connection ended inside a reply line: {:?}",
            String::from_utf8_lossy(&received[start..])
        ),
        Err(e) => panic!(
            "no complete reply line within the read timeout ({e}); got so far: {:?}",
            String::from_utf8_lossy(received)
        ),
    }
}

/// The address of a 227 reply, read by the core's parser (the one the
/// client session uses).
pub fn parse_227(text: &str) -> Option<SocketAddr> {
    let first = text.lines().next()?;
    ftpwire_core::address::parse_pasv_reply(first.as_bytes())
        .ok()
        .map(SocketAddr::V4)
}

/// The port of a `229 ... (|||port|)` reply, read by the core's parser.
pub fn parse_229(text: &str) -> Option<u16> {
    let first = text.lines().next()?;
    ftpwire_core::address::parse_epsv_reply(first.as_bytes()).ok()
}

/// A TCP connection to `to` whose source address is `from` (any port): how
/// a test poses as another host on the loopback network.
pub fn connect_from(from: IpAddr, to: SocketAddr) -> io::Result<TcpStream> {
    let socket = Socket::new(Domain::for_address(to), Type::STREAM, None)?;
    socket.bind(&SockAddr::from(SocketAddr::new(from, 0)))?;
    socket.connect_timeout(&SockAddr::from(to), REPLY_TIMEOUT)?;
    let stream = TcpStream::from(socket);
    stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
    Ok(stream)
}

/// Reads a data connection to its end (bounded by its read timeout).
pub fn read_data(stream: &mut TcpStream) -> Vec<u8> {
    stream
        .set_read_timeout(Some(REPLY_TIMEOUT))
        .expect("set a read timeout");
    let mut data = Vec::new();
    stream.read_to_end(&mut data).unwrap_or_else(|e| {
        panic!(
            "reading the data connection after {} bytes: {e}",
            data.len()
        )
    });
    data
}

/// Whether an I/O error is a read timeout.
pub fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
