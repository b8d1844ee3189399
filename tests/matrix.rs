//! One matrix of real clients against every server host: `ftpwire serve
//! --driver std`, `ftpwire serve --driver smol` and the Node host
//! (`node drivers/wasm/js/server.mjs`, the WebAssembly module). Every case
//! is one `#[test]` per host, `std_::CASE`, `smol_::CASE`, `node_::CASE`,
//! so a failing cell is named; run one host with `cargo test --test matrix
//! node_`.
//!
//! Clients: curl, lftp, and Python's ftplib `FTP` / `FTP_TLS`
//! (tests/clients/ftplib_matrix.py). ftplib matters under FTPS: it starts a
//! protected data connection's TLS handshake only after it has read `150`,
//! and never resumes the control connection's TLS session.
//!
//! Cases: passive and active, plain, explicit FTPS (AUTH TLS, PROT P) and
//! implicit FTPS (PROT P), each moving a payload up and down and comparing
//! it byte for byte; listings; data connections resuming the control
//! connection's TLS session; ftplib's urgent ABOR during a RETR; CCC;
//! `--require-tls-session-reuse` with the resuming clients (curl, lftp) and
//! with ftplib (522); `--require-tls` refusing a plain login; the idle
//! timeout on a quiet session and on a stalled download or upload; SIGTERM
//! during a download, plain and FTPS. The expectations are what a correct
//! FTP server answers (RFC 959, RFC 4217), as vsftpd or pure-ftpd would,
//! not what any one host does today: a cell that fails names a host defect.
//!
//! The Node host's WebAssembly module is built once per run by
//! drivers/wasm/build.sh (see common::server).
//! (Debian's curl 7.88 hangs on active-mode FTPS against every server, so
//! active FTPS is lftp's and ftplib's.)

#[macro_use]
mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use tempfile::TempDir;

use common::clients::{
    CLIENT_TIMEOUT, Run, curl, json_ops, lftp, lftp_implicit, lftp_tls, run_bounded,
};
use common::ftps::Certificate;
use common::payload::{assert_file_holds, payload};
use common::server::{PASSWORD, Server, USER};

// "node" is the harness's name for the Node host (common::server::NODE_HOST).
driver_matrix!(@drivers [(std_ "std") (smol_ "smol") (node_ "node")]
    curl_plain_passive,
    curl_plain_active,
    curl_explicit_passive,
    curl_implicit_passive,
    curl_explicit_data_tls_resumes,
    curl_implicit_data_tls_resumes,
    curl_explicit_session_reuse,
    curl_implicit_session_reuse,
    lftp_plain_passive,
    lftp_plain_active,
    lftp_explicit_passive,
    lftp_explicit_active,
    lftp_implicit_passive,
    lftp_implicit_active,
    lftp_explicit_session_reuse,
    lftp_implicit_session_reuse,
    ftplib_plain_passive,
    ftplib_plain_active,
    ftplib_explicit_passive,
    ftplib_explicit_active,
    ftplib_implicit_passive,
    ftplib_implicit_active,
    ftplib_plain_listings,
    ftplib_explicit_listings,
    ftplib_implicit_listings,
    ftplib_without_session_reuse_gets_522,
    ftplib_urgent_abor_during_retr,
    ftplib_ccc_then_plain_commands,
    require_tls_refuses_a_plain_login,
    idle_session_reads_421,
    idle_tls_session_reads_421,
    stalled_download_reads_426_then_421,
    stalled_tls_download_reads_426_then_421,
    stalled_upload_reads_426_then_421,
    sigterm_during_retr_finishes_then_421,
    sigterm_during_ftps_retr_finishes_then_421
);

/// What moves in the transfer cases: 4 MiB and a little (not a multiple of
/// any buffer size), many TCP windows; the 20 MiB payload's first bytes.
const LEN: usize = (4 << 20) + 4099;

/// The transfer cases' bytes.
fn data() -> &'static [u8] {
    &payload()[..LEN]
}

