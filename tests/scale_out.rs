//! Several instances behind a load balancer, for real: HAProxy (Debian's
//! package) in one network namespace in front of two `ftpwire serve`
//! instances in two more (one on each driver), sharing one storage
//! directory, each advertising its own address and passive range; clients
//! in a fourth namespace, each from its own address. HAProxy sends PROXY
//! v2 headers and health-checks the instances (`check-send-proxy`, expect
//! `220`); data connections go straight to the instances.
//!
//! - 20 concurrent clients (curl) upload and download through the
//!   balancer, every byte checked, and the instances log their real
//!   addresses;
//! - the per-IP limit counts real clients: sessions from one address are
//!   limited, as many from distinct addresses are all served;
//! - an instance sent SIGTERM drains: its running download finishes while
//!   new sessions go to the other instance.
//!
//! Needs root and haproxy (CI installs it); addresses only its namespaces.

#[macro_use]
mod common;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::clients::{CLIENT_TIMEOUT, Run, run_bounded};
use common::netns::{Lan, in_ns};
use common::payload::assert_file_holds;
use common::server::{PASSWORD, Server, USER};

driver_matrix!(haproxy_in_front_of_two_instances);

const PREFIX: &str = "10.88.0";
const BALANCER: u8 = 2;
const PORT: u16 = 2121;
/// The concurrent clients' addresses: PREFIX.100 and on.
const CLIENTS: u8 = 20;
const PER_IP: usize = 2;

fn the_other(driver: &str) -> &'static str {
    if driver == "std" { "smol" } else { "std" }
}

/// HAProxy in `ns`, killed when dropped; its stderr kept for failures.
struct HaProxy {
    child: Child,
    log: Arc<Mutex<Vec<u8>>>,
}

