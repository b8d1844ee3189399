//! LIST, NLST and MLSD conventions other clients and test suites expect,
//! with curl and Python's ftplib against the real server: entries sorted by
//! name, dot files hidden unless `-a`, symlinks shown as links, and dot
//! files kept from anonymous logins unless `--share-dot-files`. The Node
//! host's `js/test/listing.test.mjs` checks the same bytes.

#[macro_use]
mod common;

use std::fs::{self, File};
use std::path::Path;
use std::time::{Duration, SystemTime};

use common::clients::{CLIENT_TIMEOUT, curl, ftplib, run_bounded};
use common::server::Server;

driver_matrix!(
    listings_are_sorted_and_hide_dot_files_unless_a,
    show_dot_files_lists_them_without_a,
    symlinks_are_listed_as_links,
    anonymous_logins_never_reach_dot_files,
    share_dot_files_serves_them_to_anonymous_logins,
);

/// 2020-01-02 03:04:05 UTC: old enough that LIST shows the year, so the
/// expected lines do not depend on the day the test runs.
const MTIME: u64 = 1_577_934_245;

/// A tree created out of order, with dot files, a directory, and two
/// links (one to a file inside the root, one leading out of it).
fn tree(root: &Path) {
    for (name, body) in [
        ("b.txt", &b"bbbbb"[..]),
        (".env", b"SECRET=1\n"),
        ("a.txt", b"a"),
        ("_u", b""),
        ("B.txt", b"BB"),
    ] {
        fs::write(root.join(name), body).unwrap();
    }
    fs::create_dir(root.join("sub")).unwrap();
    fs::create_dir(root.join(".git")).unwrap();
    fs::write(root.join(".git/config"), b"[core]\n").unwrap();
    std::os::unix::fs::symlink("a.txt", root.join("ln")).unwrap();
    std::os::unix::fs::symlink("../outside", root.join("out")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(MTIME);
    for name in ["b.txt", ".env", "a.txt", "_u", "B.txt", "sub", ".git"] {
        let path = root.join(name);
        let mode = if path.is_dir() { 0o755 } else { 0o644 };
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        File::open(&path).unwrap().set_modified(when).unwrap();
    }
}

/// The LIST lines of the regular entries, exactly as every host sends them.
const A_TXT: &str = "-rw-r--r--   1 ftp      ftp                 1 Jan  2  2020 a.txt";
const B_UPPER: &str = "-rw-r--r--   1 ftp      ftp                 2 Jan  2  2020 B.txt";
const B_TXT: &str = "-rw-r--r--   1 ftp      ftp                 5 Jan  2  2020 b.txt";
const UNDERSCORE: &str = "-rw-r--r--   1 ftp      ftp                 0 Jan  2  2020 _u";
const ENV: &str = "-rw-r--r--   1 ftp      ftp                 9 Jan  2  2020 .env";

fn curl_text(args: &[&str], url: String) -> String {
    run_bounded(curl().args(args).arg(url), CLIENT_TIMEOUT)
        .success()
        .stdout
}

/// Lines as sent (not sorted by the test), without their CR.
fn lines(text: &str) -> Vec<&str> {
    text.lines().map(|l| l.trim_end_matches('\r')).collect()
}

fn listings_are_sorted_and_hide_dot_files_unless_a(driver: &'static str) {
    let server = Server::start(driver, &[]);
    tree(server.root());
    // NLST: bytewise order, no dot files without -a.
    let names = curl_text(&["--list-only"], server.url(""));
    assert_eq!(
        lines(&names),
        ["B.txt", "_u", "a.txt", "b.txt", "ln", "out", "sub"],
        "NLST"
    );
    let all = curl_text(&["-X", "NLST -a"], server.url(""));
    assert_eq!(
        lines(&all),
        [
            ".env", ".git", "B.txt", "_u", "a.txt", "b.txt", "ln", "out", "sub"
        ],
        "NLST -a"
    );
    // LIST: the same order, byte-exact lines for the regular entries.
    let list = curl_text(&[], server.url(""));
    let list = lines(&list);
    assert_eq!(list.len(), 7, "LIST: {list:?}");
    assert_eq!(&list[..4], [B_UPPER, UNDERSCORE, A_TXT, B_TXT], "LIST");
    assert!(
        list[6].starts_with("drwxr-xr-x   2 ftp") && list[6].ends_with(" sub"),
        "{list:?}"
    );
    for option in ["LIST -la", "LIST -al", "LIST -a"] {
        let long = curl_text(&["-X", option], server.url(""));
        let long = lines(&long);
        assert_eq!(long.len(), 9, "{option}: {long:?}");
        assert_eq!(long[0], ENV, "{option}");
        assert!(long[1].ends_with(" .git"), "{option}: {long:?}");
    }
    // MLSD (ftplib's mlsd) is for programs that mirror: every entry, dot files too.
    let results = ftplib(&server, &[&["mlsd"]]);
    let mlsd = results[0].as_ref().unwrap();
    assert!(
        mlsd.contains("\".env;") && mlsd.contains("\".git;"),
        "MLSD: {mlsd}"
    );
    // A writable login reaches dot files by name, and lists one by name.
    assert_eq!(curl_text(&[], server.url(".env")), "SECRET=1\n");
    assert_eq!(
        lines(&curl_text(&["-X", "NLST .env"], server.url(""))),
        [".env"]
    );
    assert_eq!(
        lines(&curl_text(&["-X", "LIST .env"], server.url(""))),
        [ENV]
    );
}

fn show_dot_files_lists_them_without_a(driver: &'static str) {
    let server = Server::start(driver, &["--show-dot-files"]);
    tree(server.root());
    let names = curl_text(&["--list-only"], server.url(""));
    assert_eq!(
        lines(&names),
        [
            ".env", ".git", "B.txt", "_u", "a.txt", "b.txt", "ln", "out", "sub"
        ],
        "NLST with --show-dot-files"
    );
}

fn symlinks_are_listed_as_links(driver: &'static str) {
    let server = Server::start(driver, &[]);
    tree(server.root());
    let list = curl_text(&[], server.url(""));
    let list = lines(&list);
    let ln = list
        .iter()
        .find(|l| l.contains(" ln"))
        .expect("LIST shows ln");
    assert!(
        ln.starts_with("lrwxrwxrwx   1 ftp      ftp                 5 ")
            && ln.ends_with(" ln -> a.txt"),
        "a link inside the root: {ln:?}"
    );
    let out = list
        .iter()
        .find(|l| l.contains(" out"))
        .expect("LIST shows out");
    assert!(
        out.starts_with("lrwxrwxrwx   1 ftp      ftp                10 ")
            && out.ends_with(" out -> ../outside"),
        "a link leading out of the root: {out:?}"
    );
    // MLSD: a link is an slink with its target.
    let results = ftplib(&server, &[&["mlsd"]]);
    let mlsd = results[0].as_ref().unwrap();
    assert!(mlsd.contains(";type=OS.unix=slink:a.txt\""), "MLSD: {mlsd}");
    assert!(
        mlsd.contains(";type=OS.unix=slink:../outside\""),
        "MLSD: {mlsd}"
    );
    // The link still works for downloads.
    assert_eq!(curl_text(&[], server.url("ln")), "a");
}

fn anonymous_logins_never_reach_dot_files(driver: &'static str) {
    let server = Server::start(driver, &["--anonymous"]);
    tree(server.root());
    let anonymous = ["--user", "anonymous:guest@example.com"];
    for path in [".git/config", ".env", "sub/../.git/config"] {
        let run =
            run_bounded(curl().args(anonymous).arg(server.url(path)), CLIENT_TIMEOUT).failure();
        assert!(
            run.stderr
                .contains("550 Permission denied: dot files are not served to this login."),
            "RETR {path} as anonymous: {run}"
        );
    }
    let run = run_bounded(
        curl().args(anonymous).arg(server.url(".git/")),
        CLIENT_TIMEOUT,
    )
    .failure();
    assert!(run.stderr.contains("< 550"), "CWD .git as anonymous: {run}");
    // Not even with -a.
    let names = curl_text(
        &[anonymous[0], anonymous[1], "-X", "NLST -a"],
        server.url(""),
    );
    assert_eq!(
        lines(&names),
        ["B.txt", "_u", "a.txt", "b.txt", "ln", "out", "sub"],
        "NLST -a as anonymous"
    );
    // The same server hands them to its writable user.
    assert_eq!(curl_text(&[], server.url(".git/config")), "[core]\n");
}

fn share_dot_files_serves_them_to_anonymous_logins(driver: &'static str) {
    let server = Server::start(driver, &["--anonymous", "--share-dot-files"]);
    tree(server.root());
    let anonymous = ["--user", "anonymous:guest@example.com"];
    assert_eq!(curl_text(&anonymous, server.url(".git/config")), "[core]\n");
    let names = curl_text(
        &[anonymous[0], anonymous[1], "-X", "NLST -a"],
        server.url(""),
    );
    assert_eq!(lines(&names)[..2], [".env", ".git"], "NLST -a");
}
