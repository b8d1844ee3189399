//! A client that stops reading its download without closing anything is
//! given up after the data stall timeout: `426`, and the session is free again.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use ftpwire_backend::{LocalFs, Password, ServerSettings, UserDb};
use ftpwire_core::ServerConfig;

fn command(control: &mut BufReader<TcpStream>, line: &str) -> String {
    control
        .get_mut()
        .write_all(format!("{line}\r\n").as_bytes())
        .unwrap();
    let mut reply = String::new();
    control.read_line(&mut reply).unwrap();
    reply
}

#[test]
fn a_stalled_download_is_given_up_with_426() {
    let root = tempfile::tempdir().unwrap();
    std::fs::File::create(root.path().join("huge.bin"))
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let mut users = UserDb::new();
    users.add(b"alice", Password::Plain(b"secret".to_vec()), false);
    let server = ftpwire_smol::Server::new(
        ServerSettings::new(
            Arc::new(LocalFs::new(root.path()).unwrap()),
            Arc::new(users),
        )
        .session_config(ServerConfig {
            idle_timeout: Duration::from_secs(1),
            data_stall_timeout: Duration::from_secs(1),
            ..ServerConfig::default()
        }),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let listener = smol::net::TcpListener::try_from(listener).unwrap();
        smol::block_on(server.serve(listener))
    });
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut control = BufReader::new(stream);
    let mut greeting = String::new();
    control.read_line(&mut greeting).unwrap();
    assert!(command(&mut control, "USER alice").starts_with("331 "));
    assert!(command(&mut control, "PASS secret").starts_with("230 "));
    let epsv = command(&mut control, "EPSV");
    let port: u16 = epsv
        .split("|||")
        .nth(1)
        .and_then(|rest| rest.split('|').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("EPSV: {epsv}"));
    // Connected, never read from: the server's writes stall.
    let _data = TcpStream::connect((addr.ip(), port)).unwrap();
    assert!(command(&mut control, "RETR huge.bin").starts_with("150 "));
    let mut end = String::new();
    control.read_line(&mut end).unwrap();
    assert!(end.starts_with("426 "), "a stalled transfer: {end:?}");
}
