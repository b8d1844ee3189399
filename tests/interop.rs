//! What other clients and other projects' test suites expect, on every
//! driver: a passive listener outlives a transfer refused before its data
//! connection (suppaftp's tests connect after sending the command),
//! `PROT C` needs no `PBSZ` (Python's ftplib `prot_c()`), and
//! `--implicit-tls-prot-p` protects implicit sessions' data without `PROT P`
//! (suppaftp's implicit mode), and a protected passive data connection
//! whose client finishes its TLS handshake before the transfer command
//! (aioftp) is served, also across a 550 and under
//! `--require-tls-session-reuse`.

#[macro_use]
mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};

use common::clients::{CLIENT_TIMEOUT, ftplib_tls_unprotected, run_bounded};
use common::control::{Control, REPLY_TIMEOUT, read_data};
use common::ftps::{Certificate, TlsControl, read_protected, secure_data_with};
use common::payload::{assert_file_holds, assert_same_bytes, payload};
use common::server::{PASSWORD, Server, USER};

driver_matrix!(
    a_refused_retr_keeps_the_passive_listener_for_the_next_transfer,
    a_connection_made_before_a_refused_list_serves_the_next_transfer,
    ftplib_prot_c_without_pbsz,
    implicit_tls_prot_p_protects_data_without_pbsz_or_prot,
    implicit_sessions_without_the_setting_send_clear_data,
    tls_before_the_command_on_retr_stor_and_list,
    tls_before_a_refused_retr_serves_the_next_transfer,
    tls_before_the_command_under_session_reuse,
    a_handshake_in_flight_when_the_command_comes_is_finished,
    aioftp_transfers_over_implicit_ftps,
);

/// Real aioftp (implicit FTPS, no PROT P sent: the server's
/// `--implicit-tls-prot-p`), which secures each data connection before it
/// sends the transfer command: RETR, STOR and a listing.
fn aioftp_transfers_over_implicit_ftps(driver: &'static str) {
    let certificate = Certificate::generate();
    let server = implicit_server(driver, &certificate, &["--implicit-tls-prot-p"]);
    let addr = server.implicit_addr.expect("the implicit-FTPS listener");
    let client = tempfile::tempdir().unwrap();
    let downloaded = client.path().join("down.bin");
    let local = client.path().join("up.bin");
    std::fs::write(&local, payload()).unwrap();
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/aioftp_session.py");
    let run = run_bounded(
        std::process::Command::new("python3")
            .arg(script)
            .arg(addr.ip().to_string())
            .arg(addr.port().to_string())
            .args([USER, PASSWORD])
            .arg(&certificate.cert)
            .arg("down.bin")
            .arg(&downloaded)
            .arg(&local),
        CLIENT_TIMEOUT,
    )
    .success();
    assert_eq!(
        run.stdout.lines().collect::<Vec<_>>(),
        ["downloaded", "uploaded", "listed down.bin up.bin"],
        "{run}"
    );
    assert_file_holds(&downloaded, payload(), "aioftp download");
    assert_file_holds(&server.root().join("up.bin"), payload(), "aioftp upload");
}

/// An explicit-FTPS server with `extra` flags, the payload in `down.bin`,
/// and a session logged in under PBSZ 0 / PROT P.
fn protected_session(
    driver: &'static str,
    certificate: &Certificate,
    extra: &[&str],
) -> (Server, TlsControl) {
    let mut args = certificate.args();
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start(driver, &args);
    std::fs::write(server.root().join("down.bin"), payload()).unwrap();
    let mut control = TlsControl::explicit(server.addr, certificate);
    control.login();
    control.protect_data();
    (server, control)
}

/// EPSV, connect, and the whole TLS handshake on the data connection before
/// any transfer command (aioftp's order); the server must take the
/// connection and answer the handshake while it waits for the command.
fn secured_before_the_command(server: &Server, control: &mut TlsControl) -> common::ftps::DataTls {
    let port = control.epsv();
    let data = TcpStream::connect_timeout(&SocketAddr::new(server.addr.ip(), port), REPLY_TIMEOUT)
        .expect("connect to EPSV");
    control
        .secure_data(data)
        .unwrap_or_else(|e| panic!("TLS handshake on the data connection before the command: {e}"))
}

