//! FTPS with real clients, on every driver: curl explicit (`--ssl-reqd`) in
//! EPSV and PASV and implicit (`ftps://`), lftp and Python's `FTP_TLS` in
//! passive and active mode under `PROT P` (lftp also over implicit FTPS),
//! each moving the 20 MiB payload up and down with a byte compare; and
//! 100 MiB each way with a checksum.
//! (Debian's curl 7.88 hangs on active-mode FTPS against every server, so
//! active mode is lftp's and ftplib's.)

#[macro_use]
mod common;

use std::io::{Read, Write};
use std::path::Path;

use common::clients::{
    CLIENT_TIMEOUT, Run, curl, ftplib_tls, lftp_implicit, lftp_tls, run_bounded,
};
use common::ftps::Certificate;
use common::payload::{assert_file_holds, checksum, payload};
use common::server::Server;

driver_matrix!(
    curl_explicit_epsv,
    curl_explicit_pasv,
    curl_implicit,
    lftp_implicit_passive_and_active,
    lftp_passive,
    lftp_active,
    ftplib_passive,
    ftplib_active,
    hundred_mebibytes_each_way,
);

/// A server with `certificate` and `extra` flags.
fn ftps_server(driver: &'static str, certificate: &Certificate, extra: &[&str]) -> Server {
    let mut args = certificate.args();
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Server::start(driver, &args)
}

/// `curl --ssl-reqd -k` (TLS required, the self-signed certificate accepted).
fn curl_tls() -> std::process::Command {
    let mut command = curl();
    command.args(["--ssl-reqd", "-k"]);
    command
}

/// curl protected the control channel and the data connections.
fn assert_curl_protected(run: &Run) {
    for verb in ["AUTH", "PBSZ", "PROT"] {
        assert!(run.curl_sent(verb), "curl never sent {verb}: {run}");
    }
    assert!(
        run.stderr.contains("PROT P"),
        "curl did not ask for protected data connections: {run}"
    );
}

/// Upload the payload, download it again and LIST, with curl and `mode`.
fn curl_round_trip(driver: &'static str, mode: &[&str], data_verb: &str) {
    let certificate = Certificate::generate();
    let server = ftps_server(driver, &certificate, &[]);
    let client = tempfile::tempdir().unwrap();
    let local = client.path().join("payload.bin");
    std::fs::write(&local, payload()).unwrap();
    std::fs::write(server.root().join("down.bin"), payload()).unwrap();

    let upload = run_bounded(
        curl_tls()
            .args(mode)
            .arg("-T")
            .arg(&local)
            .arg(server.url("up.bin")),
        CLIENT_TIMEOUT,
    )
    .success();
    assert_curl_protected(&upload);
    assert!(upload.curl_sent(data_verb), "no {data_verb}: {upload}");
    assert_file_holds(
        &server.root().join("up.bin"),
        payload(),
        "uploaded over FTPS",
    );

    let downloaded = client.path().join("down.bin");
    let download = run_bounded(
        curl_tls()
            .args(mode)
            .arg("-o")
            .arg(&downloaded)
            .arg(server.url("down.bin")),
        CLIENT_TIMEOUT,
    )
    .success();
    assert_curl_protected(&download);
    assert_file_holds(&downloaded, payload(), "downloaded over FTPS");

    let list = run_bounded(curl_tls().args(mode).arg(server.url("")), CLIENT_TIMEOUT).success();
    assert_curl_protected(&list);
    let names: Vec<&str> = list
        .stdout
        .lines()
        .filter_map(|line| line.split_whitespace().last())
        .collect();
    assert!(
        names.contains(&"up.bin") && names.contains(&"down.bin"),
        "LIST over FTPS: {list}"
    );
}

fn curl_explicit_epsv(driver: &'static str) {
    curl_round_trip(driver, &[], "EPSV");
}

fn curl_explicit_pasv(driver: &'static str) {
    curl_round_trip(driver, &["--disable-epsv"], "PASV");
}