/// How a client reaches the server.
#[derive(Clone, Copy, PartialEq)]
enum Tls {
    /// Plain FTP.
    Plain,
    /// AUTH TLS on the control port, PROT P.
    Explicit,
    /// TLS from the first byte on the implicit-FTPS port, PROT P.
    Implicit,
}

/// A started host serving `down.bin` (the data), with a client directory
/// holding `up.bin` (the data too) to upload.
struct Setup {
    server: Server,
    _certificate: Option<Certificate>,
    client: TempDir,
}

impl Setup {
    /// The host with TLS (and the implicit listener) as `tls` needs, and
    /// `extra` flags.
    fn new(host: &'static str, tls: Tls, extra: &[&str]) -> Setup {
        let certificate = (tls != Tls::Plain).then(Certificate::generate);
        let mut args: Vec<String> = certificate.iter().flat_map(Certificate::args).collect();
        if tls == Tls::Implicit {
            args.extend(["--implicit-tls-listen".into(), "127.0.0.1:0".into()]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let server = Server::start(host, &args);
        std::fs::write(server.root().join("down.bin"), data()).unwrap();
        let client = tempfile::tempdir().unwrap();
        std::fs::write(client.path().join("up.bin"), data()).unwrap();
        Setup {
            server,
            _certificate: certificate,
            client,
        }
    }

    /// A path in the client's directory.
    fn local(&self, name: &str) -> PathBuf {
        self.client.path().join(name)
    }

    /// The same, as a string for the client command lines.
    fn local_str(&self, name: &str) -> String {
        self.local(name).display().to_string()
    }

    /// The implicit-FTPS listener.
    fn implicit(&self) -> SocketAddr {
        self.server
            .implicit_addr
            .expect("an implicit-FTPS listener")
    }

    /// Panics unless the server holds the uploaded `up.bin` and the client
    /// the downloaded `download`, both exactly the data.
    fn assert_round_trip(&self, download: &str, what: &str) {
        assert_file_holds(
            &self.server.root().join("up.bin"),
            data(),
            &format!("{what}: the uploaded file on the server"),
        );
        assert_file_holds(
            &self.local(download),
            data(),
            &format!("{what}: the downloaded file"),
        );
    }
}

// ---------------------------------------------------------------- curl

/// curl uploads `up.bin` with `up_flags` and downloads `down.bin` with
/// `down_flags` from `base` (`ftp://` or `ftps://` and the address), with
/// `tls_flags` on both; each run must show its data-connection verb.
fn curl_round_trip(
    setup: &Setup,
    base: &str,
    tls_flags: &[&str],
    up: (&[&str], &str),
    down: (&[&str], &str),
) {
    let run = run_bounded(
        curl()
            .args(tls_flags)
            .args(up.0)
            .arg("-T")
            .arg(setup.local("up.bin"))
            .arg(format!("{base}/up.bin")),
        CLIENT_TIMEOUT,
    )
    .success();
    assert!(run.curl_sent(up.1), "curl upload without {}: {run}", up.1);
    let run = run_bounded(
        curl()
            .args(tls_flags)
            .args(down.0)
            .arg("-o")
            .arg(setup.local("down.bin"))
            .arg(format!("{base}/down.bin")),
        CLIENT_TIMEOUT,
    )
    .success();
    assert!(
        run.curl_sent(down.1),
        "curl download without {}: {run}",
        down.1
    );
    if !tls_flags.is_empty() {
        assert!(
            run.stderr.contains("> PROT P"),
            "curl without PROT P: {run}"
        );
    }
    setup.assert_round_trip("down.bin", "curl");
}

fn curl_plain_passive(host: &'static str) {
    let setup = Setup::new(host, Tls::Plain, &[]);
    let base = format!("ftp://{}", setup.server.addr);
    curl_round_trip(
        &setup,
        &base,
        &[],
        (&[], "EPSV"),
        (&["--disable-epsv"], "PASV"),
    );
}

fn curl_plain_active(host: &'static str) {
    let setup = Setup::new(host, Tls::Plain, &[]);
    let base = format!("ftp://{}", setup.server.addr);
    curl_round_trip(
        &setup,
        &base,
        &[],
        (&["-P", "127.0.0.1"], "EPRT"),
        (&["-P", "127.0.0.1", "--disable-eprt"], "PORT"),
    );
}

fn curl_explicit_passive(host: &'static str) {
    let setup = Setup::new(host, Tls::Explicit, &[]);
    let base = format!("ftp://{}", setup.server.addr);
    curl_round_trip(
        &setup,
        &base,
        &["--ssl-reqd", "-k"],
        (&[], "EPSV"),
        (&["--disable-epsv"], "PASV"),
    );
}

fn curl_implicit_passive(host: &'static str) {
    let setup = Setup::new(host, Tls::Implicit, &[]);
    let base = format!("ftps://{}", setup.implicit());
    curl_round_trip(
        &setup,
        &base,
        &["-k"],
        (&[], "EPSV"),
        (&["--disable-epsv"], "PASV"),
    );
}

/// The base URL and TLS flags of a curl that reaches `setup` over `tls`.
fn curl_target(setup: &Setup, tls: Tls) -> (String, &'static [&'static str]) {
    match tls {
        Tls::Plain => (format!("ftp://{}", setup.server.addr), &[]),
        Tls::Explicit => (
            format!("ftp://{}", setup.server.addr),
            &["--ssl-reqd", "-k"],
        ),
        Tls::Implicit => (format!("ftps://{}", setup.implicit()), &["-k"]),
    }
}

/// curl (OpenSSL) offers its control connection's TLS session on its data
/// connection: the server resumes it, so the data connection's handshake
/// has no Certificate message and the control connection's is the only
/// one in the trace. An upload and a download, one control connection
/// each.
fn curl_data_tls_resumes(host: &'static str, tls: Tls) {
    let setup = Setup::new(host, tls, &[]);
    let (base, flags) = curl_target(&setup, tls);
    let upload = run_bounded(
        curl()
            .args(flags)
            .arg("-T")
            .arg(setup.local("up.bin"))
            .arg(format!("{base}/up.bin")),
        CLIENT_TIMEOUT,
    )
    .success();
    let download = run_bounded(
        curl()
            .args(flags)
            .arg("-o")
            .arg(setup.local("down.bin"))
            .arg(format!("{base}/down.bin")),
        CLIENT_TIMEOUT,
    )
    .success();
    setup.assert_round_trip("down.bin", "curl");
    for run in [&upload, &download] {
        let full_handshakes = run
            .stderr
            .matches("(IN), TLS handshake, Certificate (11)")
            .count();
        assert_eq!(
            full_handshakes, 1,
            "the data connection's TLS was not resumed (a second Certificate message): {run}"
        );
    }
}

fn curl_explicit_data_tls_resumes(host: &'static str) {
    curl_data_tls_resumes(host, Tls::Explicit);
}

fn curl_implicit_data_tls_resumes(host: &'static str) {
    curl_data_tls_resumes(host, Tls::Implicit);
}

/// `--require-tls-session-reuse`: curl resumes its control connection's
/// session on its data connection, so its upload and its download (one
/// control connection each) go through.
fn curl_session_reuse(host: &'static str, tls: Tls) {
    let setup = Setup::new(host, tls, &["--require-tls-session-reuse"]);
    let (base, flags) = curl_target(&setup, tls);
    run_bounded(
        curl()
            .args(flags)
            .arg("-T")
            .arg(setup.local("up.bin"))
            .arg(format!("{base}/up.bin")),
        CLIENT_TIMEOUT,
    )
    .success();
    let run = run_bounded(
        curl()
            .args(flags)
            .arg("-o")
            .arg(setup.local("down.bin"))
            .arg(format!("{base}/down.bin")),
        CLIENT_TIMEOUT,
    )
    .success();
    assert!(
        run.stderr.contains("> PROT P"),
        "curl without PROT P: {run}"
    );
    setup.assert_round_trip("down.bin", "curl with session reuse required");
}

fn curl_explicit_session_reuse(host: &'static str) {
    curl_session_reuse(host, Tls::Explicit);
}

fn curl_implicit_session_reuse(host: &'static str) {
    curl_session_reuse(host, Tls::Implicit);
}

// ---------------------------------------------------------------- lftp

/// lftp puts `up.bin`, gets `down.bin` and lists, in passive or active
/// mode; the trace must show that mode's data-connection verbs.
fn lftp_round_trip(host: &'static str, tls: Tls, passive: bool, extra: &[&str]) -> Setup {
    let setup = Setup::new(host, tls, extra);
    let mode = if passive { "yes" } else { "no" };
    let commands = format!(
        "set ftp:passive-mode {mode}; put {} -o up.bin; get down.bin -o {}; cls -1",
        setup.local_str("up.bin"),
        setup.local_str("down.bin"),
    );
    let run = match tls {
        Tls::Plain => lftp(&setup.server, &commands),
        Tls::Explicit => lftp_tls(&setup.server, "", &commands),
        Tls::Implicit => lftp_implicit(setup.implicit(), "", &commands),
    }
    .success();
    let verbs: &[&str] = if passive {
        &["---> PASV", "---> EPSV"]
    } else {
        &["---> PORT", "---> EPRT"]
    };
    assert!(
        verbs.iter().any(|verb| run.stderr.contains(verb)),
        "lftp did not use {verbs:?}: {run}"
    );
    if tls != Tls::Plain {
        assert!(
            run.stderr.contains("---> PROT P"),
            "lftp without PROT P: {run}"
        );
    }
    assert!(
        run.stdout.lines().any(|line| line == "up.bin"),
        "lftp's listing after the upload: {run}"
    );
    setup.assert_round_trip("down.bin", "lftp");
    setup
}

fn lftp_plain_passive(host: &'static str) {
    lftp_round_trip(host, Tls::Plain, true, &[]);
}

fn lftp_plain_active(host: &'static str) {
    lftp_round_trip(host, Tls::Plain, false, &[]);
}

fn lftp_explicit_passive(host: &'static str) {
    lftp_round_trip(host, Tls::Explicit, true, &[]);
}

fn lftp_explicit_active(host: &'static str) {
    lftp_round_trip(host, Tls::Explicit, false, &[]);
}

fn lftp_implicit_passive(host: &'static str) {
    lftp_round_trip(host, Tls::Implicit, true, &[]);
}

fn lftp_implicit_active(host: &'static str) {
    lftp_round_trip(host, Tls::Implicit, false, &[]);
}

/// lftp (GnuTLS) resumes the control connection's session on its data
/// connections: three of them (put, get, cls) under
/// `--require-tls-session-reuse`.
fn lftp_explicit_session_reuse(host: &'static str) {
    lftp_round_trip(host, Tls::Explicit, true, &["--require-tls-session-reuse"]);
}

fn lftp_implicit_session_reuse(host: &'static str) {
    lftp_round_trip(host, Tls::Implicit, true, &["--require-tls-session-reuse"]);
}

// ---------------------------------------------------------------- ftplib

/// One run of tests/clients/ftplib_matrix.py.
struct Ftplib {
    /// `Ok` if it logged in, else the server's reply.
    login: Result<(), String>,
    /// One per operation: its JSON value, or the error reply text.
    results: Vec<Result<Value, String>>,
    run: Run,
}

impl Ftplib {
    /// The result of operation `index`, which must have succeeded.
    fn ok(&self, index: usize, what: &str) -> &Value {
        match &self.results[index] {
            Ok(value) => value,
            Err(error) => panic!("{what} failed: {error}\n{}", self.run),
        }
    }

