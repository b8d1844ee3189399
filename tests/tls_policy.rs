//! FTPS policy on every driver: `--require-tls`, `--require-tls-session-reuse`
//! (with real clients, and a data connection opened with another control
//! connection's session), the passive address under TLS (227 text read
//! through TLS; the masquerade address is never dialled), commands pipelined
//! after `AUTH TLS` never run, CCC (`--allow-ccc`) with a raw client and with
//! lftp, the TOML settings, and certificates that cannot be used failing at
//! start.

#[macro_use]
mod common;

use std::ffi::OsString;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;

use common::clients::{CLIENT_TIMEOUT, curl, ftplib_tls, lftp_tls, run_bounded};
use common::control::{Control, REPLY_TIMEOUT};
use common::ftps::{Certificate, TlsControl, read_protected, secure_data_with};
use common::payload::{assert_file_holds, assert_same_bytes, payload};
use common::server::{Server, serve_expecting_failure};

driver_matrix!(
    require_tls_refuses_plain_logins_and_unprotected_transfers,
    session_reuse_lets_resuming_clients_through,
    session_reuse_refuses_ftplib,
    session_reuse_refuses_another_control_connections_session,
    tls_sessions_get_the_tls_passive_address,
    curl_skipping_the_pasv_ip_transfers_under_tls,
    local_network_peers_get_the_local_address_under_tls,
    commands_pipelined_after_auth_tls_never_run,
    ccc_only_when_allowed_and_data_stays_protected,
    real_clients_with_ccc_transfer_both_ways,
    toml_config_with_tls_and_relative_paths,
    unusable_certificates_fail_at_start,
);

/// 1 MiB: these tests are about who may transfer, not volume.
const SMALL: usize = 1 << 20;

fn ftps_server(driver: &'static str, certificate: &Certificate, extra: &[&str]) -> Server {
    let mut args = certificate.args();
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start(driver, &args);
    std::fs::write(server.root().join("down.bin"), &payload()[..SMALL]).unwrap();
    server
}

/// PASV on `control` (under TLS), RETR down.bin: the reply after 150.
fn retr_over_pasv(control: &mut TlsControl) -> (Option<Vec<u8>>, u16) {
    let (addr, _) = control.pasv();
    let data = TcpStream::connect_timeout(&addr, REPLY_TIMEOUT).expect("connect to PASV");
    let reply = control.command("RETR down.bin");
    if !matches!(reply.code, 125 | 150) {
        return (None, reply.code);
    }
    let bytes = control
        .secure_data(data)
        .ok()
        .map(|mut tls| read_protected(&mut tls));
    (bytes, control.reply().code)
}

fn require_tls_refuses_plain_logins_and_unprotected_transfers(driver: &'static str) {
    let certificate = Certificate::generate();
    let server = ftps_server(driver, &certificate, &["--require-tls"]);

    let mut plain = Control::connect(server.addr);
    let reply = plain.command("USER alice");
    assert_eq!(reply.code, 530, "plain USER under --require-tls: {reply:?}");
    assert!(
        reply.text.contains("TLS"),
        "the refusal says why: {reply:?}"
    );
    // curl without TLS gets nowhere either.
    let run = run_bounded(curl().arg(server.url("down.bin")), CLIENT_TIMEOUT).failure();
    assert!(run.stdout.is_empty(), "no data over plain FTP: {run}");

    let mut control = TlsControl::explicit(server.addr, &certificate);
    control.login();
    // No PROT P yet: the transfer is refused before any data moves.
    let (addr, _) = control.pasv();
    let mut data = TcpStream::connect_timeout(&addr, REPLY_TIMEOUT).unwrap();
    let reply = control.command("RETR down.bin");
    assert!(reply.is_permanent_error(), "RETR under PROT C: {reply:?}");
    // A new PASV replaces the listener, which resets the never-accepted
    // connection: the read below ends at once instead of at its timeout.
    control.pasv();
    data.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
    let mut got = Vec::new();
    let _ = std::io::Read::read_to_end(&mut data, &mut got);
    assert!(got.is_empty(), "{} bytes leaked in the clear", got.len());
    assert_eq!(control.command("PBSZ 0").code, 200);
    let reply = control.command("PROT C");
    assert_eq!(reply.code, 534, "PROT C under --require-tls: {reply:?}");

    control.protect_data();
    let (bytes, code) = retr_over_pasv(&mut control);
    assert_eq!(code, 226, "RETR under PROT P");
    assert_same_bytes(
        &bytes.expect("data"),
        &payload()[..SMALL],
        "RETR under PROT P",
    );
}

