//! What FTPS costs, per driver of `ftpwire serve`, measured in one run
//! against plain FTP so the figures compare: RETR throughput with curl
//! (plain vs `--ssl-reqd`, data connection under PROT P), and resident
//! memory per idle logged-in session on a TLS control channel vs a plain
//! one. Prints a table; asserts nothing about speed.
//!
//!     cargo bench --bench ftps
//!
//! `-- --quick` (or `FTPWIRE_BENCH_ONCE=1`): 64 MiB and 100 sessions.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

struct Server {
    child: Child,
    addr: SocketAddr,
    root: tempfile::TempDir,
    _tls: tempfile::TempDir,
    cert: CertificateDer<'static>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(driver: &str, sessions: usize) -> Server {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let tls = tempfile::tempdir().unwrap();
    std::fs::write(tls.path().join("cert.pem"), generated.cert.pem()).unwrap();
    std::fs::write(
        tls.path().join("key.pem"),
        generated.signing_key.serialize_pem(),
    )
    .unwrap();
    let root = tempfile::tempdir().expect("temp root");
    let limit = (sessions + 10).to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ftpwire"))
        .args(["serve", "--driver", driver, "--listen", "127.0.0.1:0"])
        .args(["--user", "alice:secret"])
        .args(["--max-sessions", &limit, "--max-sessions-per-ip", &limit])
        .arg("--root")
        .arg(root.path())
        .arg("--tls-cert")
        .arg(tls.path().join("cert.pem"))
        .arg("--tls-key")
        .arg(tls.path().join("key.pem"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ftpwire serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("read the listening line");
    let addr = line
        .trim()
        .strip_prefix("listening ftp://")
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    Server {
        child,
        addr,
        root,
        _tls: tls,
        cert: generated.cert.der().clone(),
    }
}

/// MiB/s of one curl RETR of `file` (`tls`: explicit FTPS, PROT P).
fn retr_mib_per_s(server: &Server, file: &str, mib: u64, tls: bool) -> f64 {
    let started = Instant::now();
    let status = Command::new("curl")
        .args(["-sS", "--user", "alice:secret", "-o", "/dev/null"])
        .args(if tls {
            &["--ssl-reqd", "-k"][..]
        } else {
            &[][..]
        })
        .arg(format!("ftp://{}/{file}", server.addr))
        .status()
        .expect("run curl");
    assert!(status.success(), "curl RETR failed");
    mib as f64 / started.elapsed().as_secs_f64()
}

/// Resident set size of `pid` in KiB (Linux).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// A control connection, logged in, under TLS or not, kept open.
enum Idle {
    Plain(#[allow(dead_code)] TcpStream),
    Tls(#[allow(dead_code)] Box<StreamOwned<ClientConnection, TcpStream>>),
}

fn reply(reader: &mut impl BufRead) -> String {
    let mut line = String::new();
    reader.read_line(&mut line).expect("reply");
    line
}

fn idle_session(server: &Server, config: &Arc<ClientConfig>, tls: bool) -> Idle {
    let mut control = BufReader::new(TcpStream::connect(server.addr).expect("connect"));
    reply(&mut control);
    if !tls {
        for command in ["USER alice\r\n", "PASS secret\r\n"] {
            control.get_mut().write_all(command.as_bytes()).unwrap();
            reply(&mut control);
        }
        return Idle::Plain(control.into_inner());
    }
    control.get_mut().write_all(b"AUTH TLS\r\n").unwrap();
    assert!(reply(&mut control).starts_with("234"));
    let mut socket = control.into_inner();
    let name = ServerName::try_from("localhost").unwrap();
    let mut conn = ClientConnection::new(config.clone(), name).unwrap();
    while conn.is_handshaking() {
        conn.complete_io(&mut socket).expect("handshake");
    }
    let mut stream = BufReader::new(StreamOwned::new(conn, socket));
    for command in ["USER alice\r\n", "PASS secret\r\n"] {
        stream.get_mut().write_all(command.as_bytes()).unwrap();
        reply(&mut stream);
    }
    Idle::Tls(Box::new(stream.into_inner()))
}

/// KiB of server RSS per idle logged-in session.
fn memory_per_session(server: &Server, sessions: usize, tls: bool) -> f64 {
    let mut roots = RootCertStore::empty();
    roots.add(server.cert.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = Arc::new(
        ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );
    let pid = server.child.id();
    // One session first, so one-off allocations are not counted.
    let warm = idle_session(server, &config, tls);
    let before = rss_kib(pid);
    let idle: Vec<Idle> = (0..sessions)
        .map(|_| idle_session(server, &config, tls))
        .collect();
    let after = rss_kib(pid);
    drop((warm, idle));
    (after.saturating_sub(before)) as f64 / sessions as f64
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick")
        || std::env::var_os("FTPWIRE_BENCH_ONCE").is_some();
    let (mib, sessions) = if quick { (64, 100) } else { (1024, 500) };
    println!("ftps bench: RETR {mib} MiB with curl; {sessions} idle logged-in sessions");
    println!(
        "{:<6} {:>12} {:>12} {:>7} {:>14} {:>14}",
        "driver", "plain MiB/s", "FTPS MiB/s", "ratio", "plain KiB/ses", "TLS KiB/ses"
    );
    for driver in ["std", "smol"] {
        let server = start(driver, 4);
        let file = std::fs::File::create(server.root.path().join("big.bin")).unwrap();
        file.set_len(mib << 20).unwrap();
        let mut sample = [0u8; 1];
        // Warm the page cache path and the binary once.
        let _ = std::fs::File::open(server.root.path().join("big.bin"))
            .and_then(|mut f| f.read(&mut sample));
        retr_mib_per_s(&server, "big.bin", mib, false);
        let plain = retr_mib_per_s(&server, "big.bin", mib, false);
        let ftps = retr_mib_per_s(&server, "big.bin", mib, true);
        drop(server);
        // Each on a fresh server: memory freed by the first run would be
        // reused by the second and hide its cost.
        let plain_kib = memory_per_session(&start(driver, sessions + 2), sessions, false);
        let tls_kib = memory_per_session(&start(driver, sessions + 2), sessions, true);
        println!(
            "{driver:<6} {plain:>12.0} {ftps:>12.0} {:>7.2} {plain_kib:>14.1} {tls_kib:>14.1}",
            ftps / plain
        );
    }
}