    /// Operation `index`'s reply text, which must start with `code`.
    fn reply(&self, index: usize, code: &str, what: &str) {
        let value = self.ok(index, what);
        let text = value.as_str().unwrap_or_default();
        assert!(
            text.starts_with(code),
            "{what}: expected {code}, got {value}\n{}",
            self.run
        );
    }
}

/// Runs the ftplib script at `addr` as alice in `mode` ("plain",
/// "explicit", "implicit") with `ops`.
fn ftplib(addr: SocketAddr, mode: &str, ops: &[&[&str]]) -> Ftplib {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/ftplib_matrix.py");
    let run = run_bounded(
        Command::new("python3")
            .arg(script)
            .arg(addr.ip().to_string())
            .arg(addr.port().to_string())
            .args([USER, PASSWORD, mode])
            .arg(json_ops(ops)),
        CLIENT_TIMEOUT,
    );
    let mut lines = run.stdout.lines();
    let login = match lines.next().and_then(|l| l.strip_prefix("login ")) {
        Some("ok") => Ok(()),
        Some(error) => Err(error.strip_prefix("err ").unwrap_or(error).to_owned()),
        None => panic!("the ftplib script did not get to log in: {run}"),
    };
    let results: Vec<Result<Value, String>> = lines
        .map(|line| match line.split_once(' ') {
            Some(("ok", value)) => Ok(serde_json::from_str(value)
                .unwrap_or_else(|e| panic!("bad JSON from the ftplib script ({e}): {line}"))),
            Some(("err", error)) => Err(error.to_owned()),
            _ => panic!("unexpected line from the ftplib script: {line:?}\n{run}"),
        })
        .collect();
    if login.is_ok() {
        assert!(run.status.success(), "the ftplib script failed: {run}");
        assert_eq!(results.len(), ops.len(), "one result per operation: {run}");
    }
    Ftplib {
        login,
        results,
        run,
    }
}

/// The control address a `tls` client connects to.
fn control_addr(setup: &Setup, tls: Tls) -> SocketAddr {
    match tls {
        Tls::Implicit => setup.implicit(),
        _ => setup.server.addr,
    }
}

fn mode(tls: Tls) -> &'static str {
    match tls {
        Tls::Plain => "plain",
        Tls::Explicit => "explicit",
        Tls::Implicit => "implicit",
    }
}

