//! The silent fallback, seen from the server: a client that opened a
//! passive listener no data connection reached, then switched to active
//! mode (what FileZilla and lftp do when passive mode is broken), leaves a
//! log line that says so and what to check. A client that never tried
//! passive mode, or whose passive connection came, leaves none.

#[macro_use]
mod common;

use std::net::TcpListener;

use common::control::Control;
use common::server::Server;

driver_matrix!(
    port_after_an_unreached_passive_listener_is_logged,
    port_without_a_failed_passive_attempt_is_not,
);

/// `PORT` (or `EPRT`) to a listener of the test's own; returns the reply code.
fn port(control: &mut Control, verb: &str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let line = match verb {
        "PORT" => format!("PORT 127,0,0,1,{},{}", port >> 8, port & 0xff),
        _ => format!("EPRT |1|127.0.0.1|{port}|"),
    };
    control.command(&line).code
}

fn port_after_an_unreached_passive_listener_is_logged(driver: &'static str) {
    let server = Server::start(driver, &[]);
    let mut control = Control::login(server.addr);
    // The client cannot reach the passive port (here: it never tries).
    control.pasv();
    assert_eq!(port(&mut control, "PORT"), 200);
    server.wait_for_log("the client switched to active mode (PORT)");
    // EPRT after EPSV too.
    control.epsv();
    assert_eq!(port(&mut control, "EPRT"), 200);
    server.wait_for_log("the client switched to active mode (EPRT)");
    assert!(
        server.log().contains("--passive-address"),
        "{}",
        server.log()
    );
}

fn port_without_a_failed_passive_attempt_is_not(driver: &'static str) {
    let server = Server::start(driver, &[]);
    let mut control = Control::login(server.addr);
    assert_eq!(port(&mut control, "PORT"), 200);
    // A later command's reply orders the log: nothing was said before it.
    assert_eq!(control.command("NOOP").code, 200);
    control.command("QUIT");
    control.expect_closed();
    assert!(
        !server.log().contains("switched to active mode"),
        "{}",
        server.log()
    );
}
