//! `ftpwire doctor` through a real NAT built from network namespaces: a
//! "VM" on a private address (10.77.0.2) behind a "router" that DNATs the
//! control port and the passive range from its public side (198.51.100.1),
//! with the Linux kernel's FTP conntrack helper as the ALG (nftables `ct
//! helper` of type "ftp"), and a "client" on the public side. The helper
//! rewrites plain `227` replies, so plain PASV works with a server that
//! advertises its private address; under TLS it cannot, and doctor must
//! name that trap. With `--passive-address` set, doctor reports healthy.
//! Needs root (CI runs as root); addresses only the namespaces it creates,
//! and removes them.

#[macro_use]
mod common;

use std::ffi::OsString;
use std::process::{Command, Stdio};

use common::clients::{CLIENT_TIMEOUT, run_bounded};
use common::ftps::Certificate;
use common::netns::sh;
use common::server::{PASSWORD, Server, USER, binary};

driver_matrix!(
    the_alg_trap_is_found_behind_nat,
    a_server_with_its_public_address_is_healthy_behind_nat,
);

/// Three namespaces and their links; removed when dropped.
struct Nat {
    vm: String,
    router: String,
    client: String,
}

const PUBLIC: &str = "198.51.100.1";
const PRIVATE: &str = "10.77.0.2";

impl Nat {
    fn new() -> Nat {
        // Unique among the tests of this run (they run in parallel) and
        // among runs: a name is at most 15 bytes.
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = format!("fw{}n{n}", std::process::id() % 100_000);
        let nat = Nat {
            vm: format!("{id}v"),
            router: format!("{id}r"),
            client: format!("{id}c"),
        };
        for ns in [&nat.vm, &nat.router, &nat.client] {
            sh(&["ip", "netns", "add", ns]);
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        // vm <-> router (private side), client <-> router (public side).
        sh(&[
            "ip",
            "-n",
            &nat.vm,
            "link",
            "add",
            "eth0",
            "type",
            "veth",
            "peer",
            "name",
            "priv",
            "netns",
            &nat.router,
        ]);
        sh(&[
            "ip",
            "-n",
            &nat.client,
            "link",
            "add",
            "eth0",
            "type",
            "veth",
            "peer",
            "name",
            "pub",
            "netns",
            &nat.router,
        ]);
        sh(&[
            "ip",
            "-n",
            &nat.vm,
            "addr",
            "add",
            "10.77.0.2/24",
            "dev",
            "eth0",
        ]);
        sh(&[
            "ip",
            "-n",
            &nat.router,
            "addr",
            "add",
            "10.77.0.1/24",
            "dev",
            "priv",
        ]);
        sh(&[
            "ip",
            "-n",
            &nat.router,
            "addr",
            "add",
            "198.51.100.1/24",
            "dev",
            "pub",
        ]);
        sh(&[
            "ip",
            "-n",
            &nat.client,
            "addr",
            "add",
            "198.51.100.2/24",
            "dev",
            "eth0",
        ]);
        for (ns, dev) in [
            (&nat.vm, "eth0"),
            (&nat.router, "priv"),
            (&nat.router, "pub"),
            (&nat.client, "eth0"),
        ] {
            sh(&["ip", "-n", ns, "link", "set", dev, "up"]);
        }
        sh(&[
            "ip",
            "-n",
            &nat.vm,
            "route",
            "add",
            "default",
            "via",
            "10.77.0.1",
        ]);
        sh(&[
            "ip",
            "-n",
            &nat.client,
            "route",
            "add",
            "default",
            "via",
            "198.51.100.1",
        ]);
        sh(&[
            "ip",
            "netns",
            "exec",
            &nat.router,
            "sysctl",
            "-q",
            "-w",
            "net.ipv4.ip_forward=1",
        ]);
        // The router: DNAT the control port and the passive range to the VM,
        // the FTP helper on the control connection, and nothing else from
        // the public side may reach the private network (as on the internet).
        let rules = format!(
            "table ip router {{
                ct helper ftp-std {{
                    type \"ftp\" protocol tcp
                }}
                chain assign_helpers {{
                    type filter hook prerouting priority filter;
                    iifname \"pub\" tcp dport 2121 ct helper set \"ftp-std\"
                }}
                chain to_vm {{
                    type nat hook prerouting priority dstnat;
                    iifname \"pub\" tcp dport 2121 dnat to {PRIVATE}:2121
                    iifname \"pub\" tcp dport 50000-50010 dnat to {PRIVATE}
                }}
                chain from_public {{
                    type filter hook forward priority filter;
                    iifname \"pub\" ct status dnat accept
                    iifname \"pub\" ct state established,related accept
                    iifname \"pub\" reject with tcp reset
                }}
            }}"
        );
        let mut nft = Command::new("ip")
            .args(["netns", "exec", &nat.router, "nft", "-f", "-"])
            .stdin(Stdio::piped())
            .spawn()
            .expect("run nft");
        use std::io::Write;
        nft.stdin
            .take()
            .unwrap()
            .write_all(rules.as_bytes())
            .unwrap();
        assert!(
            nft.wait().unwrap().success(),
            "nft refused the router's rules"
        );
        nat
    }

    /// `ftpwire serve` inside the VM namespace.
    fn serve(&self, driver: &'static str, certificate: &Certificate, extra: &[&str]) -> Server {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("hello.txt"), b"hello\n").unwrap();
        let mut args: Vec<OsString> = [
            "--listen",
            "10.77.0.2:2121",
            "--passive-ports",
            "50000-50010",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        args.extend(["--root".into(), root.path().into()]);
        args.extend(["--user".into(), format!("{USER}:{PASSWORD}").into()]);
        args.extend(certificate.args().into_iter().map(OsString::from));
        args.extend(extra.iter().map(OsString::from));
        let path = root.path().to_owned();
        Server::launch_wrapped(
            &["ip", "netns", "exec", &self.vm],
            driver,
            &args,
            None,
            path,
            Some(root),
        )
    }

    /// `ftpwire doctor --json` on the client host of `driver`, from the
    /// client namespace, to the router's public address.
    fn doctor(&self, driver: &str) -> (common::clients::Run, serde_json::Value) {
        let url = format!("ftp://{USER}:{PASSWORD}@{PUBLIC}:2121/");
        let run = run_bounded(
            Command::new("ip").args([
                "netns",
                "exec",
                &self.client,
                binary(),
                "doctor",
                "--driver",
                driver,
                "-k",
                "--json",
                &url,
            ]),
            CLIENT_TIMEOUT,
        );
        let report = serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("no JSON from doctor ({e}): {run}"));
        (run, report)
    }
}