/// ftplib stores `up.bin` and retrieves `down.bin`, in passive or active
/// mode.
fn ftplib_round_trip(host: &'static str, tls: Tls, passive: bool) {
    let setup = Setup::new(host, tls, &[]);
    let local = setup.local_str("up.bin");
    let down = setup.local_str("down.bin");
    let run = ftplib(
        control_addr(&setup, tls),
        mode(tls),
        &[
            &["passive", if passive { "yes" } else { "no" }],
            &["stor", "up.bin", &local],
            &["retr", "down.bin", &down],
        ],
    );
    assert_eq!(run.login, Ok(()), "{}", run.run);
    run.reply(1, "226", "STOR");
    run.reply(2, "226", "RETR");
    setup.assert_round_trip("down.bin", "ftplib");
}

/// ftplib's LIST, NLST and MLSD (short data connections: the server has
/// sent the whole listing before a client that starts TLS after `150` has
/// finished its handshake), then a command that shows the session in step.
fn ftplib_listings(host: &'static str, tls: Tls) {
    let setup = Setup::new(host, tls, &[]);
    let run = ftplib(
        control_addr(&setup, tls),
        mode(tls),
        &[&["list"], &["nlst"], &["mlsd"], &["pwd"]],
    );
    assert_eq!(run.login, Ok(()), "{}", run.run);
    for (index, what) in [(0, "LIST"), (1, "NLST"), (2, "MLSD")] {
        let lines = run.ok(index, what);
        assert!(
            lines.as_array().is_some_and(|lines| lines
                .iter()
                .any(|l| l.as_str().is_some_and(|l| l.contains("down.bin")))),
            "{what} lacks down.bin: {lines}\n{}",
            run.run
        );
    }
    assert_eq!(run.ok(3, "PWD after the listings"), "/", "{}", run.run);
}

