//! `ftpwire get/put/ls/mirror` (the client half) against `ftpwire serve`,
//! the client on the same driver as the server (std with std, smol with
//! smol): round trips with
//! checksums, resume (also after a download or an upload cut live), active mode, FTPS explicit and implicit (with TLS
//! session reuse required), mirrors both ways, and one-line errors.

#[macro_use]
mod common;

use std::path::Path;
use std::process::Command;

use common::clients::{CLIENT_TIMEOUT, Run, run_bounded};
use common::ftps::Certificate;
use common::payload::{assert_file_holds, payload};
use common::server::{PASSWORD, Server, USER, binary};

driver_matrix!(
    put_then_get_round_trip,
    active_mode_round_trip,
    get_continue_keeps_the_local_bytes_and_fetches_the_rest,
    get_continue_after_a_cut_connection,
    put_continue_sends_only_the_rest,
    put_continue_after_a_cut_connection,
    ls_lists_names_and_long_lines,
    mirror_up_and_back_down,
    ftps_explicit_and_implicit_with_session_reuse_required,
    failures_are_one_line_with_a_non_zero_exit,
);

/// `ftpwire COMMAND --driver DRIVER ARGS...`: the client on the same
/// driver as the server, so each client host meets every test.
fn ftpwire(driver: &str, args: &[&str], cwd: &Path) -> Run {
    run_bounded(
        Command::new(binary())
            .arg(args[0])
            .args(["--driver", driver])
            .args(&args[1..])
            .current_dir(cwd),
        CLIENT_TIMEOUT,
    )
}

/// `ftpwire serve` on `root` (a directory the test keeps, so a second
/// server can serve what a killed first one left).
fn serve_root(driver: &'static str, root: &Path) -> Server {
    let args: Vec<std::ffi::OsString> = vec![
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--root".into(),
        root.into(),
        "--user".into(),
        format!("{USER}:{PASSWORD}").into(),
    ];
    Server::launch(driver, &args, None, root.to_owned(), None)
}

/// `ftp://alice:secret@127.0.0.1:PORT/PATH`.
fn url(server: &Server, path: &str) -> String {
    format!("ftp://{USER}:{PASSWORD}@{}/{path}", server.addr)
}

fn put_then_get_round_trip(driver: &'static str) {
    let server = Server::start(driver, &[]);
    let local = tempfile::tempdir().unwrap();
    std::fs::write(local.path().join("up.bin"), payload()).unwrap();
    ftpwire(driver, &["put", "up.bin", &url(&server, "")], local.path()).success();
    assert_file_holds(&server.root().join("up.bin"), payload(), "uploaded");
    ftpwire(
        driver,
        &["get", &url(&server, "up.bin"), "-o", "down.bin"],
        local.path(),
    )
    .success();
    assert_file_holds(&local.path().join("down.bin"), payload(), "downloaded");
    // Without -o: the remote name, in the working directory.
    std::fs::remove_file(local.path().join("up.bin")).unwrap();
    ftpwire(driver, &["get", &url(&server, "up.bin")], local.path()).success();
    assert_file_holds(
        &local.path().join("up.bin"),
        payload(),
        "downloaded by name",
    );
}

fn active_mode_round_trip(driver: &'static str) {
    let server = Server::start(driver, &[]);
    let local = tempfile::tempdir().unwrap();
    std::fs::write(local.path().join("a.bin"), &payload()[..1_000_000]).unwrap();
    ftpwire(
        driver,
        &["put", "--active", "a.bin", &url(&server, "a.bin")],
        local.path(),
    )
    .success();
    ftpwire(
        driver,
        &["get", "--active", &url(&server, "a.bin"), "-o", "b.bin"],
        local.path(),
    )
    .success();
    assert_file_holds(
        &local.path().join("b.bin"),
        &payload()[..1_000_000],
        "active download",
    );
}

