//! The control channel's hot path on the shared corpus (`../shared/bench`,
//! 100,000 command lines from simulated client sessions), per command line:
//!
//! - `parse/pre-split`: `Command::parse` on lines already split (no framing);
//! - `parse/framed`: `ControlReader` (Telnet filtering, CRLF framing) then
//!   `Command::parse`, over the whole buffer;
//! - `session/whole`: every session of the corpus through a `ServerSession`
//!   in the core's fake host (`ftpwire_core::script::FakeHost`), which
//!   answers each event at once; replies formatted and drained;
//! - `reply/parse`: `reply::parse` over the reply corpus (125,843 replies,
//!   2,956 of them multi-line), what a client reads per reply;
//! - `baseline/*`: a bulk LF count and a plain line split, measured in the same
//!   run so the figures above can be read as ratios on a noisy machine.
//!
//! `cargo bench --bench parser` runs criterion, then prints ns per line and
//! the ratios. For a stable figure, count instructions instead: with
//! `FTPWIRE_BENCH_ONCE=1` the binary runs each workload once and exits, so
//! `valgrind --tool=callgrind --toggle-collect='*workload_parse_framed*'`
//! on it gives the instructions of that workload (divide by 100,000).

use std::hint::black_box;
use std::path::PathBuf;
use std::process::Command as Process;
use std::sync::Arc;
use std::time::{Duration, Instant as Clock};

use criterion::{Criterion, Throughput};
use ftpwire_core::command::Command;
use ftpwire_core::control::{ControlReader, Frame};
use ftpwire_core::script::{Answers, FakeHost};
use ftpwire_core::{Instant, ServerConfig, ServerSession};

/// The corpus the shared README's reference figures were measured on.
const CORPUS_LINES: usize = 100_000;
const CORPUS_BYTES: usize = 2_062_232;
const CORPUS_SEED: &str = "20260801";

fn main() {
    let corpus = Corpus::load();
    if std::env::var_os("FTPWIRE_BENCH_ONCE").is_some() {
        // One pass of each workload, for instruction counts under callgrind.
        black_box(workload_baseline_count(&corpus.bytes));
        black_box(workload_baseline_split(&corpus.bytes));
        black_box(workload_parse_pre_split(&corpus.lines()));
        black_box(workload_parse_framed(&corpus.bytes));
        black_box(workload_session(&corpus.sessions()));
        black_box(workload_reply_parse(&corpus.replies));
        return;
    }
    let mut criterion = Criterion::default().configure_from_args();
    benches(&mut criterion, &corpus);
    criterion.final_summary();
    summary(&corpus);
}

fn benches(c: &mut Criterion, corpus: &Corpus) {
    let lines = corpus.lines();
    let sessions = corpus.sessions();
    let mut group = c.benchmark_group("control channel, 100,000 corpus lines");
    group.throughput(Throughput::Elements(CORPUS_LINES as u64));
    group.sample_size(20);
    group.bench_function("baseline/count LF", |b| {
        b.iter(|| workload_baseline_count(&corpus.bytes))
    });
    group.bench_function("baseline/split lines", |b| {
        b.iter(|| workload_baseline_split(&corpus.bytes))
    });
    group.bench_function("parse/pre-split", |b| {
        b.iter(|| workload_parse_pre_split(&lines))
    });
    group.bench_function("parse/framed", |b| {
        b.iter(|| workload_parse_framed(&corpus.bytes))
    });
    group.bench_function("session/whole", |b| b.iter(|| workload_session(&sessions)));
    group.finish();
    let mut group = c.benchmark_group("client replies, 125,843 corpus replies");
    group.throughput(Throughput::Elements(CORPUS_REPLIES as u64));
    group.sample_size(20);
    group.bench_function("reply/parse", |b| {
        b.iter(|| workload_reply_parse(&corpus.replies))
    });
    group.finish();
}

