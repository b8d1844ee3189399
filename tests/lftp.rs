//! lftp against the real server: the 20 MiB payload up and down, passive
//! (PASV) and active (PORT).

#[macro_use]
mod common;

use common::clients::lftp;
use common::payload::{assert_file_holds, payload};
use common::server::Server;

driver_matrix!(passive_round_trip, active_round_trip);

fn round_trip(driver: &'static str, passive: bool, verb: &str) {
    let server = Server::start(driver, &[]);
    let client = tempfile::tempdir().unwrap();
    let local = client.path().join("payload.bin");
    let downloaded = client.path().join("down.bin");
    std::fs::write(&local, payload()).unwrap();
    std::fs::write(server.root().join("down.bin"), payload()).unwrap();

    let mode = if passive { "on" } else { "off" };
    let run = lftp(
        &server,
        &format!(
            "set ftp:passive-mode {mode}; put {} -o up.bin; get down.bin -o {}",
            local.display(),
            downloaded.display()
        ),
    )
    .success();
    let sent = |verb: &str| {
        run.stderr.lines().any(|line| {
            line.split_once("---> ")
                .is_some_and(|(_, command)| command.split_whitespace().next() == Some(verb))
        })
    };
    assert!(sent(verb), "lftp never sent {verb}: {run}");
    let other = if passive { "PORT" } else { "PASV" };
    assert!(!sent(other), "lftp fell back to {other}: {run}");
    assert_file_holds(
        &server.root().join("up.bin"),
        payload(),
        "uploaded file on the server",
    );
    assert_file_holds(&downloaded, payload(), "downloaded file");
}

fn passive_round_trip(driver: &'static str) {
    round_trip(driver, true, "PASV");
}

fn active_round_trip(driver: &'static str) {
    round_trip(driver, false, "PORT");
}
