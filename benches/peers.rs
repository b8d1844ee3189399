//! The peer benchmark: ftpwire-smol, ftpwire-std, vsftpd and pure-ftpd on
//! loopback, all running at once, each workload measured on each in one
//! run with its rounds taken round-robin over the servers, reported as server
//! CPU per operation from the kernel's accounting (the figure a noisy shared
//! machine disturbs least), throughput medians, and both as ratios to the
//! best peer (vsftpd or pure-ftpd) of the same run. Prints one Markdown
//! table; only a workload that fails to run correctly fails the run.
//!
//!     cargo bench --bench peers -- [--quick] [--fetch-peers] [--require-peers]
//!         [--only WORD,...] [--servers NAME,...] [--skip-10k]
//!
//! benches/peers/README.md says how the peers are installed and configured.

#[path = "peers/client.rs"]
mod client;
#[path = "peers/proc.rs"]
mod proc;
#[path = "peers/server.rs"]
mod server;
#[path = "peers/workloads.rs"]
mod workloads;

use std::io;
use std::time::{Duration, Instant};

use server::{Kind, Server, Tls};
use workloads::Round;

/// Counts of one mode; every loop is also bounded by `round_limit`.
struct Sizes {
    rounds: usize,
    noops: usize,
    round_trips: usize,
    setups: usize,
    transfer_mib: u64,
    listings: usize,
    ftps_setups: usize,
    memory_sessions: [usize; 2],
    round_limit: Duration,
}

const QUICK: Sizes = Sizes {
    rounds: 3,
    noops: 20_000,
    round_trips: 2_000,
    setups: 160,
    transfer_mib: 64,
    listings: 10,
    ftps_setups: 32,
    memory_sessions: [100, 500],
    round_limit: Duration::from_secs(20),
};

const FULL: Sizes = Sizes {
    rounds: 3,
    noops: 2_000_000,
    round_trips: 100_000,
    setups: 2_000,
    transfer_mib: 1024,
    listings: 300,
    ftps_setups: 1_000,
    memory_sessions: [1_000, 10_000],
    round_limit: Duration::from_secs(120),
};

const LISTED_FILES: usize = 1_000;

/// What one workload gave on one server.
enum Outcome {
    /// Per operation: server CPU (in the workload's unit) and throughput.
    Measured {
        cpu: f64,
        throughput: Option<f64>,
    },
    NotApplicable(String),
    Failed(String),
}

struct Workload {
    name: String,
    cpu_unit: &'static str,
    throughput_unit: &'static str,
    results: Vec<(Kind, Outcome)>,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// One round of `work`: CPU per op scaled by `cpu_scale` (1e6 for µs,
/// 1e9/bytes-per-op for s/GB...), throughput as ops/s × `throughput_scale`.
fn one_round(
    sizes: &Sizes,
    server: &Server,
    cpu_scale: f64,
    throughput_scale: f64,
    work: &dyn Fn(&Server, Instant) -> io::Result<f64>,
) -> Result<(f64, f64), String> {
    let deadline = Instant::now() + sizes.round_limit;
    match workloads::measure(server, |s| work(s, deadline)) {
        Ok(Round {
            ops,
            seconds,
            cpu_seconds,
        }) if ops > 0.0 => Ok((
            cpu_seconds / ops * cpu_scale,
            ops / seconds * throughput_scale,
        )),
        Ok(_) => Err("no operation completed".into()),
        Err(e) => Err(e.to_string()),
    }
}

fn make_files(server: &Server, data: &std::path::Path) -> io::Result<()> {
    let list = server.root.join("list");
    std::fs::create_dir(&list)?;
    for i in 0..LISTED_FILES {
        std::fs::write(list.join(format!("file-{i:04}.txt")), b"listed\n")?;
    }
    // A hard link: one copy of the big file on disk and in the page cache.
    std::fs::hard_link(data, server.root.join("big.bin"))
        .or_else(|_| std::fs::copy(data, server.root.join("big.bin")).map(drop))
}

/// Writes the transfer file once (real bytes, not a sparse hole).
fn make_data(dir: &std::path::Path, mib: u64) -> std::path::PathBuf {
    use std::io::Write;
    let path = dir.join("big.bin");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let chunk: Vec<u8> = (0..1 << 20)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    for _ in 0..mib {
        file.write_all(&chunk).unwrap();
    }
    file.flush().unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    path
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| args.iter().any(|a| a == name);
    if flag("--list") {
        return;
    }
    let quick = flag("--quick") || std::env::var_os("FTPWIRE_BENCH_ONCE").is_some();
    let sizes = if quick { &QUICK } else { &FULL };
    let only: Option<Vec<String>> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|s| s.split(',').map(str::to_string).collect());
    let wanted = |workload: &str| {
        only.as_ref()
            .is_none_or(|names| names.iter().any(|n| workload.contains(n.as_str())))
    };
    if flag("--fetch-peers")
        && (server::peer_binary(Kind::Vsftpd).is_none()
            || server::peer_binary(Kind::PureFtpd).is_none())
        && let Err(e) = server::fetch_peers()
    {
        eprintln!("peers: --fetch-peers: {e}");
        std::process::exit(1);
    }
    // 10,000 sessions take 20,000 descriptors in a server with a reader and
    // a writer handle per session, plus the harness's 10,000: root may
    // raise the hard limit, anyone the soft one up to it.
    if rlimit::setrlimit(rlimit::Resource::NOFILE, 65_536, 65_536).is_err() {
        rlimit::increase_nofile_limit(65_536).expect("raise the descriptor limit");
    }