fn tls_before_the_command_on_retr_stor_and_list(driver: &'static str) {
    let certificate = Certificate::generate();
    let (server, mut control) = protected_session(driver, &certificate, &[]);

    let mut data = secured_before_the_command(&server, &mut control);
    let started = control.command("RETR down.bin");
    assert_eq!(started.code, 150, "RETR after the handshake: {started:?}");
    let bytes = read_protected(&mut data);
    assert_eq!(control.reply().code, 226);
    assert_same_bytes(&bytes, payload(), "RETR secured before the command");

    let mut data = secured_before_the_command(&server, &mut control);
    let started = control.command("STOR up.bin");
    assert_eq!(started.code, 150, "STOR after the handshake: {started:?}");
    data.write_all(payload())
        .and_then(|()| {
            data.conn.send_close_notify();
            data.flush()
        })
        .unwrap_or_else(|e| panic!("uploading over the early-secured connection: {e}"));
    let _ = data.sock.shutdown(Shutdown::Write);
    let mut rest = Vec::new();
    let _ = data.read_to_end(&mut rest);
    assert_eq!(control.reply().code, 226, "STOR completes");
    assert_same_bytes(
        &std::fs::read(server.root().join("up.bin")).unwrap(),
        payload(),
        "STOR secured before the command",
    );

    let mut data = secured_before_the_command(&server, &mut control);
    let started = control.command("NLST");
    assert_eq!(started.code, 150, "NLST after the handshake: {started:?}");
    let names = read_protected(&mut data);
    assert_eq!(control.reply().code, 226);
    let mut names: Vec<String> = String::from_utf8_lossy(&names)
        .split_terminator("\r\n")
        .map(str::to_owned)
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["down.bin", "up.bin"],
        "NLST secured before the command"
    );
}

/// The early-secured connection is not used up by a 550 before it: it
/// carries the next RETR.
/// The client's TLS handshake on the data connection is in flight (the
/// server's flight received, the client's Finished not yet sent) when RETR
/// comes: the server finishes it and serves the transfer. The smol driver
/// dropped it (425) when the command came mid-handshake.
fn a_handshake_in_flight_when_the_command_comes_is_finished(driver: &'static str) {
    let certificate = Certificate::generate();
    let (server, mut control) = protected_session(driver, &certificate, &[]);
    let port = control.epsv();
    let mut data =
        TcpStream::connect_timeout(&SocketAddr::new(server.addr.ip(), port), REPLY_TIMEOUT)
            .expect("connect to EPSV");
    data.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
    let mut tls = control.data_client();
    // The ClientHello out, then the server's flight in, until our
    // Finished is all that is left to send.
    while tls.wants_write() {
        tls.write_tls(&mut data).expect("send the ClientHello");
    }
    while !tls.wants_write() {
        tls.read_tls(&mut data)
            .expect("read the server's handshake flight");
        tls.process_new_packets()
            .expect("the server's handshake flight");
    }
    control.send("RETR down.bin");
    // Time for the command to arrive mid-handshake. A server that dropped
    // the handshake then refuses now; the Rust drivers say nothing until it
    // ends (the Node host sends its 150 at once: ftplib's order, tested in
    // its interop.test.mjs).
    if let Some(early) = control.reply_within(std::time::Duration::from_millis(500)) {
        panic!("a reply before the data connection's handshake ended: {early:?}");
    }
    while tls.wants_write() {
        tls.write_tls(&mut data).expect("send our Finished");
    }
    let started = control.reply();
    assert_eq!(
        started.code, 150,
        "RETR after the handshake ended: {started:?}"
    );
    let mut data = rustls::StreamOwned::new(tls, data);
    let bytes = read_protected(&mut data);
    assert_eq!(control.reply().code, 226);
    assert_same_bytes(
        &bytes,
        payload(),
        "RETR over a handshake finished after the command",
    );
}

