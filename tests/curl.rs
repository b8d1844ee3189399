//! curl against the real server: the 20 MiB payload up and down in each data
//! connection mode (EPSV, PASV, EPRT, PORT), resumed transfers (REST, and
//! APPE for uploads), APPE, and LIST/NLST.

#[macro_use]
mod common;

use common::clients::{CLIENT_TIMEOUT, Run, curl, run_bounded};
use common::payload::{assert_file_holds, payload};
use common::server::Server;

driver_matrix!(
    epsv_round_trip,
    pasv_round_trip,
    eprt_round_trip,
    port_round_trip,
    rest_resumes_a_download,
    resumed_upload_appends_the_rest,
    appe_appends_and_creates,
    list_and_nlst,
);

/// The verbs that open a data connection; each mode must use exactly one.
const DATA_VERBS: [&str; 4] = ["EPSV", "PASV", "EPRT", "PORT"];

/// Uploads the payload to `up.bin` and downloads it from `down.bin` with
/// curl given `mode`, and checks both copies and that curl used `verb`
/// (and no other way to open a data connection) both times.
fn round_trip(driver: &'static str, mode: &[&str], verb: &str) {
    let server = Server::start(driver, &[]);
    let client = tempfile::tempdir().unwrap();
    let local = client.path().join("payload.bin");
    std::fs::write(&local, payload()).unwrap();
    std::fs::write(server.root().join("down.bin"), payload()).unwrap();

    let upload = run_bounded(
        curl()
            .args(mode)
            .arg("-T")
            .arg(&local)
            .arg(server.url("up.bin")),
        CLIENT_TIMEOUT,
    )
    .success();
    assert_used_only(&upload, verb);
    assert_file_holds(
        &server.root().join("up.bin"),
        payload(),
        "uploaded file on the server",
    );

    let downloaded = client.path().join("down.bin");
    let download = run_bounded(
        curl()
            .args(mode)
            .arg("-o")
            .arg(&downloaded)
            .arg(server.url("down.bin")),
        CLIENT_TIMEOUT,
    )
    .success();
    assert_used_only(&download, verb);
    assert_file_holds(&downloaded, payload(), "downloaded file");
}

fn assert_used_only(run: &Run, verb: &str) {
    assert!(run.curl_sent(verb), "curl never sent {verb}: {run}");
    for other in DATA_VERBS.iter().filter(|v| **v != verb) {
        assert!(
            !run.curl_sent(other),
            "curl sent {other} although {verb} should have worked: {run}"
        );
    }
}

fn epsv_round_trip(driver: &'static str) {
    round_trip(driver, &[], "EPSV");
}

fn pasv_round_trip(driver: &'static str) {
    round_trip(driver, &["--disable-epsv"], "PASV");
}

fn eprt_round_trip(driver: &'static str) {
    round_trip(driver, &["--ftp-port", "127.0.0.1"], "EPRT");
}

fn port_round_trip(driver: &'static str) {
    round_trip(
        driver,
        &["--ftp-port", "127.0.0.1", "--disable-eprt"],
        "PORT",
    );
}

/// `curl -C -` on a partial local file: REST to its length, then RETR of
/// the rest.
fn rest_resumes_a_download(driver: &'static str) {
    let server = Server::start(driver, &[]);
    let client = tempfile::tempdir().unwrap();
    std::fs::write(server.root().join("big.bin"), payload()).unwrap();
    let partial = client.path().join("big.bin");
    let have = 7_340_033; // not a multiple of any buffer size
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
}

/// `curl -C - -T` on a partial remote file: SIZE, then APPE of the rest.
fn resumed_upload_appends_the_rest(driver: &'static str) {
    let server = Server::start(driver, &[]);
    let client = tempfile::tempdir().unwrap();
    let local = client.path().join("big.bin");
    std::fs::write(&local, payload()).unwrap();
    let have = 12_582_917;
    std::fs::write(server.root().join("big.bin"), &payload()[..have]).unwrap();

    let run = run_bounded(
        curl()
            .args(["-C", "-", "-T"])
            .arg(&local)
            .arg(server.url("big.bin")),
        CLIENT_TIMEOUT,
    )
    .success();
    assert!(
        run.curl_sent("SIZE"),
        "curl did not ask the remote size: {run}"
    );
    assert!(
        run.curl_sent("APPE"),
        "curl did not resume with APPE: {run}"
    );
    assert_file_holds(&server.root().join("big.bin"), payload(), "resumed upload");
}

