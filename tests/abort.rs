//! ABOR during a running transfer, sent as a plain line and the RFC 959 way
//! (Telnet IP, then the Synch: IAC DM with the DM as TCP urgent data): the
//! reply is `426` then `226`, the session goes on, and a new client is served.

#[macro_use]
mod common;

use std::net::TcpStream;

use common::clients::assert_serves_new_client;
use common::control::Control;
use common::payload::payload;
use common::server::Server;

driver_matrix!(
    abor_line_interrupts_a_download,
    abor_with_telnet_synch_interrupts_a_download
);

/// Starts a RETR of the 20 MiB payload whose data the client never reads,
/// so the server is certainly still sending when ABOR arrives.
fn stalled_download(server: &Server) -> (Control, TcpStream) {
    std::fs::write(server.root().join("big.bin"), payload()).unwrap();
    let mut control = Control::login(server.addr);
    control.binary();
    let port = control.epsv();
    let data = TcpStream::connect((server.addr.ip(), port)).expect("data connection");
    control.send(b"RETR big.bin\r\n");
    let reply = control.reply();
    assert_eq!(reply.code, 150, "RETR: {reply:?}");
    (control, data)
}

fn expect_aborted(control: &mut Control) {
    let first = control.reply();
    assert_eq!(first.code, 426, "first reply to ABOR: {first:?}");
    let second = control.reply();
    assert_eq!(second.code, 226, "second reply to ABOR: {second:?}");
    let noop = control.command("NOOP");
    assert_eq!(noop.code, 200, "the session goes on after ABOR: {noop:?}");
}

fn abor_line_interrupts_a_download(driver: &'static str) {
    let mut server = Server::start(driver, &[]);
    let (mut control, data) = stalled_download(&server);
    control.send(b"ABOR\r\n");
    expect_aborted(&mut control);
    drop(data);
    assert_serves_new_client(&mut server);
}

fn abor_with_telnet_synch_interrupts_a_download(driver: &'static str) {
    let mut server = Server::start(driver, &[]);
    let (mut control, data) = stalled_download(&server);
    // IAC IP, IAC in band, then DM as the urgent byte, then the command.
    control.send(b"\xff\xf4\xff");
    let sent = socket2::SockRef::from(control.socket())
        .send_out_of_band(b"\xf2")
        .expect("send the Synch as urgent data");
    assert_eq!(sent, 1);
    control.send(b"ABOR\r\n");
    expect_aborted(&mut control);
    drop(data);
    assert_serves_new_client(&mut server);
}