fn tls_before_a_refused_retr_serves_the_next_transfer(driver: &'static str) {
    let certificate = Certificate::generate();
    let (server, mut control) = protected_session(driver, &certificate, &[]);
    let mut data = secured_before_the_command(&server, &mut control);
    let refused = control.command("RETR missing.bin");
    assert_eq!(refused.code, 550, "RETR of a missing file: {refused:?}");
    let started = control.command("RETR down.bin");
    assert_eq!(
        started.code, 150,
        "RETR on the kept connection: {started:?}"
    );
    let bytes = read_protected(&mut data);
    assert_eq!(control.reply().code, 226);
    assert_same_bytes(&bytes, payload(), "RETR after a 550, secured early");
}

/// `--require-tls-session-reuse` judges an early handshake too: one that
/// resumes the control connection's session gets the file, one with a
/// session of its own is refused.
fn tls_before_the_command_under_session_reuse(driver: &'static str) {
    let certificate = Certificate::generate();
    let (server, mut control) =
        protected_session(driver, &certificate, &["--require-tls-session-reuse"]);
    let mut data = secured_before_the_command(&server, &mut control);
    let started = control.command("RETR down.bin");
    assert_eq!(started.code, 150, "resumed early handshake: {started:?}");
    let bytes = read_protected(&mut data);
    assert_eq!(control.reply().code, 226);
    assert_same_bytes(&bytes, payload(), "RETR, resumed before the command");

    let port = control.epsv();
    let data = TcpStream::connect_timeout(&SocketAddr::new(server.addr.ip(), port), REPLY_TIMEOUT)
        .expect("connect to EPSV");
    // A fresh session cache: a full handshake, not a resumption.
    let _data = secure_data_with(&certificate.client_config(), data)
        .unwrap_or_else(|e| panic!("full TLS handshake before the command: {e}"));
    // The 150 goes out before the session judges the TLS session, as for
    // a handshake after it (and as vsftpd does): then 522.
    let started = control.command("RETR down.bin");
    assert_eq!(started.code, 150, "{started:?}");
    let refused = control.reply();
    assert_eq!(
        refused.code, 522,
        "a data connection that did not resume is refused: {refused:?}"
    );
}

/// PASV, RETR of a missing file (550), and only then the data connection:
/// the listener is still there and the next RETR gets the file over it.
fn a_refused_retr_keeps_the_passive_listener_for_the_next_transfer(driver: &'static str) {
    let server = Server::start(driver, &[]);
    std::fs::write(server.root().join("here.bin"), payload()).unwrap();
    let mut control = Control::login(server.addr);
    control.binary();
    let (addr, _) = control.pasv();
    let refused = control.command("RETR missing.bin");
    assert_eq!(refused.code, 550, "RETR of a missing file: {refused:?}");
    let mut data = TcpStream::connect_timeout(&addr, REPLY_TIMEOUT)
        .unwrap_or_else(|e| panic!("the passive listener {addr} was closed after the 550: {e}"));
    let started = control.command("RETR here.bin");
    assert_eq!(started.code, 150, "RETR on the kept listener: {started:?}");
    let bytes = read_data(&mut data);
    assert_eq!(control.reply().code, 226);
    assert_same_bytes(&bytes, payload(), "RETR over the kept passive listener");
    // Used up now: the next transfer needs a new PASV.
    assert_eq!(control.command("RETR here.bin").code, 425);
}

