//! Behind a load balancer: `--proxy-protocol-from` trusts PROXY headers (v1
//! and v2) from the balancer's address only, and the real client address
//! they carry drives the session: the log, the per-IP limit, the
//! data-connection peer check (the data connection comes straight from the
//! client, not through the balancer, so EPSV, which would send it to the
//! balancer, is refused and PASV names the instance). A balancer that sends no header, and
//! a client that sends one without being a balancer, are closed with a log
//! line. Loopback only: the "balancer" is 127.0.0.1, clients 127.0.0.x.

#[macro_use]
mod common;

use std::io::Write;
use std::net::{IpAddr, SocketAddr};

use common::control::{Control, REPLY_TIMEOUT, connect_from, read_data};
use common::ftps::{Certificate, TlsControl};
use common::payload::assert_same_bytes;
use common::server::Server;

driver_matrix!(
    a_v1_header_names_the_client_for_logs_and_data,
    a_v2_header_names_the_client,
    per_ip_limits_count_real_clients,
    a_balancer_without_a_header_is_closed,
    a_header_from_a_client_that_is_no_balancer_is_refused,
    implicit_ftps_right_after_the_header,
);

/// The balancer's address (where the test's "balancer" connects from).
const BALANCER: &str = "127.0.0.1";

fn server(driver: &'static str, extra: &[&str]) -> Server {
    let mut args = vec!["--proxy-protocol-from", BALANCER];
    args.extend_from_slice(extra);
    Server::start(driver, &args)
}

/// A control connection from the balancer that starts with `header`.
fn through_balancer(server: &Server, header: &[u8]) -> Control {
    let from: IpAddr = BALANCER.parse().unwrap();
    let mut stream = connect_from(from, server.addr).expect("connect from the balancer");
    stream.write_all(header).expect("send the PROXY header");
    let mut control = Control::from_stream(stream);
    let greeting = control.reply();
    assert_eq!(
        greeting.code, 220,
        "greeting after the header: {greeting:?}"
    );
    control
}

fn v1(client: SocketAddr, server: &Server) -> Vec<u8> {
    format!(
        "PROXY TCP4 {} {} {} {}\r\n",
        client.ip(),
        server.addr.ip(),
        client.port(),
        server.addr.port()
    )
    .into_bytes()
}

/// A v2 PROXY header (TCP over IPv4), as HAProxy's `send-proxy-v2` sends it.
fn v2(client: SocketAddr, server: &Server) -> Vec<u8> {
    let (SocketAddr::V4(client), SocketAddr::V4(to)) = (client, server.addr) else {
        panic!("IPv4 only");
    };
    ppp::v2::Builder::with_addresses(
        ppp::v2::Version::Two | ppp::v2::Command::Proxy,
        ppp::v2::Protocol::Stream,
        ppp::v2::IPv4::new(*client.ip(), *to.ip(), client.port(), to.port()),
    )
    .build()
    .expect("a v2 header")
}

/// Logs in, then RETR over EPSV with the data connection from `client`.
fn download_from(control: &mut Control, server: &Server, client: IpAddr) -> Vec<u8> {
    control.log_in_as(common::server::USER, common::server::PASSWORD);
    control.binary();
    // EPSV would send the client to the balancer: refused, so it uses PASV,
    // whose reply names this server.
    let epsv = control.command("EPSV");
    assert_eq!(epsv.code, 502, "EPSV through the balancer: {epsv:?}");
    let (advertised, _) = control.pasv();
    assert_eq!(advertised.ip(), server.addr.ip(), "PASV names the instance");
    let mut data = connect_from(client, advertised).expect("data connection");
    let reply = control.command("RETR file.bin");
    assert_eq!(reply.code, 150, "RETR: {reply:?}");
    let bytes = read_data(&mut data);
    let done = control.reply();
    assert_eq!(done.code, 226, "RETR end: {done:?}");
    bytes
}

