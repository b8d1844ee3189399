//! Graceful shutdown with a transfer in flight: new connections are no
//! longer served, the running RETR completes with every byte and its `226`,
//! and `serve` returns once the session has ended.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use ftpwire_backend::{LocalFs, Password, ServerSettings, UserDb};

fn reply(control: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    control.read_line(&mut line).expect("read a reply");
    line
}

fn command(control: &mut BufReader<TcpStream>, line: &str) -> String {
    control
        .get_mut()
        .write_all(format!("{line}\r\n").as_bytes())
        .unwrap();
    reply(control)
}

#[test]
fn a_running_transfer_finishes_and_serve_returns() {
    let root = tempfile::tempdir().unwrap();
    let payload: Vec<u8> = (0..32 * 1024 * 1024u32)
        .map(|i| (i * 7 + i / 251) as u8)
        .collect();
    std::fs::write(root.path().join("big.bin"), &payload).unwrap();
    let mut users = UserDb::new();
    users.add(b"alice", Password::Plain(b"secret".to_vec()), false);
    let server = ftpwire_smol::Server::new(ServerSettings::new(
        Arc::new(LocalFs::new(root.path()).unwrap()),
        Arc::new(users),
    ));
    let shutdown = server.shutdown_handle();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = std::thread::spawn(move || {
        let listener = smol::net::TcpListener::try_from(listener).unwrap();
        smol::block_on(server.serve(listener))
    });

    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut control = BufReader::new(stream);
    assert!(reply(&mut control).starts_with("220 "));
    assert!(command(&mut control, "USER alice").starts_with("331 "));
    assert!(command(&mut control, "PASS secret").starts_with("230 "));
    assert!(command(&mut control, "TYPE I").starts_with("200 "));
    let epsv = command(&mut control, "EPSV");
    let port: u16 = epsv
        .split("|||")
        .nth(1)
        .and_then(|rest| rest.split('|').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("EPSV: {epsv}"));
    let mut data = TcpStream::connect((addr.ip(), port)).unwrap();
    let started = command(&mut control, "RETR big.bin");
    assert!(started.starts_with("150 "), "RETR: {started}");

    // Mid-transfer (the client has read nothing yet): shut down.
    shutdown.shutdown(Duration::from_secs(60));
    let mut received = Vec::new();
    data.read_to_end(&mut received).unwrap();
    assert!(received == payload, "the transfer in flight was cut short");
    let done = reply(&mut control);
    assert!(done.starts_with("226 "), "end of RETR: {done}");
    // Then the session ends with 421, and so does serve().
    let mut rest = Vec::new();
    control.read_to_end(&mut rest).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&rest),
        "421 Server shutting down; closing the connection.\r\n",
        "after shutdown"
    );
    serving.join().unwrap().unwrap();
    // The listener is gone with it.
    assert!(
        TcpStream::connect(addr).is_err(),
        "still accepting after shutdown"
    );
}
