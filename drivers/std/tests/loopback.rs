//! The std driver on real loopback sockets. Plain transfers (PASV, EPSV,
//! REST, LIST, active mode) are driven by the project's own client, the
//! core's `ClientSession` on this crate's blocking host; what a client
//! session never sends on its own (a wrong login's later commands, TYPE A,
//! ABOR the RFC 959 Telnet way, a foreign data connection, stalls,
//! shutdown) by a raw `TcpStream` client. Every socket read has a
//! timeout, so a hang fails the test instead of stalling it.

use std::fs;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use ftpwire_backend::{LocalFs, Password, ServerSettings, UserDb};
use ftpwire_core::ServerConfig;
use ftpwire_core::address::{parse_epsv_reply, parse_pasv_reply};
use ftpwire_core::client::{ClientConfig, DataMode, ListCommand, Request, StoreMode};
use ftpwire_std::{Server, ShutdownHandle};

const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A server on `127.0.0.1:0` serving a fresh temporary root; shut down on drop.
struct TestServer {
    addr: SocketAddr,
    root: tempfile::TempDir,
    shutdown: ShutdownHandle,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    fn start() -> TestServer {
        TestServer::start_with(ServerConfig {
            // Short, so the wrong-password test stays quick; still a real delay.
            failed_login_delay: Duration::from_millis(200),
            ..ServerConfig::default()
        })
    }

    fn start_with(session: ServerConfig) -> TestServer {
        let root = tempfile::tempdir().unwrap();
        let mut users = UserDb::new();
        users.add(b"alice", Password::Plain(b"secret".to_vec()), false);
        let server = Server::new(
            ServerSettings::new(
                Arc::new(LocalFs::new(root.path()).unwrap()),
                Arc::new(users),
            )
            .session_config(session),
        );
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = server.shutdown_handle();
        let thread = thread::spawn(move || server.serve(listener));
        TestServer {
            addr,
            root,
            shutdown,
            thread: Some(thread),
        }
    }

    fn root(&self) -> &Path {
        self.root.path()
    }

    /// The project's client (`ClientSession`), logged in as alice, its
    /// transfers' data connections made the `mode` way.
    fn session(&self, mode: DataMode) -> ftpwire_std::client::Client {
        let config = ClientConfig {
            data_mode: mode,
            ..ClientConfig::login("alice", "secret")
        };
        let connect = ftpwire_std::client::Connect::new(&self.addr.to_string(), config);
        ftpwire_std::client::Client::connect(&connect).expect("log in")
    }

    /// A raw client past the greeting and logged in as alice.
    fn login(&self) -> Client {
        let mut client = Client::connect(self.addr);
        assert_eq!(client.command("USER alice").0, 331);
        assert_eq!(client.command("PASS secret").0, 230);
        client
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.shutdown(Duration::ZERO);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A control connection that reads whole replies.
struct Client {
    control: TcpStream,
    received: Vec<u8>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let control = TcpStream::connect(addr).unwrap();
        control.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let mut client = Client {
            control,
            received: Vec::new(),
        };
        assert_eq!(client.reply().0, 220);
        client
    }

    /// The next complete reply: its code and all its text.
    fn reply(&mut self) -> (u16, String) {
        loop {
            if let Some((reply, used)) = ftpwire_core::reply::parse(&self.received).unwrap() {
                let answer = (reply.code, String::from_utf8_lossy(reply.raw).into_owned());
                self.received.drain(..used);
                return answer;
            }
            let mut buf = [0; 4096];
            let n = self.control.read(&mut buf).expect("a reply in time");
            assert!(n > 0, "control connection closed while waiting for a reply");
            self.received.extend_from_slice(&buf[..n]);
        }
    }

    fn send(&mut self, line: &str) {
        self.control
            .write_all(format!("{line}\r\n").as_bytes())
            .unwrap();
    }

    fn command(&mut self, line: &str) -> (u16, String) {
        self.send(line);
        self.reply()
    }

    /// PASV, then the data connection to the address it names.
    fn pasv(&mut self) -> SocketAddr {
        let (code, text) = self.command("PASV");
        assert_eq!(code, 227, "{text}");
        parse_pasv_reply(text.trim_end().as_bytes()).unwrap().into()
    }

    /// EPSV: the control connection's IP with the port it names.
    fn epsv(&mut self) -> SocketAddr {
        let (code, text) = self.command("EPSV");
        assert_eq!(code, 229, "{text}");
        let port = parse_epsv_reply(text.trim_end().as_bytes()).unwrap();
        SocketAddr::new(self.control.peer_addr().unwrap().ip(), port)
    }
}

fn data_connect(addr: SocketAddr) -> TcpStream {
    let data = TcpStream::connect(addr).unwrap();
    data.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    data
}

fn read_to_end(mut data: TcpStream) -> Vec<u8> {
    let mut bytes = Vec::new();
    data.read_to_end(&mut bytes).unwrap();
    bytes
}

/// Bytes that are not all alike, so an offset or reordering error shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn only_the_right_password_logs_in() {
    let server = TestServer::start();
    let mut client = Client::connect(server.addr);
    assert_eq!(client.command("USER alice").0, 331);
    assert_eq!(client.command("PASS wrong").0, 530);
    assert_eq!(client.command("PWD").0, 530);
    assert_eq!(client.command("USER alice").0, 331);
    assert_eq!(client.command("PASS secret").0, 230);
    let (code, text) = client.command("PWD");
    assert_eq!(
        (code, text.as_str()),
        (257, "257 \"/\" is the current directory.\r\n")
    );
    assert_eq!(client.command("QUIT").0, 221);
}

