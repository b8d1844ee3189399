//! Many sessions at once: 1,000 logged-in idle sessions on the smol driver
//! after which a new client still logs in and transfers, and 50 clients
//! transferring at the same moment with every byte checked.

#[macro_use]
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::thread;

use common::clients::{CLIENT_TIMEOUT, curl, run_bounded};
use common::control::Control;
use common::payload::{assert_same_bytes, checksum};
use common::server::Server;

driver_matrix!(fifty_clients_transfer_at_once);

/// The test process holds a socket per session too.
fn enough_descriptors() {
    let limit = rlimit::increase_nofile_limit(8192).expect("raise the descriptor limit");
    assert!(
        limit >= 2200,
        "need 2,200 file descriptors, the hard limit allows {limit}"
    );
}

#[test]
fn a_thousand_idle_sessions_then_a_transfer() {
    enough_descriptors();
    let mut server = Server::start(
        "smol",
        &["--max-sessions", "1100", "--max-sessions-per-ip", "1100"],
    );
    let idle: Vec<Control> = (0..1000).map(|_| Control::login(server.addr)).collect();
    let content = b"one more client\n".repeat(1000);
    std::fs::write(server.root().join("late.txt"), &content).unwrap();
    let run = run_bounded(curl().arg(server.url("late.txt")), CLIENT_TIMEOUT).success();
    assert_same_bytes(
        run.stdout.as_bytes(),
        &content,
        "RETR with 1,000 sessions open",
    );
    // Every idle session is still served.
    for (i, mut control) in idle.into_iter().enumerate().step_by(97) {
        let reply = control.command("NOOP");
        assert_eq!(reply.code, 200, "idle session {i}: {reply:?}");
    }
    server.assert_running();
}

/// A different 512 KiB for each client.
fn file_for(client: u64) -> Vec<u8> {
    let mut bytes = vec![0u8; 512 * 1024];
    fastrand::Rng::with_seed(client).fill(&mut bytes);
    bytes
}

fn transfer(control: &mut Control, command: &str, upload: Option<&[u8]>) -> Vec<u8> {
    let port = control.epsv();
    let mut data = TcpStream::connect((control.local_addr().ip(), port)).expect("data connection");
    control.send(format!("{command}\r\n").as_bytes());
    let reply = control.reply();
    assert_eq!(reply.code, 150, "{command}: {reply:?}");
    let mut received = Vec::new();
    match upload {
        Some(bytes) => {
            data.write_all(bytes).unwrap();
            drop(data);
        }
        None => {
            data.read_to_end(&mut received).unwrap();
        }
    }
    let reply = control.reply();
    assert_eq!(reply.code, 226, "{command} end: {reply:?}");
    received
}

fn fifty_clients_transfer_at_once(driver: &'static str) {
    enough_descriptors();
    let server = Server::start(driver, &[]);
    let addr = server.addr;
    let start = Arc::new(Barrier::new(50));
    let clients: Vec<_> = (0..50u64)
        .map(|client| {
            let start = start.clone();
            thread::spawn(move || {
                let mut control = Control::login(addr);
                control.binary();
                let bytes = file_for(client);
                start.wait();
                transfer(&mut control, &format!("STOR up-{client}.bin"), Some(&bytes));
                let back = transfer(&mut control, &format!("RETR up-{client}.bin"), None);
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