fn ftplib_plain_listings(host: &'static str) {
    ftplib_listings(host, Tls::Plain);
}

fn ftplib_explicit_listings(host: &'static str) {
    ftplib_listings(host, Tls::Explicit);
}

fn ftplib_implicit_listings(host: &'static str) {
    ftplib_listings(host, Tls::Implicit);
}

fn ftplib_plain_passive(host: &'static str) {
    ftplib_round_trip(host, Tls::Plain, true);
}

fn ftplib_plain_active(host: &'static str) {
    ftplib_round_trip(host, Tls::Plain, false);
}

fn ftplib_explicit_passive(host: &'static str) {
    ftplib_round_trip(host, Tls::Explicit, true);
}

fn ftplib_explicit_active(host: &'static str) {
    ftplib_round_trip(host, Tls::Explicit, false);
}

fn ftplib_implicit_passive(host: &'static str) {
    ftplib_round_trip(host, Tls::Implicit, true);
}

fn ftplib_implicit_active(host: &'static str) {
    ftplib_round_trip(host, Tls::Implicit, false);
}

/// `--require-tls-session-reuse` and ftplib, whose data connections do not
/// resume: the RETR is refused with 522 and no file data goes out.
fn ftplib_without_session_reuse_gets_522(host: &'static str) {
    let setup = Setup::new(host, Tls::Explicit, &["--require-tls-session-reuse"]);
    let down = setup.local_str("down.bin");
    let run = ftplib(
        setup.server.addr,
        "explicit",
        &[&["retr", "down.bin", &down], &["pwd"]],
    );
    assert_eq!(run.login, Ok(()), "{}", run.run);
    // The 522 ends the RETR; ftplib reads it as the RETR's answer or, when
    // its handshake failed first, as the next command's.
    let retr = run.results[0]
        .as_ref()
        .expect_err("a RETR without session reuse must be refused");
    let next = run.results[1].as_ref().err();
    assert!(
        retr.starts_with("522") || next.is_some_and(|e| e.starts_with("522")),
        "expected 522: {}",
        run.run
    );
    let received = std::fs::metadata(&down).map_or(0, |m| m.len());
    assert_eq!(
        received, 0,
        "file data went to a data connection that did not resume"
    );
}

