//! `ftpwire serve` and the signals a service manager sends, on every driver:
//! SIGTERM (or Ctrl-C's SIGINT) shuts down gracefully: idle sessions read
//! `421`, a running transfer completes with `226` and then `421`, the
//! listener closes and the process exits 0; a second signal stops at once.

#[macro_use]
mod common;

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use common::control::{Control, REPLY_TIMEOUT};
use common::payload::assert_same_bytes;
use common::server::Server;

driver_matrix!(
    sigterm_lets_the_transfer_finish_and_says_421,
    sigint_twice_stops_at_once,
    a_transfer_cut_when_the_grace_period_ends_is_logged,
);

/// 32 MiB: large enough that the client has not read it when the signal comes.
const BIG: usize = 32 << 20;

fn signal(server: &Server, signal: i32) {
    let pid = libc::pid_t::try_from(server.pid()).expect("a pid fits pid_t");
    // SAFETY: kill(2) takes plain integers and touches no memory of ours;
    // `pid` is our own child, still running (we have not waited on it).
    let sent = unsafe { libc::kill(pid, signal) };
    assert_eq!(sent, 0, "kill({pid}, {signal})");
}

/// A logged-in session with a RETR of big.bin started (150 read) whose
/// data connection has not been read yet.
fn start_retr(server: &Server) -> (Control, TcpStream) {
    let mut control = Control::login(server.addr);
    control.binary();
    let port = control.epsv();
    let data = TcpStream::connect_timeout(
        &SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        REPLY_TIMEOUT,
    )
    .expect("connect to the EPSV port");
    let reply = control.command("RETR big.bin");
    assert_eq!(reply.code, 150, "RETR: {reply:?}");
    (control, data)
}

fn sigterm_lets_the_transfer_finish_and_says_421(driver: &'static str) {
    let mut server = Server::start(driver, &["--shutdown-grace", "60"]);
    let payload: Vec<u8> = (0..BIG).map(|i| (i * 31 + i / 4099) as u8).collect();
    std::fs::write(server.root().join("big.bin"), &payload).unwrap();
    let mut idle = Control::login(server.addr);
    let (mut busy, mut data) = start_retr(&server);

    signal(&server, libc::SIGTERM);
    let reply = idle.reply();
    assert_eq!(reply.code, 421, "the idle session is told: {reply:?}");
    idle.expect_closed();

    data.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
    let mut received = Vec::new();
    data.read_to_end(&mut received).expect("read the transfer");
    assert_same_bytes(&received, &payload, "RETR in flight at SIGTERM");
    assert_eq!(busy.reply().code, 226, "the transfer completes");
    assert_eq!(busy.reply().code, 421, "then the session ends");
    busy.expect_closed();

    let status = server.wait_for_exit(Duration::from_secs(30));
    assert!(
        status.success(),
        "exit status after a graceful shutdown: {status}"
    );
    assert!(
        TcpStream::connect_timeout(&server.addr, REPLY_TIMEOUT).is_err(),
        "still accepting after exit"
    );
    assert!(server.log().contains("shutting down"), "{}", server.log());
}

fn sigint_twice_stops_at_once(driver: &'static str) {
    let mut server = Server::start(driver, &["--shutdown-grace", "600"]);
    std::fs::write(server.root().join("big.bin"), vec![7u8; BIG]).unwrap();
    // A transfer the client never reads would hold the shutdown for the
    // whole grace period...
    let (_busy, _data) = start_retr(&server);
    signal(&server, libc::SIGINT);
    // ...until a second signal: wait for the first one's log line, so the
    // second is not taken for the first.
    let logged = std::time::Instant::now();
    while !server.log().contains("shutting down") {
        assert!(
            logged.elapsed() < REPLY_TIMEOUT,
            "no shutdown log line: {}",
            server.log()
        );
        std::thread::yield_now();
    }
    signal(&server, libc::SIGINT);
    let status = server.wait_for_exit(Duration::from_secs(30));
    assert_eq!(status.code(), Some(128 + libc::SIGINT), "status {status}");
    assert!(status.signal().is_none());
}

/// The grace period ends while a transfer still runs (its client reads
/// nothing): the server exits, and the cut transfer has its log line.
fn a_transfer_cut_when_the_grace_period_ends_is_logged(driver: &'static str) {
    let mut server = Server::start(driver, &["--shutdown-grace", "1"]);
    std::fs::write(server.root().join("big.bin"), vec![7u8; BIG]).unwrap();
    let (_busy, _data) = start_retr(&server);
    signal(&server, libc::SIGTERM);
    let status = server.wait_for_exit(Duration::from_secs(30));
    assert!(
        status.success(),
        "exit status after the grace period: {status}"
    );
    let log = server.log();
    let lines = log
        .lines()
        .filter(|l| l.contains("RETR /big.bin failed"))
        .count();
    assert_eq!(lines, 1, "the cut transfer's line: {log}");
}