impl HaProxy {
    fn start(ns: &str, config: &Path) -> HaProxy {
        let mut child = in_ns(ns, &["haproxy", "-db", "-f"])
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run haproxy (Debian's haproxy package)");
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = std::io::Read::read(&mut stderr, &mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        HaProxy { child, log }
    }

    fn log(&self) -> String {
        String::from_utf8_lossy(&self.log.lock().unwrap()).into_owned()
    }
}

impl Drop for HaProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The configuration the README shows, with this LAN's addresses.
fn haproxy_config(lan: &Lan) -> String {
    format!(
        "global
    log stderr format raw local0 info

defaults
    mode tcp
    log global
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    retries 3
    option redispatch

frontend ftp
    bind {balancer}:{PORT}
    default_backend ftpwire

backend ftpwire
    balance roundrobin
    option tcp-check
    tcp-check expect string 220
    default-server send-proxy-v2 check check-send-proxy inter 200ms fall 1 rise 2
    server one {one}:{PORT}
    server two {two}:{PORT}
",
        balancer = lan.addr(BALANCER),
        one = lan.addr(3),
        two = lan.addr(4),
    )
}

/// `ftpwire serve` in `ns` on `addr`, its own passive address and range,
/// the shared root.
fn instance(ns: &str, driver: &'static str, addr: &str, ports: &str, root: &Path) -> Server {
    let args: Vec<OsString> = [
        "--listen",
        &format!("{addr}:{PORT}"),
        "--root",
        &root.display().to_string(),
        "--user",
        &format!("{USER}:{PASSWORD}"),
        "--passive-address",
        addr,
        "--passive-ports",
        ports,
        "--proxy-protocol-from",
        &format!("{PREFIX}.{BALANCER}"),
        "--max-sessions-per-ip",
        &PER_IP.to_string(),
        "--shutdown-grace",
        "60",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    Server::launch_wrapped(
        &["ip", "netns", "exec", ns],
        driver,
        &args,
        None,
        root.to_owned(),
        None,
    )
}

/// curl in the client namespace from `source`, through the balancer.
fn curl(ns: &str, source: &str, args: &[&str]) -> Command {
    let mut command = in_ns(
        ns,
        &[
            "curl",
            "--silent",
            "--show-error",
            "--max-time",
            "60",
            "--interface",
            source,
            // curl 7.74 and later dial the control connection's address
            // instead of the 227's by default: behind a balancer whose
            // instances take data connections themselves, that is the
            // balancer. This is the README's advice for curl.
            "--no-ftp-skip-pasv-ip",
        ],
    );
    command.args(args);
    command
}

fn url(path: &str) -> String {
    format!("ftp://{USER}:{PASSWORD}@{PREFIX}.{BALANCER}:{PORT}/{path}")
}

/// Holds sessions open from each of `sources` at once (Python's ftplib)
/// and returns each greeting's code: 220, or the 421 of a refusal.
fn hold_sessions(ns: &str, sources: &[String]) -> Vec<String> {
    const SCRIPT: &str = r#"
import ftplib, sys
host, port, sources = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
held, codes = [], []
for source in sources:
    ftp = ftplib.FTP()
    try:
        ftp.connect(host, port, timeout=20, source_address=(source, 0))
        codes.append(ftp.welcome[:3])
        held.append(ftp)
    except ftplib.error_temp as e:
        codes.append(str(e)[:3])
print(" ".join(codes))
"#;
    let balancer = format!("{PREFIX}.{BALANCER}");
    let port = PORT.to_string();
    let mut args = vec!["python3", "-c", SCRIPT, &balancer, &port];
    args.extend(sources.iter().map(String::as_str));
    let run = run_bounded(&mut in_ns(ns, &args), CLIENT_TIMEOUT).success();
    run.stdout.split_whitespace().map(str::to_owned).collect()
}

/// A different 1 MiB for each client.
fn file_for(client: u8) -> Vec<u8> {
    let mut bytes = vec![0u8; 1 << 20];
    fastrand::Rng::with_seed(u64::from(client) + 1000).fill(&mut bytes);
    bytes
}

fn haproxy_in_front_of_two_instances(driver: &'static str) {
    let mut lan = Lan::new(PREFIX);
    let balancer_ns = lan.host("b", &[BALANCER]);
    let one_ns = lan.host("i1", &[3]);
    let two_ns = lan.host("i2", &[4]);
    let sources: Vec<u8> = (100..=160).collect();
    let client_ns = lan.host("c", &sources);
    let shared = tempfile::tempdir().unwrap();
    let mut one = instance(&one_ns, driver, &lan.addr(3), "50100-50119", shared.path());
    let mut two = instance(
        &two_ns,
        the_other(driver),
        &lan.addr(4),
        "50200-50219",
        shared.path(),
    );
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("haproxy.cfg");
    std::fs::write(&config, haproxy_config(&lan)).unwrap();
    let haproxy = HaProxy::start(&balancer_ns, &config);

    // Ready when a listing comes through the balancer (bounded retries).
    std::fs::write(shared.path().join("small.txt"), b"small\n").unwrap();
    let started = Instant::now();
    loop {
        let probe = run_bounded(
            &mut curl(&client_ns, &lan.addr(160), &["--list-only", &url("")]),
            CLIENT_TIMEOUT,
        );
        if probe.status.success() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "nothing came through HAProxy: {probe}\nhaproxy: {}",
            haproxy.log()
        );
        thread::sleep(Duration::from_millis(100));
    }

    // 20 concurrent clients, each from its own address: upload, download.
    let t0 = Instant::now();
    let runs: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (ns, dir) = (client_ns.clone(), work.path().to_owned());
            let source = lan.addr(100 + i);
            thread::spawn(move || transfer_round_trip(&ns, &source, i, &dir))
        })
        .collect();
    let mut verified = 0u64;
    for run in runs {
        verified += run.join().expect("a client thread panicked");
    }
    let round_trips = t0.elapsed();
    for i in 0..CLIENTS {
        let stored = shared.path().join(format!("up-{i}.bin"));
        assert_file_holds(&stored, &file_for(i), "stored through the balancer");
    }
    // Each instance logged its share of the clients, by their own addresses.
    let logs = [one.log(), two.log()];
    for i in 0..CLIENTS {
        let client = format!("{}:", lan.addr(100 + i));
        assert!(
            logs.iter().any(|log| log.contains(&client)),
            "no log line names {client}:\n{}\n{}",
            logs[0],
            logs[1]
        );
    }
    for log in &logs {
        assert!(log.contains("login ok"), "an instance served nobody: {log}");
        assert!(
            !log.contains(&format!("{}: login", lan.addr(BALANCER))),
            "a login logged with the balancer's address: {log}"
        );
    }