/// Best-of-N wall time per line for each workload, and ratios to the split baseline.
fn summary(corpus: &Corpus) {
    // Only under `cargo bench` (which passes --bench); `cargo test` runs each benchmark once.
    if !std::env::args().any(|a| a == "--bench") || std::env::args().any(|a| a == "--test") {
        return;
    }
    let lines = corpus.lines();
    let sessions = corpus.sessions();
    let per_line = |f: &dyn Fn()| {
        let best = (0..15)
            .map(|_| {
                let start = Clock::now();
                f();
                start.elapsed()
            })
            .min()
            .unwrap_or(Duration::ZERO);
        best.as_secs_f64() * 1e9 / CORPUS_LINES as f64
    };
    let count = per_line(&|| {
        black_box(workload_baseline_count(&corpus.bytes));
    });
    let split = per_line(&|| {
        black_box(workload_baseline_split(&corpus.bytes));
    });
    let pre_split = per_line(&|| {
        black_box(workload_parse_pre_split(&lines));
    });
    let framed = per_line(&|| {
        black_box(workload_parse_framed(&corpus.bytes));
    });
    let session = per_line(&|| {
        black_box(workload_session(&sessions));
    });
    // What the session workload did, so a stalled or failing session shows.
    let mut codes = std::collections::BTreeMap::<[u8; 3], usize>::new();
    run_sessions(&sessions, &mut |out| {
        for line in out.split_inclusive(|&b| b == b'\n') {
            if let Some(code) = line.get(..4).filter(|c| c[3] == b' ') {
                *codes.entry([code[0], code[1], code[2]]).or_default() += 1;
            }
        }
    });
    let codes: Vec<String> = codes
        .iter()
        .map(|(code, n)| format!("{}:{n}", String::from_utf8_lossy(code)))
        .collect();
    println!("\nsession/whole replies by code: {}", codes.join(" "));
    println!("\nper command line (best of 15 passes over the corpus):");
    println!("  baseline/count LF     {count:8.2} ns");
    println!("  baseline/split lines  {split:8.2} ns  (1.00x)");
    for (name, ns) in [
        ("parse/pre-split", pre_split),
        ("parse/framed", framed),
        ("session/whole", session),
    ] {
        println!("  {name:<20}  {ns:8.2} ns  ({:.2}x split)", ns / split);
    }
}

/// The command corpus, generated by the shared script if it is not there yet.
struct Corpus {
    bytes: Vec<u8>,
    /// `corpus_replies.txt`: the server's replies to those sessions.
    replies: Vec<u8>,
}

/// Complete replies in the reply corpus (its `corpus_stats.txt`).
const CORPUS_REPLIES: usize = 125_843;