fn session_reuse_lets_resuming_clients_through(driver: &'static str) {
    let certificate = Certificate::generate();
    let server = ftps_server(driver, &certificate, &["--require-tls-session-reuse"]);
    let client = tempfile::tempdir().unwrap();
    let downloaded = client.path().join("down.bin");
    let local = client.path().join("up.bin");
    std::fs::write(&local, &payload()[..SMALL]).unwrap();

    // curl (OpenSSL) resumes from its session cache.
    let run = run_bounded(
        curl()
            .args(["--ssl-reqd", "-k", "-o"])
            .arg(&downloaded)
            .arg(server.url("down.bin")),
        CLIENT_TIMEOUT,
    )
    .success();
    assert!(run.curl_sent("PROT"), "{run}");
    assert_file_holds(
        &downloaded,
        &payload()[..SMALL],
        "curl RETR with reuse required",
    );

    // lftp (GnuTLS) resumes every data connection from the control
    // connection's first ticket: four data connections in one session.
    std::fs::remove_file(&downloaded).unwrap();
    let run = lftp_tls(
        &server,
        "",
        &format!(
            "cls -1; put {} -o up.bin; get down.bin -o {}; cls -1",
            local.display(),
            downloaded.display()
        ),
    )
    .success();
    assert_file_holds(
        &server.root().join("up.bin"),
        &payload()[..SMALL],
        "lftp put",
    );
    assert_file_holds(&downloaded, &payload()[..SMALL], "lftp get");
    assert!(run.stdout.lines().any(|l| l == "up.bin"), "{run}");

    // lftp resumes every data connection from one control ticket: a mirror
    // of 40 files must not lose it to the tickets its downloads bring.
    let many = server.root().join("many");
    std::fs::create_dir(&many).unwrap();
    for n in 0..40 {
        std::fs::write(many.join(format!("f{n}.txt")), format!("file {n}\n")).unwrap();
    }
    let mirrored = client.path().join("mirror");
    lftp_tls(&server, "", &format!("mirror many {}", mirrored.display())).success();
    for n in 0..40 {
        let got = std::fs::read_to_string(mirrored.join(format!("f{n}.txt")));
        assert_eq!(got.ok(), Some(format!("file {n}\n")), "mirrored f{n}.txt");
    }
    assert!(!server.log().contains("did not resume"), "{}", server.log());

    // This suite's own client, with its control connection's session.
    let mut control = TlsControl::explicit(server.addr, &certificate);
    control.login();
    control.protect_data();
    for round in 0..3 {
        let (bytes, code) = retr_over_pasv(&mut control);
        assert_eq!(code, 226, "round {round}");
        assert_same_bytes(&bytes.expect("data"), &payload()[..SMALL], "resumed RETR");
    }
    // Uploads hand out no tickets (see the server's tls.rs): they resume
    // from those the control connection and the downloads gave.
    for round in 0..3 {
        let name = format!("up{round}.bin");
        assert_eq!(
            stor_over_pasv(&mut control, &name),
            226,
            "STOR round {round}"
        );
        assert_file_holds(
            &server.root().join(&name),
            &payload()[..SMALL],
            "resumed STOR",
        );
    }
}

/// PASV, STOR `name` with 1 MiB of the payload under TLS: the final reply code.
fn stor_over_pasv(control: &mut TlsControl, name: &str) -> u16 {
    let (addr, _) = control.pasv();
    let data = TcpStream::connect_timeout(&addr, REPLY_TIMEOUT).expect("connect to PASV");
    let reply = control.command(&format!("STOR {name}"));
    assert!(matches!(reply.code, 125 | 150), "STOR: {reply:?}");
    if let Ok(mut tls) = control.secure_data(data) {
        tls.write_all(&payload()[..SMALL])
            .expect("upload under TLS");
        tls.conn.send_close_notify();
        let _ = tls.flush();
    }
    control.reply().code
}

