//! `ftpwire serve` as an operator meets it: a TOML config with an argon2
//! user, configurations that must fail at start with a clear line and a
//! non-zero exit, the no-flags default (anonymous, read-only, the current
//! directory, 127.0.0.1:2121), and `--idle-timeout`.

#[macro_use]
mod common;

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use common::clients::{CLIENT_TIMEOUT, Run, run_bounded};
use common::control::Control;
use common::server::{Server, os_args, serve_expecting_failure};

driver_matrix!(
    config_file_with_an_argon2_user,
    an_unusable_root_fails_at_start,
    a_malformed_passive_port_range_fails_at_start,
    a_port_in_use_fails_at_start,
    a_bad_config_file_fails_at_start,
    no_flags_serves_the_current_directory_read_only_on_2121,
    idle_timeout_flag_closes_quiet_sessions,
);

/// `--idle-timeout 1`: a logged-in session that sends nothing reads 421
/// and is closed (the harness's reply bound, 10 s, is far above 1 s).
fn idle_timeout_flag_closes_quiet_sessions(driver: &'static str) {
    let server = Server::start(driver, &["--idle-timeout", "1"]);
    let mut control = Control::login(server.addr);
    let reply = control.reply();
    assert_eq!(reply.code, 421, "idle timeout: {reply:?}");
    assert!(reply.text.contains("Idle"), "{reply:?}");
    control.expect_closed();
}

/// curl as `user:password` (the harness's `curl()` is alice's).
fn curl_as(user: &str, password: &str) -> Command {
    let mut command = Command::new("curl");
    command
        .args(["-sS", "-v", "--user", &format!("{user}:{password}")])
        .args(["--connect-timeout", "10", "--max-time", "100"]);
    command
}

fn list(run: &Run) -> Vec<String> {
    run.stdout
        .lines()
        .filter_map(|line| line.split_whitespace().last().map(str::to_owned))
        .collect()
}

/// An argon2id PHC string with small parameters (the server reads them from
/// the string; the test need not be slow).
fn argon2_hash(password: &str) -> String {
    let params = Params::new(1024, 1, 1, None).expect("argon2 parameters");
    let salt = SaltString::encode_b64(b"ftpwire-tests-salt").expect("salt");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes(), &salt)
        .expect("hash a password")
        .to_string()
}

fn config_file_with_an_argon2_user(driver: &'static str) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("files");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("hello.txt"), b"hello from the config\n").unwrap();
    let config = dir.path().join("ftpwire.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\nroot = {root:?}\n\n[[users]]\nname = \"carol\"\n\
             password_hash = \"{}\"\n",
            argon2_hash("correct horse")
        ),
    )
    .unwrap();

    let server = Server::launch(
        driver,
        &os_args([Path::new("--config"), config.as_path()]),
        None,
        root,
        None,
    );
    let run = run_bounded(
        curl_as("carol", "correct horse").arg(server.url("")),
        CLIENT_TIMEOUT,
    )
    .success();
    assert_eq!(list(&run), ["hello.txt"], "LIST as carol: {run}");
    let run = run_bounded(
        curl_as("carol", "correct horse").arg(server.url("hello.txt")),
        CLIENT_TIMEOUT,
    )
    .success();
    assert_eq!(
        run.stdout, "hello from the config\n",
        "RETR as carol: {run}"
    );

    let run = run_bounded(
        curl_as("carol", "wrong horse").arg(server.url("")),
        CLIENT_TIMEOUT,
    )
    .failure();
    assert!(
        run.stderr.contains("< 530"),
        "a wrong password must get 530: {run}"
    );
    // With users configured, anonymous logins are off unless asked for.
    let run = run_bounded(
        curl_as("anonymous", "guest@").arg(server.url("")),
        CLIENT_TIMEOUT,
    )
    .failure();
    assert!(
        run.stderr.contains("< 530"),
        "anonymous must get 530: {run}"
    );
}

