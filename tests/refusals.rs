//! What the server must refuse, and survive: paths and symlinks out of the
//! root, PORT/EPRT bounces, a 100 KB line, NUL and Telnet IAC garbage,
//! password guessing, and a data connection from a foreign address. After
//! each, a new client must still log in and LIST.

#[macro_use]
mod common;

use std::io::{ErrorKind, Read};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::clients::assert_serves_new_client;
use common::control::{Control, REPLY_TIMEOUT, connect_from, is_timeout, read_data};
use common::payload::{assert_same_bytes, payload};
use common::server::{Server, USER};

driver_matrix!(
    retr_cannot_climb_out_of_the_root,
    symlinks_out_of_the_root_are_refused,
    port_and_eprt_bounces_are_refused,
    a_100_kb_line_is_refused_and_the_session_survives,
    nul_bytes_and_iac_garbage_are_survived,
    three_wrong_passwords_end_the_session,
    a_data_connection_from_another_address_is_closed,
);

/// 127.0.0.2: on the loopback network, but not the control connection's peer.
const OTHER_HOST: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// The first bytes of the machine's /etc/passwd: what must never leak.
fn etc_passwd() -> Vec<u8> {
    let passwd = std::fs::read("/etc/passwd").expect("this test needs a readable /etc/passwd");
    assert!(!passwd.is_empty(), "/etc/passwd is empty");
    passwd
}

/// `PASV`, connect, send `command`: the reply must be a 5xx refusal. If the
/// server starts a transfer instead, the test fails naming what it sent.
fn expect_refused_transfer(control: &mut Control, command: &str) {
    let (addr, _) = control.pasv();
    assert!(
        addr.ip().is_loopback(),
        "PASV gave a non-loopback address {addr}"
    );
    let mut data = TcpStream::connect_timeout(&addr, REPLY_TIMEOUT).expect("connect to PASV");
    let reply = control.command(command);
    if matches!(reply.code, 125 | 150) {
        let bytes = read_data(&mut data);
        let passwd = etc_passwd();
        let leaked = bytes
            .windows(passwd.len().min(32))
            .any(|w| passwd.starts_with(w));
        panic!(
            "`{command}` started a transfer ({reply:?}) of {} bytes{}",
            bytes.len(),
            if leaked {
                ", containing /etc/passwd"
            } else {
                ""
            }
        );
    }
    assert!(
        reply.is_permanent_error(),
        "`{command}`: expected a 5xx refusal, got {reply:?}"
    );
}

fn retr_cannot_climb_out_of_the_root(driver: &'static str) {
    let mut server = Server::start(driver, &[]);
    std::fs::write(server.root().join("inside.txt"), b"inside").unwrap();
    let mut control = Control::login(server.addr);
    control.binary();
    for path in [
        "../../etc/passwd",
        "/../../etc/passwd",
        "../../../../../../../../etc/passwd",
        "/etc/passwd",
        "..//..//etc//passwd",
    ] {
        expect_refused_transfer(&mut control, &format!("RETR {path}"));
        let reply = control.command(&format!("SIZE {path}"));
        assert!(reply.is_permanent_error(), "SIZE {path}: {reply:?}");
    }
    // CWD .. at the root stays at the root (or is refused); never above it.
    let reply = control.command("CWD ../..");
    assert!(matches!(reply.code, 250 | 550), "CWD ../..: {reply:?}");
    let reply = control.command("PWD");
    assert!(
        reply.text.starts_with("257 \"/\""),
        "PWD after CWD ../..: {reply:?}"
    );
    expect_refused_transfer(&mut control, "RETR etc/passwd");
    assert_serves_new_client(&mut server);
}