/// The client connects right after PASV (as most do), LIST of a missing
/// directory is refused: that unused connection carries the next LIST.
fn a_connection_made_before_a_refused_list_serves_the_next_transfer(driver: &'static str) {
    let server = Server::start(driver, &[]);
    std::fs::write(server.root().join("listed.txt"), b"x").unwrap();
    let mut control = Control::login(server.addr);
    let port = control.epsv();
    let mut data = TcpStream::connect_timeout(
        &std::net::SocketAddr::new(server.addr.ip(), port),
        REPLY_TIMEOUT,
    )
    .expect("connect to EPSV");
    let refused = control.command("LIST no-such-dir");
    assert_eq!(
        refused.code, 550,
        "LIST of a missing directory: {refused:?}"
    );
    let started = control.command("NLST");
    assert_eq!(
        started.code, 150,
        "NLST on the kept connection: {started:?}"
    );
    let names = read_data(&mut data);
    assert_eq!(control.reply().code, 226);
    assert_eq!(String::from_utf8_lossy(&names), "listed.txt\r\n");
}

/// ftplib's `FTP_TLS.prot_c()` alone (no `prot_p()`, so no PBSZ before it),
/// then a clear-text RETR.
fn ftplib_prot_c_without_pbsz(driver: &'static str) {
    let certificate = Certificate::generate();
    let args = certificate.args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start(driver, &args);
    std::fs::write(server.root().join("down.bin"), payload()).unwrap();
    let client = tempfile::tempdir().unwrap();
    let downloaded = client.path().join("down.bin");
    let downloaded = downloaded.to_str().expect("a UTF-8 temporary path");
    let results =
        ftplib_tls_unprotected(&server, &[&["prot_c"], &["retr", "down.bin", downloaded]]);
    assert_eq!(
        results[0].as_deref(),
        Ok("\"200 Data connections will be in clear text.\""),
        "{results:?}"
    );
    assert!(results[1].is_ok(), "RETR after prot_c(): {results:?}");
    assert_same_bytes(
        &std::fs::read(downloaded).unwrap(),
        payload(),
        "ftplib RETR after prot_c()",
    );
}

/// An implicit-FTPS server with `extra` flags, the payload in `down.bin`.
fn implicit_server(driver: &'static str, certificate: &Certificate, extra: &[&str]) -> Server {
    let mut args = certificate.args();
    args.extend(["--implicit-tls-listen".into(), "127.0.0.1:0".into()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start(driver, &args);
    std::fs::write(server.root().join("down.bin"), payload()).unwrap();
    server
}

/// Logged in over implicit FTPS (no PBSZ, no PROT): EPSV, connect, RETR
/// down.bin up to its 150; returns the data connection.
fn implicit_retr(server: &Server, certificate: &Certificate) -> (TlsControl, TcpStream) {
    let addr = server.implicit_addr.expect("the implicit-FTPS listener");
    let mut control = TlsControl::implicit(addr, certificate);
    control.login();
    let port = control.epsv();
    let data =
        TcpStream::connect_timeout(&std::net::SocketAddr::new(addr.ip(), port), REPLY_TIMEOUT)
            .expect("connect to EPSV");
    let started = control.command("RETR down.bin");
    assert_eq!(started.code, 150, "RETR: {started:?}");
    (control, data)
}

fn implicit_tls_prot_p_protects_data_without_pbsz_or_prot(driver: &'static str) {
    let certificate = Certificate::generate();
    let server = implicit_server(driver, &certificate, &["--implicit-tls-prot-p"]);
    let (mut control, data) = implicit_retr(&server, &certificate);
    let mut data = control
        .secure_data(data)
        .unwrap_or_else(|e| panic!("TLS on the data connection of an implicit session: {e}"));
    let bytes = read_protected(&mut data);
    assert_eq!(control.reply().code, 226);
    assert_same_bytes(
        &bytes,
        payload(),
        "RETR over TLS with --implicit-tls-prot-p",
    );
}

fn implicit_sessions_without_the_setting_send_clear_data(driver: &'static str) {
    let certificate = Certificate::generate();
    let server = implicit_server(driver, &certificate, &[]);
    let (mut control, mut data) = implicit_retr(&server, &certificate);
    let bytes = read_data(&mut data);
    assert_eq!(control.reply().code, 226);
    assert_same_bytes(&bytes, payload(), "clear-text RETR on an implicit session");
}
