//! The `ftpwire serve` process under test: started with a fresh temporary
//! root, ready when it prints `listening ftp://HOST:PORT`, killed on drop.

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::Duration;

use tempfile::TempDir;
use wait_timeout::ChildExt;

/// The user every test server knows.
pub const USER: &str = "alice";
/// Her password.
pub const PASSWORD: &str = "secret";

/// How long a server may take to print its `listening` line (a debug build
/// on a busy 2-core CI machine).
const STARTUP: Duration = Duration::from_secs(30);

/// The path of the binary under test.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_ftpwire")
}

/// The arguments that select `driver`: `--driver NAME` once `ftpwire serve`
/// has that flag; until then only the std driver exists and nothing is passed.
pub fn driver_args(driver: &str) -> Vec<OsString> {
    static HAS_DRIVER_FLAG: OnceLock<bool> = OnceLock::new();
    let has_flag = *HAS_DRIVER_FLAG.get_or_init(|| {
        let output = Command::new(binary())
            .args(["serve", "--help"])
            .stdin(Stdio::null())
            .output()
            .expect("run ftpwire serve --help");
        let help = [output.stdout, output.stderr].concat();
        String::from_utf8_lossy(&help).contains("--driver")
    });
    if has_flag {
        vec!["--driver".into(), driver.into()]
    } else {
        assert_eq!(
            driver, "std",
            "`ftpwire serve --help` shows no --driver flag, so the {driver} driver cannot be selected"
        );
        Vec::new()
    }
}

/// A running `ftpwire serve`; killed (and its log shown if the test failed)
/// when dropped.
pub struct Server {
    child: Child,
    /// Where it accepts control connections.
    pub addr: SocketAddr,
    /// The implicit-FTPS listener (`listening ftps://`), when asked for
    /// with `--implicit-tls-listen`.
    pub implicit_addr: Option<SocketAddr>,
    root: PathBuf,
    _root_dir: Option<TempDir>,
    log: Arc<Mutex<Vec<u8>>>,
    /// Reads stderr until EOF; joined once the process has exited, so the
    /// log is complete then.
    stderr_reader: Option<thread::JoinHandle<()>>,
    driver: &'static str,
}

impl Server {
    /// The server's process id (to look at its open files).
    #[allow(dead_code)]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `ftpwire serve --listen 127.0.0.1:0 --root TMP --user alice:secret EXTRA...`
    /// on `driver`, with a fresh empty root.
    pub fn start(driver: &'static str, extra: &[&str]) -> Server {
        let root = tempfile::tempdir().expect("create a temporary root");
        let mut args: Vec<OsString> = vec![
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--root".into(),
            root.path().into(),
            "--user".into(),
            format!("{USER}:{PASSWORD}").into(),
        ];
        args.extend(extra.iter().map(OsString::from));
        let root_path = root.path().to_owned();
        Server::launch(driver, &args, None, root_path, Some(root))
    }

    /// `ftpwire serve [--driver DRIVER] ARGS...` run in `cwd` (if given),
    /// serving `root`; panics unless it becomes ready.
    pub fn launch(
        driver: &'static str,
        args: &[OsString],
        cwd: Option<&Path>,
        root: PathBuf,
        root_dir: Option<TempDir>,
    ) -> Server {
        Server::launch_wrapped(&[], driver, args, cwd, root, root_dir)
    }