fn symlinks_out_of_the_root_are_refused(driver: &'static str) {
    let mut server = Server::start(driver, &[]);
    let root = server.root().to_owned();
    std::os::unix::fs::symlink("/etc", root.join("etc_link")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", root.join("passwd_link")).unwrap();
    let mut control = Control::login(server.addr);
    control.binary();

    expect_refused_transfer(&mut control, "RETR etc_link/passwd");
    expect_refused_transfer(&mut control, "RETR passwd_link");
    for command in [
        "CWD etc_link",
        "SIZE passwd_link",
        "MDTM etc_link/passwd",
        "MKD etc_link/x",
    ] {
        let reply = control.command(command);
        assert!(reply.is_permanent_error(), "`{command}`: {reply:?}");
    }
    assert!(
        !std::path::Path::new("/etc/x").exists(),
        "MKD through the symlink created /etc/x"
    );

    // LIST through the link must not show /etc.
    let (addr, _) = control.pasv();
    let mut data = TcpStream::connect_timeout(&addr, REPLY_TIMEOUT).expect("connect to PASV");
    let reply = control.command("LIST etc_link");
    if matches!(reply.code, 125 | 150) {
        let listing = String::from_utf8_lossy(&read_data(&mut data)).into_owned();
        assert!(
            !listing.contains("passwd"),
            "LIST etc_link shows /etc: {listing}"
        );
        let reply = control.reply();
        assert_eq!(reply.code, 226, "after LIST: {reply:?}");
    } else {
        assert!(reply.is_permanent_error(), "LIST etc_link: {reply:?}");
    }

    // STOR through the link must not write into /etc.
    let name = format!("ftpwire-test-{}", fastrand::u64(..));
    let outside = std::path::Path::new("/etc").join(&name);
    let (addr, _) = control.pasv();
    let data = TcpStream::connect_timeout(&addr, REPLY_TIMEOUT).expect("connect to PASV");
    let reply = control.command(&format!("STOR etc_link/{name}"));
    drop(data);
    let written = outside.exists();
    if written {
        let _ = std::fs::remove_file(&outside);
    }
    assert!(
        !written,
        "STOR through the symlink created {}",
        outside.display()
    );
    if matches!(reply.code, 125 | 150) {
        panic!("STOR etc_link/{name} was accepted: {reply:?}");
    }
    assert!(
        reply.is_permanent_error(),
        "STOR etc_link/{name}: {reply:?}"
    );
    assert_serves_new_client(&mut server);
}

/// After a refused PORT/EPRT no data connection is set up: a LIST must not
/// start, and nothing may connect to the named address.
fn expect_bounce_refused(control: &mut Control, command: &str, decoy: Option<&TcpListener>) {
    let reply = control.command(command);
    assert!(
        reply.is_permanent_error(),
        "`{command}`: expected a 5xx refusal, got {reply:?}"
    );
    let reply = control.command("LIST");
    assert!(
        !matches!(reply.code, 125 | 150) && reply.code >= 400,
        "LIST after a refused `{command}`: {reply:?}"
    );
    if let Some(decoy) = decoy {
        match decoy.accept() {
            Ok((_, from)) => panic!("after `{command}` the server connected from {from}"),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => panic!("decoy listener: {e}"),
        }
    }
}

fn port_and_eprt_bounces_are_refused(driver: &'static str) {
    let mut server = Server::start(driver, &[]);
    let mut control = Control::login(server.addr);
    let decoy = TcpListener::bind((OTHER_HOST, 0)).expect("listen on 127.0.0.2");
    decoy.set_nonblocking(true).unwrap();
    let port = decoy.local_addr().unwrap().port();
    let (p1, p2) = (port >> 8, port & 0xff);

    expect_bounce_refused(
        &mut control,
        &format!("PORT 127,0,0,2,{p1},{p2}"),
        Some(&decoy),
    );
    expect_bounce_refused(
        &mut control,
        &format!("EPRT |1|127.0.0.2|{port}|"),
        Some(&decoy),
    );
    expect_bounce_refused(&mut control, "PORT 127,0,0,1,0,80", None);
    expect_bounce_refused(&mut control, "EPRT |1|127.0.0.1|80|", None);

    // The refusals are about the target, not PORT itself: the peer's own
    // address on a high port works in the same session.
    let own = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = own.local_addr().unwrap().port();
    let reply = control.command(&format!("PORT 127,0,0,1,{},{}", port >> 8, port & 0xff));
    assert_eq!(reply.code, 200, "PORT to the peer itself: {reply:?}");
    control.send(b"LIST\r\n");
    let (mut data, _) = own.accept().expect("the server connects for LIST");
    let reply = control.reply();
    assert!(matches!(reply.code, 125 | 150), "LIST: {reply:?}");
    read_data(&mut data);
    let reply = control.reply();
    assert_eq!(reply.code, 226, "after LIST: {reply:?}");
    assert_serves_new_client(&mut server);
}

fn a_100_kb_line_is_refused_and_the_session_survives(driver: &'static str) {
    let mut server = Server::start(driver, &[]);
    let line = vec![b'A'; 100 * 1024];

    // A client that sends the line and leaves.
    let mut control = Control::login(server.addr);
    control.send(&line);
    drop(control);
    assert_serves_new_client(&mut server);

    // A client that ends the line and carries on.
    let mut control = Control::login(server.addr);
    control.send(&line);
    control.send(b"\r\n");
    let reply = control.reply();
    assert_eq!(reply.code, 500, "the 100 KB line: {reply:?}");
    let reply = control.command("NOOP");
    assert_eq!(
        reply.code, 200,
        "NOOP after the long line (exactly one 500 for it): {reply:?}"
    );
    let reply = control.command("PWD");
    assert_eq!(reply.code, 257, "PWD after the long line: {reply:?}");
    assert_serves_new_client(&mut server);
}

fn nul_bytes_and_iac_garbage_are_survived(driver: &'static str) {
    let mut server = Server::start(driver, &[]);
    let mut control = Control::login(server.addr);

    let reply = control.command("NO\0OP");
    assert!(
        reply.is_permanent_error(),
        "a verb with a NUL byte: {reply:?}"
    );
    let reply = control.command("CWD a\0b");
    assert!(
        reply.is_permanent_error(),
        "a path with a NUL byte: {reply:?}"
    );
    // Telnet IP and DM (RFC 959's way to interrupt) are dropped.
    control.send(b"\xff\xf4\xff\xf2NOOP\r\n");
    let reply = control.reply();
    assert_eq!(reply.code, 200, "IAC IP, IAC DM, NOOP: {reply:?}");

    // Seeded garbage rich in IAC, NUL, CR and LF; each line it forms gets
    // one well-formed reply, and a NOOP after it is answered 200.
    let mut rng = fastrand::Rng::with_seed(0xF7F7_0000_0000_0001);
    let mut garbage: Vec<u8> = (0..8192)
        .map(|_| match rng.u8(..8) {
            0 => 0xff,
            1 => 0,
            2 => b'\r',
            3 => b'\n',
            _ => rng.u8(..),
        })
        .collect();
    garbage.extend_from_slice(b"\r\n\r\n");
    let lines = garbage.iter().filter(|&&b| b == b'\n').count();
    control.send(&garbage);
    control.send(b"NOOP\r\n");
    let mut replies = Vec::new();
    loop {
        let reply = control.reply();
        if reply.code == 200 {
            break;
        }
        assert!(
            reply.code >= 400,
            "garbage line got a positive reply {reply:?} after {replies:?}"
        );
        replies.push(reply.code);
        assert!(
            replies.len() <= lines,
            "more replies than garbage lines ({lines}) and still no NOOP answer: {replies:?}"
        );
    }
    let reply = control.command("PWD");
    assert_eq!(reply.code, 257, "PWD after the garbage: {reply:?}");

    // A client that ends on a lone IAC and leaves.
    control.send(b"NOOP\xff");
    drop(control);
    assert_serves_new_client(&mut server);
}

fn three_wrong_passwords_end_the_session(driver: &'static str) {
    let mut server = Server::start(driver, &[]);
    let mut control = Control::connect(server.addr);

    // An unknown user is not revealed: 331 like a real one.
    let reply = control.command("USER nosuchuser");
    assert_eq!(reply.code, 331, "USER of an unknown user: {reply:?}");
    let started = Instant::now();
    let reply = control.command("PASS whatever");
    assert_eq!(reply.code, 530, "first failed login: {reply:?}");
    let delay = started.elapsed();
    assert!(
        delay >= Duration::from_millis(900),
        "a failed PASS was answered after {delay:?}; it must be delayed about 1 s"
    );

    let reply = control.command(&format!("USER {USER}"));
    assert_eq!(reply.code, 331, "USER {USER}: {reply:?}");
    let reply = control.command("PASS wrong");
    assert_eq!(reply.code, 530, "second failed login: {reply:?}");

    let reply = control.command(&format!("USER {USER}"));
    assert_eq!(reply.code, 331, "USER {USER}: {reply:?}");
    let mut reply = control.command("PASS wrong-again");
    if reply.code == 530 {
        reply = control.reply();
    }
    assert_eq!(reply.code, 421, "third failed login: {reply:?}");
    control.expect_closed();

    // The right password on a new connection still works.
    let mut control = Control::login(server.addr);
    let reply = control.command("NOOP");
    assert_eq!(reply.code, 200);
    assert_serves_new_client(&mut server);
}

fn a_data_connection_from_another_address_is_closed(driver: &'static str) {
    let mut server = Server::start(driver, &[]);
    let file = &payload()[..1 << 20];
    std::fs::write(server.root().join("data.bin"), file).unwrap();
    let mut control = Control::login(server.addr);
    control.binary();

    // The intruder connects first; the real client right after it.
    let (addr, _) = control.pasv();
    assert_eq!(addr.ip(), IpAddr::V4(Ipv4Addr::LOCALHOST), "PASV address");
    let mut intruder = connect_from(OTHER_HOST, addr).expect("connect from 127.0.0.2");
    let mut data = connect_from(control.local_addr().ip(), addr).expect("connect to PASV");
    let reply = control.command("RETR data.bin");
    assert!(matches!(reply.code, 125 | 150), "RETR: {reply:?}");
    assert_same_bytes(&read_data(&mut data), file, "RETR to the real client");
    let reply = control.reply();
    assert_eq!(reply.code, 226, "after RETR: {reply:?}");
    expect_closed_without_data(&mut intruder, addr);

    // The server is already waiting (RETR sent) when the intruder connects.
    let (addr, _) = control.pasv();
    control.send(b"RETR data.bin\r\n");
    let mut intruder = connect_from(OTHER_HOST, addr).expect("connect from 127.0.0.2");
    expect_closed_without_data(&mut intruder, addr);
    let mut data = connect_from(control.local_addr().ip(), addr).expect("connect to PASV");
    let reply = control.reply();
    assert!(matches!(reply.code, 125 | 150), "RETR: {reply:?}");
    assert_same_bytes(&read_data(&mut data), file, "RETR after an intruder");
    let reply = control.reply();
    assert_eq!(reply.code, 226, "after RETR: {reply:?}");
    assert_serves_new_client(&mut server);
}

/// The server must close a foreign data connection without sending it a byte.
fn expect_closed_without_data(intruder: &mut TcpStream, addr: SocketAddr) {
    let mut buf = [0u8; 4096];
    match intruder.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("the connection from 127.0.0.2 to {addr} received {n} bytes"),
        Err(e) if is_timeout(&e) => {
            panic!(
                "the connection from 127.0.0.2 to {addr} was not closed within {REPLY_TIMEOUT:?}"
            )
        }
        Err(_) => {} // reset: closed
    }
}
