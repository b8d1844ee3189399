//! Integrity and session hygiene (issue 10 §2) on the real binary: a RETR
//! of a file truncated mid-transfer is never 226, a transfer cut with its
//! control connection is logged once, CWD into a directory the server
//! cannot enter is 550, and connections that never log in (or stall in
//! the TLS handshake) are closed at the login timeout.

#[macro_use]
mod common;

use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;

use common::control::{Control, REPLY_TIMEOUT};
use common::ftps::Certificate;
use common::server::Server;

driver_matrix!(
    a_retrieve_of_a_file_truncated_meanwhile_is_426,
    a_transfer_cut_with_its_control_connection_is_logged_once,
    cwd_into_a_directory_the_server_cannot_enter_is_550,
    a_connection_that_never_logs_in_reads_421_at_the_login_timeout,
    a_stalled_tls_handshake_is_closed_at_the_login_timeout,
);

const BIG: usize = 64 << 20;

fn a_retrieve_of_a_file_truncated_meanwhile_is_426(driver: &'static str) {
    let server = Server::start(driver, &[]);
    let path = server.root().join("big.bin");
    std::fs::write(&path, vec![7u8; BIG]).unwrap();
    let mut control = Control::login(server.addr);
    control.binary();
    let port = control.epsv();
    let mut data = TcpStream::connect(("127.0.0.1", port)).unwrap();
    data.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
    control.send(b"RETR big.bin\r\n");
    assert_eq!(control.reply().code, 150);
    // The transfer is running: the first bytes are here. Cut the file now.
    let mut first = vec![0; 64 * 1024];
    data.read_exact(&mut first).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(2 << 20)
        .unwrap();
    let mut rest = Vec::new();
    let _ = data.read_to_end(&mut rest);
    let received = first.len() + rest.len();
    assert!(
        received < BIG,
        "all {BIG} bytes arrived: the truncation came too late"
    );
    let reply = control.reply();
    assert_eq!(
        reply.code, 426,
        "RETR of a truncated file ({received} bytes sent): {reply:?}"
    );
    server.wait_for_log("RETR /big.bin failed");
    assert!(
        !server.log().contains("RETR /big.bin: "),
        "{}",
        server.log()
    );
}

fn a_transfer_cut_with_its_control_connection_is_logged_once(driver: &'static str) {
    let server = Server::start(driver, &[]);
    std::fs::write(server.root().join("big.bin"), vec![7u8; BIG]).unwrap();
    for (command, needle) in [
        ("RETR big.bin", "RETR /big.bin"),
        ("STOR up.bin", "STOR /up.bin"),
    ] {
        let mut control = Control::login(server.addr);
        control.binary();
        let port = control.epsv();
        let mut data = TcpStream::connect(("127.0.0.1", port)).unwrap();
        control.send(format!("{command}\r\n").as_bytes());
        assert_eq!(control.reply().code, 150);
        if command.starts_with("RETR") {
            let mut first = vec![0; 64 * 1024];
            data.read_exact(&mut first).unwrap();
        } else {
            data.write_all(&[1u8; 64 * 1024]).unwrap();
        }
        // The client's control connection dies mid-transfer. The data
        // connection stays open until the line is out: closed cleanly, it
        // would end an upload that is then rightly complete (226).
        drop(control.into_socket());
        server.wait_for_log(&format!("{needle} failed"));
        drop(data);
        // Another full session afterwards: the first one's lines are all out.
        let mut later = Control::login(server.addr);
        assert_eq!(later.command("QUIT").code, 221);
        later.expect_closed();
        let log = server.log();
        let lines = log.lines().filter(|l| l.contains(needle)).count();
        assert_eq!(lines, 1, "log lines for {command}:\n{log}");
    }
}

/// Runs as root bypass mode 000, so the server runs as `nobody` here.
fn cwd_into_a_directory_the_server_cannot_enter_is_550(driver: &'static str) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    std::fs::create_dir(root.join("open")).unwrap();
    std::fs::create_dir(root.join("locked")).unwrap();
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(root.join("locked"), std::fs::Permissions::from_mode(0o000)).unwrap();
    let args: Vec<OsString> = [
        "--listen",
        "127.0.0.1:0",
        "--user",
        "alice:secret",
        "--root",
    ]
    .iter()
    .map(OsString::from)
    .chain([root.clone().into_os_string()])
    .collect();
    let is_root = nix_uid() == 0;
    let wrapper: &[&str] = if is_root {
        &[
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
        ]
    } else {
        &[]
    };
    let server = Server::launch_wrapped(wrapper, driver, &args, None, root.clone(), None);
    let mut control = Control::login(server.addr);
    assert_eq!(control.command("CWD open").code, 250);
    let reply = control.command("CWD /locked");
    assert_eq!(reply.code, 550, "CWD into mode 000: {reply:?}");
    let pwd = control.command("PWD");
    assert!(pwd.text.contains("\"/open\""), "{pwd:?}");
    assert_eq!(control.command("CDUP").code, 250);
    std::fs::set_permissions(root.join("locked"), std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn nix_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").unwrap().uid()
}

fn a_connection_that_never_logs_in_reads_421_at_the_login_timeout(driver: &'static str) {
    let server = Server::start(driver, &["--login-timeout", "1"]);
    let mut control = Control::connect(server.addr);
    assert_eq!(control.command("USER alice").code, 331);
    let reply = control.reply();
    assert_eq!(reply.code, 421, "login timeout: {reply:?}");
    assert!(reply.text.contains("Login timeout"), "{reply:?}");
    control.expect_closed();
    // A login in time is not affected.
    let mut control = Control::login(server.addr);
    assert_eq!(control.command("NOOP").code, 200);
}

fn a_stalled_tls_handshake_is_closed_at_the_login_timeout(driver: &'static str) {
    let certificate = Certificate::generate();
    let mut args = certificate.args();
    args.extend(
        [
            "--implicit-tls-listen",
            "127.0.0.1:0",
            "--login-timeout",
            "1",
        ]
        .map(String::from),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start(driver, &args);
    // Implicit FTPS: connect and send nothing.
    let mut silent = TcpStream::connect(server.implicit_addr.unwrap()).unwrap();
    silent.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
    let mut rest = Vec::new();
    match silent.read_to_end(&mut rest) {
        Ok(_) => {}
        Err(e) if common::control::is_timeout(&e) => {
            panic!("a silent implicit-TLS connection was not closed within {REPLY_TIMEOUT:?}")
        }
        Err(_) => {} // reset: closed
    }
    // Explicit: AUTH TLS, then silence.
    let mut control = Control::connect(server.addr);
    assert_eq!(control.command("AUTH TLS").code, 234);
    let mut socket = control.into_socket();
    socket.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
    let mut rest = Vec::new();
    match socket.read_to_end(&mut rest) {
        Ok(_) => {}
        Err(e) if common::control::is_timeout(&e) => {
            panic!("a silent AUTH TLS handshake was not closed within {REPLY_TIMEOUT:?}")
        }
        Err(_) => {}
    }
}
