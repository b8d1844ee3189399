//! Auto-ban: failed logins from one address (`--ban-after N` within
//! `--ban-window`) ban it for `--ban-time`: its new connections read `421`
//! and close, its open sessions log in no more, other addresses are served,
//! and the ban ends on time. Behind a load balancer the real client's
//! address is banned, never the balancer's. Both bans and their end are
//! logged. Loopback only: clients pose as 127.0.0.x.

#[macro_use]
mod common;

use std::io::Write;
use std::net::IpAddr;

use common::control::{Control, REPLY_TIMEOUT, connect_from};
use common::server::{PASSWORD, Server, USER};

driver_matrix!(
    failed_logins_ban_the_address_and_no_other,
    behind_a_balancer_the_real_client_is_banned,
    a_ban_ends_on_time,
);

/// A control connection from `from`, its greeting read.
fn connect(from: &str, server: &Server) -> Control {
    let stream = connect_from(from.parse().unwrap(), server.addr).expect("connect");
    let mut control = Control::from_stream(stream);
    let greeting = control.reply();
    assert_eq!(greeting.code, 220, "greeting for {from}: {greeting:?}");
    control
}

/// Three wrong passwords on one session (the server's per-session limit
/// then closes it with 421).
fn fail_three_times(control: &mut Control) {
    for attempt in 1..=3 {
        assert_eq!(control.command(&format!("USER {USER}")).code, 331);
        let reply = control.command("PASS wrong");
        assert_eq!(reply.code, 530, "attempt {attempt}: {reply:?}");
    }
}

/// Panics unless a new connection from `from` is refused as banned.
fn expect_refused(from: &str, server: &Server) {
    let stream = connect_from(from.parse().unwrap(), server.addr).expect("connect");
    let mut control = Control::from_stream(stream);
    let reply = control.reply();
    assert_eq!(reply.code, 421, "{from} while banned: {reply:?}");
    assert!(reply.text.contains("failed logins"), "{reply:?}");
    control.expect_closed();
}

fn failed_logins_ban_the_address_and_no_other(driver: &'static str) {
    let server = Server::start(driver, &["--ban-after", "3", "--ban-time", "600"]);
    // Opened before the ban: it will not log in afterwards either.
    let mut earlier = connect("127.0.0.5", &server);
    let mut guesser = connect("127.0.0.5", &server);
    fail_three_times(&mut guesser);
    server.wait_for_log("127.0.0.5: banned for 600 s after 3 failed logins within 600 s");
    expect_refused("127.0.0.5", &server);
    assert_eq!(earlier.command(&format!("USER {USER}")).code, 331);
    let reply = earlier.command(&format!("PASS {PASSWORD}"));
    assert_eq!(
        reply.code, 530,
        "the right password from a banned address: {reply:?}"
    );
    // Another address is untouched.
    let mut other = connect("127.0.0.6", &server);
    other.log_in_as(USER, PASSWORD);
}

fn behind_a_balancer_the_real_client_is_banned(driver: &'static str) {
    let server = Server::start(
        driver,
        &["--ban-after", "3", "--proxy-protocol-from", "127.0.0.1"],
    );
    let through = |client: &str| {
        let mut stream = connect_from("127.0.0.1".parse().unwrap(), server.addr).unwrap();
        let to = server.addr;
        write!(
            stream,
            "PROXY TCP4 {client} {} 40000 {}\r\n",
            to.ip(),
            to.port()
        )
        .unwrap();
        Control::from_stream(stream)
    };
    let mut guesser = through("127.0.0.13");
    assert_eq!(guesser.reply().code, 220);
    fail_three_times(&mut guesser);
    server.wait_for_log("127.0.0.13: banned");
    let mut again = through("127.0.0.13");
    let reply = again.reply();
    assert_eq!(
        reply.code, 421,
        "the banned client through the balancer: {reply:?}"
    );
    // The balancer itself is not banned: other clients come through.
    let mut other = through("127.0.0.14");
    assert_eq!(other.reply().code, 220);
    other.log_in_as(USER, PASSWORD);
    assert!(
        !server.log().contains("127.0.0.1: banned"),
        "{}",
        server.log()
    );
}

fn a_ban_ends_on_time(driver: &'static str) {
    let server = Server::start(driver, &["--ban-after", "3", "--ban-time", "1"]);
    let mut guesser = connect("127.0.0.15", &server);
    fail_three_times(&mut guesser);
    server.wait_for_log("127.0.0.15: banned for 1 s");
    // Until the second is over the address is refused; then it is served
    // (polled with a bound: the expiry is the event waited for).
    let from: IpAddr = "127.0.0.15".parse().unwrap();
    let started = std::time::Instant::now();
    let mut control = loop {
        let stream = connect_from(from, server.addr).expect("connect");
        let mut control = Control::from_stream(stream);
        if control.reply().code == 220 {
            break control;
        }
        assert!(
            started.elapsed() < REPLY_TIMEOUT,
            "still banned: {}",
            server.log()
        );
        // Pacing against the ban's clock (not a wait for another thread):
        // a few dozen attempts in the second instead of thousands.
        std::thread::sleep(std::time::Duration::from_millis(40));
    };
    control.log_in_as(USER, PASSWORD);
    server.wait_for_log("127.0.0.15: ban over");
}