#[test]
fn pasv_retr_sends_the_whole_file_then_226() {
    let server = TestServer::start();
    let content = pattern(3 * 1024 * 1024 + 17);
    fs::write(server.root().join("file.bin"), &content).unwrap();
    let mut client = server.session(DataMode::Pasv);
    let mut got = Vec::new();
    let done = client.get(b"file.bin", 0, &mut got, &mut |_| {}).unwrap();
    assert_eq!((done.code, done.bytes), (226, Some(content.len() as u64)));
    assert!(got == content, "downloaded bytes differ");
    let used = client.session().last_passive().unwrap();
    assert!(!used.extended && !used.target.is_warning(), "{used:?}");
}

#[test]
fn retr_resumes_at_the_rest_offset() {
    let server = TestServer::start();
    let content = pattern(100_000);
    fs::write(server.root().join("file.bin"), &content).unwrap();
    let mut client = server.session(DataMode::ExtendedPassive);
    let mut got = Vec::new();
    client
        .get(b"file.bin", 99_000, &mut got, &mut |_| {})
        .unwrap();
    assert!(got == content[99_000..]);
}

#[test]
fn epsv_stor_writes_the_file_then_226() {
    let server = TestServer::start();
    let content = pattern(2 * 1024 * 1024 + 5);
    let mut client = server.session(DataMode::ExtendedPassive);
    let done = client
        .put(
            b"up.bin",
            StoreMode::Replace,
            &mut &content[..],
            &mut |_| {},
        )
        .unwrap();
    assert_eq!(done.code, 226);
    assert!(fs::read(server.root().join("up.bin")).unwrap() == content);
    // And the rest of a file from an offset (REST + STOR).
    client
        .put(
            b"up.bin",
            StoreMode::At(1000),
            &mut &content[..10][..],
            &mut |_| {},
        )
        .unwrap();
    let expected = [&content[..1000], &content[..10]].concat();
    assert!(fs::read(server.root().join("up.bin")).unwrap() == expected);
}

#[test]
fn type_a_converts_line_ends_both_ways() {
    let server = TestServer::start();
    fs::write(server.root().join("unix.txt"), b"one\ntwo\n").unwrap();
    let mut client = server.login();
    assert_eq!(client.command("TYPE A").0, 200);
    let data = data_connect(client.pasv());
    assert_eq!(client.command("RETR unix.txt").0, 150);
    assert_eq!(read_to_end(data), b"one\r\ntwo\r\n");
    assert_eq!(client.reply().0, 226);

    let mut data = data_connect(client.pasv());
    assert_eq!(client.command("STOR dos.txt").0, 150);
    data.write_all(b"a\r\nb\r\n").unwrap();
    drop(data);
    assert_eq!(client.reply().0, 226);
    assert_eq!(fs::read(server.root().join("dos.txt")).unwrap(), b"a\nb\n");
}