fn curl_implicit(driver: &'static str) {
    let certificate = Certificate::generate();
    let server = ftps_server(
        driver,
        &certificate,
        &["--implicit-tls-listen", "127.0.0.1:0"],
    );
    let implicit = server.implicit_addr.expect("an implicit-FTPS listener");
    assert_ne!(implicit, server.addr);
    std::fs::write(server.root().join("down.bin"), payload()).unwrap();
    let client = tempfile::tempdir().unwrap();
    let local = client.path().join("payload.bin");
    std::fs::write(&local, payload()).unwrap();

    let url = |path: &str| format!("ftps://{implicit}/{path}");
    let upload = run_bounded(
        curl().args(["-k", "-T"]).arg(&local).arg(url("up.bin")),
        CLIENT_TIMEOUT,
    )
    .success();
    // Implicit: TLS from the start, so no AUTH command at all.
    assert!(
        !upload.curl_sent("AUTH"),
        "AUTH on an implicit port: {upload}"
    );
    assert!(upload.curl_sent("PROT"), "no PROT P: {upload}");
    assert_file_holds(
        &server.root().join("up.bin"),
        payload(),
        "uploaded over implicit FTPS",
    );

    let downloaded = client.path().join("down.bin");
    run_bounded(
        curl()
            .args(["-k", "-o"])
            .arg(&downloaded)
            .arg(url("down.bin")),
        CLIENT_TIMEOUT,
    )
    .success();
    assert_file_holds(&downloaded, payload(), "downloaded over implicit FTPS");

    // A plain-FTP client on the implicit port gets no greeting in the clear.
    let plain = run_bounded(
        curl()
            .args(["--max-time", "3"])
            .arg(format!("ftp://{implicit}/")),
        CLIENT_TIMEOUT,
    );
    assert!(
        !plain.status.success(),
        "plain FTP on the implicit port: {plain}"
    );
    assert!(!plain.stderr.contains("< 220"), "a plain greeting: {plain}");
}

/// Implicit FTPS in both data connection modes, with lftp (`ftps://`).
fn lftp_implicit_passive_and_active(driver: &'static str) {
    let certificate = Certificate::generate();
    let server = ftps_server(
        driver,
        &certificate,
        &["--implicit-tls-listen", "127.0.0.1:0"],
    );
    let implicit = server.implicit_addr.expect("an implicit-FTPS listener");
    std::fs::write(server.root().join("down.bin"), payload()).unwrap();
    let client = tempfile::tempdir().unwrap();
    let local = client.path().join("payload.bin");
    std::fs::write(&local, payload()).unwrap();
    for (mode, verb) in [("yes", "PASV"), ("no", "PORT")] {
        let downloaded = client.path().join(format!("down-{verb}.bin"));
        let run = lftp_implicit(
            implicit,
            &format!("set ftp:passive-mode {mode}"),
            &format!(
                "put {} -o up-{verb}.bin; get down.bin -o {}",
                local.display(),
                downloaded.display()
            ),
        )
        .success();
        assert!(
            run.stderr.contains(&format!("---> {verb}")),
            "no {verb}: {run}"
        );
        assert!(
            run.stderr.contains("---> PROT P"),
            "data not protected: {run}"
        );
        assert!(
            !run.stderr.contains("---> AUTH"),
            "AUTH on an implicit port: {run}"
        );
        let uploaded = server.root().join(format!("up-{verb}.bin"));
        assert_file_holds(&uploaded, payload(), "lftp put over implicit FTPS");
        assert_file_holds(&downloaded, payload(), "lftp get over implicit FTPS");
    }
}

/// lftp puts and gets the payload and lists, over FTPS with `settings`.
fn lftp_round_trip(driver: &'static str, settings: &str, data_verb: &str) {
    let certificate = Certificate::generate();
    let server = ftps_server(driver, &certificate, &[]);
    let client = tempfile::tempdir().unwrap();
    let local = client.path().join("payload.bin");
    std::fs::write(&local, payload()).unwrap();
    std::fs::write(server.root().join("down.bin"), payload()).unwrap();
    let downloaded = client.path().join("down.bin");
    let run = lftp_tls(
        &server,
        settings,
        &format!(
            "put {} -o up.bin; get down.bin -o {}; cls -1",
            local.display(),
            downloaded.display()
        ),
    )
    .success();
    for verb in ["AUTH TLS", "PROT P", data_verb] {
        assert!(
            run.stderr.contains(&format!("---> {verb}")),
            "lftp never sent {verb}: {run}"
        );
    }
    assert_file_holds(
        &server.root().join("up.bin"),
        payload(),
        "lftp put over FTPS",
    );
    assert_file_holds(&downloaded, payload(), "lftp get over FTPS");
    let names: Vec<&str> = run.stdout.lines().collect();
    assert!(names.contains(&"up.bin"), "cls over FTPS: {run}");
}