/// Panics unless the first line on stderr names `needle`: the one clear
/// line an operator reads (clap may add a `--help` hint after it).
fn assert_says(stderr: &str, needle: &str, what: &str) {
    let first = stderr.lines().find(|line| !line.trim().is_empty());
    assert!(
        first.is_some_and(|line| line.contains(needle) && line.contains("error")),
        "{what}: the first stderr line should be an error naming {needle:?}; stderr: {stderr:?}"
    );
}

fn an_unusable_root_fails_at_start(driver: &'static str) {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    for root in [&missing, &file] {
        let failure = serve_expecting_failure(
            driver,
            &os_args([
                Path::new("--listen"),
                Path::new("127.0.0.1:0"),
                Path::new("--root"),
                root,
            ]),
        );
        assert_says(
            &failure.stderr,
            &root.display().to_string(),
            "unusable root",
        );
    }
}

fn a_malformed_passive_port_range_fails_at_start(driver: &'static str) {
    let root = tempfile::tempdir().unwrap();
    for range in ["9-1", "abc", "50000", "50000-70000", "0-10"] {
        let failure = serve_expecting_failure(
            driver,
            &os_args([
                "--listen".as_ref(),
                "127.0.0.1:0".as_ref(),
                "--root".as_ref(),
                root.path().as_os_str(),
                "--passive-ports".as_ref(),
                range.as_ref(),
            ]),
        );
        assert_says(&failure.stderr, range, "malformed --passive-ports");
    }
}

fn a_port_in_use_fails_at_start(driver: &'static str) {
    let root = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let failure = serve_expecting_failure(
        driver,
        &os_args([
            "--listen".as_ref(),
            addr.as_ref(),
            "--root".as_ref(),
            root.path().as_os_str(),
        ]),
    );
    assert_says(&failure.stderr, &addr, "--listen on a port in use");
}

/// Port 21 without the privilege to bind it: the error says how to get it
/// (run as root, this drops CAP_NET_BIND_SERVICE with util-linux's setpriv).
#[test]
fn a_privileged_port_without_the_capability_says_how_to_get_it() {
    use std::os::unix::fs::MetadataExt;
    let start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .expect("read net.ipv4.ip_unprivileged_port_start");
    let start: u16 = start.trim().parse().unwrap();
    assert!(
        start > 21,
        "net.ipv4.ip_unprivileged_port_start is {start}: anyone may bind port 21 here, so this \
         test cannot check the refusal; it expects Linux's default of 1024"
    );
    let root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
    let mut command = if root {
        let mut setpriv = Command::new("setpriv");
        setpriv
            .args(["--bounding-set", "-net_bind_service"])
            .arg(common::server::binary());
        setpriv
    } else {
        Command::new(common::server::binary())
    };
    let dir = tempfile::tempdir().unwrap();
    command
        .args(["serve", "--listen", "127.0.0.1:21", "--root"])
        .arg(dir.path());
    let run = run_bounded(&mut command, CLIENT_TIMEOUT).failure();
    assert!(
        run.stderr.contains("cannot listen on 127.0.0.1:21")
            && run.stderr.contains("CAP_NET_BIND_SERVICE"),
        "{run}"
    );
    assert_eq!(run.stderr.lines().count(), 1, "one line: {run}");
}

fn a_bad_config_file_fails_at_start(driver: &'static str) {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "unknown-key.toml",
            "root = \".\"\nlisen = \"127.0.0.1:0\"\n",
            "lisen",
        ),
        (
            "bad-range.toml",
            "root = \".\"\npassive_ports = \"9-1\"\n",
            "9-1",
        ),
        (
            "bad-hash.toml",
            "[[users]]\nname = \"dave\"\npassword_hash = \"nope\"\n",
            "dave",
        ),
    ];
    for (name, text, needle) in cases {
        let config = dir.path().join(name);
        std::fs::write(&config, text).unwrap();
        let failure = serve_expecting_failure(driver, &os_args([Path::new("--config"), &config]));
        assert_says(&failure.stderr, needle, name);
    }
    let missing = dir.path().join("missing.toml");
    let failure = serve_expecting_failure(driver, &os_args([Path::new("--config"), &missing]));
    assert_says(&failure.stderr, "missing.toml", "a missing config file");
}

