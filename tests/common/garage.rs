//! Garage, the S3-compatible distributed object store, run on loopback for
//! the S3 back-end's tests: one node or a cluster, configured by the test
//! (layout, bucket, key) in a temporary directory, killed by a guard.
//!
//! `garage` must be on PATH or in ~/.cargo/bin (.ci/install.sh installs
//! 2.5.0 with `cargo install`).

use std::ffi::OsString;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::server::{PASSWORD, Server, USER};

/// How long a node may take to answer `garage status`, or a cluster to
/// agree on its layout.
const READY: Duration = Duration::from_secs(60);

/// The region the nodes' S3 API expects (and ftpwire's default).
pub const REGION: &str = "garage";

/// The bucket every test serves.
pub const BUCKET: &str = "ftp";

/// The `garage` program: PATH, else where `cargo install` puts it.
pub fn program() -> PathBuf {
    let on_path = Command::new("garage")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if on_path {
        return PathBuf::from("garage");
    }
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .expect("HOME or CARGO_HOME is set");
    let installed = home.join("bin/garage");
    assert!(
        installed.exists(),
        "garage is not installed (neither on PATH nor at {}): run .ci/install.sh",
        installed.display()
    );
    installed
}

/// One `garage server` process.
pub struct Node {
    child: Option<Child>,
    config: PathBuf,
    /// Its S3 API.
    pub s3: SocketAddr,
    /// Its node id (hex) and RPC address, as `garage node connect` takes it.
    pub id: String,
}

