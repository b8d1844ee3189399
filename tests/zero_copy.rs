//! The zero-copy path (Linux): a TYPE I RETR or STOR of a local file over a
//! plain data connection is moved by the kernel (sendfile, splice), counted
//! in `ftpwire_zero_copy_transfers_total{command}` and scraped from
//! `--metrics-listen`; REST offsets hold in both directions; TYPE A, PROT P
//! and APPE copy (the counter stays at zero) with the right bytes; ABOR
//! stops a sendfile RETR; a stalled one (either way) ends at the stall
//! timeout; `FTPWIRE_NO_ZERO_COPY=1` makes every transfer
//! copy. Every transfer is byte-checked.
#![cfg(target_os = "linux")]

#[macro_use]
mod common;

use std::io::Write;
use std::net::TcpStream;

use common::clients::{CLIENT_TIMEOUT, curl, run_bounded};
use common::control::{Control, read_data};
use common::ftps::Certificate;
use common::payload::{assert_file_holds, assert_same_bytes, payload};
use common::server::{Server, USER};

driver_matrix!(
    plain_binary_transfers_are_moved_by_the_kernel,
    rest_offsets_hold_through_sendfile_and_splice,
    type_a_prot_p_and_appe_copy_their_bytes,
    abor_stops_a_sendfile_download,
    stalled_kernel_transfers_time_out,
    no_zero_copy_makes_every_transfer_copy,
);

const METRICS: [&str; 2] = ["--metrics-listen", "127.0.0.1:0"];

/// The zero-copy counts (RETR, STOR) and the `ok` transfer count.
fn counts(server: &Server) -> (f64, f64, f64) {
    let metrics = server.metrics();
    let get = |name: &str| metrics.get(name).copied().unwrap_or(0.0);
    let ok: f64 = metrics
        .iter()
        .filter(|(name, _)| {
            name.starts_with("ftpwire_transfers_total{") && name.contains("outcome=\"ok\"")
        })
        .map(|(_, value)| value)
        .sum();
    (
        get("ftpwire_zero_copy_transfers_total{command=\"RETR\"}"),
        get("ftpwire_zero_copy_transfers_total{command=\"STOR\"}"),
        ok,
    )
}

/// curl uploads the payload to `up.bin` and downloads `down.bin` (the
/// payload too), with `flags`; both copies are checked.
fn curl_round_trip(server: &Server, flags: &[&str]) {
    let client = tempfile::tempdir().unwrap();
    let local = client.path().join("payload.bin");
    std::fs::write(&local, payload()).unwrap();
    std::fs::write(server.root().join("down.bin"), payload()).unwrap();
    run_bounded(
        curl()
            .args(flags)
            .arg("-T")
            .arg(&local)
            .arg(server.url("up.bin")),
        CLIENT_TIMEOUT,
    )
    .success();
    assert_file_holds(&server.root().join("up.bin"), payload(), "uploaded file");
    let downloaded = client.path().join("down.bin");
    run_bounded(
        curl()
            .args(flags)
            .arg("-o")
            .arg(&downloaded)
            .arg(server.url("down.bin")),
        CLIENT_TIMEOUT,
    )
    .success();
    assert_file_holds(&downloaded, payload(), "downloaded file");
}

fn plain_binary_transfers_are_moved_by_the_kernel(driver: &'static str) {
    let server = Server::start(driver, &METRICS);
    curl_round_trip(&server, &[]);
    assert_eq!(
        counts(&server),
        (1.0, 1.0, 2.0),
        "RETR, STOR by the kernel; ok"
    );
}