/// `curl --append`: APPE adds to an existing file and creates a missing one.
fn appe_appends_and_creates(driver: &'static str) {
    let server = Server::start(driver, &[]);
    let client = tempfile::tempdir().unwrap();
    let tail = client.path().join("tail.txt");
    std::fs::write(&tail, b"second line\n").unwrap();
    std::fs::write(server.root().join("log.txt"), b"first line\n").unwrap();

    let append = |name: &str| {
        let run = run_bounded(
            curl()
                .arg("--append")
                .arg("-T")
                .arg(&tail)
                .arg(server.url(name)),
            CLIENT_TIMEOUT,
        )
        .success();
        assert!(run.curl_sent("APPE"), "curl did not send APPE: {run}");
    };
    append("log.txt");
    assert_file_holds(
        &server.root().join("log.txt"),
        b"first line\nsecond line\n",
        "appended file",
    );
    append("new.txt");
    assert_file_holds(
        &server.root().join("new.txt"),
        b"second line\n",
        "file created by APPE",
    );
}

/// LIST in `ls -l` form and NLST names, for a directory with a file, a
/// name with a space, and a subdirectory.
fn list_and_nlst(driver: &'static str) {
    let server = Server::start(driver, &[]);
    let dir = server.root().join("sub");
    std::fs::create_dir_all(dir.join("inner")).unwrap();
    std::fs::write(dir.join("a.txt"), b"hello").unwrap();
    std::fs::write(dir.join("b c.bin"), vec![7u8; 1234]).unwrap();

    let nlst = run_bounded(
        curl().arg("--list-only").arg(server.url("sub/")),
        CLIENT_TIMEOUT,
    )
    .success();
    assert!(
        nlst.curl_sent("NLST"),
        "curl --list-only did not send NLST: {nlst}"
    );
    let mut names: Vec<&str> = nlst.stdout.lines().map(str::trim_end).collect();
    names.sort_unstable();
    assert_eq!(names, ["a.txt", "b c.bin", "inner"], "NLST names: {nlst}");

    let list = run_bounded(curl().arg(server.url("sub/")), CLIENT_TIMEOUT).success();
    assert!(list.curl_sent("LIST"), "curl did not send LIST: {list}");
    let entries: Vec<LsEntry> = list
        .stdout
        .lines()
        .map(|line| ls_entry(line, &list))
        .collect();
    let find = |name: &str| {
        entries
            .iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| panic!("LIST lacks {name:?}: {list}"))
    };
    let a = find("a.txt");
    assert!(a.mode.starts_with('-'), "a.txt is not a plain file: {list}");
    assert_eq!(a.size, "5", "a.txt size: {list}");
    let b = find("b c.bin");
    assert_eq!(b.size, "1234", "`b c.bin` size: {list}");
    assert!(
        find("inner").mode.starts_with('d'),
        "inner is not a directory: {list}"
    );
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.name != "." && e.name != "..")
            .count(),
        3,
        "LIST shows entries that are not in the directory: {list}"
    );
    assert_serves_file_listing_root(&server);
}

/// One `ls -l` line: `drwxr-xr-x 2 owner group 4096 Mar  4 05:06 name`.
struct LsEntry {
    mode: String,
    size: String,
    name: String,
}

fn ls_entry(line: &str, run: &Run) -> LsEntry {
    let mut rest = line.trim_end_matches(['\r', '\n']);
    let mut fields = Vec::new();
    for _ in 0..8 {
        let trimmed = rest.trim_start();
        let end = trimmed
            .find(' ')
            .unwrap_or_else(|| panic!("not an `ls -l` line: {line:?}\n{run}"));
        fields.push(&trimmed[..end]);
        rest = &trimmed[end..];
    }
    let mode = fields[0];
    assert!(
        mode.len() == 10
            && mode.chars().next().is_some_and(|c| "-dl".contains(c))
            && mode[1..].chars().all(|c| "rwxsStT-".contains(c)),
        "not an `ls -l` mode: {mode:?} in {line:?}"
    );
    assert!(
        fields[4].chars().all(|c| c.is_ascii_digit()),
        "not a size: {:?} in {line:?}",
        fields[4]
    );
    LsEntry {
        mode: mode.to_owned(),
        size: fields[4].to_owned(),
        // Exactly one space separates the time or year from the name.
        name: rest.strip_prefix(' ').unwrap_or(rest).to_owned(),
    }
}

/// The root's listing names the directory the test created.
fn assert_serves_file_listing_root(server: &Server) {
    let run = run_bounded(curl().arg(server.url("")), CLIENT_TIMEOUT).success();
    assert!(
        run.stdout
            .lines()
            .any(|line| line.ends_with(" sub") && line.starts_with('d')),
        "the root's LIST lacks the directory sub: {run}"
    );
}