    let servers: Option<Vec<String>> = args
        .iter()
        .position(|a| a == "--servers")
        .and_then(|i| args.get(i + 1))
        .map(|s| s.split(',').map(str::to_string).collect());
    let mut kinds = Vec::new();
    for kind in Kind::ALL {
        if servers
            .as_ref()
            .is_some_and(|names| !names.iter().any(|n| n == kind.name()))
        {
            continue;
        }
        match server::peer_unavailable(kind) {
            None => kinds.push(kind),
            Some(why) if flag("--require-peers") => {
                eprintln!(
                    "peers: {}: {why}, and --require-peers was given",
                    kind.name()
                );
                std::process::exit(1);
            }
            Some(why) => println!("peers: skipping {}: {why}", kind.name()),
        }
    }
    proc::become_subreaper();
    let tls = Tls::generate();
    let resuming = client::tls_config(&tls.cert_der, true);
    let full_handshakes = client::tls_config(&tls.cert_der, false);
    let scratch = tempfile::tempdir().unwrap();
    let data = make_data(scratch.path(), sizes.transfer_mib);
    let bytes = sizes.transfer_mib << 20;
    let gb = bytes as f64 / 1e9;

    let mut table: Vec<Workload> = Vec::new();
    let mut add = |name: String, cpu_unit, throughput_unit, kind: Kind, outcome: Outcome| {
        if let Outcome::Failed(e) = &outcome {
            eprintln!("peers: {name} on {}: FAILED: {e}", kind.name());
        }
        match table.iter_mut().find(|w| w.name == name) {
            Some(w) => w.results.push((kind, outcome)),
            None => table.push(Workload {
                name,
                cpu_unit,
                throughput_unit,
                results: vec![(kind, outcome)],
            }),
        }
    };
    let started = Instant::now();
    // Every server runs at once, idle but for the one measured, and each
    // workload's rounds go round the servers in turn: a drift of the
    // machine's load (another tenant, the writeback of a 1 GiB STOR) then
    // falls on every server's rounds alike, not on whichever ran first.
    let mut running: Vec<(Kind, Server)> = Vec::new();
    for (slot, &kind) in kinds.iter().enumerate() {
        match server::start(kind, slot as u16, 64, &tls) {
            Ok(server) => match make_files(&server, &data) {
                Ok(()) => running.push((kind, server)),
                Err(e) => add("start".into(), "", "", kind, Outcome::Failed(e.to_string())),
            },
            Err(e) => add("start".into(), "", "", kind, Outcome::Failed(e)),
        }
    }
    let s = sizes;
    let mib = s.transfer_mib;
    let setups =
        |clients| move |srv: &Server, d| workloads::session_setups(srv, clients, s.setups, d, None);
    let listing = |verb| {
        move |srv: &Server, d| workloads::listings(srv, verb, LISTED_FILES as u64, s.listings, d)
    };
    type Work<'a> = Box<dyn Fn(&Server, Instant) -> io::Result<f64> + 'a>;
    // name, CPU unit and scale, throughput unit and scale, the work.
    let plan: Vec<(String, &str, f64, &str, f64, Work)> = vec![
        (
            format!("pipelined NOOP ({})", s.noops),
            "µs",
            1e6,
            "NOOP/s",
            1.0,
            Box::new(|srv, d| workloads::pipelined_noops(srv, s.noops, d)),
        ),
        (
            format!("NOOP round trips ({})", s.round_trips),
            "µs",
            1e6,
            "NOOP/s",
            1.0,
            Box::new(|srv, d| workloads::noop_round_trips(srv, s.round_trips, d)),
        ),
        (
            format!("session set-ups, 1 client ({})", s.setups),
            "µs",
            1e6,
            "sessions/s",
            1.0,
            Box::new(setups(1)),
        ),
        (
            format!("session set-ups, 16 clients ({})", s.setups),
            "µs",
            1e6,
            "sessions/s",
            1.0,
            Box::new(setups(16)),
        ),
        (
            format!("RETR {mib} MiB"),
            "s/GB",
            1.0 / gb,
            "MB/s",
            gb * 1e3,
            Box::new(|srv, _| workloads::retr(srv, "big.bin", bytes, None).map(|_| 1.0)),
        ),
        (
            format!("STOR {mib} MiB"),
            "s/GB",
            1.0 / gb,
            "MB/s",
            gb * 1e3,
            Box::new(|srv, _| workloads::stor(srv, bytes).map(|_| 1.0)),
        ),
        (
            format!("LIST of {LISTED_FILES} files ({})", s.listings),
            "µs",
            1e6,
            "listings/s",
            1.0,
            Box::new(listing("LIST")),
        ),
        (
            format!("MLSD of {LISTED_FILES} files ({})", s.listings),
            "µs",
            1e6,
            "listings/s",
            1.0,
            Box::new(listing("MLSD")),
        ),
        (
            format!("FTPS set-ups, AUTH TLS + login ({})", s.ftps_setups),
            "µs",
            1e6,
            "sessions/s",
            1.0,
            Box::new(|srv, d| {
                workloads::session_setups(srv, 1, s.ftps_setups, d, Some(&full_handshakes))
            }),
        ),
        (
            format!("PROT P RETR {mib} MiB"),
            "s/GB",
            1.0 / gb,
            "MB/s",
            gb * 1e3,
            Box::new(|srv, _| workloads::retr(srv, "big.bin", bytes, Some(&resuming)).map(|_| 1.0)),
        ),
    ];
    for (name, cpu_unit, cpu_scale, tp_unit, tp_scale, work) in plan {
        if !wanted(&name) {
            continue;
        }
        // Per server: its rounds' figures, or why it has none.
        let mut figures: Vec<Result<Vec<(f64, f64)>, Outcome>> = running
            .iter()
            .map(|(kind, _)| {
                if name.starts_with("MLSD") && !kind.has_mlsd() {
                    Err(Outcome::NotApplicable("no MLSD".into()))
                } else {
                    Ok(Vec::new())
                }
            })
            .collect();
        for round in 1..=s.rounds {
            for ((kind, server), figures) in running.iter().zip(&mut figures) {
                let Ok(rounds) = figures else { continue };
                eprintln!(
                    "peers: {name} on {}, round {round} ({:.0} s in)",
                    kind.name(),
                    started.elapsed().as_secs_f64()
                );
                match one_round(s, server, cpu_scale, tp_scale, &*work) {
                    Ok(figure) => rounds.push(figure),
                    Err(e) => *figures = Err(Outcome::Failed(e)),
                }
            }
        }
        for ((kind, _), figures) in running.iter().zip(figures) {
            let outcome = match figures {
                Ok(rounds) => Outcome::Measured {
                    cpu: median(rounds.iter().map(|r| r.0).collect()),
                    throughput: Some(median(rounds.iter().map(|r| r.1).collect())),
                },
                Err(outcome) => outcome,
            };
            add(name.clone(), cpu_unit, tp_unit, *kind, outcome);
        }
    }
    drop(running);

