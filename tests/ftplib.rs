//! Python's ftplib against the real server: the 20 MiB payload up and down
//! in passive (PASV) and active (PORT) mode, MKD/RMD/DELE/RNFR/RNTO,
//! SIZE/MDTM, and NLST/MLSD.

#[macro_use]
mod common;

use std::path::Path;
use std::time::{Duration, SystemTime};

use common::clients::{ftplib, json_strings};
use common::payload::{assert_file_holds, payload};
use common::server::Server;

driver_matrix!(
    passive_round_trip,
    active_round_trip,
    directory_and_file_operations,
    failed_operations_answer_550,
    size_and_mdtm,
    nlst_and_mlsd,
);

/// 2021-03-04 05:06:07 UTC, the modification time the tests give files.
const MTIME_SECONDS: u64 = 1_614_834_367;
const MTIME_MDTM: &str = "20210304050607";

fn set_mtime(path: &Path) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(MTIME_SECONDS))
        .unwrap();
}

fn round_trip(driver: &'static str, passive: &str) {
    let server = Server::start(driver, &[]);
    let client = tempfile::tempdir().unwrap();
    let local = client.path().join("payload.bin");
    let downloaded = client.path().join("down.bin");
    std::fs::write(&local, payload()).unwrap();
    std::fs::write(server.root().join("down.bin"), payload()).unwrap();

    let local = local.to_str().unwrap();
    let results = ftplib(
        &server,
        &[
            &["passive", passive],
            &["stor", "up.bin", local],
            &["retr", "down.bin", downloaded.to_str().unwrap()],
        ],
    );
    for result in &results[1..] {
        let reply = result
            .as_ref()
            .unwrap_or_else(|e| panic!("transfer failed: {e}"));
        assert!(
            reply.starts_with("\"226"),
            "transfer did not end with 226: {reply}"
        );
    }
    assert_file_holds(
        &server.root().join("up.bin"),
        payload(),
        "uploaded file on the server",
    );
    assert_file_holds(&downloaded, payload(), "downloaded file");
}

fn passive_round_trip(driver: &'static str) {
    round_trip(driver, "yes");
}

fn active_round_trip(driver: &'static str) {
    round_trip(driver, "no");
}

fn directory_and_file_operations(driver: &'static str) {
    let server = Server::start(driver, &[]);
    let root = server.root();
    std::fs::write(root.join("notes.txt"), b"twelve bytes").unwrap();

    let results = ftplib(
        &server,
        &[
            &["mkd", "reports"],
            &["rename", "notes.txt", "reports/renamed.txt"],
            &["cwd", "reports"],
            &["pwd"],
            &["mkd", "nested"],
        ],
    );
    assert_eq!(results[0].as_deref(), Ok("\"/reports\""), "MKD reports");
    assert!(
        root.join("reports").is_dir(),
        "MKD did not create the directory"
    );
    let rename = results[1]
        .as_deref()
        .unwrap_or_else(|e| panic!("RNFR/RNTO failed: {e}"));
    assert!(rename.starts_with("\"250"), "RNTO reply: {rename}");
    assert!(
        !root.join("notes.txt").exists(),
        "RNFR/RNTO left the old name"
    );
    assert_file_holds(
        &root.join("reports/renamed.txt"),
        b"twelve bytes",
        "renamed file",
    );
    assert!(results[2].is_ok(), "CWD reports: {:?}", results[2]);
    assert_eq!(results[3].as_deref(), Ok("\"/reports\""), "PWD after CWD");
    assert_eq!(
        results[4].as_deref(),
        Ok("\"/reports/nested\""),
        "MKD relative to the cwd"
    );
    assert!(root.join("reports/nested").is_dir());

    let results = ftplib(
        &server,
        &[
            &["delete", "reports/renamed.txt"],
            &["rmd", "reports/nested"],
            &["rmd", "reports"],
        ],
    );
    for (result, what) in results.iter().zip(["DELE", "RMD nested", "RMD reports"]) {
        let reply = result
            .as_deref()
            .unwrap_or_else(|e| panic!("{what} failed: {e}"));
        assert!(reply.starts_with("\"250"), "{what} reply: {reply}");
    }
    assert!(!root.join("reports").exists(), "DELE/RMD left files behind");
}