    /// [`launch`](Self::launch) under a `wrapper` command (e.g. `setpriv
    /// --reuid=nobody ...`) that runs the binary as its last argument.
    pub fn launch_wrapped(
        wrapper: &[&str],
        driver: &'static str,
        args: &[OsString],
        cwd: Option<&Path>,
        root: PathBuf,
        root_dir: Option<TempDir>,
    ) -> Server {
        let mut command = serve_command(wrapper, driver, args, cwd);
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ftpwire serve");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr_reader = drain(child.stderr.take().expect("stderr piped"), Arc::clone(&log));
        let lines = stdout_lines(child.stdout.take().expect("stdout piped"));
        let addr = loop {
            match lines.recv_timeout(STARTUP) {
                Ok(line) => {
                    if let Some(addr) = line.trim_end().strip_prefix("listening ftp://") {
                        break addr.parse::<SocketAddr>().unwrap_or_else(|e| {
                            panic!("`{line}`: the address does not parse ({e})")
                        });
                    }
                }
                Err(error) => {
                    let _ = child.kill();
                    let status = child.wait().expect("wait for ftpwire serve");
                    let how = match error {
                        mpsc::RecvTimeoutError::Timeout => format!("within {STARTUP:?}"),
                        mpsc::RecvTimeoutError::Disconnected => "before closing stdout".to_owned(),
                    };
                    // The process is gone: its stderr is complete once read to EOF.
                    let _ = stderr_reader.join();
                    panic!(
                        "ftpwire serve ({driver}) never printed `listening ftp://HOST:PORT` \
                         {how} ({status}); its stderr:\n{}",
                        String::from_utf8_lossy(&log.lock().unwrap())
                    );
                }
            }
        };
        // Loopback, or an address inside a network namespace the test made
        // (`ip netns exec NAME` as the wrapper).
        let in_namespace = wrapper.starts_with(&["ip", "netns", "exec"]);
        assert!(
            addr.ip().is_loopback() || in_namespace,
            "the server must listen on loopback in tests, got {addr}"
        );
        // The implicit-FTPS line follows at once, when a flag or the config
        // file asks for that listener.
        let asks_implicit = args.iter().any(|a| {
            a == "--implicit-tls-listen"
                || (Path::new(a).extension().is_some_and(|e| e == "toml")
                    && std::fs::read_to_string(a).is_ok_and(|t| t.contains("implicit_tls_listen")))
        });
        let implicit_addr = asks_implicit.then(|| {
            let line = lines
                .recv_timeout(STARTUP)
                .expect("a `listening ftps://HOST:PORT` line after the ftp:// one");
            let addr = line
                .trim_end()
                .strip_prefix("listening ftps://")
                .unwrap_or_else(|| panic!("expected `listening ftps://HOST:PORT`, got {line:?}"));
            addr.parse::<SocketAddr>()
                .unwrap_or_else(|e| panic!("`{line}`: the address does not parse ({e})"))
        });
        Server {
            child,
            addr,
            implicit_addr,
            root,
            _root_dir: root_dir,
            log,
            stderr_reader: Some(stderr_reader),
            driver,
        }
    }

    /// The directory the server serves.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The driver it runs on.
    pub fn driver(&self) -> &'static str {
        self.driver
    }

    /// `ftp://127.0.0.1:PORT/PATH` (PATH without a leading `/`).
    pub fn url(&self, path: &str) -> String {
        format!("ftp://{}/{path}", self.addr)
    }

    /// What the server has written to stderr so far.
    pub fn log(&self) -> String {
        String::from_utf8_lossy(&self.log.lock().unwrap()).into_owned()
    }

    /// Waits until the server's log holds `needle` (its stderr is read by
    /// another thread); panics after the reply timeout.
    #[allow(dead_code)]
    pub fn wait_for_log(&self, needle: &str) {
        let start = std::time::Instant::now();
        while !self.log().contains(needle) {
            assert!(
                start.elapsed() < super::control::REPLY_TIMEOUT,
                "no {needle:?} in the server log: {}",
                self.log()
            );
            std::thread::yield_now();
        }
    }

    /// A scrape of `--metrics-listen` with curl: `name{labels}` → value.
    #[allow(dead_code)]
    pub fn metrics(&self) -> std::collections::HashMap<String, f64> {
        self.wait_for_log("metrics on http://");
        let log = self.log();
        let url = log
            .lines()
            .find_map(|line| line.split("metrics on ").nth(1))
            .expect("the metrics line")
            .trim()
            .to_owned();
        let run = super::clients::run_bounded(
            super::clients::curl().arg(&url),
            super::clients::CLIENT_TIMEOUT,
        )
        .success();
        run.stdout
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .map(|line| {
                let (name, value) = line.rsplit_once(' ').expect("name value");
                (name.to_owned(), value.parse().expect("a number"))
            })
            .collect()
    }

    /// Waits for the process to exit on its own; panics after `timeout`.
    pub fn wait_for_exit(&mut self, timeout: Duration) -> ExitStatus {
        match self
            .child
            .wait_timeout(timeout)
            .expect("wait for ftpwire serve")
        {
            Some(status) => {
                // The process is gone: its last lines are read once stderr hits EOF.
                if let Some(reader) = self.stderr_reader.take() {
                    let _ = reader.join();
                }
                status
            }
            None => panic!(
                "ftpwire serve still running after {timeout:?}; its stderr:\n{}",
                self.log()
            ),
        }
    }

    /// Panics unless the process is still running (it must survive every
    /// client's misbehaviour).
    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().expect("poll ftpwire serve") {
            panic!(
                "ftpwire serve exited ({status}); its stderr:\n{}",
                self.log()
            );
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            eprintln!(
                "--- ftpwire serve ({}) stderr ---\n{}--- end of server stderr ---",
                self.driver,
                self.log()
            );
        }
    }
}

