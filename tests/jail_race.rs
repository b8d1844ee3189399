//! The jail holds while sessions rename directories under each other's feet.
//!
//! The tree has a real directory `p/d/` and `q/d -> ../../outside`, a link
//! out of the root. One session swaps `p` and `q` over and over with
//! pipelined renames (only real directories are renamed, every step is
//! allowed); others hammer `MKD`, `STOR`, `SIZE` and `RETR` under `p/d/`.
//! A server that checks a path and then opens it by name loses the race:
//! between its check (p/d is a real directory) and its open, `p` becomes the
//! directory whose `d` leads outside. Nothing outside may ever be created,
//! changed or read.
//!
//! Bounded in time (`FTPWIRE_RACE_SECONDS`, 15 s by default, per driver) and
//! in operations.

#[macro_use]
mod common;

use std::ffi::OsString;
use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::control::Control;
use common::server::{PASSWORD, Server, USER};
use common::session;
use ftpwire_core::client::{ClientError, Request};

driver_matrix!(renaming_parents_never_moves_an_operation_out_of_the_root);

/// The secret outside the root: a size and a marker no file inside has.
const SECRET_SIZE: usize = 7_777;
const MARKER: &[u8] = b"OUTSIDE-SECRET!";
/// What `p/d/secret` holds inside the root (a legitimate read).
const INSIDE: &[u8] = b"inside the root";
/// Sessions hammering `p/d/` while one renames.
const HAMMERS: usize = 3;
/// Each hammer's bound on operations, whatever the time.
const MAX_OPERATIONS: u64 = 100_000;

