use std::io::Write;
use std::time::Duration;

use rustls::ClientConnection;

use ftpwire_core::Event;
use ftpwire_core::server::LoginOutcome;

use super::*;
use crate::native::tls::CCC_CLOSE_WAIT;
use crate::native::tls::tests::{client, client_config, client_reads, identity, settings};

fn at(millis: u64) -> Instant {
    Instant::from_millis(millis)
}

fn addrs() -> (SocketAddr, SocketAddr) {
    (
        "127.0.0.1:21".parse().unwrap(),
        "127.0.0.1:50000".parse().unwrap(),
    )
}

fn open(
    config: ServerConfig,
    tls: Option<TlsSettings>,
    implicit: bool,
) -> Option<ControlConnection> {
    let (local, peer) = addrs();
    ControlConnection::open(Arc::new(config), local, peer, at(0), tls, implicit)
}

/// Everything the connection writes until it waits; no event but a notice
/// may reach the driver in these tests (TLS changes are the layer's own).
fn drain(control: &mut ControlConnection) -> (Vec<u8>, bool) {
    let mut wire = Vec::new();
    loop {
        match control.poll_output() {
            Output::Transmit(bytes) => wire.extend_from_slice(bytes),
            Output::Event(Event::Notice(_)) => {}
            Output::Event(event) => panic!("an event reached the driver: {event:?}"),
            Output::Timeout(_) => return (wire, false),
            Output::Closed => return (wire, true),
        }
    }
}

fn client_writes(client: &mut ClientConnection) -> Vec<u8> {
    let mut wire = Vec::new();
    while client.wants_write() {
        client.write_tls(&mut wire).unwrap();
    }
    wire
}

fn client_takes(client: &mut ClientConnection, mut wire: &[u8]) {
    while !wire.is_empty() {
        client.read_tls(&mut wire).unwrap();
        client.process_new_packets().unwrap();
    }
}

/// Runs the handshake (and whatever follows it) between the two until
/// neither has anything to say; returns what the client then reads.
fn pump(control: &mut ControlConnection, client: &mut ClientConnection, now: Instant) -> Vec<u8> {
    for _ in 0..20 {
        let to_server = client_writes(client);
        if !to_server.is_empty() {
            control.handle_input(now, &to_server);
        }
        let (to_client, _) = drain(control);
        client_takes(client, &to_client);
        if to_server.is_empty() && to_client.is_empty() {
            break;
        }
    }
    client_reads(client)
}

/// USER and PASS under TLS, the login accepted as a driver would.
fn log_in(control: &mut ControlConnection, client: &mut ClientConnection) {
    client
        .writer()
        .write_all(b"USER alice\r\nPASS secret\r\n")
        .unwrap();
    control.handle_input(at(5), &client_writes(client));
    let mut token = None;
    loop {
        match control.poll_output() {
            Output::Transmit(bytes) => client_takes(client, bytes),
            Output::Event(Event::Login(login)) => token = Some(login.token),
            Output::Event(Event::Notice(_)) => {}
            other => {
                assert!(matches!(other, Output::Timeout(_)), "{other:?}");
                break;
            }
        }
    }
    let token = token.expect("a login event");
    control
        .session()
        .login(token, LoginOutcome::Accepted { read_only: false });
    let said = pump(control, client, at(6));
    assert!(client_reads(client).is_empty());
    let said = String::from_utf8(said).unwrap();
    assert!(said.contains("230 "), "{said}");
}

fn tls_config() -> ServerConfig {
    ServerConfig {
        tls: true,
        allow_ccc: true,
        ..ServerConfig::default()
    }
}

#[test]
fn auth_tls_runs_through_the_same_calls_and_drops_injected_commands() {
    let id = identity();
    let mut control = open(tls_config(), Some(settings(&id)), false).unwrap();
    assert!(!control.is_tls());
    assert!(
        control.data_tls(true).is_none(),
        "no TLS session before AUTH TLS"
    );

    // A command injected behind AUTH TLS in the same read.
    control.handle_input(at(0), b"AUTH TLS\r\nUSER alice\r\n");
    let (said, closed) = drain(&mut control);
    assert!(!closed);
    let said = String::from_utf8(said).unwrap();
    assert!(said.starts_with("220 "), "{said}");
    assert!(
        said.ends_with("\r\n234 AUTH TLS ok; start the TLS handshake.\r\n"),
        "{said}"
    );
    assert!(control.is_tls(), "the upgrade was carried out by the layer");

    let config = client_config(&id);
    let mut client = client(&config);
    assert_eq!(pump(&mut control, &mut client, at(1)), b"");
    assert!(!client.is_handshaking());
    assert!(
        control.session().is_secured(),
        "the handshake answered the upgrade"
    );
    assert!(control.data_tls(true).is_some() && control.data_tls(false).is_none());

    // Under TLS: the injected USER did not run, so PASS is out of sequence,
    // and the reply is sealed.
    client.writer().write_all(b"PASS secret\r\n").unwrap();
    control.handle_input(at(2), &client_writes(&mut client));
    let (wire, _) = drain(&mut control);
    assert!(
        !wire.windows(4).any(|w| w == b"503 "),
        "replies are encrypted"
    );
    client_takes(&mut client, &wire);
    let reply = client_reads(&mut client);
    assert!(
        reply.starts_with(b"503 "),
        "{}",
        String::from_utf8_lossy(&reply)
    );
}