    // Per-IP limits count real clients: five sessions at once from one
    // address over two instances (round robin) put three on one of them,
    // one past its limit of two...
    let same: Vec<String> = (0..5).map(|_| lan.addr(150)).collect();
    let codes = hold_sessions(&client_ns, &same);
    assert_eq!(
        codes.iter().filter(|c| *c == "421").count(),
        1,
        "five sessions from one address: {codes:?}"
    );
    // ...while ten at once from ten addresses are all served (counted by
    // the balancer's address, that would be five per instance).
    let distinct: Vec<String> = (130..140).map(|n| lan.addr(n)).collect();
    let codes = hold_sessions(&client_ns, &distinct);
    assert!(codes.iter().all(|c| c == "220"), "ten addresses: {codes:?}");

    // Drain: a slow download runs when its instance gets SIGTERM.
    let big: Vec<u8> = {
        let mut bytes = vec![0u8; 16 << 20];
        fastrand::Rng::with_seed(7).fill(&mut bytes);
        bytes
    };
    std::fs::write(shared.path().join("big.bin"), &big).unwrap();
    let out = work.path().join("big.out");
    let slow_source = lan.addr(155);
    let mut slow = curl(
        &client_ns,
        &slow_source,
        &[
            "--limit-rate",
            "4M",
            "-o",
            &out.display().to_string(),
            &url("big.bin"),
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let started = Instant::now();
    while std::fs::metadata(&out).map_or(0, |m| m.len()) < 1 << 20 {
        assert!(
            started.elapsed() < CLIENT_TIMEOUT,
            "the slow download never started"
        );
        thread::yield_now();
    }
    let serving_one = one.log().contains(&format!("{slow_source}:"));
    let (draining, other) = if serving_one {
        (&mut one, &mut two)
    } else {
        (&mut two, &mut one)
    };
    let drained_driver = draining.driver();
    assert!(
        draining.log().contains(&format!("{slow_source}:")),
        "neither instance logged the slow client"
    );
    let other_before = other.log().len();
    // SAFETY: kill(2) takes two integers and touches no memory of this process.
    let sent = unsafe { libc::kill(draining.pid() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(sent, 0, "SIGTERM the instance");
    let signalled = Instant::now();
    draining.wait_for_log("shutting down");
    // New sessions go to the other instance meanwhile.
    for n in 141..147 {
        let run = run_bounded(
            &mut curl(&client_ns, &lan.addr(n), &[&url("small.txt")]),
            CLIENT_TIMEOUT,
        )
        .success();
        assert_eq!(run.stdout, "small\n", "a new session during the drain");
    }
    let other_log = other.log()[other_before..].to_owned();
    for n in 141..147 {
        assert!(
            other_log.contains(&format!("{}:", lan.addr(n))),
            "{} was not served by the other instance: {other_log}",
            lan.addr(n)
        );
    }
    // The running download finishes, whole; then the instance exits.
    let status = slow.wait().unwrap();
    let drained = signalled.elapsed();
    assert_file_holds(&out, &big, "the download running at SIGTERM");
    let exit = draining.wait_for_exit(Duration::from_secs(60));
    assert!(exit.success(), "the drained instance's exit: {exit}");
    eprintln!(
        "scale-out ({driver} + {}): {CLIENTS} clients, {verified} bytes verified in {round_trips:?}; \
         per-IP: 1 of 5 refused from one address, 10 of 10 served from ten; \
         drain ({drained_driver}): 16 MiB download finished {drained:?} after SIGTERM (curl {status}), 6 new sessions on the other instance",
        the_other(driver)
    );
    drop(haproxy);
}

/// Upload then download one client's file; the bytes checked both ways.
fn transfer_round_trip(ns: &str, source: &str, client: u8, dir: &Path) -> u64 {
    let local: PathBuf = dir.join(format!("local-{client}.bin"));
    let back: PathBuf = dir.join(format!("back-{client}.bin"));
    let bytes = file_for(client);
    std::fs::write(&local, &bytes).unwrap();
    let name = format!("up-{client}.bin");
    let up: Run = run_bounded(
        &mut curl(
            ns,
            source,
            &["-T", &local.display().to_string(), &url(&name)],
        ),
        CLIENT_TIMEOUT,
    );
    let up = up.success();
    drop(up);
    run_bounded(
        &mut curl(
            ns,
            source,
            &["-o", &back.display().to_string(), &url(&name)],
        ),
        CLIENT_TIMEOUT,
    )
    .success();
    assert_file_holds(&back, &bytes, "downloaded through the balancer");
    2 * bytes.len() as u64
}
