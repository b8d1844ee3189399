//! `--max-sessions` and `--max-sessions-per-ip`: a connection past either
//! limit reads `421` and is closed; a freed place is usable again.

#[macro_use]
mod common;

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr};

use common::clients::assert_serves_new_client;
use common::control::{Control, connect_from};
use common::server::Server;

driver_matrix!(session_limits_refuse_with_421);

/// The first reply line a new connection from `from` reads.
fn greeting_from(server: &Server, from: IpAddr) -> String {
    let stream = connect_from(from, server.addr).expect("connect");
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .expect("read the first reply");
    line
}

fn session_limits_refuse_with_421(driver: &'static str) {
    let mut server = Server::start(
        driver,
        &["--max-sessions", "3", "--max-sessions-per-ip", "2"],
    );
    let local = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let first = Control::login(server.addr);
    let _second = Control::login(server.addr);
    let refused = greeting_from(&server, local);
    assert!(
        refused.starts_with("421 "),
        "third session from 127.0.0.1: {refused:?}"
    );
    let other = connect_from(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), server.addr).unwrap();
    let mut other = BufReader::new(other);
    let mut line = String::new();
    other.read_line(&mut line).unwrap();
    assert!(
        line.starts_with("220 "),
        "first session from 127.0.0.2: {line:?}"
    );
    let refused = greeting_from(&server, IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)));
    assert!(
        refused.starts_with("421 "),
        "fourth session in all: {refused:?}"
    );

    // Ending a session frees its place; the server notices the close on its
    // own schedule, so try until it has (bounded), without sleeping.
    let mut first = first;
    let reply = first.command("QUIT");
    assert_eq!(reply.code, 221, "QUIT: {reply:?}");
    first.expect_closed();
    drop(other);
    let admitted = (0..500).any(|_| greeting_from(&server, local).starts_with("220 "));
    assert!(admitted, "a freed place was never given to a new client");
    assert_serves_new_client(&mut server);
}