fn get_continue_keeps_the_local_bytes_and_fetches_the_rest(driver: &'static str) {
    let server = Server::start(driver, &[]);
    std::fs::write(server.root().join("big.bin"), payload()).unwrap();
    let local = tempfile::tempdir().unwrap();
    // As a cut download leaves it: a prefix. Its bytes are not the
    // payload's, so a whole new download would show.
    let cut = 1_234_567;
    let marker = vec![b'#'; cut];
    std::fs::write(local.path().join("big.bin"), &marker).unwrap();
    ftpwire(
        driver,
        &["get", "-c", &url(&server, "big.bin")],
        local.path(),
    )
    .success();
    let expected = [&marker[..], &payload()[cut..]].concat();
    assert_file_holds(&local.path().join("big.bin"), &expected, "resumed download");
    // Complete already: nothing to do, and nothing changes.
    ftpwire(
        driver,
        &["get", "--continue", &url(&server, "big.bin")],
        local.path(),
    )
    .success();
    assert_file_holds(&local.path().join("big.bin"), &expected, "complete file");
}

/// A download really cut: the client's stdout is a pipe the test reads
/// slowly, so the transfer is still running (the server blocked in send)
/// when the server is killed; what came is kept, and `--continue` against
/// a second server on the same files fetches exactly the rest.
fn get_continue_after_a_cut_connection(driver: &'static str) {
    use std::io::Read;
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("big.bin"), payload()).unwrap();
    let serve = |root: &Path| serve_root(driver, root);
    let first = serve(root.path());
    let mut child = Command::new(binary())
        .args([
            "get",
            "--driver",
            driver,
            &url(&first, "big.bin"),
            "-o",
            "-",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    // The first MiB in hand: the transfer is running.
    let mut partial = vec![0u8; 1 << 20];
    stdout.read_exact(&mut partial).unwrap();
    // SAFETY: kill(2) takes two integers and touches no memory of this process.
    let killed = unsafe { libc::kill(first.pid() as libc::pid_t, libc::SIGKILL) };
    assert_eq!(killed, 0, "kill the first server");
    stdout.read_to_end(&mut partial).unwrap();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!status.success(), "a cut download must fail: {stderr}");
    assert!(stderr.starts_with("ftpwire: error: "), "{stderr}");
    assert!(
        partial.len() < payload().len(),
        "the cut came after the whole file ({} bytes)",
        partial.len()
    );
    assert_eq!(
        &partial[..],
        &payload()[..partial.len()],
        "what came is a prefix"
    );
    let local = tempfile::tempdir().unwrap();
    std::fs::write(local.path().join("big.bin"), &partial).unwrap();
    let second = serve(root.path());
    ftpwire(
        driver,
        &["get", "-c", &url(&second, "big.bin")],
        local.path(),
    )
    .success();
    assert_file_holds(
        &local.path().join("big.bin"),
        payload(),
        "resumed after the cut",
    );
}

