//! `ftpwire doctor` against `ftpwire serve` on loopback, on each server
//! driver: healthy (exit 0), and with `--passive-address 127.0.0.9`, where
//! nothing listens: the mismatch reported, the advertised address failing
//! and the control address working, the fix named, exit non-zero.

#[macro_use]
mod common;

use std::process::Command;

use common::clients::{CLIENT_TIMEOUT, Run, run_bounded};
use common::ftps::Certificate;
use common::server::{PASSWORD, Server, USER, binary};

driver_matrix!(
    a_healthy_server_exits_0,
    a_wrong_passive_address_is_found_and_named,
    required_session_reuse_and_a_missing_implicit_port_are_reported,
);

fn doctor(server: &Server, extra: &[&str]) -> (Run, serde_json::Value) {
    let url = format!("ftp://{USER}:{PASSWORD}@{}/", server.addr);
    let mut json_args = vec!["doctor", "--driver", server.driver(), "-k", "--json", &url];
    json_args.extend(extra);
    let run = run_bounded(Command::new(binary()).args(&json_args), CLIENT_TIMEOUT);
    let report: serde_json::Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("doctor --json printed no JSON ({e}): {run}"));
    (run, report)
}

fn finding<'a>(report: &'a serde_json::Value, step: &str) -> &'a serde_json::Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["step"] == step)
        .unwrap_or_else(|| panic!("no {step:?} finding in {report:#}"))
}

fn tls_server(driver: &'static str, extra: &[&str]) -> (Server, Certificate) {
    let certificate = Certificate::generate();
    let mut args = certificate.args();
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    (Server::start(driver, &args), certificate)
}

fn a_healthy_server_exits_0(driver: &'static str) {
    let (server, _certificate) = tls_server(driver, &["--implicit-tls-listen", "127.0.0.1:0"]);
    let port = server.implicit_addr.unwrap().port().to_string();
    let (run, report) = doctor(&server, &["--implicit-port", &port]);
    assert!(run.status.success(), "{run}");
    assert_eq!(report["healthy"], true, "{report:#}");
    for step in [
        "EPSV + LIST",
        "PASV + LIST",
        "explicit FTPS (AUTH TLS)",
        "PASV + LIST under TLS",
        "NAT helper (ALG)",
        "protected data (PROT P)",
        "certificate",
        "implicit FTPS",
    ] {
        assert_eq!(finding(&report, step)["status"], "ok", "{step}: {report:#}");
    }
    let certificate = finding(&report, "certificate")["detail"].as_str().unwrap();
    assert!(
        certificate.starts_with("subject CN=rcgen self signed cert, expires "),
        "{certificate}"
    );
    assert!(certificate.ends_with("not verified (-k)"), "{certificate}");
    let reuse = finding(&report, "TLS session reuse")["detail"]
        .as_str()
        .unwrap();
    assert!(reuse.starts_with("not required"), "{reuse}");
    assert!(
        finding(&report, "protected data (PROT P)")["detail"]
            .as_str()
            .unwrap()
            .contains("resumed the control connection's TLS session"),
        "{report:#}"
    );
    // Active mode is reported on its own, never as passive success.
    assert_eq!(
        finding(&report, "active mode (PORT/EPRT)")["status"],
        "info"
    );
}

fn a_wrong_passive_address_is_found_and_named(driver: &'static str) {
    let (server, _certificate) = tls_server(driver, &["--passive-address", "127.0.0.9"]);
    let (run, report) = doctor(&server, &[]);
    assert!(!run.status.success(), "a fault must exit non-zero: {run}");
    assert_eq!(report["healthy"], false);
    let pasv = finding(&report, "PASV + LIST");
    assert_eq!(pasv["status"], "fail", "{report:#}");
    let detail = pasv["detail"].as_str().unwrap();
    for needle in [
        "the 227 names 127.0.0.9:",
        "a loopback address",
        "dialling it failed",
        "the same port at 127.0.0.1 worked",
    ] {
        assert!(detail.contains(needle), "{needle:?} missing from {detail}");
    }
    let fix = pasv["fix"].as_str().unwrap();
    for setting in [
        "ftpwire serve --passive-address",
        "vsftpd: pasv_address",
        "MasqueradeAddress",
        "ForcePassiveIP",
        "External IP Address of Firewall",
    ] {
        assert!(fix.contains(setting), "{setting:?} missing from {fix}");
    }
    // EPSV names no address: it works, and the report says so.
    assert_eq!(finding(&report, "EPSV + LIST")["status"], "ok");
    // The same wrong address under TLS is the same fault, not an ALG.
    assert_eq!(finding(&report, "PASV + LIST under TLS")["status"], "fail");
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["step"] != "NAT helper (ALG)" || f["status"] != "fail")
    );
    // The human form says the same, one finding per line, with the fix.
    let url = format!("ftp://{USER}:{PASSWORD}@{}/", server.addr);
    let human = run_bounded(
        Command::new(binary()).args(["doctor", "--driver", server.driver(), "-k", &url]),
        CLIENT_TIMEOUT,
    );
    assert!(!human.status.success());
    assert!(
        human
            .stdout
            .contains("[FAIL] PASV + LIST: the 227 names 127.0.0.9:"),
        "{human}"
    );
    assert!(
        human
            .stdout
            .contains("       fix: make the server advertise"),
        "{human}"
    );
    assert!(
        human
            .stdout
            .ends_with("FAULT: see the findings marked FAIL\n"),
        "{human}"
    );
    // The findings say it all: no log lines repeat them on stderr.
    assert_eq!(human.stderr, "", "{human}");
}

fn required_session_reuse_and_a_missing_implicit_port_are_reported(driver: &'static str) {
    let (server, _certificate) = tls_server(driver, &["--require-tls-session-reuse"]);
    // A port where nothing listens (bound, then released).
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port().to_string();
    drop(free);
    let (run, report) = doctor(&server, &["--implicit-port", &port]);
    assert!(run.status.success(), "neither is a fault: {run}");
    let reuse = finding(&report, "TLS session reuse");
    assert!(
        reuse["detail"].as_str().unwrap().starts_with("required: "),
        "{report:#}"
    );
    assert!(
        reuse["detail"].as_str().unwrap().contains("522"),
        "{report:#}"
    );
    let implicit = finding(&report, "implicit FTPS");
    assert_eq!(implicit["status"], "info", "{report:#}");
    assert!(
        implicit["detail"]
            .as_str()
            .unwrap()
            .starts_with(&format!("not offered on port {port}")),
        "{report:#}"
    );
    // The resuming client's own protected LIST still works.
    assert_eq!(finding(&report, "protected data (PROT P)")["status"], "ok");
}
