//! The smoltcp host for real: its interface on a Linux TAP device moved
//! into a network namespace the test creates (and removes when dropped),
//! curl, lftp and Python's ftplib run inside that namespace against the
//! host's address, 10.99.0.2. They log in, list, download files of several
//! sizes (one far larger than the socket buffers) and upload others, in
//! passive and active mode; every byte is compared with what the RAM
//! filesystem holds. Needs root (CI runs as root), iproute2 and the three
//! clients (`.ci/install.sh`).

use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use ftpwire_core::listing::Metadata;
use ftpwire_core::server::{Change, FileError, LoginOutcome, WriteMode};
use ftpwire_core::{Instant, ServerConfig};
use ftpwire_smoltcp::{RamFs, Server, Settings, Storage};
use smoltcp::iface::{Config, Interface};
use smoltcp::phy::{Medium, TunTapInterface};
use smoltcp::wire::{EthernetAddress, IpAddress, IpCidr};
use wait_timeout::ChildExt;

/// The namespace's side of the TAP device.
const CLIENT: &str = "10.99.0.1";
/// The smoltcp host.
const SERVER: &str = "10.99.0.2";
/// What one client command may take at most.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);
/// The files the host serves: sizes around the socket buffers' and past them.
const SIZES: [usize; 5] = [0, 1, 1500, 70_000, 1_048_583];

/// Runs a command to completion; panics with its output unless it succeeds.
fn sh(args: &[&str]) {
    let output = run(Command::new(args[0]).args(&args[1..]));
    assert!(
        output.status.success(),
        "{args:?} failed: {}",
        describe(&output)
    );
}

/// Runs `command` with a time limit; its output.
fn run(command: &mut Command) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    // Pipes drained on threads, so a chatty child cannot block on them.
    let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let status = match child.wait_timeout(CLIENT_TIMEOUT).unwrap() {
        Some(status) => status,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} did not finish within {CLIENT_TIMEOUT:?}");
        }
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