fn session_reuse_refuses_ftplib(driver: &'static str) {
    let certificate = Certificate::generate();
    let server = ftps_server(driver, &certificate, &["--require-tls-session-reuse"]);
    let client = tempfile::tempdir().unwrap();
    let downloaded = client.path().join("down.bin");
    let downloaded_path = downloaded.to_str().unwrap().to_owned();
    let results = ftplib_tls(
        &server,
        &[&["retr", "down.bin", &downloaded_path], &["pwd"]],
    );
    // ftplib starts TLS after the 150; the server then refuses the
    // handshake that did not resume, and the final reply says why.
    let error = results[0]
        .as_ref()
        .expect_err("ftplib RETR must be refused");
    let refusal = match &results[1] {
        Err(text) => text.clone(),
        Ok(_) => error.clone(),
    };
    assert!(
        error.contains("522") || refusal.contains("522"),
        "expected 522 for a data connection without session reuse: {results:?}"
    );
    let received = std::fs::metadata(&downloaded).map_or(0, |m| m.len());
    assert_eq!(
        received, 0,
        "no file data to a data connection that did not resume"
    );
    assert!(
        server.log().contains("did not resume"),
        "the refusal is logged: {}",
        server.log()
    );
}

fn session_reuse_refuses_another_control_connections_session(driver: &'static str) {
    let certificate = Certificate::generate();
    let server = ftps_server(driver, &certificate, &["--require-tls-session-reuse"]);
    let mut victim = TlsControl::explicit(server.addr, &certificate);
    victim.login();
    victim.protect_data();
    // The thief has a valid TLS session with this server, but of its own
    // control connection (same IP: loopback), and races to the data port.
    let mut thief = TlsControl::explicit(server.addr, &certificate);
    thief.login();
    thief.protect_data();
    let (bytes, code) = retr_over_pasv(&mut thief);
    assert_eq!(
        code, 226,
        "the thief's own transfer works (its session resumes)"
    );
    assert!(bytes.is_some());

    let (addr, _) = victim.pasv();
    let stolen = TcpStream::connect_timeout(&addr, REPLY_TIMEOUT).unwrap();
    let reply = victim.command("RETR down.bin");
    assert!(matches!(reply.code, 125 | 150), "RETR: {reply:?}");
    let read = thief.secure_data(stolen).map(|mut tls| {
        let mut got = Vec::new();
        let _ = std::io::Read::read_to_end(&mut tls, &mut got);
        got
    });
    assert!(
        read.as_ref().map_or(true, Vec::is_empty),
        "file data went to another session's TLS: {} bytes",
        read.map_or(0, |b| b.len())
    );
    let reply = victim.reply();
    assert_eq!(
        reply.code, 522,
        "the stolen data connection is refused: {reply:?}"
    );
    // The victim's next attempt, with its own session, works.
    let (bytes, code) = retr_over_pasv(&mut victim);
    assert_eq!(code, 226);
    assert_same_bytes(&bytes.expect("data"), &payload()[..SMALL], "victim's RETR");
}

const EXTERNAL: &str = "198.51.100.4";
const TLS_EXTERNAL: &str = "203.0.113.7";

fn tls_sessions_get_the_tls_passive_address(driver: &'static str) {
    let certificate = Certificate::generate();
    // Behind an FTP ALG: plain 227s are rewritten by the router, TLS ones
    // cannot be, so only TLS sessions get the masquerade address.
    let server = ftps_server(
        driver,
        &certificate,
        &["--tls-passive-address", TLS_EXTERNAL],
    );
    let mut plain = Control::login(server.addr);
    let (addr, reply) = plain.pasv();
    assert_eq!(addr.ip(), Ipv4Addr::LOCALHOST, "plain 227: {reply:?}");
    let mut tls = TlsControl::explicit(server.addr, &certificate);
    tls.login();
    let (_, reply) = tls.pasv();
    assert!(
        reply.text.contains("203,0,113,7"),
        "227 under TLS: {reply:?}"
    );

    // With both set, each kind of session gets its own.
    let server = ftps_server(
        driver,
        &certificate,
        &[
            "--passive-address",
            EXTERNAL,
            "--tls-passive-address",
            TLS_EXTERNAL,
        ],
    );
    let mut plain = Control::login(server.addr);
    let (_, reply) = plain.pasv();
    assert!(reply.text.contains("198,51,100,4"), "plain 227: {reply:?}");
    let mut tls = TlsControl::explicit(server.addr, &certificate);
    tls.login();
    let (_, reply) = tls.pasv();
    assert!(
        reply.text.contains("203,0,113,7"),
        "227 under TLS: {reply:?}"
    );
    // EPSV carries no address: the TLS session still transfers.
    tls.protect_data();
    let port = tls.epsv();
    let data = TcpStream::connect_timeout(
        &SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        REPLY_TIMEOUT,
    )
    .unwrap();
    let reply = tls.command("RETR down.bin");
    assert!(matches!(reply.code, 125 | 150), "RETR: {reply:?}");
    let bytes = read_protected(&mut tls.secure_data(data).unwrap());
    assert_eq!(tls.reply().code, 226);
    assert_same_bytes(
        &bytes,
        &payload()[..SMALL],
        "EPSV under TLS with a masquerade",
    );
}

