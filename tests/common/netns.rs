//! Hosts of a test's own: network namespaces on one bridge (a "switch"
//! namespace), created by the test and removed when dropped. Needs root
//! (CI runs as root) and iproute2. Tests address only these namespaces.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// Runs a command to completion; panics with its stderr unless it succeeds.
pub fn sh(args: &[&str]) {
    let output = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"));
    assert!(
        output.status.success(),
        "{args:?} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A LAN: a bridge in a namespace of its own, and hosts (namespaces) on it.
pub struct Lan {
    id: String,
    switch: String,
    hosts: Vec<String>,
    prefix: String,
}

impl Lan {
    /// An empty LAN whose hosts get addresses `PREFIX.N/24`.
    pub fn new(prefix: &str) -> Lan {
        // Unique among the tests of this run and among runs; a name is at
        // most 15 bytes.
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let id = format!("fl{}n{n}", std::process::id() % 100_000);
        let switch = format!("{id}s");
        sh(&["ip", "netns", "add", &switch]);
        sh(&["ip", "-n", &switch, "link", "add", "br0", "type", "bridge"]);
        sh(&["ip", "-n", &switch, "link", "set", "br0", "up"]);
        Lan {
            id,
            switch,
            hosts: Vec::new(),
            prefix: prefix.to_owned(),
        }
    }

    /// The address `PREFIX.host`.
    pub fn addr(&self, host: u8) -> String {
        format!("{}.{host}", self.prefix)
    }

    /// A new host named `name` (a few letters) with the addresses
    /// `PREFIX.N` for each of `hosts`; returns its namespace.
    pub fn host(&mut self, name: &str, hosts: &[u8]) -> String {
        let ns = format!("{}{name}", self.id);
        let port = format!("p{}", self.hosts.len());
        sh(&["ip", "netns", "add", &ns]);
        sh(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
        sh(&[
            "ip",
            "-n",
            &ns,
            "link",
            "add",
            "eth0",
            "type",
            "veth",
            "peer",
            "name",
            &port,
            "netns",
            &self.switch,
        ]);
        sh(&[
            "ip",
            "-n",
            &self.switch,
            "link",
            "set",
            &port,
            "master",
            "br0",
        ]);
        sh(&["ip", "-n", &self.switch, "link", "set", &port, "up"]);
        for host in hosts {
            let addr = format!("{}/24", self.addr(*host));
            sh(&["ip", "-n", &ns, "addr", "add", &addr, "dev", "eth0"]);
        }
        sh(&["ip", "-n", &ns, "link", "set", "eth0", "up"]);
        self.hosts.push(ns.clone());
        ns
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        for ns in self.hosts.iter().chain(std::iter::once(&self.switch)) {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// `ip netns exec NS` followed by `args`, as a command to run.
pub fn in_ns(ns: &str, args: &[&str]) -> Command {
    let mut command = Command::new("ip");
    command.args(["netns", "exec", ns]).args(args);
    command
}