/// Port 2121 is fixed by the contract, so the drivers take turns.
static PORT_2121: Mutex<()> = Mutex::new(());

fn no_flags_serves_the_current_directory_read_only_on_2121(driver: &'static str) {
    let _turn = PORT_2121
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let default: SocketAddr = "127.0.0.1:2121".parse().unwrap();
    if let Err(e) = TcpListener::bind(default) {
        panic!(
            "127.0.0.1:2121 is in use by another process ({e}); this test runs `ftpwire serve` \
             with no flags, which must listen there. Free the port and rerun."
        );
    }
    let cwd = tempfile::tempdir().unwrap();
    std::fs::write(cwd.path().join("readme.txt"), b"served by default\n").unwrap();
    let server = Server::launch(driver, &[], Some(cwd.path()), cwd.path().to_owned(), None);
    assert_eq!(server.addr, default, "the no-flags listen address");

    for user in ["anonymous", "ftp"] {
        let mut control = Control::connect(server.addr);
        control.log_in_as(user, "guest@example.com");
    }
    let run = run_bounded(
        curl_as("anonymous", "guest@").arg(server.url("")),
        CLIENT_TIMEOUT,
    )
    .success();
    assert_eq!(
        list(&run),
        ["readme.txt"],
        "anonymous LIST of the cwd: {run}"
    );
    let run = run_bounded(
        curl_as("anonymous", "guest@").arg(server.url("readme.txt")),
        CLIENT_TIMEOUT,
    )
    .success();
    assert_eq!(run.stdout, "served by default\n", "anonymous RETR: {run}");

    // Read-only: nothing may be written, removed or created.
    let client = tempfile::tempdir().unwrap();
    let upload = client.path().join("upload.txt");
    std::fs::write(&upload, b"x").unwrap();
    run_bounded(
        curl_as("anonymous", "guest@")
            .arg("-T")
            .arg(&upload)
            .arg(server.url("new.txt")),
        CLIENT_TIMEOUT,
    )
    .failure();
    assert!(
        !cwd.path().join("new.txt").exists(),
        "anonymous STOR wrote a file"
    );
    let mut control = Control::connect(server.addr);
    control.log_in_as("anonymous", "guest@");
    for command in ["DELE readme.txt", "MKD newdir"] {
        let reply = control.command(command);
        assert!(
            reply.is_permanent_error(),
            "anonymous `{command}`: {reply:?}"
        );
    }
    // Each refusal is logged with the command and the login.
    server.wait_for_log("STOR refused: anonymous is read-only");
    server.wait_for_log("DELE refused: anonymous is read-only");
    server.wait_for_log("MKD refused: anonymous is read-only");
    // RNFR may be accepted (it only names a file); the rename may not.
    let reply = control.command("RNFR readme.txt");
    if reply.code == 350 {
        let reply = control.command("RNTO moved.txt");
        assert!(reply.is_permanent_error(), "anonymous RNTO: {reply:?}");
    } else {
        assert!(reply.is_permanent_error(), "anonymous RNFR: {reply:?}");
    }
    assert!(
        cwd.path().join("readme.txt").exists(),
        "anonymous DELE/RNTO removed a file"
    );
    assert!(
        !cwd.path().join("newdir").exists(),
        "anonymous MKD created a directory"
    );
    // A named user needs --user; with no flags there is none.
    let mut control = Control::connect(server.addr);
    let reply = control.command("USER alice");
    assert_eq!(reply.code, 331);
    let reply = control.command("PASS secret");
    assert_eq!(
        reply.code, 530,
        "a user that was never configured: {reply:?}"
    );
}
