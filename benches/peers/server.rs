//! The servers under test: `ftpwire serve` on either driver, vsftpd and
//! pure-ftpd, each a child process on 127.0.0.1 with a free port, its own
//! passive range, a temporary root and the FTPS certificate of the run.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The four servers, in table order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    FtpwireSmol,
    FtpwireStd,
    Vsftpd,
    PureFtpd,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::FtpwireSmol,
        Kind::FtpwireStd,
        Kind::Vsftpd,
        Kind::PureFtpd,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::FtpwireSmol => "ftpwire-smol",
            Kind::FtpwireStd => "ftpwire-std",
            Kind::Vsftpd => "vsftpd",
            Kind::PureFtpd => "pure-ftpd",
        }
    }

    /// Ratios are to the best of these: the servers ftpwire is measured against.
    pub fn is_peer(self) -> bool {
        matches!(self, Kind::Vsftpd | Kind::PureFtpd)
    }

    /// vsftpd has no MLSD (RFC 3659 §7).
    pub fn has_mlsd(self) -> bool {
        self != Kind::Vsftpd
    }
}

/// Where the peers' binaries are: `--fetch-peers` unpacks Debian's packages
/// here (they conflict as packages, so neither is installed system-wide).
pub fn peers_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("peers")
}

fn unpacked() -> PathBuf {
    peers_dir().join("root")
}

/// Why a peer cannot run here: both start as root (chroot, then drop to
/// their session user).
pub fn peer_unavailable(kind: Kind) -> Option<String> {
    if !kind.is_peer() {
        return None;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("needs root (it chroots and changes user per session)".into());
    }
    match peer_binary(kind) {
        Some(_) => None,
        None => Some(format!(
            "no binary in {} or /usr/sbin (run with --fetch-peers)",
            unpacked().join("usr/sbin").display()
        )),
    }
}

/// The server's binary; a peer's is unpacked by `--fetch-peers`, else installed.
pub fn peer_binary(kind: Kind) -> Option<PathBuf> {
    let file = match kind {
        Kind::Vsftpd => "vsftpd",
        Kind::PureFtpd => "pure-ftpd",
        _ => return Some(PathBuf::from(env!("CARGO_BIN_EXE_ftpwire"))),
    };
    let local = unpacked().join("usr/sbin").join(file);
    let system = Path::new("/usr/sbin").join(file);
    [local, system].into_iter().find(|p| p.is_file())
}

/// `apt-get download` + `dpkg -x` into target/peers/root: vsftpd, pure-ftpd
/// and the one library vsftpd links that a minimal Debian lacks (libwrap0).
pub fn fetch_peers() -> Result<(), String> {
    let debs = peers_dir().join("debs");
    std::fs::create_dir_all(&debs).map_err(|e| format!("{}: {e}", debs.display()))?;
    let packages = ["vsftpd", "pure-ftpd", "libwrap0"];
    let status = Command::new("apt-get")
        .arg("download")
        .args(packages)
        .current_dir(&debs)
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("apt-get: {e}"))?;
    if !status.success() {
        return Err(format!("apt-get download {packages:?} failed ({status})"));
    }
    for entry in std::fs::read_dir(&debs).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|e| e == "deb") {
            let status = Command::new("dpkg")
                .arg("-x")
                .arg(&path)
                .arg(unpacked())
                .status()
                .map_err(|e| format!("dpkg: {e}"))?;
            if !status.success() {
                return Err(format!("dpkg -x {} failed", path.display()));
            }
        }
    }
    Ok(())
}

/// The run's FTPS certificate, made at run time, shared by every server.
pub struct Tls {
    pub dir: tempfile::TempDir,
    pub cert_der: rustls::pki_types::CertificateDer<'static>,
}

impl Tls {
    pub fn generate() -> Tls {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("rcgen");
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("cert.pem"), made.cert.pem()).unwrap();
        std::fs::write(dir.path().join("key.pem"), made.signing_key.serialize_pem()).unwrap();
        Tls {
            dir,
            cert_der: made.cert.der().clone(),
        }
    }

    pub fn cert(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    pub fn key(&self) -> PathBuf {
        self.dir.path().join("key.pem")
    }
}