fn failed_operations_answer_550(driver: &'static str) {
    let server = Server::start(driver, &[]);
    std::fs::create_dir(server.root().join("full")).unwrap();
    std::fs::write(server.root().join("full/keep.txt"), b"kept").unwrap();

    let results = ftplib(
        &server,
        &[
            &["delete", "missing.txt"],
            &["rmd", "missing"],
            &["rename", "missing.txt", "other.txt"],
            &["size", "missing.txt"],
            &["cmd", "MDTM missing.txt"],
            &["rmd", "full"],
            &["mkd", "full"],
            &["cwd", "missing"],
        ],
    );
    let what = [
        "DELE missing",
        "RMD missing",
        "RNFR missing",
        "SIZE missing",
        "MDTM missing",
        "RMD of a non-empty directory",
        "MKD of an existing directory",
        "CWD missing",
    ];
    for (result, what) in results.iter().zip(what) {
        let error = result
            .as_ref()
            .err()
            .unwrap_or_else(|| panic!("{what} should have failed: {result:?}"));
        assert!(
            error.starts_with("550"),
            "{what}: expected 550, got {error}"
        );
    }
    assert_file_holds(
        &server.root().join("full/keep.txt"),
        b"kept",
        "file in a refused RMD",
    );
}

fn size_and_mdtm(driver: &'static str) {
    let server = Server::start(driver, &[]);
    let file = server.root().join("dated.bin");
    std::fs::write(&file, vec![1u8; 123_457]).unwrap();
    set_mtime(&file);

    let results = ftplib(
        &server,
        &[&["size", "dated.bin"], &["cmd", "MDTM dated.bin"]],
    );
    assert_eq!(results[0].as_deref(), Ok("123457"), "SIZE");
    assert_eq!(
        results[1].as_deref(),
        Ok(format!("\"213 {MTIME_MDTM}\"").as_str()),
        "MDTM (RFC 3659: UTC, YYYYMMDDHHMMSS)"
    );
}

fn nlst_and_mlsd(driver: &'static str) {
    let server = Server::start(driver, &[]);
    let dir = server.root().join("sub");
    std::fs::create_dir_all(dir.join("inner")).unwrap();
    std::fs::write(dir.join("a.txt"), b"hello").unwrap();
    set_mtime(&dir.join("a.txt"));

    let results = ftplib(&server, &[&["cwd", "sub"], &["nlst"], &["mlsd"]]);
    assert!(results[0].is_ok(), "CWD sub: {:?}", results[0]);
    let names = json_strings(results[1].as_ref().expect("NLST"));
    assert_eq!(names, ["a.txt", "inner"], "NLST names");

    let mlsd = json_strings(results[2].as_ref().expect("MLSD"));
    // RFC 3659 7.5.1 lets a server add cdir/pdir entries; they are not files.
    let entries: Vec<&String> = mlsd
        .iter()
        .filter(|e| !e.contains(";type=cdir") && !e.contains(";type=pdir"))
        .collect();
    assert_eq!(entries.len(), 2, "MLSD entries: {mlsd:?}");
    let fact = |entry: &str, name: &str| -> Option<String> {
        entry
            .split(';')
            .skip(1)
            .find_map(|f| f.strip_prefix(&format!("{name}=")).map(str::to_owned))
    };
    let file = entries[0];
    assert!(file.starts_with("a.txt;"), "MLSD: {mlsd:?}");
    assert_eq!(fact(file, "type").as_deref(), Some("file"), "{file}");
    assert_eq!(fact(file, "size").as_deref(), Some("5"), "{file}");
    assert_eq!(fact(file, "modify").as_deref(), Some(MTIME_MDTM), "{file}");
    let perm = fact(file, "perm").unwrap_or_else(|| panic!("no perm fact: {file}"));
    assert!(
        perm.contains('r'),
        "a readable file without the r perm: {file}"
    );
    let inner = entries[1];
    assert!(inner.starts_with("inner;"), "MLSD: {mlsd:?}");
    assert_eq!(fact(inner, "type").as_deref(), Some("dir"), "{inner}");
}