/// `FTP.abort()` during a RETR: ftplib sends `ABOR` CRLF as TCP urgent data
/// (its last byte is the urgent one) while the data connection is still
/// open and unread. The answer is `426` (the transfer was cut) then `226`
/// (the ABOR succeeded), and the session goes on.
fn ftplib_urgent_abor_during_retr(host: &'static str) {
    let setup = Setup::new(host, Tls::Plain, &[]);
    // The whole 20 MiB: more than loopback's socket buffers hold, so the
    // server is still sending when the ABOR comes.
    std::fs::write(setup.server.root().join("big.bin"), payload()).unwrap();
    let down = setup.local_str("down.bin");
    let run = ftplib(
        setup.server.addr,
        "plain",
        &[
            &["abort_retr", "big.bin", "65536"],
            &["pwd"],
            &["retr", "down.bin", &down],
        ],
    );
    assert_eq!(run.login, Ok(()), "{}", run.run);
    let abort = run.ok(0, "ABOR");
    let first = abort["abort"].as_str().unwrap_or_default();
    let then = abort["then"].as_str().unwrap_or_default();
    assert!(
        first.starts_with("426") && then.starts_with("226"),
        "ABOR during RETR: expected 426 then 226, got {abort}\n{}",
        run.run
    );
    assert_eq!(run.ok(1, "PWD after ABOR"), "/", "{}", run.run);
    run.reply(2, "226", "RETR after ABOR");
    assert_file_holds(&setup.local("down.bin"), data(), "RETR after ABOR");
}