/// An upload really cut: the local file is a FIFO the test feeds, so the
/// transfer is running (the server has written part of it) when the
/// server is killed; the client fails with one line, the server's file
/// keeps the prefix, and `put --continue` to a second server on the same
/// root sends the rest.
fn put_continue_after_a_cut_connection(driver: &'static str) {
    use std::io::{Read, Write};
    let root = tempfile::tempdir().unwrap();
    let serve = |root: &Path| serve_root(driver, root);
    let first = serve(root.path());
    let local = tempfile::tempdir().unwrap();
    let fifo = local.path().join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success(), "mkfifo");
    let mut child = Command::new(binary())
        .args(["put", "--driver", driver])
        .arg(&fifo)
        .arg(url(&first, "big.bin"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Opening blocks until the client opens its end.
    let mut feed = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    let first_part = 2 << 20;
    feed.write_all(&payload()[..first_part]).unwrap();
    // The server has the first MiB on disk: the upload is running.
    let remote = root.path().join("big.bin");
    let started = std::time::Instant::now();
    while std::fs::metadata(&remote).map_or(0, |m| m.len()) < 1 << 20 {
        assert!(
            started.elapsed() < CLIENT_TIMEOUT,
            "the upload never reached the server"
        );
        std::thread::yield_now();
    }
    // SAFETY: kill(2) takes two integers and touches no memory of this process.
    let killed = unsafe { libc::kill(first.pid() as libc::pid_t, libc::SIGKILL) };
    assert_eq!(killed, 0, "kill the first server");
    // More bytes, so the client writes into the dead connection; once it
    // has given up, the FIFO refuses them (EPIPE), which ends the feed.
    let _ = feed.write_all(&payload()[first_part..]);
    drop(feed);
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!status.success(), "a cut upload must fail: {stderr}");
    assert!(stderr.starts_with("ftpwire: error: "), "{stderr}");
    let kept = std::fs::read(&remote).unwrap();
    assert!(
        kept.len() >= 1 << 20 && kept.len() < payload().len(),
        "the server kept {} bytes",
        kept.len()
    );
    assert_eq!(&kept[..], &payload()[..kept.len()], "what came is a prefix");
    // The local copy differs in the part the server kept: only a resume
    // (REST + STOR of the rest) leaves the server with the payload.
    let local_copy = [&vec![b'#'; kept.len()][..], &payload()[kept.len()..]].concat();
    std::fs::write(local.path().join("big.bin"), local_copy).unwrap();
    let second = serve(root.path());
    ftpwire(
        driver,
        &["put", "-c", "big.bin", &url(&second, "big.bin")],
        local.path(),
    )
    .success();
    assert_file_holds(&remote, payload(), "resumed after the cut");
}

fn put_continue_sends_only_the_rest(driver: &'static str) {
    let server = Server::start(driver, &[]);
    let cut = 3_000_001;
    let marker = vec![b'#'; cut];
    std::fs::write(server.root().join("big.bin"), &marker).unwrap();
    let local = tempfile::tempdir().unwrap();
    std::fs::write(local.path().join("big.bin"), payload()).unwrap();
    ftpwire(
        driver,
        &["put", "-c", "big.bin", &url(&server, "big.bin")],
        local.path(),
    )
    .success();
    let expected = [&marker[..], &payload()[cut..]].concat();
    assert_file_holds(&server.root().join("big.bin"), &expected, "resumed upload");
}

fn ls_lists_names_and_long_lines(driver: &'static str) {
    let server = Server::start(driver, &[]);
    std::fs::create_dir(server.root().join("sub dir")).unwrap();
    std::fs::write(server.root().join("b.txt"), b"12345").unwrap();
    std::fs::write(server.root().join("sub dir/inner"), b"x").unwrap();
    let local = tempfile::tempdir().unwrap();
    let run = ftpwire(driver, &["ls", &url(&server, "")], local.path()).success();
    assert_eq!(run.stdout, "b.txt\nsub dir/\n");
    let run = ftpwire(driver, &["ls", &url(&server, "sub%20dir/")], local.path()).success();
    assert_eq!(run.stdout, "inner\n");
    let run = ftpwire(driver, &["ls", "-l", &url(&server, "")], local.path()).success();
    assert!(
        run.stdout.contains("type=file;size=5;") && run.stdout.contains("; b.txt\r\n"),
        "{run}"
    );
}

fn mirror_up_and_back_down(driver: &'static str) {
    let server = Server::start(driver, &[]);
    let local = tempfile::tempdir().unwrap();
    let tree = local.path().join("tree");
    std::fs::create_dir_all(tree.join("a/b")).unwrap();
    std::fs::write(tree.join("top.bin"), &payload()[..500_000]).unwrap();
    std::fs::write(tree.join("a/mid.txt"), b"middle\n").unwrap();
    std::fs::write(tree.join("a/b/deep.bin"), &payload()[7..300_007]).unwrap();
    std::fs::write(tree.join("a/b/empty"), b"").unwrap();
    let run = ftpwire(
        driver,
        &["mirror", "tree", &url(&server, "copy")],
        local.path(),
    )
    .success();
    assert!(
        run.stderr.contains("mirrored 4 files (800007 bytes)"),
        "{run}"
    );
    assert_file_holds(
        &server.root().join("copy/a/b/deep.bin"),
        &payload()[7..300_007],
        "uploaded tree",
    );
    let run = ftpwire(
        driver,
        &["mirror", &url(&server, "copy"), "back"],
        local.path(),
    )
    .success();
    assert!(
        run.stderr.contains("mirrored 4 files (800007 bytes)"),
        "{run}"
    );
    for file in ["top.bin", "a/mid.txt", "a/b/deep.bin", "a/b/empty"] {
        let expected = std::fs::read(tree.join(file)).unwrap();
        assert_file_holds(&local.path().join("back").join(file), &expected, file);
    }
    // Again: everything is there already.
    let run = ftpwire(
        driver,
        &["mirror", &url(&server, "copy"), "back"],
        local.path(),
    )
    .success();
    assert!(
        run.stderr
            .contains("mirrored 0 files (0 bytes), 4 already up to date"),
        "{run}"
    );
}