#[test]
fn list_is_ls_long_format() {
    let server = TestServer::start();
    fs::write(server.root().join("notes.txt"), b"12345").unwrap();
    fs::create_dir(server.root().join("sub")).unwrap();
    let mut client = server.session(DataMode::Passive);
    let listing = String::from_utf8(client.list(None, ListCommand::List).unwrap()).unwrap();
    let file = listing.lines().find(|l| l.ends_with(" notes.txt")).unwrap();
    assert!(file.starts_with("-rw"), "{file}");
    assert!(file.split_whitespace().any(|field| field == "5"), "{file}");
    let dir = listing.lines().find(|l| l.ends_with(" sub")).unwrap();
    assert!(dir.starts_with('d'), "{dir}");
    assert!(listing.ends_with("\r\n"));
    let size = client
        .request(Request::Size(b"notes.txt".to_vec()))
        .unwrap();
    assert_eq!(size.size(), Some(5));
}

#[test]
fn active_mode_retr_connects_to_the_client() {
    let server = TestServer::start();
    fs::write(server.root().join("file.bin"), pattern(70_000)).unwrap();
    let mut client = server.session(DataMode::Active);
    let mut got = Vec::new();
    client.get(b"file.bin", 0, &mut got, &mut |_| {}).unwrap();
    assert!(got == pattern(70_000));
    assert!(
        client.session().last_passive().is_none(),
        "no passive command"
    );
}

/// Starts a RETR of a file far larger than the socket buffers and reads a
/// little of it, so the transfer is surely still running.
fn running_retr(server: &TestServer, client: &mut Client) -> TcpStream {
    let file = fs::File::create(server.root().join("huge.bin")).unwrap();
    file.set_len(1 << 30).unwrap(); // sparse: costs no disk
    assert_eq!(client.command("TYPE I").0, 200);
    let mut data = data_connect(client.pasv());
    assert_eq!(client.command("RETR huge.bin").0, 150);
    let mut first = [0; 1024];
    data.read_exact(&mut first).unwrap();
    data
}

#[test]
fn abor_stops_a_running_retr_with_426_then_226() {
    let server = TestServer::start();
    let mut client = server.login();
    let data = running_retr(&server, &mut client);
    // STAT is answered while the transfer runs.
    assert_eq!(client.command("STAT").0, 211);
    assert_eq!(client.command("ABOR").0, 426);
    assert_eq!(client.reply().0, 226);
    drop(data);
    assert_eq!(client.command("NOOP").0, 200);
}

#[test]
fn abor_the_rfc_959_way_with_telnet_ip_and_synch() {
    let server = TestServer::start();
    let mut client = server.login();
    let data = running_retr(&server, &mut client);
    // IAC IP, then IAC DM with the DM as TCP urgent data, then the command.
    client.control.write_all(&[0xff, 0xf4, 0xff]).unwrap();
    socket2::SockRef::from(&client.control)
        .send_out_of_band(&[0xf2])
        .unwrap();
    client.send("ABOR");
    assert_eq!(client.reply().0, 426);
    assert_eq!(client.reply().0, 226);
    drop(data);
    assert_eq!(client.command("NOOP").0, 200);
}

#[test]
fn closing_the_control_connection_ends_its_transfer() {
    let server = TestServer::start();
    let mut client = server.login();
    let mut data = running_retr(&server, &mut client);
    drop(client);
    // The server stops sending: the data connection reaches its end (or
    // is reset) instead of delivering the whole gigabyte.
    let mut buf = vec![0; 64 * 1024];
    let mut total = 0u64;
    loop {
        match data.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n as u64,
        }
    }
    assert!(total < 1 << 30, "the whole file was sent after QUIT");
    // And the server still serves others.
    assert_eq!(server.login().command("NOOP").0, 200);
}