/// `FTP_TLS.ccc()` with `--allow-ccc`: `200`, the TLS closure, then plain
/// commands on the same connection; data connections stay protected.
fn ftplib_ccc_then_plain_commands(host: &'static str) {
    let setup = Setup::new(host, Tls::Explicit, &["--allow-ccc"]);
    let local = setup.local_str("up.bin");
    let down = setup.local_str("down.bin");
    let again = setup.local_str("again.bin");
    let run = ftplib(
        setup.server.addr,
        "explicit",
        &[
            &["ccc"],
            &["pwd"],
            &["cmd", "NOOP"],
            &["stor", "up.bin", &local],
            &["retr", "down.bin", &down],
            &["passive", "no"],
            &["retr", "down.bin", &again],
        ],
    );
    assert_eq!(run.login, Ok(()), "{}", run.run);
    run.reply(0, "200", "CCC");
    assert_eq!(run.ok(1, "PWD after CCC"), "/", "{}", run.run);
    run.reply(2, "200", "NOOP after CCC");
    run.reply(3, "226", "STOR after CCC");
    run.reply(4, "226", "RETR after CCC");
    run.reply(6, "226", "active RETR after CCC");
    setup.assert_round_trip("down.bin", "ftplib after CCC");
    assert_file_holds(&setup.local("again.bin"), data(), "active RETR after CCC");
}

/// `--require-tls`: a plain login is refused with 530 (curl and ftplib);
/// the same user over FTPS logs in and transfers.
fn require_tls_refuses_a_plain_login(host: &'static str) {
    let setup = Setup::new(host, Tls::Explicit, &["--require-tls"]);
    let run = run_bounded(curl().arg(setup.server.url("")), CLIENT_TIMEOUT).failure();
    assert!(run.stderr.contains("< 530"), "curl's plain login: {run}");
    let plain = ftplib(setup.server.addr, "plain", &[&["pwd"]]);
    assert!(
        plain.login.as_ref().is_err_and(|e| e.starts_with("530")),
        "ftplib's plain login: {}",
        plain.run
    );
    let down = setup.local_str("down.bin");
    let secure = ftplib(
        setup.server.addr,
        "explicit",
        &[&["retr", "down.bin", &down]],
    );
    assert_eq!(secure.login, Ok(()), "{}", secure.run);
    secure.reply(0, "226", "RETR over FTPS");
    assert_file_holds(&setup.local("down.bin"), data(), "RETR over FTPS");
}

/// The replies a stall or wait operation saw (`{"replies": [...], "end":
/// ...}`), and how the control connection ended.
fn replies_of(value: &Value) -> (Vec<String>, String) {
    let replies = value["replies"]
        .as_array()
        .unwrap_or_else(|| panic!("no replies in {value}"))
        .iter()
        .map(|r| r.as_str().unwrap_or_default().to_owned())
        .collect();
    (
        replies,
        value["end"].as_str().unwrap_or_default().to_owned(),
    )
}

fn replies(run: &Ftplib, index: usize, what: &str) -> (Vec<String>, String) {
    replies_of(run.ok(index, what))
}

/// Panics unless the codes of `replies` are `codes` and the server closed
/// the control connection afterwards.
fn assert_replies_then_closed(
    got: &(Vec<String>, String),
    codes: &[&str],
    what: &str,
    run: &Ftplib,
) {
    let (replies, end) = got;
    let matches =
        replies.len() == codes.len() && replies.iter().zip(codes).all(|(r, c)| r.starts_with(c));
    assert!(
        matches && end == "closed",
        "{what}: expected {codes:?} then the connection closed, got {replies:?} then {end}\n{}",
        run.run
    );
}

