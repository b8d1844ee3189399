//! The passive-address policy seen from outside: with
//! `--passive-address 203.0.113.7` the 227 reply carries that address (the
//! tests read it and never connect to it), curl `--ftp-skip-pasv-ip` and
//! EPSV still transfer, and peers in `--local-network` get the real address.

#[macro_use]
mod common;

use std::net::{Ipv4Addr, TcpStream};

use common::clients::{CLIENT_TIMEOUT, curl, run_bounded};
use common::control::{Control, REPLY_TIMEOUT, read_data};
use common::payload::{assert_file_holds, assert_same_bytes, payload};
use common::server::Server;

driver_matrix!(
    pasv_reply_carries_the_external_address,
    curl_skipping_the_pasv_ip_still_transfers,
    curl_epsv_still_transfers,
    local_network_peers_get_the_local_address,
);

/// Masquerading is about addresses, not volume: 1 MiB is enough here.
const MASQUERADE_LEN: usize = 1 << 20;

const EXTERNAL: &str = "203.0.113.7";

fn masquerading(driver: &'static str) -> Server {
    let server = Server::start(driver, &["--passive-address", EXTERNAL]);
    std::fs::write(server.root().join("down.bin"), &payload()[..MASQUERADE_LEN]).unwrap();
    server
}

fn pasv_reply_carries_the_external_address(driver: &'static str) {
    let server = masquerading(driver);
    let mut control = Control::login(server.addr);
    control.binary();
    let reply = control.command("PASV");
    assert_eq!(reply.code, 227, "PASV: {reply:?}");
    assert!(
        reply.text.contains("203,0,113,7"),
        "227 does not advertise {EXTERNAL}: {:?}",
        reply.text
    );
    // The same session still gets a working EPSV (no address in it at all).
    let port = control.epsv();
    let mut data = TcpStream::connect_timeout(&(Ipv4Addr::LOCALHOST, port).into(), REPLY_TIMEOUT)
        .expect("connect to the EPSV port on loopback");
    let reply = control.command("RETR down.bin");
    assert!(matches!(reply.code, 125 | 150), "RETR: {reply:?}");
    let bytes = read_data(&mut data);
    let reply = control.reply();
    assert_eq!(reply.code, 226, "after RETR: {reply:?}");
    assert_same_bytes(&bytes, &payload()[..MASQUERADE_LEN], "RETR over EPSV");
}

/// curl with `--disable-epsv --ftp-skip-pasv-ip` receives the masqueraded
/// 227, ignores its address, connects to the control peer, and transfers.
fn curl_skipping_the_pasv_ip_still_transfers(driver: &'static str) {
    let server = masquerading(driver);
    let client = tempfile::tempdir().unwrap();
    let flags = ["--disable-epsv", "--ftp-skip-pasv-ip"];

    let downloaded = client.path().join("down.bin");
    let run = run_bounded(
        curl()
            .args(flags)
            .arg("-o")
            .arg(&downloaded)
            .arg(server.url("down.bin")),
        CLIENT_TIMEOUT,
    )
    .success();
    assert!(run.curl_sent("PASV"), "curl did not use PASV: {run}");
    assert!(
        run.stderr.contains("203,0,113,7"),
        "curl never saw the masqueraded 227: {run}"
    );
    assert_file_holds(
        &downloaded,
        &payload()[..MASQUERADE_LEN],
        "download over PASV",
    );

    let local = client.path().join("up.bin");
    std::fs::write(&local, &payload()[..MASQUERADE_LEN]).unwrap();
    run_bounded(
        curl()
            .args(flags)
            .arg("-T")
            .arg(&local)
            .arg(server.url("up.bin")),
        CLIENT_TIMEOUT,
    )
    .success();
    assert_file_holds(
        &server.root().join("up.bin"),
        &payload()[..MASQUERADE_LEN],
        "upload over PASV",
    );
}

/// curl's default EPSV carries no address, so masquerading cannot break it.
fn curl_epsv_still_transfers(driver: &'static str) {
    let server = masquerading(driver);
    let client = tempfile::tempdir().unwrap();
    let downloaded = client.path().join("down.bin");
    let run = run_bounded(
        curl()
            .arg("-o")
            .arg(&downloaded)
            .arg(server.url("down.bin")),
        CLIENT_TIMEOUT,
    )
    .success();
    assert!(
        run.curl_sent("EPSV") && !run.curl_sent("PASV"),
        "curl did not transfer over EPSV: {run}"
    );
    assert_file_holds(
        &downloaded,
        &payload()[..MASQUERADE_LEN],
        "download over EPSV",
    );

    let local = client.path().join("up.bin");
    std::fs::write(&local, &payload()[..MASQUERADE_LEN]).unwrap();
    let run = run_bounded(
        curl().arg("-T").arg(&local).arg(server.url("up.bin")),
        CLIENT_TIMEOUT,
    )
    .success();
    assert!(!run.curl_sent("PASV"), "curl fell back to PASV: {run}");
    assert_file_holds(
        &server.root().join("up.bin"),
        &payload()[..MASQUERADE_LEN],
        "upload over EPSV",
    );
}

/// A peer inside `--local-network 127.0.0.0/8` gets the control
/// connection's local address, and the data connection to it works.
fn local_network_peers_get_the_local_address(driver: &'static str) {
    let server = Server::start(
        driver,
        &[
            "--passive-address",
            EXTERNAL,
            "--local-network",
            "127.0.0.0/8",
        ],
    );
    std::fs::write(server.root().join("down.bin"), &payload()[..MASQUERADE_LEN]).unwrap();
    let mut control = Control::login(server.addr);
    control.binary();
    let (addr, reply) = control.pasv();
    assert!(
        reply.text.contains("127,0,0,1"),
        "227 to a local peer does not carry 127.0.0.1: {:?}",
        reply.text
    );
    assert!(!reply.text.contains("203,0,113,7"), "{:?}", reply.text);
    // Checked above to be 127.0.0.1: safe to connect to.
    assert_eq!(addr.ip(), Ipv4Addr::LOCALHOST);
    let mut data = TcpStream::connect_timeout(&addr, REPLY_TIMEOUT).expect("connect to PASV");
    let reply = control.command("RETR down.bin");
    assert!(matches!(reply.code, 125 | 150), "RETR: {reply:?}");
    let bytes = read_data(&mut data);
    let reply = control.reply();
    assert_eq!(reply.code, 226, "after RETR: {reply:?}");
    assert_same_bytes(&bytes, &payload()[..MASQUERADE_LEN], "RETR over PASV");
}