#[test]
fn ccc_returns_to_plain_text_through_the_same_calls() {
    let id = identity();
    let mut control = open(tls_config(), Some(settings(&id)), true).unwrap();
    assert!(control.is_tls(), "implicit FTPS starts in TLS");
    let config = client_config(&id);
    let mut client = client(&config);
    let greeting = pump(&mut control, &mut client, at(0));
    assert!(
        greeting.starts_with(b"220 "),
        "{}",
        String::from_utf8_lossy(&greeting)
    );

    log_in(&mut control, &mut client);
    client.writer().write_all(b"CCC\r\n").unwrap();
    let reply = pump(&mut control, &mut client, at(10));
    assert_eq!(reply, b"200 Control connection is now in clear text.\r\n");
    // This client waits for the server to start the closure (curl's default).
    let due = control.poll_timeout().unwrap();
    assert_eq!(due, at(10) + CCC_CLOSE_WAIT);
    control.handle_timeout(due);
    let (wire, closed) = drain(&mut control);
    assert!(
        !closed && !wire.is_empty(),
        "our close_notify goes out at the deadline"
    );
    client_takes(&mut client, &wire);
    assert_eq!(
        client_reads(&mut client),
        b"",
        "the client saw the close_notify"
    );
    client.send_close_notify();
    let mut input = client_writes(&mut client);
    input.extend_from_slice(b"NOOP\r\n");
    control.handle_input(due + Duration::from_millis(1), &input);
    assert!(!control.is_tls(), "the TLS layer is gone");
    let (wire, _) = drain(&mut control);
    assert_eq!(wire, b"200 NOOP ok.\r\n", "plain text again");
    // The session's own deadline is back in charge.
    let session_deadline = control.session().poll_timeout();
    assert_eq!(control.poll_timeout(), session_deadline);
}

#[test]
fn the_session_end_sends_close_notify_once() {
    let id = identity();
    let mut control = open(tls_config(), Some(settings(&id)), true).unwrap();
    let config = client_config(&id);
    let mut client = client(&config);
    pump(&mut control, &mut client, at(0));
    client.writer().write_all(b"QUIT\r\n").unwrap();
    control.handle_input(at(1), &client_writes(&mut client));
    let (wire, closed) = drain(&mut control);
    assert!(closed);
    client_takes(&mut client, &wire);
    let said = client_reads(&mut client);
    assert!(
        said.starts_with(b"221 "),
        "{}",
        String::from_utf8_lossy(&said)
    );
    let mut more = [0u8; 1];
    assert_eq!(
        std::io::Read::read(&mut client.reader(), &mut more).unwrap(),
        0,
        "close_notify after the 221"
    );
    assert!(matches!(control.poll_output(), Output::Closed));
    assert!(
        matches!(control.poll_output(), Output::Closed),
        "and only once"
    );
}

#[test]
fn plain_text_on_the_implicit_port_ends_with_an_alert() {
    let id = identity();
    let mut control = open(tls_config(), Some(settings(&id)), true).unwrap();
    control.handle_input(at(0), b"USER alice\r\n");
    let (wire, closed) = drain(&mut control);
    assert!(closed, "the session ends");
    assert_eq!(
        wire.first(),
        Some(&21),
        "a TLS alert, not a plain reply: {wire:?}"
    );
    assert!(!wire.windows(4).any(|w| w == b"220 " || w == b"331 "));
}

#[test]
fn tls_without_a_certificate_is_refused() {
    assert!(open(tls_config(), None, true).is_none(), "implicit FTPS");
    let mut control = open(tls_config(), None, false).unwrap();
    control.handle_input(at(0), b"AUTH TLS\r\n");
    let (said, closed) = drain(&mut control);
    assert!(closed, "AUTH TLS accepted but TLS cannot start: closed");
    assert!(String::from_utf8(said).unwrap().contains("234 "));
}
