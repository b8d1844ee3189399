//! Many sessions at once: 10,000 logged-in idle sessions on the smol driver
//! (its sessions are tasks: the figure the performance issue names) after
//! which a new client still logs in and transfers and every idle session
//! still answers, and 50 clients transferring at the same moment with
//! every byte checked.

#[macro_use]
mod common;

use std::sync::{Arc, Barrier};
use std::thread;

use common::clients::{CLIENT_TIMEOUT, curl, run_bounded};
use common::payload::{assert_same_bytes, checksum};
use common::server::Server;
use common::session;

driver_matrix!(fifty_clients_transfer_at_once);

/// The test process holds a socket per session too.
fn enough_descriptors(needed: u64) {
    let limit = rlimit::increase_nofile_limit(20_480).expect("raise the descriptor limit");
    assert!(
        limit >= needed,
        "need {needed} file descriptors, the hard limit allows {limit} (raise it: ulimit -Hn)"
    );
}

/// Idle sessions held at once.
const IDLE: usize = 10_000;

#[test]
fn ten_thousand_idle_sessions_then_a_transfer() {
    enough_descriptors(IDLE as u64 + 200);
    let limit = (IDLE + 100).to_string();
    let mut server = Server::start(
        "smol",
        &["--max-sessions", &limit, "--max-sessions-per-ip", &limit],
    );
    let idle: Vec<_> = (0..IDLE).map(|_| session::log_in(server.addr)).collect();
    let content = b"one more client\n".repeat(1000);
    std::fs::write(server.root().join("late.txt"), &content).unwrap();
    let run = run_bounded(curl().arg(server.url("late.txt")), CLIENT_TIMEOUT).success();
    assert_same_bytes(
        run.stdout.as_bytes(),
        &content,
        "RETR with 10,000 sessions open",
    );
    // Every idle session is still served.
    for mut client in idle.into_iter().step_by(97) {
        // One in 97 of them, the first included.
        session::noop(&mut client);
    }
    server.assert_running();
}

/// A different 512 KiB for each client.
fn file_for(client: u64) -> Vec<u8> {
    let mut bytes = vec![0u8; 512 * 1024];
    fastrand::Rng::with_seed(client).fill(&mut bytes);
    bytes
}

fn fifty_clients_transfer_at_once(driver: &'static str) {
    enough_descriptors(2200);
    let server = Server::start(driver, &[]);
    let addr = server.addr;
    let start = Arc::new(Barrier::new(50));
    let clients: Vec<_> = (0..50u64)
        .map(|client| {
            let start = start.clone();
            thread::spawn(move || {
                let mut session = session::log_in(addr);
                let bytes = file_for(client);
                let name = format!("up-{client}.bin");
                start.wait();
                session::store(&mut session, &name, &bytes)
                    .unwrap_or_else(|e| panic!("client {client}: STOR: {e}"));
                let back = session::retrieve(&mut session, &name)
                    .unwrap_or_else(|e| panic!("client {client}: RETR: {e}"));
                (client, checksum(&back) == checksum(&bytes) && back == bytes)
            })
        })
        .collect();
    for client in clients {
        let (n, same) = client.join().expect("a client thread panicked");
        assert!(same, "client {n} got back different bytes");
        let stored = std::fs::read(server.root().join(format!("up-{n}.bin"))).unwrap();
        assert_same_bytes(&stored, &file_for(n), "stored upload");
    }
}