fn a_v1_header_names_the_client_for_logs_and_data(driver: &'static str) {
    let server = server(driver, &[]);
    let content = b"served to the real client\n".repeat(4000);
    std::fs::write(server.root().join("file.bin"), &content).unwrap();
    let client: SocketAddr = "127.0.0.7:40001".parse().unwrap();
    let mut control = through_balancer(&server, &v1(client, &server));
    // The data connection comes from the client itself: the peer check
    // compares it with the header's address, not the balancer's.
    let bytes = download_from(&mut control, &server, client.ip());
    assert_same_bytes(&bytes, &content, "RETR behind the balancer");
    server.wait_for_log("127.0.0.7:40001: RETR /file.bin");
    let log = server.log();
    assert!(
        !log.contains(&format!("{BALANCER}:")),
        "the balancer's address stands for no session: {log}"
    );
}

fn a_v2_header_names_the_client(driver: &'static str) {
    let server = server(driver, &[]);
    std::fs::write(server.root().join("file.bin"), b"v2").unwrap();
    let client: SocketAddr = "127.0.0.8:40002".parse().unwrap();
    let mut control = through_balancer(&server, &v2(client, &server));
    let bytes = download_from(&mut control, &server, client.ip());
    assert_eq!(bytes, b"v2");
    server.wait_for_log("127.0.0.8:40002: RETR /file.bin");
}

fn per_ip_limits_count_real_clients(driver: &'static str) {
    let server = server(driver, &["--max-sessions-per-ip", "1"]);
    let first: SocketAddr = "127.0.0.9:40003".parse().unwrap();
    let _held = through_balancer(&server, &v1(first, &server));
    // The same client again, through the same balancer: over its limit.
    let from: IpAddr = BALANCER.parse().unwrap();
    let mut again = connect_from(from, server.addr).unwrap();
    let same_ip: SocketAddr = "127.0.0.9:40004".parse().unwrap();
    again.write_all(&v1(same_ip, &server)).unwrap();
    let mut again = Control::from_stream(again);
    let refused = again.reply();
    assert_eq!(
        refused.code, 421,
        "the second session of 127.0.0.9: {refused:?}"
    );
    server.wait_for_log("127.0.0.9:40004: connection refused");
    // Another client through the same balancer is served: the balancer's
    // own address is not what the limit counts.
    let other: SocketAddr = "127.0.0.10:40005".parse().unwrap();
    let mut served = through_balancer(&server, &v1(other, &server));
    served.log_in_as(common::server::USER, common::server::PASSWORD);
}

fn a_balancer_without_a_header_is_closed(driver: &'static str) {
    let server = server(driver, &[]);
    let from: IpAddr = BALANCER.parse().unwrap();
    let mut stream = connect_from(from, server.addr).unwrap();
    stream.write_all(b"USER alice\r\n").unwrap();
    // No greeting, no reply: the connection just closes.
    Control::from_stream(stream).expect_closed();
    server.wait_for_log("no PROXY header from a load balancer");
}

fn a_header_from_a_client_that_is_no_balancer_is_refused(driver: &'static str) {
    let server = server(driver, &[]);
    // 127.0.0.2 is not a balancer: it reads the greeting as any client...
    let stream = connect_from("127.0.0.2".parse().unwrap(), server.addr).unwrap();
    let mut control = Control::from_stream(stream);
    assert_eq!(control.reply().code, 220);
    // ...but may not choose its own address.
    let forged: SocketAddr = "127.0.0.11:40006".parse().unwrap();
    control.send(&v1(forged, &server));
    control.expect_closed();
    server.wait_for_log("sent a PROXY header but is not a configured load balancer");
    assert!(!server.log().contains("127.0.0.11"), "{}", server.log());
}

fn implicit_ftps_right_after_the_header(driver: &'static str) {
    let certificate = Certificate::generate();
    let mut args = certificate.args();
    args.extend(["--implicit-tls-listen".into(), "127.0.0.1:0".into()]);
    args.extend(["--proxy-protocol-from".into(), BALANCER.into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start(driver, &args);
    let implicit = server.implicit_addr.expect("the implicit-FTPS listener");
    let client: SocketAddr = "127.0.0.12:40007".parse().unwrap();
    let header = v2(client, &server);
    let socket = connect_from(BALANCER.parse().unwrap(), implicit).unwrap();
    socket.set_write_timeout(Some(REPLY_TIMEOUT)).unwrap();
    // The header and the ClientHello in one segment, as a balancer relays
    // them: the bytes after the header are the TLS session's first input.
    let mut control = TlsControl::implicit_after(socket, &header, &certificate);
    control.login();
    server.wait_for_log("127.0.0.12:40007");
}