/// How a `ftpwire serve` that was expected to refuse its configuration ended.
#[derive(Debug)]
pub struct StartFailure {
    /// Its exit status (never success).
    pub status: ExitStatus,
    /// Everything it wrote to stderr.
    pub stderr: String,
}

/// Runs `ftpwire serve [--driver DRIVER] ARGS...` and expects it to fail at
/// start: panics if it becomes ready, exits with success, or runs past the
/// start-up bound.
pub fn serve_expecting_failure(driver: &str, args: &[OsString]) -> StartFailure {
    let mut child = serve_command(&[], driver, args, None)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ftpwire serve");
    let log = Arc::new(Mutex::new(Vec::new()));
    let stderr_reader = drain(child.stderr.take().expect("stderr piped"), Arc::clone(&log));
    let stdout = Arc::new(Mutex::new(Vec::new()));
    let stdout_reader = drain(
        child.stdout.take().expect("stdout piped"),
        Arc::clone(&stdout),
    );
    let status = child.wait_timeout(STARTUP).expect("wait for ftpwire serve");
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "ftpwire serve {args:?} should have refused to start, but was still running after \
             {STARTUP:?}; stdout: {:?}; stderr: {:?}",
            String::from_utf8_lossy(&stdout.lock().unwrap()),
            String::from_utf8_lossy(&log.lock().unwrap())
        );
    };
    stderr_reader.join().expect("stderr reader");
    stdout_reader.join().expect("stdout reader");
    let stdout = String::from_utf8_lossy(&stdout.lock().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
    assert!(
        !status.success(),
        "ftpwire serve {args:?} should have failed to start but exited with success; \
         stdout: {stdout:?}; stderr: {stderr:?}"
    );
    assert!(
        !stdout.contains("listening"),
        "ftpwire serve {args:?} reported it was listening before failing: {stdout:?}"
    );
    StartFailure { status, stderr }
}

/// The "driver" name that runs the Node host, `node
/// drivers/wasm/js/server.mjs serve ARGS...` (the WebAssembly module built
/// by drivers/wasm/build.sh), instead of `ftpwire serve`: it takes the same
/// flags and prints the same `listening` lines.
pub const NODE_HOST: &str = "node";

/// Builds the WebAssembly module and its Node bindings once per test
/// process with drivers/wasm/build.sh (incremental: a second build of an
/// unchanged tree takes a second or two), so the Node host never runs a
/// module older than the tree under test.
fn node_module() {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("drivers/wasm/build.sh");
        let output = Command::new("bash")
            .arg(&script)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{} failed ({}):\n{}{}",
                script.display(),
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    });
    if let Err(error) = built {
        panic!("the Node host needs the WebAssembly module: {error}");
    }
}

fn serve_command(wrapper: &[&str], driver: &str, args: &[OsString], cwd: Option<&Path>) -> Command {
    let (program, program_args, driver_args): (OsString, Vec<OsString>, Vec<OsString>) =
        if driver == NODE_HOST {
            node_module();
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("drivers/wasm/js/server.mjs");
            ("node".into(), vec![script.into()], Vec::new())
        } else {
            (binary().into(), Vec::new(), driver_args(driver))
        };
    let mut command = match wrapper {
        [] => Command::new(&program),
        [wrapper, rest @ ..] => {
            let mut command = Command::new(wrapper);
            command.args(rest).arg(&program);
            command
        }
    };
    command
        .args(program_args)
        .arg("serve")
        .args(driver_args)
        .args(args.iter().map(OsString::as_os_str))
        .stdin(Stdio::null())
        // Session events are what a failing test needs to see.
        .env("RUST_LOG", "info");
    if let Some(cwd) = cwd {
        command.current_dir(cwd);
    }
    command
}

/// Copies everything `from` yields into `into`, on a thread, until EOF.
fn drain(
    mut from: impl Read + Send + 'static,
    into: Arc<Mutex<Vec<u8>>>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => into.lock().unwrap().extend_from_slice(&buf[..n]),
            }
        }
    })
}

/// The lines of the server's stdout, read on a thread (so the wait for the
/// readiness line can be bounded); later lines keep being drained.
fn stdout_lines(stdout: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // The receiver is gone once the server is ready; keep draining.
            let _ = sender.send(line);
        }
    });
    receiver
}

/// `OsString` arguments from anything string-like, for [`Server::launch`] and
/// [`serve_expecting_failure`].
pub fn os_args<I, S>(args: I) -> Vec<OsString>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    args.into_iter().map(|a| a.as_ref().to_owned()).collect()
}