fn lftp_passive(driver: &'static str) {
    lftp_round_trip(driver, "set ftp:passive-mode yes", "PASV");
}

fn lftp_active(driver: &'static str) {
    lftp_round_trip(driver, "set ftp:passive-mode no", "PORT");
}

/// Python's FTP_TLS with prot_p(): STOR, RETR, NLST in `mode`.
fn ftplib_round_trip(driver: &'static str, passive: &str) {
    let certificate = Certificate::generate();
    let server = ftps_server(driver, &certificate, &[]);
    let client = tempfile::tempdir().unwrap();
    let local = client.path().join("payload.bin");
    std::fs::write(&local, payload()).unwrap();
    std::fs::write(server.root().join("down.bin"), payload()).unwrap();
    let downloaded = client.path().join("down.bin");
    let (local, downloaded) = (path(&local), path(&downloaded));
    let results = ftplib_tls(
        &server,
        &[
            &["passive", passive],
            &["stor", "up.bin", &local],
            &["retr", "down.bin", &downloaded],
            &["nlst"],
        ],
    );
    for result in &results {
        assert!(
            result.is_ok(),
            "ftplib FTP_TLS (passive {passive}): {results:?}"
        );
    }
    assert_file_holds(
        &server.root().join("up.bin"),
        payload(),
        "ftplib STOR over FTPS",
    );
    assert_file_holds(Path::new(&downloaded), payload(), "ftplib RETR over FTPS");
    assert!(
        results[3].as_ref().unwrap().contains("\"up.bin\""),
        "{results:?}"
    );
}

fn path(p: &Path) -> String {
    p.to_str().expect("a UTF-8 temporary path").to_owned()
}

fn ftplib_passive(driver: &'static str) {
    ftplib_round_trip(driver, "yes");
}

fn ftplib_active(driver: &'static str) {
    ftplib_round_trip(driver, "no");
}

/// 100 MiB, written in 1 MiB blocks of a seeded generator (never whole in
/// memory), up and down over curl EPSV + PROT P; compared by checksum.
fn hundred_mebibytes_each_way(driver: &'static str) {
    const BLOCK: usize = 1 << 20;
    const BLOCKS: usize = 100;
    let certificate = Certificate::generate();
    let server = ftps_server(driver, &certificate, &[]);
    let client = tempfile::tempdir().unwrap();
    let local = client.path().join("big.bin");
    let expected = {
        let mut rng = fastrand::Rng::with_seed(0x5eed_f7e5);
        let mut file = std::fs::File::create(&local).unwrap();
        let mut sums = Vec::with_capacity(BLOCKS);
        let mut block = vec![0u8; BLOCK];
        for _ in 0..BLOCKS {
            rng.fill(&mut block);
            file.write_all(&block).unwrap();
            sums.push(checksum(&block));
        }
        sums
    };
    let block_sums = |path: &Path| -> Vec<u64> {
        let mut file = std::fs::File::open(path).unwrap();
        let mut block = vec![0u8; BLOCK];
        let mut sums = Vec::new();
        loop {
            let mut filled = 0;
            while filled < BLOCK {
                match file.read(&mut block[filled..]).unwrap() {
                    0 => break,
                    n => filled += n,
                }
            }
            if filled == 0 {
                return sums;
            }
            sums.push(checksum(&block[..filled]));
        }
    };

    run_bounded(
        curl_tls().arg("-T").arg(&local).arg(server.url("big.bin")),
        CLIENT_TIMEOUT,
    )
    .success();
    assert_eq!(
        block_sums(&server.root().join("big.bin")),
        expected,
        "100 MiB STOR over FTPS"
    );
    let downloaded = client.path().join("back.bin");
    run_bounded(
        curl_tls()
            .arg("-o")
            .arg(&downloaded)
            .arg(server.url("big.bin")),
        CLIENT_TIMEOUT,
    )
    .success();
    assert_eq!(block_sums(&downloaded), expected, "100 MiB RETR over FTPS");
}
