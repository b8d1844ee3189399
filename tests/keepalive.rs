//! TCP keepalive on control connections: on by default (60 s idle), set by
//! `--control-keepalive SECONDS`, off with 0, so NAT gateways and load
//! balancers with idle timeouts keep the control connection through a long
//! transfer. Read from the kernel with `ss -tno` (iproute2): the server's
//! end of the connection shows a `keepalive` timer.

#[macro_use]
mod common;

use std::process::Command;

use common::server::Server;
use common::session;

driver_matrix!(
    keepalive_is_on_by_default,
    keepalive_follows_the_flag,
    keepalive_off_with_zero,
);

/// The `timer:(...)` of the server's end of each established control
/// connection, as `ss` prints it.
fn server_side_timers(server: &Server) -> Vec<String> {
    let out = Command::new("ss")
        .args(["-tnoH", "state", "established"])
        .arg(format!("( sport = :{} )", server.addr.port()))
        .output()
        .expect("run ss (iproute2)");
    assert!(out.status.success(), "ss: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            line.split_whitespace()
                .find(|field| field.starts_with("timer:"))
                .unwrap_or("no timer")
                .to_owned()
        })
        .collect()
}

/// The keepalive timer's seconds left on the one logged-in session.
fn keepalive_seconds(server: &Server) -> Option<u64> {
    let _client = session::log_in(server.addr);
    // Right after a reply the kernel's retransmission timer (`on`) shows
    // until the client's delayed ACK comes; the keepalive timer follows.
    let started = std::time::Instant::now();
    let timer = loop {
        let timers = server_side_timers(server);
        assert_eq!(timers.len(), 1, "one control connection: {timers:?}");
        if !timers[0].starts_with("timer:(on,") {
            break timers[0].clone();
        }
        assert!(
            started.elapsed() < common::control::REPLY_TIMEOUT,
            "{timers:?}"
        );
    };
    let rest = timer.strip_prefix("timer:(keepalive,")?;
    // `59sec`, `1min59sec`, `59min,0)`...
    let spec = rest.split(',').next()?;
    let (mut secs, mut number) = (0u64, 0u64);
    let mut unit = String::new();
    for c in spec.chars().chain(std::iter::once('0')) {
        if c.is_ascii_digit() {
            if !unit.is_empty() {
                secs += number * if unit == "min" { 60 } else { 1 };
                number = 0;
                unit.clear();
            }
            number = number * 10 + u64::from(c.to_digit(10).unwrap());
        } else {
            unit.push(c);
        }
    }
    Some(secs)
}

fn keepalive_is_on_by_default(driver: &'static str) {
    let server = Server::start(driver, &[]);
    let secs = keepalive_seconds(&server).expect("a keepalive timer by default");
    assert!(
        (30..=60).contains(&secs),
        "default keepalive timer: {secs} s"
    );
}

fn keepalive_follows_the_flag(driver: &'static str) {
    let server = Server::start(driver, &["--control-keepalive", "300"]);
    let secs = keepalive_seconds(&server).expect("a keepalive timer");
    assert!((240..=300).contains(&secs), "keepalive timer: {secs} s");
}

fn keepalive_off_with_zero(driver: &'static str) {
    let server = Server::start(driver, &["--control-keepalive", "0"]);
    assert_eq!(
        keepalive_seconds(&server),
        None,
        "{:?}",
        server_side_timers(&server)
    );
}