    for (slot, &kind) in kinds.iter().enumerate() {
        let slot = slot as u16;
        // Per session, from the smaller count: what the larger one must fit.
        let mut needs: Option<(f64, f64)> = None;
        for sessions in s.memory_sessions {
            let name = format!("idle session memory, {sessions} sessions");
            if !wanted(&name) || (sessions >= 10_000 && flag("--skip-10k")) {
                continue;
            }
            eprintln!(
                "peers: {name} on {} ({:.0} s in)",
                kind.name(),
                started.elapsed().as_secs_f64()
            );
            let (tasks, ceiling) = proc::tasks_and_limit();
            let files = proc::files_limit();
            let lacking = needs.and_then(|(per_task, per_file)| {
                let want_tasks = (per_task * sessions as f64) as usize;
                let want_files = (per_file * sessions as f64) as usize;
                // A margin of tasks for the other users of the machine.
                if tasks + want_tasks + 4_000 > ceiling {
                    Some(format!(
                        "needs {want_tasks} tasks, pid_max is {ceiling} and {tasks} are in use"
                    ))
                } else if want_files + 100 > files {
                    Some(format!(
                        "needs {want_files} descriptors in one process, RLIMIT_NOFILE is {files}"
                    ))
                } else {
                    None
                }
            });
            if let Some(why) = lacking {
                add(name, "KiB", "", kind, Outcome::NotApplicable(why));
                continue;
            }
            let outcome = server::start(kind, slot, sessions, &tls)
                .map_err(io::Error::other)
                .and_then(|srv| {
                    let deadline = Instant::now() + s.round_limit * 3;
                    workloads::idle_memory(&srv, sessions, deadline).map_err(|e| {
                        match srv.last_error() {
                            Some(said) => {
                                io::Error::other(format!("{e} (the server said: {said})"))
                            }
                            None => e,
                        }
                    })
                });
            let outcome = match outcome {
                Ok(idle) if idle.opened == sessions => {
                    needs = Some((idle.tasks_per_session, idle.files_per_session));
                    Outcome::Measured {
                        cpu: idle.kib_per_session,
                        throughput: None,
                    }
                }
                Ok(idle) => {
                    Outcome::Failed(format!("only {} sessions opened in time", idle.opened))
                }
                Err(e) => Outcome::Failed(e.to_string()),
            };
            add(name, "KiB", "", kind, outcome);
        }
    }
    print_table(&table, quick, started.elapsed());
    if table
        .iter()
        .flat_map(|w| &w.results)
        .any(|(_, o)| matches!(o, Outcome::Failed(_)))
    {
        eprintln!("peers: some workloads failed (above)");
        std::process::exit(1);
    }
}