fn ftps_explicit_and_implicit_with_session_reuse_required(driver: &'static str) {
    let certificate = Certificate::generate();
    let mut args = certificate.args();
    args.extend([
        "--implicit-tls-listen".into(),
        "127.0.0.1:0".into(),
        "--require-tls".into(),
        "--require-tls-session-reuse".into(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start(driver, &args);
    let local = tempfile::tempdir().unwrap();
    std::fs::write(local.path().join("s.bin"), &payload()[..2_000_000]).unwrap();
    ftpwire(
        driver,
        &["put", "--tls", "-k", "s.bin", &url(&server, "")],
        local.path(),
    )
    .success();
    assert_file_holds(
        &server.root().join("s.bin"),
        &payload()[..2_000_000],
        "FTPS upload",
    );
    let implicit = server.implicit_addr.expect("an implicit-FTPS listener");
    let implicit_url = format!("ftps://{USER}:{PASSWORD}@{implicit}/s.bin");
    ftpwire(
        driver,
        &["get", "-k", &implicit_url, "-o", "t.bin"],
        local.path(),
    )
    .success();
    assert_file_holds(
        &local.path().join("t.bin"),
        &payload()[..2_000_000],
        "implicit FTPS download",
    );
    // The server's log shows the transfers protected.
    assert!(
        server.log().matches(", TLS)").count() >= 2,
        "{}",
        server.log()
    );
    // Plain FTP is refused by --require-tls, and says so.
    let run = ftpwire(driver, &["ls", &url(&server, "")], local.path()).failure();
    assert!(
        run.stderr.starts_with("ftpwire: error: the server refused"),
        "{run}"
    );
    // Without -k, a self-signed certificate is refused with the fix named.
    let run = ftpwire(driver, &["ls", "--tls", &url(&server, "")], local.path()).failure();
    assert!(
        run.stderr.contains("the TLS handshake failed") && run.stderr.contains("-k"),
        "{run}"
    );
}

fn failures_are_one_line_with_a_non_zero_exit(driver: &'static str) {
    let server = Server::start(driver, &[]);
    let local = tempfile::tempdir().unwrap();
    let run = ftpwire(driver, &["get", &url(&server, "missing.bin")], local.path()).failure();
    assert_eq!(
        run.stderr.trim_end(),
        "ftpwire: error: the server refused RETR: 550 No such file or directory.",
        "{run}"
    );
    assert!(
        !local.path().join("missing.bin").exists(),
        "no empty file left behind"
    );
    let bad = format!("ftp://{USER}:wrong@{}/", server.addr);
    let run = ftpwire(driver, &["ls", &bad], local.path()).failure();
    assert_eq!(run.stderr.lines().count(), 1, "{run}");
    assert!(run.stderr.contains("530"), "{run}");
    let run = ftpwire(driver, &["ls", "http://example.com/"], local.path()).failure();
    assert!(run.stderr.contains("only ftp:// and ftps://"), "{run}");
    // A path with an encoded CR LF is refused before anything is sent.
    let run = ftpwire(
        driver,
        &["get", &url(&server, "a%0d%0aDELE%20b"), "-o", "x"],
        local.path(),
    )
    .failure();
    assert!(run.stderr.contains("CR, LF or NUL"), "{run}");
}