#[test]
fn a_data_connection_from_another_address_is_closed_and_the_wait_goes_on() {
    let server = TestServer::start();
    fs::write(server.root().join("file.bin"), b"for alice only").unwrap();
    let mut client = server.login();
    let data_addr = client.pasv();
    client.send("RETR file.bin");
    // 127.0.0.2 is loopback too, but not the control connection's peer.
    let thief = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    thief
        .bind(&SocketAddr::new(IpAddr::from([127, 0, 0, 2]), 0).into())
        .unwrap();
    thief.connect(&data_addr.into()).unwrap();
    let mut thief: TcpStream = thief.into();
    thief.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut stolen = Vec::new();
    let _ = thief.read_to_end(&mut stolen);
    assert!(stolen.is_empty(), "the thief got {stolen:?}");
    let data = data_connect(data_addr);
    assert_eq!(client.reply().0, 150);
    assert_eq!(read_to_end(data), b"for alice only");
    assert_eq!(client.reply().0, 226);
}

#[test]
fn retr_of_a_missing_file_is_550_and_the_session_goes_on() {
    let server = TestServer::start();
    let mut client = server.login();
    // The file is opened before the data connection is used: no 150.
    let _data = data_connect(client.pasv());
    assert_eq!(client.command("RETR missing.bin").0, 550);
    let _data = data_connect(client.pasv());
    assert_eq!(client.command("RETR ../../etc/passwd").0, 550);
    assert_eq!(client.command("NOOP").0, 200);
}

/// Reads the control connection until the server closes it.
fn closed_by_server(client: &mut Client) -> bool {
    let mut rest = Vec::new();
    client.control.read_to_end(&mut rest).is_ok()
}

#[test]
fn shutdown_ends_idle_sessions_at_once_and_lets_a_transfer_finish() {
    let mut server = TestServer::start();
    let mut idle = server.login();
    let mut busy = server.login();
    assert_eq!(busy.command("TYPE I").0, 200);
    let mut data = data_connect(busy.epsv());
    assert_eq!(busy.command("STOR up.bin").0, 150);
    data.write_all(b"first half, ").unwrap();

    let handle = server.shutdown.clone();
    let serving = server.thread.take().unwrap();
    let stopper = thread::spawn(move || handle.shutdown(Duration::from_secs(30)));
    // The idle session is told and closed without waiting for the grace period...
    assert_eq!(idle.reply().0, 421, "an idle session hears why it ends");
    assert!(closed_by_server(&mut idle));
    assert!(
        TcpStream::connect(server.addr).is_err(),
        "still accepting after shutdown"
    );
    // ...while the upload still completes, with its 226, before its session ends.
    data.write_all(b"second half").unwrap();
    drop(data);
    assert_eq!(busy.reply().0, 226);
    assert_eq!(busy.reply().0, 421, "then the session ends with 421");
    assert!(closed_by_server(&mut busy));
    serving.join().unwrap().unwrap();
    stopper.join().unwrap();
    assert_eq!(
        fs::read(server.root().join("up.bin")).unwrap(),
        b"first half, second half"
    );
}

#[test]
fn after_the_grace_period_a_running_transfer_is_cut_off() {
    let mut server = TestServer::start();
    let mut client = server.login();
    let mut data = running_retr(&server, &mut client);
    let serving = server.thread.take().unwrap();
    let asked = std::time::Instant::now();
    server.shutdown.shutdown(Duration::from_millis(200));
    serving.join().unwrap().unwrap();
    assert!(asked.elapsed() < Duration::from_secs(5));
    assert!(closed_by_server(&mut client));
    // The data connection ends too, long before the gigabyte is through.
    let mut buf = vec![0; 64 * 1024];
    let mut total = 0u64;
    while let Ok(n @ 1..) = data.read(&mut buf) {
        total += n as u64;
    }
    assert!(total < 1 << 30);
}

#[test]
fn shutdown_before_serve_returns_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::new(ServerSettings::new(
        Arc::new(LocalFs::new(dir.path()).unwrap()),
        Arc::new(UserDb::new()),
    ));
    server.shutdown_handle().shutdown(Duration::from_secs(1));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    server.serve(listener).unwrap();
}