fn rest_offsets_hold_through_sendfile_and_splice(driver: &'static str) {
    let server = Server::start(driver, &METRICS);
    let have = 7_340_033; // not a multiple of any buffer or page size
    // RETR after REST, by curl resuming a partial download.
    std::fs::write(server.root().join("big.bin"), payload()).unwrap();
    let client = tempfile::tempdir().unwrap();
    let partial = client.path().join("big.bin");
    std::fs::write(&partial, &payload()[..have]).unwrap();
    let run = run_bounded(
        curl()
            .args(["-C", "-", "-o"])
            .arg(&partial)
            .arg(server.url("big.bin")),
        CLIENT_TIMEOUT,
    )
    .success();
    assert!(
        run.curl_commands_sent()
            .contains(&format!("REST {have}").as_str()),
        "curl did not resume with REST {have}: {run}"
    );
    assert_file_holds(&partial, payload(), "resumed download");

    // STOR after REST (curl resumes uploads with APPE): the first `have`
    // bytes stay, the tail is replaced, what followed is dropped.
    let target = server.root().join("up.bin");
    let mut stale = payload()[..have].to_vec();
    stale.extend(std::iter::repeat_n(b'x', payload().len() + 4096));
    std::fs::write(&target, &stale).unwrap();
    let mut control = Control::login(server.addr);
    control.binary();
    let port = control.epsv();
    let mut data = TcpStream::connect((server.addr.ip(), port)).expect("data connection");
    assert_eq!(control.command(&format!("REST {have}")).code, 350);
    control.send(b"STOR up.bin\r\n");
    assert_eq!(control.reply().code, 150);
    data.write_all(&payload()[have..]).unwrap();
    drop(data);
    let done = control.reply();
    assert_eq!(done.code, 226, "STOR after REST: {done:?}");
    assert_file_holds(&target, payload(), "upload resumed with REST");

    assert_eq!(
        counts(&server),
        (1.0, 1.0, 2.0),
        "RETR, STOR by the kernel; ok"
    );
}