impl Drop for Nat {
    fn drop(&mut self) {
        for ns in [&self.client, &self.router, &self.vm] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

fn status<'a>(report: &'a serde_json::Value, step: &str) -> (&'a str, &'a str) {
    let finding = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["step"] == step)
        .unwrap_or_else(|| panic!("no {step:?} in {report:#}"));
    (
        finding["status"].as_str().unwrap(),
        finding["detail"].as_str().unwrap(),
    )
}

fn the_alg_trap_is_found_behind_nat(driver: &'static str) {
    let nat = Nat::new();
    let certificate = Certificate::generate();
    let server = nat.serve(driver, &certificate, &[]);
    let (run, report) = nat.doctor(driver);
    assert!(!run.status.success(), "the ALG trap is a fault: {run}");
    // The server saw it too: its 227 named its private address to a client
    // on the public side, and its log says so, with the fix.
    server.wait_for_log(&format!(
        "PASV advertised {PRIVATE}, a private address, to 198.51.100.2"
    ));
    assert!(
        server.log().contains("set --passive-address"),
        "{}",
        server.log()
    );
    // Plain PASV works: the helper rewrote the private address.
    assert_eq!(
        status(&report, "PASV + LIST"),
        (
            "ok",
            &*format!("the 227 names {PUBLIC}, the address connected to; LIST works")
        ),
        "{report:#}"
    );
    // Under TLS the helper cannot read the 227: the private address shows.
    let (tls_status, tls_detail) = status(&report, "PASV + LIST under TLS");
    assert_eq!(tls_status, "fail", "{report:#}");
    assert!(
        tls_detail.contains(&format!("the 227 names {PRIVATE}:"))
            && tls_detail.contains("a private address"),
        "{tls_detail}"
    );
    assert!(
        tls_detail.contains(&format!("the same port at {PUBLIC} worked")),
        "{tls_detail}"
    );
    let (alg_status, alg_detail) = status(&report, "NAT helper (ALG)");
    assert_eq!(alg_status, "fail", "{report:#}");
    assert!(
        alg_detail.contains("rewrites plain 227 replies"),
        "{alg_detail}"
    );
    // EPSV names no address: it works in both.
    assert_eq!(status(&report, "EPSV + LIST").0, "ok");
    assert_eq!(status(&report, "EPSV + LIST under TLS").0, "ok");
    // The human output, as the closing note shows it.
    let url = format!("ftp://{USER}:{PASSWORD}@{PUBLIC}:2121/");
    let human = run_bounded(
        Command::new("ip").args([
            "netns",
            "exec",
            &nat.client,
            binary(),
            "doctor",
            "--driver",
            driver,
            "-k",
            &url,
        ]),
        CLIENT_TIMEOUT,
    );
    println!("{}", human.stdout);
    assert!(human.stdout.contains("[FAIL] NAT helper (ALG)"), "{human}");
}

fn a_server_with_its_public_address_is_healthy_behind_nat(driver: &'static str) {
    let nat = Nat::new();
    let certificate = Certificate::generate();
    let server = nat.serve(driver, &certificate, &["--passive-address", PUBLIC]);
    let (run, report) = nat.doctor(driver);
    assert!(run.status.success(), "{run}");
    assert!(
        !server.log().contains("a private address"),
        "{}",
        server.log()
    );
    assert_eq!(report["healthy"], true, "{report:#}");
    assert_eq!(status(&report, "PASV + LIST under TLS").0, "ok");
    assert_eq!(status(&report, "NAT helper (ALG)").0, "ok");
}