#[test]
fn control_input_during_a_transfer_is_not_buffered_without_bound() {
    let server = TestServer::start();
    let mut client = server.login();
    let _data = running_retr(&server, &mut client);
    // The session takes no new command while the transfer runs; the driver
    // must stop reading rather than hold everything the client sends.
    client
        .control
        .set_write_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    // PWD waits for the transfer to end (NOOP would be answered at once).
    let flood = b"PWD\r\n".repeat(64 * 1024);
    let mut written = 0usize;
    let limit = 256 * 1024 * 1024;
    while written < limit {
        match client.control.write(&flood) {
            Ok(n) => written += n,
            Err(error) => {
                assert!(
                    matches!(
                        error.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ),
                    "{error}"
                );
                break;
            }
        }
    }
    assert!(written < limit, "the server read {written} bytes ahead");
    drop(client);
    assert_eq!(server.login().command("NOOP").0, 200);
}

/// A loopback address whose TCP connects hang: a listener with a full
/// accept queue, so Linux drops further SYNs instead of answering them.
#[cfg(target_os = "linux")]
fn unanswered_address() -> (socket2::Socket, Vec<socket2::Socket>, SocketAddr) {
    use socket2::{Domain, Socket, Type};
    let full = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    full.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    full.listen(0).unwrap();
    let addr = full.local_addr().unwrap().as_socket().unwrap();
    let fillers = (0..4)
        .map(|_| {
            let filler = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
            filler.set_nonblocking(true).unwrap();
            let _ = filler.connect(&addr.into());
            filler
        })
        .collect();
    (full, fillers, addr)
}

#[cfg(target_os = "linux")]
#[test]
fn abor_stops_an_active_connect_that_hangs() {
    let server = TestServer::start();
    fs::write(server.root().join("file.bin"), b"x").unwrap();
    let (_full, _fillers, addr) = unanswered_address();
    let mut client = server.login();
    let port = addr.port();
    assert_eq!(client.command(&format!("EPRT |1|127.0.0.1|{port}|")).0, 200);
    client.send("RETR file.bin");
    // No reply while the server connects; ABOR must not wait for the
    // connect to time out.
    let asked = std::time::Instant::now();
    assert_eq!(client.command("ABOR").0, 426);
    assert_eq!(client.reply().0, 226);
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "ABOR took {:?}",
        asked.elapsed()
    );
    assert_eq!(client.command("NOOP").0, 200);
}

#[test]
fn a_stalled_data_connection_is_given_up_after_the_stall_timeout() {
    let server = TestServer::start_with(ServerConfig {
        data_stall_timeout: Duration::from_millis(500),
        ..ServerConfig::default()
    });
    // A download whose client stops reading...
    let mut client = server.login();
    let _data = running_retr(&server, &mut client);
    let (code, text) = client.reply();
    assert_eq!(code, 426, "{text}");
    assert_eq!(client.command("NOOP").0, 200);
    // ...and an upload whose client stops sending without closing.
    let mut data = data_connect(client.epsv());
    assert_eq!(client.command("STOR stalled.bin").0, 150);
    data.write_all(b"partial").unwrap();
    assert_eq!(client.reply().0, 426);
    assert_eq!(client.command("NOOP").0, 200);
}

#[test]
fn a_client_that_stops_reading_replies_is_disconnected() {
    let idle = Duration::from_millis(500);
    let server = TestServer::start_with(ServerConfig {
        idle_timeout: idle,
        ..ServerConfig::default()
    });
    let mut client = server.login();
    client
        .control
        .set_write_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    // NOOPs answered into a connection nobody reads, until both sides'
    // buffers are full and the server's reply writes block.
    let flood = b"NOOP\r\n".repeat(64 * 1024);
    while client.control.write(&flood).is_ok() {}
    // What is tested is the server's timeout, so time must pass.
    thread::sleep(idle * 3);
    // A server still blocked in its write would now go on answering every
    // NOOP, fall idle and say 421; one that gave up on the client just
    // closed the connection.
    let mut rest = Vec::new();
    if client.control.read_to_end(&mut rest).is_ok() {
        let last_line = rest[..rest.len().saturating_sub(2)]
            .rsplit(|&b| b == b'\n')
            .next()
            .unwrap_or_default();
        assert!(
            !last_line.starts_with(b"421"),
            "the server waited for the client to read"
        );
    }
    assert_eq!(server.login().command("NOOP").0, 200);
}