fn describe(output: &Output) -> String {
    format!(
        "{}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A network namespace of this test's own, deleted when dropped (also
/// when the test fails).
struct Namespace {
    name: String,
}

impl Namespace {
    fn new() -> Namespace {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("ftpw-smol-{}-{n}", std::process::id());
        sh(&["ip", "netns", "add", &name]);
        sh(&["ip", "-n", &name, "link", "set", "lo", "up"]);
        Namespace { name }
    }

    /// `program args...` inside the namespace, in `dir`.
    fn command(&self, dir: &Path, program: &str) -> Command {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &self.name, program])
            .current_dir(dir);
        command
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// The RAM filesystem, shared between the host's thread and the test.
#[derive(Clone)]
struct Shared(Arc<Mutex<RamFs>>);

impl Shared {
    fn fs(&self) -> MutexGuard<'_, RamFs> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Storage for Shared {
    fn stat(&self, path: &[u8]) -> Result<Metadata, FileError> {
        self.fs().stat(path)
    }
    fn list(&self, path: &[u8], entry: &mut dyn FnMut(&[u8], Metadata)) -> Result<(), FileError> {
        self.fs().list(path, entry)
    }
    fn read(&self, path: &[u8], offset: u64, buf: &mut [u8]) -> Result<usize, FileError> {
        self.fs().read(path, offset, buf)
    }
    fn open_write(&mut self, path: &[u8], mode: WriteMode) -> Result<u64, FileError> {
        self.fs().open_write(path, mode)
    }
    fn write(&mut self, path: &[u8], offset: u64, data: &[u8]) -> Result<(), FileError> {
        self.fs().write(path, offset, data)
    }
    fn create_unique(&mut self, directory: &[u8]) -> Result<Vec<u8>, FileError> {
        self.fs().create_unique(directory)
    }
    fn change(&mut self, change: Change<'_>) -> Result<(), FileError> {
        self.fs().change(change)
    }
}

/// The smoltcp host on its thread, on a TAP device in `ns`; stopped and
/// joined when dropped.
struct Host {
    fs: Shared,
    /// The TAP device's name (in the namespace).
    tap: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Host {
    /// Starts the host with `/pub/size-N.bin` for each of [`SIZES`] and an
    /// empty `/up`, and wires its TAP device into `ns` as [`CLIENT`]'s link.
    fn start(ns: &Namespace) -> Host {
        let mut fs = RamFs::new(16 << 20);
        for dir in [&b"/pub"[..], b"/up"] {
            fs.change(Change::MakeDirectory(dir)).unwrap();
        }
        for size in SIZES {
            fs.insert_file(
                format!("/pub/size-{size}.bin").as_bytes(),
                &payload(size, 1),
            )
            .unwrap();
        }
        let fs = Shared(Arc::new(Mutex::new(fs)));
        // A name of at most 15 bytes, unique while it is in the root namespace.
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let tap = format!("fws{}t{n}", std::process::id() % 100_000);
        let stop = Arc::new(AtomicBool::new(false));
        let (ready, created) = mpsc::channel();
        let thread = {
            let (tap, fs, stop) = (tap.clone(), fs.clone(), stop.clone());
            std::thread::spawn(move || serve(&tap, fs, &stop, ready))
        };
        let host = Host {
            fs,
            tap: tap.clone(),
            stop,
            thread: Some(thread),
        };
        // The device exists once the thread says so; then it moves into the
        // namespace (its open descriptor stays attached) and is configured.
        let created: Result<(), String> = created
            .recv_timeout(Duration::from_secs(10))
            .expect("the host thread did not start");
        created.expect("TAP device");
        sh(&["ip", "link", "set", &tap, "netns", &ns.name]);
        sh(&[
            "ip",
            "-n",
            &ns.name,
            "addr",
            "add",
            &format!("{CLIENT}/24"),
            "dev",
            &tap,
        ]);
        sh(&["ip", "-n", &ns.name, "link", "set", &tap, "up"]);
        host
    }

    /// The file at `path` in the host's RAM filesystem.
    fn file(&self, path: &str) -> Vec<u8> {
        let fs = self.fs.fs();
        fs.file(path.as_bytes())
            .unwrap_or_else(|| panic!("{path} is not in the RAM filesystem"))
            .to_vec()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The host's loop: the server polled whenever the TAP device has a frame
/// or a deadline comes (and at least every 50 ms, to see `stop`).
fn serve(tap: &str, fs: Shared, stop: &AtomicBool, ready: mpsc::Sender<Result<(), String>>) {
    let mut device = match TunTapInterface::new(tap, Medium::Ethernet) {
        Ok(device) => device,
        Err(error) => {
            let _ = ready.send(Err(format!("cannot create TAP device {tap}: {error}")));
            return;
        }
    };
    let start = std::time::Instant::now();
    let mut config = Config::new(EthernetAddress([0x02, 0, 0, 0x99, 0, 2]).into());
    config.random_seed = fastrand::u64(..);
    let mut iface = Interface::new(config, &mut device, smoltcp::time::Instant::ZERO);
    iface.update_ip_addrs(|addrs| {
        addrs
            .push(IpCidr::new(IpAddress::v4(10, 99, 0, 2), 24))
            .unwrap()
    });
    let users = |user: &[u8], password: &[u8]| match (user, password) {
        (b"ann", b"secret") => LoginOutcome::Accepted { read_only: false },
        _ => LoginOutcome::Rejected,
    };
    let mut server = Server::new(
        iface,
        Settings::default(),
        ServerConfig::default(),
        fs,
        users,
    )
    .unwrap();
    let _ = ready.send(Ok(()));
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::from_duration(start.elapsed());
        let next = server.poll(now, &mut device);
        let wait = next
            .map_or(Duration::MAX, |at| at.saturating_duration_since(now))
            .min(Duration::from_millis(50));
        let wait = smoltcp::time::Duration::from_micros(wait.as_micros() as u64);
        smoltcp::phy::wait(device.as_raw_fd(), Some(wait)).expect("poll on the TAP device");
    }
}

/// `size` bytes that differ for each `seed` and size.
fn payload(size: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed * 1_000_003 + size as u64);
    (0..size).map(|_| rng.u8(..)).collect()
}

/// Asserts two files are the same, without printing a megabyte.
#[track_caller]
fn assert_same(got: &[u8], want: &[u8], what: &str) {
    assert!(
        got == want,
        "{what}: {} bytes, want {} (first difference at {:?})",
        got.len(),
        want.len(),
        got.iter().zip(want).position(|(a, b)| a != b)
    );
}

/// Writes one local file per size to upload; their names and contents.
fn local_files(dir: &Path, seed: u64) -> Vec<(String, Vec<u8>)> {
    SIZES
        .iter()
        .map(|&size| {
            let name = format!("local-{seed}-{size}.bin");
            let bytes = payload(size, seed);
            std::fs::write(dir.join(&name), &bytes).unwrap();
            (name, bytes)
        })
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    /// EPSV (and PASV where the client is told to use it).
    Passive,
    /// PORT/EPRT: the host dials the client.
    Active,
}

/// curl: LIST, then every file down and others up, one command each;
/// `verb` is the data-connection command the listing must have used.
fn curl(mode: Mode, flags: &[&str], verb: &str, seed: u64) {
    let ns = Namespace::new();
    let host = Host::start(&ns);
    let dir = tempfile::tempdir().unwrap();
    let curl = |extra: &[&str]| {
        let mut command = ns.command(dir.path(), "curl");
        command.args(["-sS", "--max-time", "30", "--user", "ann:secret"]);
        if mode == Mode::Active {
            command.args(["--ftp-port", CLIENT]);
        }
        command.args(flags).args(extra);
        let output = run(&mut command);
        assert!(
            output.status.success(),
            "curl {extra:?}: {}",
            describe(&output)
        );
        output
    };
    let output = curl(&["-v", &format!("ftp://{SERVER}/pub/")]);
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains(&format!("> {verb}")), "no {verb}: {said}");
    let listing = String::from_utf8(output.stdout).unwrap();
    for size in SIZES {
        let line = listing
            .lines()
            .find(|line| line.ends_with(&format!(" size-{size}.bin")))
            .unwrap_or_else(|| panic!("size-{size}.bin not listed: {listing}"));
        assert!(
            line.split_whitespace().nth(4) == Some(&size.to_string()),
            "{line}"
        );
    }
    for size in SIZES {
        let name = format!("size-{size}.bin");
        curl(&["-o", &name, &format!("ftp://{SERVER}/pub/{name}")]);
        let got = std::fs::read(dir.path().join(&name)).unwrap();
        assert_same(&got, &host.file(&format!("/pub/{name}")), &name);
    }
    for (name, bytes) in local_files(dir.path(), seed) {
        curl(&["-T", &name, &format!("ftp://{SERVER}/up/{name}")]);
        assert_same(&host.file(&format!("/up/{name}")), &bytes, &name);
    }
}

#[test]
fn curl_epsv() {
    curl(Mode::Passive, &[], "EPSV", 2);
}

#[test]
fn curl_pasv() {
    curl(Mode::Passive, &["--disable-epsv"], "PASV", 3);
}

#[test]
fn curl_active() {
    curl(Mode::Active, &[], "EPRT", 4);
}

/// lftp: one session (AUTH TLS tried and refused, then plain FTP) that
/// lists, downloads every file and uploads others; `verb` is the
/// data-connection command it must use.
fn lftp(mode: Mode, verb: &str, seed: u64) {
    let ns = Namespace::new();
    let host = Host::start(&ns);
    let dir = tempfile::tempdir().unwrap();
    let uploads = local_files(dir.path(), seed);
    let names = |list: Vec<String>| list.join(" ");
    let downloads = names(SIZES.iter().map(|s| format!("size-{s}.bin")).collect());
    let passive = if mode == Mode::Passive { "on" } else { "off" };
    let script = format!(
        "set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 20; \
         set xfer:clobber on; set ftp:passive-mode {passive}; \
         open -u ann,secret {SERVER}; cd /pub; ls; get {downloads}; \
         cd /up; put {}",
        names(uploads.iter().map(|(name, _)| name.clone()).collect())
    );
    let mut command = ns.command(dir.path(), "lftp");
    command.args(["-d", "-c", &script]);
    let output = run(&mut command);
    assert!(output.status.success(), "lftp: {}", describe(&output));
    let trace = String::from_utf8_lossy(&output.stderr);
    let sent = |verb: &str| {
        trace
            .lines()
            .any(|line| line.contains(&format!("---> {verb}")))
    };
    assert!(sent(verb), "lftp never sent {verb}: {trace}");
    assert!(sent("AUTH TLS"), "lftp did not try TLS: {trace}");
    assert!(
        trace.contains("<--- 502 "),
        "AUTH TLS not refused with 502: {trace}"
    );
    let listing = String::from_utf8_lossy(&output.stdout);
    for size in SIZES {
        let name = format!("size-{size}.bin");
        assert!(
            listing
                .lines()
                .any(|line| line.ends_with(&format!(" {name}"))),
            "{name} not listed: {listing}"
        );
        let got = std::fs::read(dir.path().join(&name)).unwrap();
        assert_same(&got, &host.file(&format!("/pub/{name}")), &name);
    }
    for (name, bytes) in uploads {
        assert_same(&host.file(&format!("/up/{name}")), &bytes, &name);
    }
}

#[test]
fn lftp_passive() {
    lftp(Mode::Passive, "PASV", 5);
}

#[test]
fn lftp_active() {
    lftp(Mode::Active, "PORT", 6);
}

/// Python's ftplib (tests/ftplib_client.py): downloads, uploads, ABOR,
/// REST, APPE, STOU, TYPE A both ways, SIZE, MLSD, MKD, RNFR/RNTO, DELE, RMD,
/// AUTH TLS refused.
fn ftplib(mode: Mode, seed: u64) {
    let ns = Namespace::new();
    let host = Host::start(&ns);
    let dir = tempfile::tempdir().unwrap();
    let uploads = local_files(dir.path(), seed);
    std::fs::write(dir.path().join("text.txt"), b"first line\nsecond\n\nlast\n").unwrap();
    let downloads: Vec<String> = SIZES.iter().map(|s| format!("size-{s}.bin")).collect();
    let upload_names: Vec<&str> = uploads.iter().map(|(name, _)| name.as_str()).collect();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ftplib_client.py");
    let mut command = ns.command(dir.path(), "python3");
    command.args([
        script,
        SERVER,
        if mode == Mode::Passive {
            "passive"
        } else {
            "active"
        },
        dir.path().to_str().unwrap(),
        &downloads.join(","),
        &upload_names.join(","),
    ]);
    let output = run(&mut command);
    assert!(output.status.success(), "ftplib: {}", describe(&output));
    let seen: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", describe(&output)));
    let text = |key: &str| text_of(&seen, key);
    assert!(text("welcome").starts_with("220 "), "{seen}");
    assert!(text("login").starts_with("230 "), "{seen}");
    assert!(text("auth").starts_with("502 "), "AUTH TLS refused: {seen}");
    assert_eq!(text("pwd"), "/");
    let mut listed: Vec<&str> = seen["nlst"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|name| name.as_str())
        .collect();
    listed.sort();
    let mut want: Vec<&str> = downloads.iter().map(String::as_str).collect();
    want.sort();
    assert_eq!(listed, want, "NLST of /pub");
    for (name, size) in downloads.iter().zip(SIZES) {
        assert_eq!(seen["sizes"][name], size, "SIZE {name}");
        let got = std::fs::read(dir.path().join(name)).unwrap();
        assert_same(&got, &host.file(&format!("/pub/{name}")), name);
    }
    for (name, bytes) in &uploads {
        assert_same(&host.file(&format!("/up/{name}")), bytes, name);
    }
    assert_eq!(
        seen["text"],
        serde_json::json!(["first line", "second", "", "last"])
    );
    assert!(seen["before abort"].as_u64().unwrap() > 0, "{seen}");
    let abort: Vec<&str> = seen["abort"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r.as_str())
        .collect();
    assert!(
        abort.len() == 2 && abort[0].starts_with("426 ") && abort[1].starts_with("226 "),
        "ABOR mid-transfer: {seen}"
    );
    assert!(text("after abort").starts_with("200 "), "{seen}");
    let largest = SIZES[SIZES.len() - 1];
    assert_eq!(
        seen["rest tail"],
        largest - 1000,
        "REST 1000 then RETR: {seen}"
    );
    let lines = std::fs::read(dir.path().join("text.txt")).unwrap();
    assert_same(
        &host.file("/up/appended.bin"),
        &[&lines[..], &lines].concat(),
        "APPE twice",
    );
    // STOU: its 226 came, and the host picked one new name (ftpwire.N) in /up.
    assert!(text("stou").starts_with("226 "), "{seen}");
    let fs = host.fs.fs();
    let mut unique = Vec::new();
    fs.list(b"/up", &mut |name, _| {
        if name.starts_with(b"ftpwire.") {
            unique.push(name.to_vec());
        }
    })
    .unwrap();
    assert_eq!(unique.len(), 1, "one STOU file in /up");
    assert_same(
        fs.file(&[&b"/up/"[..], &unique[0]].concat()).unwrap(),
        &lines,
        "STOU",
    );
    drop(fs);
    assert!(text("mkd") == "/up/sub", "{seen}");
    assert!(text("rename").starts_with("250 "), "{seen}");
    let facts = &seen["mlsd"]["moved.txt"];
    assert_eq!(facts["type"], "file", "{seen}");
    // TYPE A stored LF line ends: 24 bytes, not the 28 sent (CRLF).
    assert_eq!(facts["size"], "24", "{seen}");
    assert!(text("delete").starts_with("250 "), "{seen}");
    assert!(text("rmd").starts_with("250 "), "{seen}");
    assert!(text("gone").starts_with("550 "), "{seen}");
    assert!(text("quit").starts_with("221 "), "{seen}");
    let fs = host.fs.fs();
    assert!(fs.file(b"/up/sub/moved.txt").is_none() && fs.stat(b"/up/sub").is_err());
}

/// A string in the script's report ("" if absent).
fn text_of(seen: &serde_json::Value, key: &str) -> String {
    seen[key].as_str().unwrap_or_default().to_owned()
}

#[test]
fn ftplib_passive() {
    ftplib(Mode::Passive, 7);
}

#[test]
fn ftplib_active() {
    ftplib(Mode::Active, 8);
}

/// The host's two session places: two sessions download the 1 MiB file at
/// once (curl), a third client is refused while two are connected, and a
/// session's place serves a new client once it QUITs
/// (tests/sessions_client.py).
#[test]
fn two_sessions_at_once() {
    let ns = Namespace::new();
    let host = Host::start(&ns);
    let dir = tempfile::tempdir().unwrap();
    let name = format!("size-{}.bin", SIZES[4]);
    let downloads: Vec<_> = (0..2)
        .map(|n| {
            let mut command = ns.command(dir.path(), "curl");
            command.args(["-sS", "--max-time", "30", "--user", "ann:secret"]);
            command.args([
                "-o",
                &format!("{n}-{name}"),
                &format!("ftp://{SERVER}/pub/{name}"),
            ]);
            std::thread::spawn(move || run(&mut command))
        })
        .collect();
    for (n, download) in downloads.into_iter().enumerate() {
        let output = download.join().unwrap();
        assert!(output.status.success(), "curl {n}: {}", describe(&output));
        let got = std::fs::read(dir.path().join(format!("{n}-{name}"))).unwrap();
        assert_same(&got, &host.file(&format!("/pub/{name}")), &name);
    }

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sessions_client.py");
    let output = run(ns.command(dir.path(), "python3").args([script, SERVER]));
    assert!(output.status.success(), "{}", describe(&output));
    let seen: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    for key in ["first", "second", "fourth"] {
        assert_eq!(seen[key], "220 ftpwire ready\r\n", "{key}: {seen}");
    }
    assert_eq!(seen["third"], "refused", "{seen}");
    assert_eq!(seen["quit"], "221 Goodbye.\r\n", "{seen}");
    assert!(
        seen["second noop"].as_str().unwrap().starts_with("200 "),
        "{seen}"
    );
}

/// RFC 2577's port stealing: a connection to the passive port from another
/// address than the session's client (10.99.0.3, a second address in the
/// namespace) is dropped without a byte; the client's own then gets the
/// file (tests/passive_thief.py).
#[test]
fn a_passive_connection_from_another_address_is_refused() {
    let ns = Namespace::new();
    let host = Host::start(&ns);
    sh(&[
        "ip",
        "-n",
        &ns.name,
        "addr",
        "add",
        "10.99.0.3/24",
        "dev",
        &host.tap,
    ]);
    let dir = tempfile::tempdir().unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/passive_thief.py");
    let path = "/pub/size-70000.bin";
    let output = run(ns
        .command(dir.path(), "python3")
        .args([script, SERVER, "10.99.0.3", path]));
    assert!(output.status.success(), "{}", describe(&output));
    let seen: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        seen["thief"] == "reset" || seen["thief"] == "read 0 bytes",
        "the thief got data: {seen}"
    );
    assert_eq!(seen["client bytes"], host.file(path).len(), "{seen}");
    let transfer = seen["transfer"].as_array().unwrap();
    assert!(
        transfer[0].as_str().unwrap().starts_with("150 ")
            && transfer[1].as_str().unwrap().starts_with("226 "),
        "{seen}"
    );
    assert!(seen["quit"].as_str().unwrap().starts_with("221 "), "{seen}");
}
