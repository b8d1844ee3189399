//! `--metrics-listen`: after a scripted workload, a real HTTP client (curl)
//! scrapes `/metrics` and every counter the workload determines has its
//! exact value: sessions (total, current, refused by reason), logins by
//! outcome, transfers by command and outcome, bytes in and out, TLS
//! handshakes, passive listeners in use. And `--log-format json`: every
//! log line is one JSON object, with the client's address as a field.

#[macro_use]
mod common;

use common::control::Control;
use common::ftps::{Certificate, TlsControl};
use common::server::{Server, USER};
use common::session;

driver_matrix!(
    a_scrape_after_a_workload_has_its_exact_counts,
    json_logs_are_one_object_per_line,
);

fn a_scrape_after_a_workload_has_its_exact_counts(driver: &'static str) {
    let certificate = Certificate::generate();
    let mut args = certificate.args();
    args.extend(
        [
            "--metrics-listen",
            "127.0.0.1:0",
            "--max-sessions-per-ip",
            "3",
        ]
        .map(String::from),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start(driver, &args);

    // A client that logs in, uploads 1,000 bytes and reads them back, and
    // fails one download (no such file).
    let mut client = session::log_in(server.addr);
    let bytes = vec![7u8; 1000];
    session::store(&mut client, "up.bin", &bytes).unwrap();
    assert_eq!(session::retrieve(&mut client, "up.bin").unwrap(), bytes);
    assert!(session::retrieve(&mut client, "missing.bin").is_err());
    // A wrong password.
    let mut guesser = Control::connect(server.addr);
    assert_eq!(guesser.command(&format!("USER {USER}")).code, 331);
    assert_eq!(guesser.command("PASS wrong").code, 530);
    // FTPS: one control handshake.
    let mut secured = TlsControl::explicit(server.addr, &certificate);
    secured.login();
    // A fourth session from 127.0.0.1: past --max-sessions-per-ip 3.
    let mut refused = Control::from_stream(std::net::TcpStream::connect(server.addr).unwrap());
    assert_eq!(refused.reply().code, 421);

    let metrics = server.metrics();
    let get = |name: &str| metrics.get(name).copied().unwrap_or(0.0);
    for (name, expected) in [
        ("ftpwire_sessions_total", 3.0),
        ("ftpwire_sessions_current", 3.0),
        ("ftpwire_sessions_refused_total{reason=\"per_ip\"}", 1.0),
        ("ftpwire_logins_total{outcome=\"ok\"}", 2.0),
        ("ftpwire_logins_total{outcome=\"failed\"}", 1.0),
        (
            "ftpwire_transfers_total{command=\"STOR\",outcome=\"ok\"}",
            1.0,
        ),
        (
            "ftpwire_transfers_total{command=\"RETR\",outcome=\"ok\"}",
            1.0,
        ),
        (
            "ftpwire_transfers_total{command=\"RETR\",outcome=\"failed\"}",
            1.0,
        ),
        ("ftpwire_bytes_total{direction=\"in\"}", 1000.0),
        ("ftpwire_bytes_total{direction=\"out\"}", 1000.0),
        (
            "ftpwire_tls_handshakes_total{channel=\"control\",outcome=\"ok\"}",
            1.0,
        ),
        // The refused RETR's listener stays for the next transfer command.
        ("ftpwire_passive_listeners_in_use", 1.0),
        ("ftpwire_passive_ports_exhausted_total", 0.0),
    ] {
        assert_eq!(get(name), expected, "{name} in {metrics:#?}");
    }
    drop((client, guesser, secured));
}

fn json_logs_are_one_object_per_line(driver: &'static str) {
    let server = Server::start(driver, &["--log-format", "json"]);
    let mut client = session::log_in(server.addr);
    session::store(&mut client, "up.bin", b"twelve bytes").unwrap();
    server.wait_for_log("\"command\":\"STOR\"");
    let log = server.log();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
        .collect();
    assert!(
        lines
            .iter()
            .all(|l| l["time"].is_string() && l["level"].is_string())
    );
    let login = lines
        .iter()
        .find(|l| l["message"] == "login ok: alice")
        .unwrap_or_else(|| panic!("no login line: {log}"));
    assert!(
        login["client"]
            .as_str()
            .is_some_and(|c| c.starts_with("127.0.0.1:")),
        "{login}"
    );
    let stored = lines
        .iter()
        .find(|l| l["command"] == "STOR")
        .unwrap_or_else(|| panic!("no transfer line: {log}"));
    assert_eq!(stored["path"], "/up.bin");
    assert_eq!(stored["bytes"], 12);
    assert_eq!(stored["user"], USER);
    assert_eq!(stored["outcome"], "ok");
    assert_eq!(stored["level"], "INFO");
}