/// curl under TLS with `--disable-epsv --ftp-skip-pasv-ip` receives the
/// masqueraded 227 (curl's trace shows it decrypted), ignores its address,
/// and moves the file both ways.
fn curl_skipping_the_pasv_ip_transfers_under_tls(driver: &'static str) {
    let certificate = Certificate::generate();
    let server = ftps_server(
        driver,
        &certificate,
        &["--tls-passive-address", TLS_EXTERNAL],
    );
    let client = tempfile::tempdir().unwrap();
    let flags = ["--ssl-reqd", "-k", "--disable-epsv", "--ftp-skip-pasv-ip"];
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
    assert!(run.curl_sent("PASV") && run.curl_sent("PROT"), "{run}");
    assert!(
        run.stderr.contains("203,0,113,7"),
        "curl never saw the masqueraded 227: {run}"
    );
    assert_file_holds(&downloaded, &payload()[..SMALL], "PASV download under TLS");

    let local = client.path().join("up.bin");
    std::fs::write(&local, &payload()[..SMALL]).unwrap();
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
        &payload()[..SMALL],
        "PASV upload under TLS",
    );
}

fn local_network_peers_get_the_local_address_under_tls(driver: &'static str) {
    let certificate = Certificate::generate();
    let server = ftps_server(
        driver,
        &certificate,
        &[
            "--tls-passive-address",
            TLS_EXTERNAL,
            "--local-network",
            "127.0.0.0/8",
        ],
    );
    let mut tls = TlsControl::explicit(server.addr, &certificate);
    tls.login();
    tls.protect_data();
    let (addr, reply) = tls.pasv();
    assert_eq!(
        addr.ip(),
        Ipv4Addr::LOCALHOST,
        "227 for a local peer: {reply:?}"
    );
    let data = TcpStream::connect_timeout(&addr, REPLY_TIMEOUT).unwrap();
    let reply = tls.command("RETR down.bin");
    assert!(matches!(reply.code, 125 | 150), "RETR: {reply:?}");
    let bytes = read_protected(&mut tls.secure_data(data).unwrap());
    assert_eq!(tls.reply().code, 226);
    assert_same_bytes(&bytes, &payload()[..SMALL], "PASV RETR under TLS");
}

fn commands_pipelined_after_auth_tls_never_run(driver: &'static str) {
    let certificate = Certificate::generate();
    let server = ftps_server(driver, &certificate, &[]);
    let mut control = Control::connect(server.addr);
    // A man in the middle appends commands after the client's AUTH TLS, in
    // the same segment, before the handshake (STARTTLS injection).
    control.send(b"AUTH TLS\r\nUSER alice\r\nPASS secret\r\nDELE down.bin\r\n");
    let reply = control.reply();
    assert_eq!(reply.code, 234, "AUTH TLS: {reply:?}");
    let socket = control.into_socket();
    let mut tls = TlsControl::handshake(socket, &certificate);
    // None of them ran: not logged in, the file is still there.
    let reply = tls.command("PWD");
    assert_eq!(
        reply.code, 530,
        "the injected login must not have run: {reply:?}"
    );
    assert!(
        server.root().join("down.bin").exists(),
        "the injected DELE ran"
    );
    tls.login();
    assert_eq!(tls.command("PWD").code, 257);
}