impl Node {
    /// `garage -c CONFIG ARGS...`, which must succeed; its stdout.
    pub fn garage(&self, args: &[&str]) -> String {
        let output = self.command(args).output().expect("run garage");
        assert!(
            output.status.success(),
            "garage {args:?} failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(program());
        command
            .arg("-c")
            .arg(&self.config)
            .args(args)
            .stdin(Stdio::null());
        command
    }

    /// Kills the node (SIGKILL, as a crash) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `garage bucket info` of [`BUCKET`]: its object and unfinished
    /// upload counts.
    pub fn bucket_info(&self) -> String {
        self.garage(&["bucket", "info", BUCKET])
    }

    /// The S3 endpoint URL.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.s3)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A Garage cluster on loopback with one bucket and a key allowed on it.
pub struct Garage {
    /// The nodes (the first configures the cluster).
    pub nodes: Vec<Node>,
    /// The key allowed to read, write and own [`BUCKET`].
    pub key_id: String,
    /// Its secret.
    pub secret: String,
    dir: TempDir,
}

/// A port on 127.0.0.1 that is free now, below Linux's ephemeral range
/// (32768 and up) so no client connection or `:0` listener of another test
/// takes it before Garage binds it; another test's Garage might, which
/// [`start_node`] survives by starting again.
fn free_port() -> u16 {
    loop {
        let port = fastrand::u16(20_000..32_000);
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Polls `ready` until it holds, failing after [`READY`] with `what`.
pub fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < READY, "{what}: not within {READY:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Garage {
    /// One node: replication factor 1.
    pub fn single() -> Garage {
        Garage::cluster(1)
    }

    /// `count` nodes, each holding a full copy (replication factor =
    /// `count`, consistent mode: reads and writes need a majority).
    pub fn cluster(count: usize) -> Garage {
        let dir = tempfile::tempdir().expect("create Garage's directory");
        let secret: String = (0..32)
            .map(|_| format!("{:02x}", fastrand::u8(..)))
            .collect();
        let mut nodes: Vec<Node> = (0..count)
            .map(|i| start_node(dir.path(), i, count, &secret))
            .collect();
        let first = &nodes[0];
        for other in &nodes[1..] {
            first.garage(&["node", "connect", &other.id]);
        }
        // Every node healthy in the first one's view.
        wait_until("the Garage nodes to see each other", || {
            let status = first
                .command(&["status"])
                .output()
                .expect("run garage status");
            let text = String::from_utf8_lossy(&status.stdout);
            nodes.iter().all(|n| text.contains(&n.id[..16]))
        });
        for node in &nodes {
            let id = node.id.split('@').next().expect("an id");
            first.garage(&["layout", "assign", "-z", "dc1", "-c", "1G", id]);
        }
        first.garage(&["layout", "apply", "--version", "1"]);
        // Bucket creation needs a quorum with the new layout: retried until
        // the layout has reached enough nodes.
        wait_until("Garage to create the bucket", || {
            let created = first.command(&["bucket", "create", BUCKET]).output();
            created.is_ok_and(|o| o.status.success())
                || first
                    .command(&["bucket", "info", BUCKET])
                    .output()
                    .is_ok_and(|o| o.status.success())
        });
        let key = first.garage(&["key", "create", "ftpwire-test"]);
        let field = |name: &str| {
            key.lines()
                .find_map(|line| line.strip_prefix(name))
                .map(|v| v.trim().to_owned())
                .unwrap_or_else(|| panic!("no {name:?} in `garage key create`: {key}"))
        };
        let (key_id, secret_key) = (field("Key ID:"), field("Secret key:"));
        first.garage(&[
            "bucket",
            "allow",
            "--read",
            "--write",
            "--owner",
            BUCKET,
            "--key",
            "ftpwire-test",
        ]);
        nodes.shrink_to_fit();
        Garage {
            nodes,
            key_id,
            secret: secret_key,
            dir,
        }
    }

    /// `ftpwire serve` on `driver` serving the bucket through `node`'s S3
    /// API, keys under `prefix` (settings and credentials in a TOML file).
    pub fn serve(&self, driver: &'static str, node: usize, prefix: &str) -> Server {
        self.serve_with(driver, node, prefix, "")
    }

    /// [`serve`](Self::serve) with `more` appended to its TOML file (more
    /// users: `[[users]]` tables).
    pub fn serve_with(
        &self,
        driver: &'static str,
        node: usize,
        prefix: &str,
        more: &str,
    ) -> Server {
        let config = self.dir.path().join(format!(
            "ftpwire-{driver}-{node}-{}.toml",
            fastrand::u32(..)
        ));
        std::fs::write(
            &config,
            format!(
                "s3_endpoint = \"{}\"\ns3_bucket = \"{BUCKET}\"\ns3_region = \"{REGION}\"\n\
                 s3_prefix = \"{prefix}\"\ns3_access_key_id = \"{}\"\n\
                 s3_secret_access_key = \"{}\"\n{more}",
                self.nodes[node].endpoint(),
                self.key_id,
                self.secret
            ),
        )
        .expect("write the ftpwire config");
        let args: Vec<OsString> = vec![
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--user".into(),
            format!("{USER}:{PASSWORD}").into(),
            "--config".into(),
            config.into(),
        ];
        // No local root is served; the harness wants one to name.
        let unused = tempfile::tempdir().expect("create an unused root");
        let root = unused.path().to_owned();
        Server::launch(driver, &args, None, root, Some(unused))
    }
}

fn start_node(dir: &Path, index: usize, count: usize, secret: &str) -> Node {
    for _ in 0..5 {
        if let Some(node) = try_start_node(dir, index, count, secret) {
            return node;
        }
    }
    panic!(
        "garage server {index} exited at start five times; its last log:\n{}",
        std::fs::read_to_string(dir.join(format!("node{index}/garage.log"))).unwrap_or_default()
    );
}

/// One attempt: `None` when the process exits or its S3 API cannot bind
/// (a port taken meanwhile); the node is killed then.
fn try_start_node(dir: &Path, index: usize, count: usize, secret: &str) -> Option<Node> {
    let home = dir.join(format!("node{index}"));
    std::fs::create_dir_all(&home).expect("create a node directory");
    let (rpc, s3) = (free_port(), free_port());
    let config = home.join("garage.toml");
    std::fs::write(
        &config,
        format!(
            "metadata_dir = \"{meta}\"\ndata_dir = \"{data}\"\ndb_engine = \"sqlite\"\n\
             replication_factor = {count}\nconsistency_mode = \"consistent\"\n\
             rpc_bind_addr = \"127.0.0.1:{rpc}\"\nrpc_public_addr = \"127.0.0.1:{rpc}\"\n\
             rpc_secret = \"{secret}\"\n\n[s3_api]\ns3_region = \"{REGION}\"\n\
             api_bind_addr = \"127.0.0.1:{s3}\"\nroot_domain = \".s3.garage.localhost\"\n",
            meta = home.join("meta").display(),
            data = home.join("data").display(),
        ),
    )
    .expect("write garage.toml");
    let log = std::fs::File::create(home.join("garage.log")).expect("create garage.log");
    let child = Command::new(program())
        .arg("-c")
        .arg(&config)
        .arg("server")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("clone the log"))
        .stderr(log)
        // Info: the S3 API's "listening" line is the readiness signal.
        .env("RUST_LOG", "info")
        .spawn()
        .expect("start garage server");
    let mut node = Node {
        child: Some(child),
        config,
        s3: SocketAddr::from(([127, 0, 0, 1], s3)),
        id: String::new(),
    };
    // Ready: its S3 API and RPC say they listen and `garage status` answers.
    // Failed: it exited, or its S3 API could not bind (Garage runs on
    // without it).
    let log = home.join("garage.log");
    let listening = format!("S3 API server listening on http://127.0.0.1:{s3}");
    let rpc_listening = format!("Listening on 127.0.0.1:{rpc}");
    let mut failed = false;
    wait_until("garage server to start", || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let child = node.child.as_mut().expect("running");
        failed = !matches!(child.try_wait(), Ok(None))
            || text.contains("S3 API server exited with error");
        failed
            || (text.contains(&listening)
                && text.contains(&rpc_listening)
                && node
                    .command(&["status"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success()))
    });
    if failed {
        return None;
    }
    node.id = node.garage(&["node", "id", "-q"]).trim().to_owned();
    Some(node)
}
