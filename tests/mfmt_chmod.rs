//! MFMT (draft-somers-ftp-mfxx) and SITE CHMOD with real clients on both
//! drivers: curl `-Q`, Python ftplib's `sendcmd`, lftp's `chmod`; the time
//! and mode are checked on disk. Read-only logins are refused.

#[macro_use]
mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::SystemTime;

use common::clients::{CLIENT_TIMEOUT, curl, ftplib, lftp, run_bounded};
use common::server::Server;

driver_matrix!(
    mfmt_sets_the_modification_time,
    site_chmod_sets_the_permission_bits,
    read_only_logins_cannot_set_times_or_modes,
    lftp_mirror_keeps_times_and_modes,
);

fn mtime(path: &std::path::Path) -> u64 {
    fs::metadata(path)
        .unwrap()
        .modified()
        .unwrap()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn mfmt_sets_the_modification_time(driver: &'static str) {
    let server = Server::start(driver, &[]);
    fs::write(server.root().join("a b.txt"), b"x").unwrap();
    fs::create_dir(server.root().join("dir")).unwrap();
    // curl: a quote command after the transfer, as rclone-style clients send it.
    let run = run_bounded(
        curl()
            .args(["-Q", "MFMT 20200102030405 a b.txt"])
            .arg(server.url("")),
        CLIENT_TIMEOUT,
    )
    .success();
    assert!(
        run.stderr.contains("< 213 Modify=20200102030405; /a b.txt"),
        "MFMT reply: {run}"
    );
    assert_eq!(mtime(&server.root().join("a b.txt")), 1_577_934_245);
    // ftplib: FEAT lists it; MDTM reads back what MFMT set; a directory works too.
    let results = ftplib(
        &server,
        &[
            &["cmd", "FEAT"],
            &["cmd", "MFMT 19991231235959 dir"],
            &["cmd", "MDTM a b.txt"],
            &["cmd", "MFMT 20200102030405 missing"],
            &["cmd", "MFMT 2020010203040 a b.txt"],
        ],
    );
    assert!(
        results[0].as_ref().unwrap().contains("MFMT"),
        "FEAT: {results:?}"
    );
    assert_eq!(
        results[1].as_deref(),
        Ok("\"213 Modify=19991231235959; /dir\"")
    );
    assert_eq!(results[2].as_deref(), Ok("\"213 20200102030405\""));
    assert!(
        results[3].as_ref().unwrap_err().starts_with("550"),
        "{results:?}"
    );
    assert!(
        results[4].as_ref().unwrap_err().starts_with("501"),
        "{results:?}"
    );
    assert_eq!(mtime(&server.root().join("dir")), 946_684_799);
}

fn site_chmod_sets_the_permission_bits(driver: &'static str) {
    let server = Server::start(driver, &[]);
    let file = server.root().join("f.txt");
    fs::write(&file, b"x").unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    let mode = || fs::metadata(&file).unwrap().permissions().mode() & 0o7777;
    // lftp's chmod sends SITE CHMOD.
    let run = lftp(&server, "chmod 640 f.txt");
    assert!(run.stderr.contains("SITE CHMOD 640 f.txt"), "lftp: {run}");
    assert!(
        run.stderr.contains("200 SITE CHMOD command ok."),
        "lftp: {run}"
    );
    assert_eq!(mode(), 0o640);
    let results = ftplib(
        &server,
        &[
            &["cmd", "SITE CHMOD 0600 f.txt"],
            &["cmd", "SITE CHMOD 4755 f.txt"],
            &["cmd", "SITE CHMOD 644 nope"],
        ],
    );
    assert_eq!(results[0].as_deref(), Ok("\"200 SITE CHMOD command ok.\""));
    assert!(
        results[1].as_ref().unwrap_err().starts_with("504"),
        "{results:?}"
    );
    assert!(
        results[2].as_ref().unwrap_err().starts_with("550"),
        "{results:?}"
    );
    assert_eq!(mode(), 0o600, "setuid was refused, 0600 applied");
}

fn read_only_logins_cannot_set_times_or_modes(driver: &'static str) {
    let server = Server::start(driver, &["--anonymous"]);
    let file = server.root().join("f.txt");
    fs::write(&file, b"x").unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    let before = mtime(&file);
    for command in ["MFMT 20200102030405 f.txt", "SITE CHMOD 777 f.txt"] {
        let run = run_bounded(
            curl()
                .args(["--user", "anonymous:guest", "-Q", command])
                .arg(server.url("")),
            CLIENT_TIMEOUT,
        )
        .failure();
        assert!(
            run.stderr
                .contains("< 550 Permission denied: this login is read-only."),
            "{command}: {run}"
        );
    }
    assert_eq!(mtime(&file), before);
    assert_eq!(
        fs::metadata(&file).unwrap().permissions().mode() & 0o7777,
        0o644
    );
}

/// `lftp mirror -R` uploads, then sends `MFMT` and `SITE CHMOD` for each
/// file: the copy on the server keeps the local time and mode.
fn lftp_mirror_keeps_times_and_modes(driver: &'static str) {
    let server = Server::start(driver, &[]);
    let local = tempfile::tempdir().unwrap();
    let file = local.path().join("kept.txt");
    fs::write(&file, b"kept\n").unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o640)).unwrap();
    let when = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_577_934_245);
    fs::File::open(&file).unwrap().set_modified(when).unwrap();
    let run = lftp(&server, &format!("mirror -R {} /", local.path().display()));
    assert!(
        run.stderr.contains("---> MFMT 20200102030405 kept.txt"),
        "lftp: {run}"
    );
    let copy = server.root().join("kept.txt");
    assert_eq!(fs::read(&copy).unwrap(), b"kept\n");
    assert_eq!(mtime(&copy), 1_577_934_245, "lftp: {run}");
    assert_eq!(
        fs::metadata(&copy).unwrap().permissions().mode() & 0o777,
        0o640,
        "lftp: {run}"
    );
}
