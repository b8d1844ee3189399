//! RETR and STOR throughput through the S3 back-end (a single-node Garage
//! on loopback, started as tests/s3_garage.rs does) next to the
//! local-filesystem back-end, in the same run, with the same client (curl)
//! and file, on both drivers. Prints one Markdown table of medians.
//!
//!     cargo bench --bench s3 -- [--mib N] [--rounds N]
//!
//! Every transfer is checked (size, and the bytes of each download), so a
//! figure is never that of a failed run.

#[allow(unused_macros, unused_imports)]
#[path = "../tests/common/mod.rs"]
#[macro_use]
mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::clients::{curl, run_bounded};
use common::garage::Garage;
use common::server::Server;

const TIMEOUT: Duration = Duration::from_secs(600);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str, default: usize| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map_or(default, |v| v.parse().expect("a number"))
    };
    let mib = flag("--mib", 64);
    let rounds = flag("--rounds", 3);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("payload");
    let bytes: Vec<u8> = common::payload::payload()
        .iter()
        .copied()
        .cycle()
        .take(mib << 20)
        .collect();
    std::fs::write(&file, &bytes).unwrap();
    let garage = Garage::single();
    println!("| back-end | driver | STOR MB/s | RETR MB/s |");
    println!("|---|---|---:|---:|");
    for driver in ["std", "smol"] {
        let local = Server::start(driver, &[]);
        let s3 = garage.serve(driver, 0, driver);
        for (name, server) in [("local files", &local), ("S3 (Garage)", &s3)] {
            let (stor, retr) = measure(server, &file, &bytes, rounds, dir.path());
            println!("| {name} | {driver} | {stor:.0} | {retr:.0} |");
        }
    }
    println!(
        "\n{mib} MiB file, median of {rounds} transfers each, curl on loopback; MB = 10^6 bytes"
    );
}

/// Median STOR and RETR rates of `rounds` transfers of `file`.
fn measure(server: &Server, file: &Path, bytes: &[u8], rounds: usize, dir: &Path) -> (f64, f64) {
    let mut stor = Vec::new();
    let mut retr = Vec::new();
    let down = dir.join("down");
    for round in 0..rounds {
        let name = format!("bench-{round}.bin");
        let start = Instant::now();
        run_bounded(curl().arg("-T").arg(file).arg(server.url(&name)), TIMEOUT).success();
        stor.push(rate(bytes.len(), start.elapsed()));
        let start = Instant::now();
        run_bounded(curl().arg("-o").arg(&down).arg(server.url(&name)), TIMEOUT).success();
        retr.push(rate(bytes.len(), start.elapsed()));
        let got = std::fs::read(&down).unwrap();
        assert!(got == bytes, "{name}: the download differs from the upload");
    }
    (median(stor), median(retr))
}

fn rate(bytes: usize, took: Duration) -> f64 {
    bytes as f64 / took.as_secs_f64() / 1e6
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