impl Corpus {
    fn load() -> Self {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let dir = root.join("target/corpus");
        let file = dir.join("corpus_cmds.txt");
        if !file.exists() {
            let script = root.join("../shared/bench/gen_corpus.py");
            let status = Process::new("python3")
                .arg(&script)
                .arg(CORPUS_LINES.to_string())
                .arg(CORPUS_SEED)
                .env("CORPUS_DIR", &dir)
                .stdout(std::process::Stdio::null())
                .status()
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot run python3 {} ({e}); install python3",
                        script.display()
                    )
                });
            assert!(
                status.success(),
                "{} failed ({status}); is ../shared/bench beside the repository?",
                script.display()
            );
        }
        let bytes =
            std::fs::read(&file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        assert_eq!(
            bytes.len(),
            CORPUS_BYTES,
            "{} is not the reference corpus; delete it to regenerate",
            file.display()
        );
        let replies_file = dir.join("corpus_replies.txt");
        let replies = std::fs::read(&replies_file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", replies_file.display()));
        // Not through the workload itself: a callgrind toggle on its name
        // must see exactly one pass.
        let mut rest = &replies[..];
        let mut count = 0;
        while let Ok(Some((_, used))) = ftpwire_core::reply::parse(rest) {
            count += 1;
            rest = &rest[used..];
        }
        assert_eq!(
            count,
            CORPUS_REPLIES,
            "{} is not the reference corpus",
            replies_file.display()
        );
        Corpus { bytes, replies }
    }

    /// Each line without its CRLF.
    fn lines(&self) -> Vec<&[u8]> {
        let lines: Vec<&[u8]> = self
            .bytes
            .split_inclusive(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r\n").unwrap_or(l))
            .collect();
        assert_eq!(lines.len(), CORPUS_LINES);
        lines
    }

    /// The corpus cut into client sessions, each ending with its QUIT line.
    fn sessions(&self) -> Vec<&[u8]> {
        let mut sessions = Vec::new();
        let mut start = 0;
        let mut at = 0;
        for line in self.bytes.split_inclusive(|&b| b == b'\n') {
            at += line.len();
            if line == b"QUIT\r\n" {
                sessions.push(&self.bytes[start..at]);
                start = at;
            }
        }
        if start < self.bytes.len() {
            sessions.push(&self.bytes[start..]);
        }
        sessions
    }
}

#[inline(never)]
fn workload_baseline_count(bytes: &[u8]) -> usize {
    // Byte-wide counters in chunks that cannot overflow them, so it vectorizes.
    bytes
        .chunks(255)
        .map(|chunk| {
            let n = chunk.iter().fold(0u8, |n, &b| n + u8::from(b == b'\n'));
            usize::from(n)
        })
        .sum()
}

#[inline(never)]
fn workload_baseline_split(bytes: &[u8]) -> usize {
    let mut total = 0;
    for line in bytes.split(|&b| b == b'\n') {
        total += black_box(line).len();
    }
    total
}

#[inline(never)]
fn workload_parse_pre_split(lines: &[&[u8]]) -> usize {
    let mut ok = 0;
    for line in lines {
        ok += usize::from(black_box(Command::parse(black_box(line))).is_ok());
    }
    ok
}

#[inline(never)]
fn workload_parse_framed(bytes: &[u8]) -> usize {
    let mut reader = ControlReader::new(4096);
    let mut rest = bytes;
    let mut ok = 0;
    while !rest.is_empty() {
        let (used, frame) = reader.next_line(rest);
        if let Frame::Line(line) = frame {
            ok += usize::from(black_box(Command::parse(line)).is_ok());
        }
        rest = &rest[used..];
    }
    ok
}

/// Parses every reply of the reply corpus as a client does; returns how many.
#[inline(never)]
fn workload_reply_parse(bytes: &[u8]) -> usize {
    let mut rest = bytes;
    let mut replies = 0;
    while let Ok(Some((reply, used))) = ftpwire_core::reply::parse(rest) {
        black_box(reply.code);
        replies += 1;
        rest = &rest[used..];
    }
    replies
}

/// Runs every session; returns the reply bytes transmitted.
#[inline(never)]
fn workload_session(sessions: &[&[u8]]) -> usize {
    run_sessions(sessions, &mut |_| {})
}

/// Runs every session through the core's fake host answering each event at
/// once, handing each session's transmitted bytes to `sink`.
fn run_sessions(sessions: &[&[u8]], sink: &mut dyn FnMut(&[u8])) -> usize {
    let config = Arc::new(ServerConfig::default());
    let (local, peer) = (
        "127.0.0.1:21".parse().expect("address"),
        "127.0.0.1:40000".parse().expect("address"),
    );
    let now = Instant::from_millis(1_000);
    let mut transmitted = 0;
    // One host for every session, so its buffers are warm.
    let mut host = FakeHost::on(config.clone(), local, peer, false, ());
    host.answers = Some(Answers::default());
    for input in sessions {
        host.restart(ServerSession::new(config.clone(), local, peer, now));
        host.send(input);
        if !host.closed {
            // Every event was answered at once, so every line ran.
            assert_eq!(host.session.held_input(), 0, "session stalled");
        }
        transmitted += black_box(&host.out).len();
        sink(&host.out);
    }
    transmitted
}