/// The best peer's figure: lowest CPU, highest throughput.
fn best_peer(w: &Workload, cpu: bool) -> Option<f64> {
    let values = w
        .results
        .iter()
        .filter(|(k, _)| k.is_peer())
        .filter_map(|(_, o)| match o {
            Outcome::Measured { cpu: c, throughput } => {
                if cpu {
                    Some(*c)
                } else {
                    *throughput
                }
            }
            _ => None,
        });
    if cpu {
        values.reduce(f64::min)
    } else {
        values.reduce(f64::max)
    }
}

fn figure(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// The Markdown table, printed and kept in target/peers/results-MODE.md.
fn print_table(table: &[Workload], quick: bool, took: Duration) {
    use std::fmt::Write;
    let mut out = String::new();
    writeln!(out).unwrap();
    writeln!(
        out,
        "{} mode, {} rounds per figure (medians), {:.0} s in all; CPU is the server's user+system time per operation (its whole process tree, /proc/PID/stat, {} ticks/s); ratios are to the best peer (vsftpd or pure-ftpd) of this run.",
        if quick { "quick" } else { "full" },
        if quick { QUICK.rounds } else { FULL.rounds },
        took.as_secs_f64(),
        proc::ticks_per_second()
    )
    .unwrap();
    writeln!(out).unwrap();
    writeln!(
        out,
        "| workload | server | server CPU per op | × best peer | throughput | × best peer |"
    )
    .unwrap();
    writeln!(out, "|---|---|---:|---:|---:|---:|").unwrap();
    for w in table {
        let best_cpu = best_peer(w, true);
        let best_tp = best_peer(w, false);
        for (kind, outcome) in &w.results {
            let (cpu, cpu_ratio, tp, tp_ratio) = match outcome {
                Outcome::Measured { cpu, throughput } => (
                    format!("{} {}", figure(*cpu), w.cpu_unit),
                    best_cpu
                        .filter(|b| *b > 0.0)
                        .map_or("–".into(), |b| format!("{:.2}", cpu / b)),
                    throughput.map_or("–".into(), |t| {
                        format!("{} {}", figure(t), w.throughput_unit)
                    }),
                    throughput
                        .zip(best_tp)
                        .map_or("–".into(), |(t, b)| format!("{:.2}", t / b)),
                ),
                Outcome::NotApplicable(why) => {
                    (format!("n/a ({why})"), "–".into(), "–".into(), "–".into())
                }
                Outcome::Failed(e) => (format!("FAILED: {e}"), "–".into(), "–".into(), "–".into()),
            };
            writeln!(
                out,
                "| {} | {} | {cpu} | {cpu_ratio} | {tp} | {tp_ratio} |",
                w.name,
                kind.name()
            )
            .unwrap();
        }
    }
    print!("{out}");
    let file = server::peers_dir().join(if quick {
        "results-quick.md"
    } else {
        "results-full.md"
    });
    if std::fs::create_dir_all(server::peers_dir())
        .and_then(|_| std::fs::write(&file, &out))
        .is_ok()
    {
        println!("\n(kept in {})", file.display());
    }
}