fn toml_config_with_tls_and_relative_paths(driver: &'static str) {
    let certificate = Certificate::generate();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tls")).unwrap();
    std::fs::copy(&certificate.cert, dir.path().join("tls/cert.pem")).unwrap();
    std::fs::copy(&certificate.key, dir.path().join("tls/key.pem")).unwrap();
    let root = dir.path().join("files");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("down.bin"), &payload()[..SMALL]).unwrap();
    let config = dir.path().join("ftpwire.toml");
    let mut file = std::fs::File::create(&config).unwrap();
    write!(
        file,
        "listen = \"127.0.0.1:0\"\nroot = \"files\"\ntls_cert = \"tls/cert.pem\"\n\
         tls_key = \"tls/key.pem\"\nimplicit_tls_listen = \"127.0.0.1:0\"\nrequire_tls = true\n\
         tls_passive_address = \"{TLS_EXTERNAL}\"\n\n[[users]]\nname = \"alice\"\npassword = \"secret\"\n"
    )
    .unwrap();
    drop(file);
    let args: Vec<OsString> = vec!["--config".into(), config.clone().into()];
    let server = Server::launch(driver, &args, None, root, None);
    let implicit = server.implicit_addr.expect("implicit listener");

    let mut plain = Control::connect(server.addr);
    assert_eq!(
        plain.command("USER alice").code,
        530,
        "require_tls from the file"
    );
    let mut tls = TlsControl::implicit(implicit, &certificate);
    tls.login();
    let (_, reply) = tls.pasv();
    assert!(
        reply.text.contains("203,0,113,7"),
        "tls_passive_address from the file: {reply:?}"
    );
    tls.protect_data();
    let port = tls.epsv();
    let data = TcpStream::connect_timeout(
        &SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        REPLY_TIMEOUT,
    )
    .unwrap();
    assert!(matches!(tls.command("RETR down.bin").code, 125 | 150));
    let bytes = read_protected(&mut tls.secure_data(data).unwrap());
    assert_eq!(tls.reply().code, 226);
    assert_same_bytes(
        &bytes,
        &payload()[..SMALL],
        "implicit FTPS from a TOML config",
    );
}

fn unusable_certificates_fail_at_start(driver: &'static str) {
    let certificate = Certificate::generate();
    let other = Certificate::generate();
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "this is not PEM\n").unwrap();
    let missing = dir.path().join("missing.pem");
    let cases: [(&Path, &Path, &Path); 4] = [
        (&missing, &certificate.key, &missing),
        (&garbage, &certificate.key, &garbage),
        (&certificate.cert, &garbage, &garbage),
        // A key that is not the certificate's: both files are named.
        (&certificate.cert, &other.key, &other.key),
    ];
    for (cert, key, named) in cases {
        let args: Vec<OsString> = vec![
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--tls-cert".into(),
            cert.into(),
            "--tls-key".into(),
            key.into(),
        ];
        let failure = serve_expecting_failure(driver, &args);
        let lines: Vec<&str> = failure
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert_eq!(lines.len(), 1, "one line: {:?}", failure.stderr);
        assert!(
            lines[0].contains("error") && lines[0].contains(&named.display().to_string()),
            "the line names {}: {:?}",
            named.display(),
            lines[0]
        );
    }
    let failure = serve_expecting_failure(
        driver,
        &[
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--require-tls".into(),
        ],
    );
    assert!(
        failure.stderr.contains("--require-tls needs a certificate"),
        "{:?}",
        failure.stderr
    );
}

