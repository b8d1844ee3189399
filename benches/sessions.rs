//! Session-scale figures for each driver of `ftpwire serve`, measured in one
//! run so they compare: resident memory per idle logged-in session at 1,000
//! sessions (and at 10,000 on smol, whose sessions are tasks, not threads),
//! and pipelined NOOP throughput on one control connection.
//! Prints a table; asserts nothing about speed (shared, noisy machines).
//!
//!     cargo bench --bench sessions
//!
//! `-- --quick` (what CI runs) or `FTPWIRE_BENCH_ONCE=1` uses 200 sessions
//! and 20,000 NOOPs, so the harness itself is exercised quickly.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

struct Server {
    child: Child,
    addr: SocketAddr,
    _root: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(driver: &str, sessions: usize) -> Server {
    let root = tempfile::tempdir().expect("temp root");
    let limit = (sessions + 10).to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ftpwire"))
        .args([
            "serve",
            "--driver",
            driver,
            "--listen",
            "127.0.0.1:0",
            "--user",
            "alice:secret",
        ])
        .args(["--max-sessions", &limit, "--max-sessions-per-ip", &limit])
        .arg("--root")
        .arg(root.path())
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
        _root: root,
    }
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

fn login(addr: SocketAddr) -> BufReader<TcpStream> {
    let mut control = BufReader::new(TcpStream::connect(addr).expect("connect"));
    let mut line = String::new();
    for command in ["", "USER alice\r\n", "PASS secret\r\n"] {
        control.get_mut().write_all(command.as_bytes()).unwrap();
        line.clear();
        control.read_line(&mut line).unwrap();
    }
    assert!(line.starts_with("230"), "login: {line}");
    control
}

/// KiB of server memory per idle logged-in session.
fn memory_per_session(driver: &str, sessions: usize) -> f64 {
    let server = start(driver, sessions);
    // One session first, so lazily built state is not counted per session.
    let warm = login(server.addr);
    let before = rss_kib(server.child.id());
    let idle: Vec<_> = (0..sessions).map(|_| login(server.addr)).collect();
    let after = rss_kib(server.child.id());
    drop((warm, idle));
    (after.saturating_sub(before)) as f64 / sessions as f64
}

/// NOOPs per second, all written at once and answered in order.
fn pipelined_noops(driver: &str, count: usize) -> f64 {
    let server = start(driver, 1);
    let mut control = login(server.addr);
    let mut writer = control.get_ref().try_clone().unwrap();
    let started = Instant::now();
    let sending = std::thread::spawn(move || {
        let batch = b"NOOP\r\n".repeat(1000);
        for _ in 0..count / 1000 {
            writer.write_all(&batch).unwrap();
        }
    });
    let expected = b"200 NOOP ok.\r\n".len() * (count / 1000 * 1000);
    let mut buf = vec![0; 64 * 1024];
    let mut received = 0;
    while received < expected {
        let n = control.read(&mut buf).expect("read replies");
        assert!(n > 0, "server closed after {received} bytes");
        received += n;
    }
    let elapsed = started.elapsed().as_secs_f64();
    sending.join().unwrap();
    count as f64 / elapsed
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick")
        || std::env::var_os("FTPWIRE_BENCH_ONCE").is_some();
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let (sessions, noops) = if quick {
        (200, 20_000)
    } else {
        (1000, 200_000)
    };
    // A socket per session here and in the server.
    rlimit::increase_nofile_limit(20_480).expect("raise the descriptor limit");
    println!("driver  KiB/idle session ({sessions})  pipelined NOOP/s");
    let mut figures = Vec::new();
    for driver in ["std", "smol"] {
        let memory = memory_per_session(driver, sessions);
        let noop = pipelined_noops(driver, noops);
        println!("{driver:<6}  {memory:>26.1}  {noop:>16.0}");
        figures.push((memory, noop));
    }
    if !quick {
        let many = 10_000;
        println!(
            "smol    KiB/idle session ({many}): {:.1}",
            memory_per_session("smol", many)
        );
    }
    let (std, smol) = (figures[0], figures[1]);
    println!(
        "smol/std: memory per session {:.2}x, NOOP throughput {:.2}x",
        smol.0 / std.0.max(0.001),
        smol.1 / std.1
    );
}