fn type_a_prot_p_and_appe_copy_their_bytes(driver: &'static str) {
    let certificate = Certificate::generate();
    let mut args = certificate.args();
    args.extend(METRICS.map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start(driver, &args);

    // TYPE A: LF stored, CRLF on the wire, both ways (curl would convert
    // back, so the raw control connection shows the wire).
    let stored = "a line\nand another one\n".repeat(50_000);
    let wire = stored.replace('\n', "\r\n");
    std::fs::write(server.root().join("text.txt"), &stored).unwrap();
    let mut control = Control::login(server.addr);
    assert_eq!(control.command("TYPE A").code, 200);
    let port = control.epsv();
    let mut data = TcpStream::connect((server.addr.ip(), port)).expect("data connection");
    control.send(b"RETR text.txt\r\n");
    assert_eq!(control.reply().code, 150);
    assert_same_bytes(&read_data(&mut data), wire.as_bytes(), "TYPE A download");
    assert_eq!(control.reply().code, 226);
    let port = control.epsv();
    let mut data = TcpStream::connect((server.addr.ip(), port)).expect("data connection");
    control.send(b"STOR from-crlf.txt\r\n");
    assert_eq!(control.reply().code, 150);
    data.write_all(wire.as_bytes()).unwrap();
    drop(data);
    assert_eq!(control.reply().code, 226);
    assert_file_holds(
        &server.root().join("from-crlf.txt"),
        stored.as_bytes(),
        "TYPE A upload",
    );
    let client = tempfile::tempdir().unwrap();

    // PROT P: TLS on the data connection, TYPE I.
    curl_round_trip(&server, &["--ssl-reqd", "-k"]);

    // APPE: splice cannot write a file opened for appending.
    let head = &payload()[..1000];
    std::fs::write(server.root().join("appended.bin"), head).unwrap();
    let tail = client.path().join("tail.bin");
    std::fs::write(&tail, &payload()[1000..]).unwrap();
    run_bounded(
        curl()
            .arg("--append")
            .arg("-T")
            .arg(&tail)
            .arg(server.url("appended.bin")),
        CLIENT_TIMEOUT,
    )
    .success();
    assert_file_holds(&server.root().join("appended.bin"), payload(), "APPE");

    assert_eq!(
        counts(&server),
        (0.0, 0.0, 5.0),
        "nothing by the kernel; ok"
    );
}

fn abor_stops_a_sendfile_download(driver: &'static str) {
    let server = Server::start(driver, &METRICS);
    std::fs::write(server.root().join("big.bin"), payload()).unwrap();
    let mut control = Control::login(server.addr);
    control.binary();
    // A download whose first bytes are read (the kernel is sending), then
    // no more: 20 MiB do not fit in the sockets' buffers, so the kernel is
    // certainly still sending (or waiting for room) when ABOR comes.
    let port = control.epsv();
    let mut data = TcpStream::connect((server.addr.ip(), port)).expect("data connection");
    control.send(b"RETR big.bin\r\n");
    assert_eq!(control.reply().code, 150);
    let mut first = [0; 4096];
    std::io::Read::read_exact(&mut data, &mut first).expect("the first bytes");
    assert_eq!(first, payload()[..4096]);
    control.send(b"ABOR\r\n");
    let first = control.reply();
    assert_eq!(first.code, 426, "first reply to ABOR: {first:?}");
    let second = control.reply();
    assert_eq!(second.code, 226, "second reply to ABOR: {second:?}");
    drop(data);

    // The session goes on: the next download is whole.
    let port = control.epsv();
    let mut data = TcpStream::connect((server.addr.ip(), port)).expect("data connection");
    control.send(b"RETR big.bin\r\n");
    assert_eq!(control.reply().code, 150);
    let received = read_data(&mut data);
    assert_same_bytes(&received, payload(), "the download after ABOR");
    assert_eq!(control.reply().code, 226);

    let metrics = server.metrics();
    let get = |name: &str| metrics.get(name).copied().unwrap_or(0.0);
    for (name, expected) in [
        ("ftpwire_zero_copy_transfers_total{command=\"RETR\"}", 2.0),
        (
            "ftpwire_transfers_total{command=\"RETR\",outcome=\"failed\"}",
            1.0,
        ),
        (
            "ftpwire_transfers_total{command=\"RETR\",outcome=\"ok\"}",
            1.0,
        ),
    ] {
        assert_eq!(get(name), expected, "{name} in {metrics:#?}");
    }
}

/// `--idle-timeout 2` (the data stall timeout too): a client that stops
/// reading a sendfile RETR, and one that stops sending a spliced STOR, read
/// `426`; both were on the kernel's path.
fn stalled_kernel_transfers_time_out(driver: &'static str) {
    let server = Server::start(driver, &["--idle-timeout", "2", METRICS[0], METRICS[1]]);
    std::fs::write(server.root().join("big.bin"), payload()).unwrap();

    let mut reader = Control::login(server.addr);
    reader.binary();
    let port = reader.epsv();
    let unread = TcpStream::connect((server.addr.ip(), port)).expect("data connection");
    reader.send(b"RETR big.bin\r\n");
    assert_eq!(reader.reply().code, 150);

    let mut writer = Control::login(server.addr);
    writer.binary();
    let port = writer.epsv();
    let mut silent = TcpStream::connect((server.addr.ip(), port)).expect("data connection");
    writer.send(b"STOR half.bin\r\n");
    assert_eq!(writer.reply().code, 150);
    silent.write_all(&payload()[..100_000]).unwrap();

    for (control, what) in [(&mut reader, "stalled RETR"), (&mut writer, "stalled STOR")] {
        let reply = control.reply();
        assert_eq!(reply.code, 426, "{what}: {reply:?}");
    }
    drop((unread, silent));
    let metrics = server.metrics();
    let get = |name: &str| metrics.get(name).copied().unwrap_or(0.0);
    for (name, expected) in [
        ("ftpwire_zero_copy_transfers_total{command=\"RETR\"}", 1.0),
        ("ftpwire_zero_copy_transfers_total{command=\"STOR\"}", 1.0),
        (
            "ftpwire_transfers_total{command=\"RETR\",outcome=\"failed\"}",
            1.0,
        ),
        (
            "ftpwire_transfers_total{command=\"STOR\",outcome=\"failed\"}",
            1.0,
        ),
    ] {
        assert_eq!(get(name), expected, "{name} in {metrics:#?}");
    }
}

fn no_zero_copy_makes_every_transfer_copy(driver: &'static str) {
    let root = tempfile::tempdir().unwrap();
    let args = [
        "--listen",
        "127.0.0.1:0",
        "--root",
        &root.path().display().to_string(),
        "--user",
        &format!("{USER}:{}", common::server::PASSWORD),
        METRICS[0],
        METRICS[1],
    ]
    .map(std::ffi::OsString::from);
    let server = Server::launch_wrapped(
        &["env", "FTPWIRE_NO_ZERO_COPY=1"],
        driver,
        &args,
        None,
        root.path().to_owned(),
        Some(root),
    );
    curl_round_trip(&server, &[]);
    assert_eq!(
        counts(&server),
        (0.0, 0.0, 2.0),
        "nothing by the kernel; ok"
    );
}