fn race_duration() -> Duration {
    let seconds = std::env::var("FTPWIRE_RACE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    Duration::from_secs(seconds)
}

fn secret() -> Vec<u8> {
    MARKER.iter().copied().cycle().take(SECRET_SIZE).collect()
}

#[derive(Default)]
struct Tally {
    swaps: AtomicU64,
    operations: AtomicU64,
    secret_reads: AtomicU64,
    secret_sizes: AtomicU64,
    /// RETRs that read `p/d/secret` inside the root: the race was run.
    inside_reads: AtomicU64,
}

fn renaming_parents_never_moves_an_operation_out_of_the_root(driver: &'static str) {
    let top = tempfile::tempdir().unwrap();
    let root = top.path().join("root");
    let outside = top.path().join("outside");
    fs::create_dir_all(root.join("p/d")).unwrap();
    fs::create_dir_all(root.join("q")).unwrap();
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("secret"), secret()).unwrap();
    fs::write(root.join("p/d/secret"), INSIDE).unwrap();
    std::os::unix::fs::symlink("../../outside", root.join("q/d")).unwrap();

    let args: Vec<OsString> = vec![
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--root".into(),
        root.clone().into(),
        "--user".into(),
        format!("{USER}:{PASSWORD}").into(),
    ];
    let server = Server::launch(driver, &args, None, root.clone(), None);
    let addr = server.addr;

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let renamer = {
        let (stop, tally) = (Arc::clone(&stop), Arc::clone(&tally));
        thread::spawn(move || rename_loop(addr, &stop, &tally))
    };
    let hammers: Vec<_> = (0..HAMMERS)
        .map(|n| {
            let (stop, tally) = (Arc::clone(&stop), Arc::clone(&tally));
            thread::spawn(move || hammer(addr, n, &stop, &tally))
        })
        .collect();
    let deadline = Instant::now() + race_duration();
    while Instant::now() < deadline && !hammers.iter().all(|h| h.is_finished()) {
        thread::park_timeout(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    renamer.join().expect("the renaming session panicked");
    for hammer in hammers {
        hammer.join().expect("a hammering session panicked");
    }

    let created: Vec<String> = entries_under(&outside)
        .into_iter()
        .filter(|name| name != "secret")
        .collect();
    let swaps = tally.swaps.load(Ordering::Relaxed);
    let operations = tally.operations.load(Ordering::Relaxed);
    let reads = tally.secret_reads.load(Ordering::Relaxed);
    let sizes = tally.secret_sizes.load(Ordering::Relaxed);
    let inside = tally.inside_reads.load(Ordering::Relaxed);
    eprintln!(
        "{driver}: {swaps} swaps of p and q, {operations} operations under p/d; \
         {inside} reads of p/d/secret inside the root; outside it: {} entries created, \
         {reads} reads and {sizes} SIZEs of the secret",
        created.len()
    );
    assert!(swaps > 0, "the renaming session never completed a swap");
    assert!(
        inside > 0,
        "no RETR of p/d/secret ever succeeded: the sessions never raced the renames"
    );
    assert!(
        created.is_empty(),
        "{driver}: sessions created {} entries outside the root: {:?}",
        created.len(),
        &created[..created.len().min(20)]
    );
    assert_eq!(
        fs::read(outside.join("secret")).unwrap(),
        secret(),
        "{driver}: the file outside the root was changed"
    );
    assert_eq!(reads, 0, "{driver}: RETR returned the outside file's bytes");
    assert_eq!(
        sizes, 0,
        "{driver}: SIZE answered with the outside file's size"
    );
    drop(server);
}

/// Every name under `dir`, recursively, relative to it.
fn entries_under(dir: &Path) -> Vec<String> {
    let mut names = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(current) = pending.pop() {
        for entry in fs::read_dir(&current).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            names.push(
                path.strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            );
            if entry.file_type().unwrap().is_dir() {
                pending.push(path);
            }
        }
    }
    names
}

/// Swaps the real `p` and the `q` holding the outward link, pipelined.
fn rename_loop(addr: SocketAddr, stop: &AtomicBool, tally: &Tally) {
    let mut control = Control::login(addr);
    let script = "RNFR p\r\nRNTO t\r\nRNFR q\r\nRNTO p\r\nRNFR p\r\nRNTO q\r\nRNFR t\r\nRNTO p\r\n";
    while !stop.load(Ordering::Relaxed) {
        control.send(script.as_bytes());
        for (n, expected) in [350, 250, 350, 250, 350, 250, 350, 250].iter().enumerate() {
            let reply = control.reply();
            assert_eq!(reply.code, *expected, "rename step {n}: {reply:?}");
        }
        tally.swaps.fetch_add(1, Ordering::Relaxed);
    }
}

/// MKD, STOR, SIZE and RETR under `p/d/` on the project's client session,
/// counting what came from outside.
fn hammer(addr: SocketAddr, n: usize, stop: &AtomicBool, tally: &Tally) {
    let mut client = session::log_in(addr);
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) && i < MAX_OPERATIONS {
        i += 1;
        // Refusals are expected mid-swap: only what comes back is counted.
        let _ = client.request(Request::MakeDirectory(format!("p/d/m{n}-{i}").into_bytes()));
        let size = client.request(Request::Size(b"p/d/secret".to_vec()));
        if size.is_ok_and(|done| done.size() == Some(SECRET_SIZE as u64)) {
            tally.secret_sizes.fetch_add(1, Ordering::Relaxed);
        }
        expect_refused_or_done(
            session::store(
                &mut client,
                &format!("p/d/s{n}-{i}"),
                b"planted by a racing session",
            ),
            "STOR",
        );
        let bytes = session::retrieve(&mut client, "p/d/secret");
        let bytes = expect_refused_or_done(bytes, "RETR").unwrap_or_default();
        if bytes.windows(MARKER.len()).any(|w| w == MARKER) {
            tally.secret_reads.fetch_add(1, Ordering::Relaxed);
        } else if bytes == INSIDE {
            tally.inside_reads.fetch_add(1, Ordering::Relaxed);
        }
        tally.operations.fetch_add(4, Ordering::Relaxed);
    }
}

/// A transfer either completes or is refused by the server (mid-swap the
/// path may be gone); a broken session or protocol fails the test.
fn expect_refused_or_done<T>(result: Result<T, ClientError>, command: &str) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(ClientError::Refused { .. }) => None,
        Err(e) => panic!("{command}: {e}"),
    }
}