/// A started server. Its root holds `up/` (writable by the server's session
/// user: vsftpd refuses a writable anonymous root) and whatever the
/// workloads put there.
pub struct Server {
    pub addr: SocketAddr,
    pub user: &'static str,
    pub pass: &'static str,
    pub root: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last line the server wrote to stderr, to explain a failure.
    pub fn last_error(&self) -> Option<String> {
        let log = std::fs::read_to_string(self._dir.path().join("stderr.log")).ok()?;
        log.lines().last().map(str::to_string)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Found before the parent dies: orphans are re-parented to init.
        let sessions = crate::proc::descendants(self.child.id());
        let _ = self.child.kill();
        let _ = self.child.wait();
        crate::proc::server_running(self.child.id(), false);
        for pid in sessions {
            // SAFETY: kill(2) on a pid that was this server's descendant.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    }
}

/// The uid a peer's sessions run as; `up/` is theirs. `daemon` (uid 1, home
/// /usr/sbin) is in every Debian: vsftpd's ftp_username needs a home that exists.
fn session_uid(kind: Kind) -> u32 {
    match kind {
        Kind::Vsftpd => 1,
        Kind::PureFtpd => 65534,
        _ => 0,
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Waits until `addr` accepts (the readiness signal of a server that prints
/// nothing), bounded; the probe connection is closed at once.
fn wait_accepting(addr: SocketAddr, child: &mut Child) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut pause = Duration::from_millis(1);
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("exited before accepting ({status})"));
        }
        if Instant::now() > deadline {
            return Err(format!("not accepting on {addr} after 10 s"));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Starts `kind` with room for `sessions` concurrent sessions; `slot` picks
/// a passive range no other server of the run uses.
pub fn start(kind: Kind, slot: u16, sessions: usize, tls: &Tls) -> Result<Server, String> {
    let binary = peer_binary(kind).ok_or("binary not found")?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = dir.path().join("root");
    let up = root.join("up");
    std::fs::create_dir_all(&up).map_err(|e| e.to_string())?;
    for path in [dir.path(), &root] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    if kind.is_peer() {
        std::os::unix::fs::chown(&up, Some(session_uid(kind)), Some(session_uid(kind)))
            .map_err(|e| format!("chown up/: {e}"))?;
    }
    let port = free_port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    // pure-ftpd admits at most half its passive range in sessions: the
    // memory workload, alone on the machine, gets a range to match.
    let lo = 41000 + slot * 500;
    let hi = (lo as usize + (2 * sessions + 100).max(499)).min(65000) as u16;
    let limit = (sessions + 16).to_string();
    let libs = unpacked().join("usr/lib/x86_64-linux-gnu");
    let mut command = Command::new(&binary);
    let (user, pass) = match kind {
        Kind::FtpwireSmol | Kind::FtpwireStd => {
            let driver = if kind == Kind::FtpwireSmol {
                "smol"
            } else {
                "std"
            };
            command
                .args(["serve", "--driver", driver, "--listen", &addr.to_string()])
                .args(["--user", "alice:secret"])
                .args(["--passive-ports", &format!("{lo}-{hi}")])
                .args(["--max-sessions", &limit, "--max-sessions-per-ip", &limit])
                .arg("--root")
                .arg(&root)
                .arg("--tls-cert")
                .arg(tls.cert())
                .arg("--tls-key")
                .arg(tls.key())
                .env("RUST_LOG", "warn");
            ("alice", "secret")
        }
        Kind::Vsftpd => {
            let empty = dir.path().join("empty");
            std::fs::create_dir(&empty).unwrap();
            let template = include_str!("vsftpd.conf");
            let conf = template
                .replace("@PORT@", &port.to_string())
                .replace("@ROOT@", &root.display().to_string())
                .replace("@EMPTY@", &empty.display().to_string())
                .replace("@PASV_LO@", &lo.to_string())
                .replace("@PASV_HI@", &hi.to_string())
                .replace("@CERT@", &tls.cert().display().to_string())
                .replace("@KEY@", &tls.key().display().to_string());
            let file = dir.path().join("vsftpd.conf");
            std::fs::write(&file, conf).unwrap();
            command.arg(&file).env("LD_LIBRARY_PATH", &libs);
            ("anonymous", "bench@")
        }
        Kind::PureFtpd => {
            // A virtual user (puredb): pure-ftpd's anonymous mode needs a
            // system `ftp` account. md5-crypt, not pure-pw's argon2 default,
            // so a login costs about what ftpwire's plain --user compare does.
            let hash = Command::new("openssl")
                .args(["passwd", "-1", "secret"])
                .output()
                .map_err(|e| format!("openssl passwd: {e}"))?;
            let hash = String::from_utf8_lossy(&hash.stdout).trim().to_string();
            let passwd = dir.path().join("pureftpd.passwd");
            let pdb = dir.path().join("pureftpd.pdb");
            std::fs::write(
                &passwd,
                format!(
                    "alice:{hash}:65534:65534::{}/./::::::::::::\n",
                    root.display()
                ),
            )
            .unwrap();
            let pure_pw = unpacked().join("usr/bin/pure-pw");
            let pure_pw = if pure_pw.is_file() {
                pure_pw
            } else {
                PathBuf::from("pure-pw")
            };
            let made = Command::new(pure_pw)
                .arg("mkdb")
                .arg(&pdb)
                .arg("-f")
                .arg(&passwd)
                .status()
                .map_err(|e| format!("pure-pw: {e}"))?;
            if !made.success() {
                return Err("pure-pw mkdb failed".into());
            }
            command
                .arg(format!("-S127.0.0.1,{port}"))
                .arg(format!("-lpuredb:{}", pdb.display()))
                .args(
                    include_str!("pure-ftpd.flags")
                        .lines()
                        .filter(|l| !l.starts_with('#'))
                        .flat_map(str::split_whitespace),
                )
                .arg(format!("-p{lo}:{hi}"))
                .arg(format!("-c{limit}"))
                .arg(format!("-C{limit}"))
                .arg(format!(
                    "-2{},{}",
                    tls.cert().display(),
                    tls.key().display()
                ))
                .env("LD_LIBRARY_PATH", &libs);
            ("alice", "secret")
        }
    };
    // SAFETY: prctl is async-signal-safe; the child only asks to be killed
    // if the harness dies, so no server outlives an interrupted run.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("stderr.log")).map_err(|e| e.to_string())?)
        .spawn()
        .map_err(|e| format!("start {}: {e}", binary.display()))?;
    crate::proc::server_running(child.id(), true);
    if let Err(e) = wait_accepting(addr, &mut child) {
        let _ = child.kill();
        let _ = child.wait();
        crate::proc::server_running(child.id(), false);
        return Err(e);
    }
    Ok(Server {
        addr,
        user,
        pass,
        root,
        child,
        _dir: dir,
    })
}