/// CCC is refused by default; with `--allow-ccc` the control channel goes
/// back to plain text after the TLS closure both ways, PASV then gives the
/// address a NAT helper rewrites (not the TLS one), and the data connection
/// is still protected.
fn ccc_only_when_allowed_and_data_stays_protected(driver: &'static str) {
    let certificate = Certificate::generate();
    let server = ftps_server(driver, &certificate, &[]);
    let mut tls = TlsControl::explicit(server.addr, &certificate);
    tls.login();
    let reply = tls.command("CCC");
    assert_eq!(reply.code, 534, "CCC without --allow-ccc: {reply:?}");
    assert_eq!(tls.command("NOOP").code, 200, "still under TLS after 534");

    let server = ftps_server(
        driver,
        &certificate,
        &["--allow-ccc", "--tls-passive-address", TLS_EXTERNAL],
    );
    let mut tls = TlsControl::explicit(server.addr, &certificate);
    tls.login();
    let reply = tls.command("FEAT");
    assert!(reply.text.contains(" CCC"), "FEAT lists CCC: {reply:?}");
    tls.protect_data();
    let (_, reply) = tls.pasv();
    assert!(
        reply.text.contains("203,0,113,7"),
        "227 under TLS: {reply:?}"
    );
    let (mut plain, config) = tls.clear_command_channel();
    let reply = plain.command("PWD");
    assert_eq!(reply.code, 257, "PWD in clear text after CCC: {reply:?}");
    // Readable on the wire again: the router's helper rewrites this one.
    let (addr, reply) = plain.pasv();
    assert_eq!(addr.ip(), Ipv4Addr::LOCALHOST, "227 after CCC: {reply:?}");
    let data = TcpStream::connect_timeout(&addr, REPLY_TIMEOUT).unwrap();
    let reply = plain.command("RETR down.bin");
    assert!(matches!(reply.code, 125 | 150), "RETR after CCC: {reply:?}");
    let bytes = read_protected(&mut secure_data_with(&config, data).expect("data TLS after CCC"));
    assert_eq!(plain.reply().code, 226, "RETR after CCC");
    assert_same_bytes(&bytes, &payload()[..SMALL], "RETR under PROT P after CCC");
    assert_eq!(plain.command("QUIT").code, 221);
}

/// The clients that clear the control channel, each way the TLS closure
/// goes: lftp (`ftp:ssl-use-ccc`) and curl `--ftp-ssl-ccc-mode active` send
/// close_notify first; curl's default passive mode waits for the server's
/// and never answers it. Each lists or moves files over protected data
/// connections with a plain control channel.
fn real_clients_with_ccc_transfer_both_ways(driver: &'static str) {
    let certificate = Certificate::generate();
    let server = ftps_server(driver, &certificate, &["--allow-ccc"]);
    let client = tempfile::tempdir().unwrap();
    let local = client.path().join("up.bin");
    let downloaded = client.path().join("down.bin");
    std::fs::write(&local, &payload()[SMALL..2 * SMALL]).unwrap();
    let run = lftp_tls(
        &server,
        "set ftp:ssl-use-ccc yes",
        &format!(
            "cls -1; put {} -o up.bin; get down.bin -o {}",
            local.display(),
            downloaded.display()
        ),
    )
    .success();
    assert!(run.stderr.contains("---> CCC"), "lftp sent CCC: {run}");
    assert!(run.stdout.contains("down.bin"), "listing after CCC: {run}");
    assert_file_holds(
        &server.root().join("up.bin"),
        &payload()[SMALL..2 * SMALL],
        "lftp STOR after CCC",
    );
    assert_file_holds(&downloaded, &payload()[..SMALL], "lftp RETR after CCC");

    for mode in ["passive", "active"] {
        std::fs::remove_file(&downloaded).unwrap();
        let run = run_bounded(
            curl()
                .args(["--ssl-reqd", "-k", "--ftp-ssl-ccc-mode", mode, "-o"])
                .arg(&downloaded)
                .arg(server.url("down.bin")),
            CLIENT_TIMEOUT,
        )
        .success();
        assert!(run.curl_sent("CCC"), "curl ({mode}) sent CCC: {run}");
        assert_file_holds(
            &downloaded,
            &payload()[..SMALL],
            &format!("curl RETR after CCC ({mode})"),
        );
        let name = format!("up-{mode}.bin");
        let run = run_bounded(
            curl()
                .args(["--ssl-reqd", "-k", "--ftp-ssl-ccc-mode", mode, "-T"])
                .arg(&local)
                .arg(server.url(&name)),
            CLIENT_TIMEOUT,
        )
        .success();
        assert!(run.curl_sent("CCC"), "curl ({mode}) sent CCC: {run}");
        assert_file_holds(
            &server.root().join(&name),
            &payload()[SMALL..2 * SMALL],
            &format!("curl STOR after CCC ({mode})"),
        );
    }
}