/// `--idle-timeout 2`: a logged-in session that sends nothing reads 421
/// and is closed; the client only reads, so the 421 is the signal.
fn idle_session(host: &'static str, tls: Tls) {
    let setup = Setup::new(host, tls, &["--idle-timeout", "2"]);
    let run = ftplib(setup.server.addr, mode(tls), &[&["wait", "20"]]);
    assert_eq!(run.login, Ok(()), "{}", run.run);
    let got = replies(&run, 0, "an idle session");
    assert_replies_then_closed(&got, &["421"], "an idle session", &run);
}

fn idle_session_reads_421(host: &'static str) {
    idle_session(host, Tls::Plain);
}

fn idle_tls_session_reads_421(host: &'static str) {
    idle_session(host, Tls::Explicit);
}

/// `--idle-timeout 2` and a client that stops reading a download: no data
/// moves, so the transfer fails (426, never 226) and, the session then
/// quiet, it is closed with 421.
fn stalled_download(host: &'static str, tls: Tls) {
    let setup = Setup::new(host, tls, &["--idle-timeout", "2"]);
    std::fs::write(setup.server.root().join("big.bin"), payload()).unwrap();
    let run = ftplib(
        control_addr(&setup, tls),
        mode(tls),
        &[&["stall_retr", "big.bin", "65536"]],
    );
    assert_eq!(run.login, Ok(()), "{}", run.run);
    let got = replies(&run, 0, "a stalled RETR");
    assert_replies_then_closed(&got, &["426", "421"], "a stalled RETR", &run);
}

fn stalled_download_reads_426_then_421(host: &'static str) {
    stalled_download(host, Tls::Plain);
}

fn stalled_tls_download_reads_426_then_421(host: &'static str) {
    stalled_download(host, Tls::Explicit);
}

/// The same for an upload whose client stops sending (its data connection
/// open).
fn stalled_upload_reads_426_then_421(host: &'static str) {
    let setup = Setup::new(host, Tls::Plain, &["--idle-timeout", "2"]);
    let run = ftplib(
        setup.server.addr,
        "plain",
        &[&["stall_stor", "stalled.bin", "65536"]],
    );
    assert_eq!(run.login, Ok(()), "{}", run.run);
    let got = replies(&run, 0, "a stalled STOR");
    assert_replies_then_closed(&got, &["426", "421"], "a stalled STOR", &run);
}

/// SIGTERM while ftplib downloads 20 MiB (sent by the client once the first
/// data arrived): an idle session reads 421 at once, the download completes
/// byte for byte with 226, then 421, and the server exits 0.
fn sigterm_during_retr(host: &'static str, tls: Tls) {
    let mut setup = Setup::new(host, tls, &["--shutdown-grace", "60"]);
    std::fs::write(setup.server.root().join("big.bin"), payload()).unwrap();
    let down = setup.local_str("big.bin");
    let pid = setup.server.pid().to_string();
    let run = ftplib(
        control_addr(&setup, tls),
        mode(tls),
        &[&["retr_through_sigterm", "big.bin", &down, &pid]],
    );
    assert_eq!(run.login, Ok(()), "{}", run.run);
    let value = run.ok(0, "RETR through SIGTERM");
    let part = |key: &str| replies_of(&value[key]);
    assert_replies_then_closed(&part("idle"), &["421"], "the idle session at SIGTERM", &run);
    assert_file_holds(
        &setup.local("big.bin"),
        payload(),
        "RETR in flight at SIGTERM",
    );
    assert_replies_then_closed(
        &part("busy"),
        &["226", "421"],
        "the transferring session at SIGTERM",
        &run,
    );
    let status = setup
        .server
        .wait_for_exit(std::time::Duration::from_secs(30));
    assert!(status.success(), "exit status after SIGTERM: {status}");
}

fn sigterm_during_retr_finishes_then_421(host: &'static str) {
    sigterm_during_retr(host, Tls::Plain);
}

fn sigterm_during_ftps_retr_finishes_then_421(host: &'static str) {
    sigterm_during_retr(host, Tls::Explicit);
}
