//! Real FTP clients (curl, Python's ftplib, lftp), each run with a time
//! bound so a hang fails the test instead of blocking CI.

use std::fmt::Write as _;
use std::io::Read;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use wait_timeout::ChildExt;

use super::server::{PASSWORD, Server, USER};

/// The bound on one client run; a 20 MiB transfer each way takes seconds.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(120);

/// What a client run printed, and how it ended.
#[derive(Debug)]
pub struct Run {
    /// The command line, for messages.
    pub command: String,
    /// Its exit status.
    pub status: ExitStatus,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error (curl's `-v` trace goes here).
    pub stderr: String,
}

impl Run {
    /// Panics with the whole run unless the client exited with success.
    pub fn success(self) -> Run {
        assert!(self.status.success(), "client failed: {self}");
        self
    }

    /// Panics with the whole run if the client exited with success.
    pub fn failure(self) -> Run {
        assert!(!self.status.success(), "client should have failed: {self}");
        self
    }

    /// The commands the client sent, in order (curl `-v` lines `> VERB ...`).
    pub fn curl_commands_sent(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter_map(|line| line.strip_prefix("> "))
            .collect()
    }

    /// Whether curl's `-v` trace shows a command starting with `verb` sent.
    pub fn curl_sent(&self, verb: &str) -> bool {
        self.curl_commands_sent()
            .iter()
            .any(|c| c.split(' ').next() == Some(verb))
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` ({})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command, self.status, self.stdout, self.stderr
        )
    }
}

/// Runs `command` (stdin closed) to completion, or kills it and panics after
/// `timeout`.
pub fn run_bounded(command: &mut Command, timeout: Duration) -> Run {
    let description = describe(command);
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `{description}`: {e}"));
    let stdout = collect(child.stdout.take().expect("stdout piped"));
    let stderr = collect(child.stderr.take().expect("stderr piped"));
    let status = child.wait_timeout(timeout).expect("wait for the client");
    let Some(status) = status else {
        let _ = child.kill();
        let status = child.wait().expect("reap the client");
        let run = Run {
            command: description,
            status,
            stdout: text(&stdout),
            stderr: text(&stderr),
        };
        panic!("client hung for {timeout:?} and was killed: {run}");
    };
    // The pipes reach EOF once the client and anything it spawned exit.
    let stdout = finish(stdout);
    let stderr = finish(stderr);
    Run {
        command: description,
        status,
        stdout,
        stderr,
    }
}

type Collector = (Arc<Mutex<Vec<u8>>>, thread::JoinHandle<()>);

fn collect(mut from: impl Read + Send + 'static) -> Collector {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let into = Arc::clone(&buffer);
    let handle = thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        loop {
            match from.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => into.lock().unwrap().extend_from_slice(&chunk[..n]),
            }
        }
    });
    (buffer, handle)
}

fn text(collector: &Collector) -> String {
    String::from_utf8_lossy(&collector.0.lock().unwrap()).into_owned()
}

fn finish((buffer, reader): Collector) -> String {
    reader.join().expect("output reader");
    String::from_utf8_lossy(&buffer.lock().unwrap()).into_owned()
}

fn describe(command: &Command) -> String {
    let mut line = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        let _ = write!(line, " {}", arg.to_string_lossy());
    }
    line
}

/// `curl -sS -v --user alice:secret` with its own time limits; add the mode
/// flags and the URL.
pub fn curl() -> Command {
    let mut command = Command::new("curl");
    command
        .args(["-sS", "-v", "--user", &format!("{USER}:{PASSWORD}")])
        .args(["--connect-timeout", "10", "--max-time", "100"]);
    command
}

/// Runs `python3 tests/clients/ftplib_session.py` as alice against `server`
/// with the operations `ops` (see that script), and returns one result per
/// operation: `Ok(json value)` or `Err(error text)`.
pub fn ftplib(server: &Server, ops: &[&[&str]]) -> Vec<Result<String, String>> {
    ftplib_session(server, ops, &[])
}

/// [`ftplib`] with `FTP_TLS`: AUTH TLS before the login, then `prot_p()`.
pub fn ftplib_tls(server: &Server, ops: &[&[&str]]) -> Vec<Result<String, String>> {
    ftplib_session(server, ops, &["tls"])
}

/// [`ftplib`] with `FTP_TLS` and no `prot_p()`: the protection level is the
/// operations' to set (`["prot_c"]`, `["prot_p"]`).
pub fn ftplib_tls_unprotected(server: &Server, ops: &[&[&str]]) -> Vec<Result<String, String>> {
    ftplib_session(server, ops, &["tls-unprotected"])
}

fn ftplib_session(server: &Server, ops: &[&[&str]], mode: &[&str]) -> Vec<Result<String, String>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/ftplib_session.py");
    let run = run_bounded(
        Command::new("python3")
            .arg(script)
            .arg(server.addr.ip().to_string())
            .arg(server.addr.port().to_string())
            .args([USER, PASSWORD])
            .arg(json_ops(ops))
            .args(mode),
        CLIENT_TIMEOUT,
    )
    .success();
    let results: Vec<Result<String, String>> = run
        .stdout
        .lines()
        .map(|line| match line.split_once(' ') {
            Some(("ok", value)) => Ok(value.to_owned()),
            Some(("err", error)) => Err(error.to_owned()),
            _ => panic!("unexpected line from the ftplib script: {line:?}\n{run}"),
        })
        .collect();
    assert_eq!(results.len(), ops.len(), "one result per operation: {run}");
    results
}

/// `[["op","arg"],...]` as JSON (the names in tests need no escaping beyond
/// quotes and backslashes).
pub fn json_ops(ops: &[&[&str]]) -> String {
    let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    let ops: Vec<String> = ops
        .iter()
        .map(|op| {
            format!(
                "[{}]",
                op.iter().map(|a| quote(a)).collect::<Vec<_>>().join(",")
            )
        })
        .collect();
    format!("[{}]", ops.join(","))
}

/// Runs `lftp -d -c "SETTINGS; open ...; COMMANDS"` as alice against
/// `server`: every failed command fails the run, nothing is retried, no TLS
/// is tried; the debug trace (`---> VERB ...` lines) goes to stderr.
pub fn lftp(server: &Server, commands: &str) -> Run {
    lftp_with(server, "set ftp:ssl-allow no", commands)
}

/// [`lftp`] over FTPS: AUTH TLS is required (`ftp:ssl-force`) and data
/// connections are protected (`ftp:ssl-protect-data`); `settings` adds more
/// (`set ftp:passive-mode no` for active mode).
pub fn lftp_tls(server: &Server, settings: &str, commands: &str) -> Run {
    let settings = format!(
        "set ftp:ssl-force yes; set ftp:ssl-protect-data yes; \
         set ssl:verify-certificate no; {settings}"
    );
    lftp_with(server, &settings, commands)
}

fn lftp_with(server: &Server, settings: &str, commands: &str) -> Run {
    let target = format!("-p {} {}", server.addr.port(), server.addr.ip());
    lftp_open(&target, settings, commands)
}

/// lftp against an implicit-FTPS listener (`ftps://` URL: TLS before the
/// greeting), with `settings` (`set ftp:passive-mode no` for active mode).
pub fn lftp_implicit(addr: std::net::SocketAddr, settings: &str, commands: &str) -> Run {
    let settings = format!("set ssl:verify-certificate no; {settings}");
    lftp_open(&format!("ftps://{addr}"), &settings, commands)
}

fn lftp_open(target: &str, settings: &str, commands: &str) -> Run {
    let script = format!(
        "set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 20; \
         set net:reconnect-interval-base 1; set xfer:clobber on; {settings}; \
         open -u {USER},{PASSWORD} {target}; {commands}"
    );
    run_bounded(
        Command::new("lftp").args(["-d", "-c", &script]),
        CLIENT_TIMEOUT,
    )
}

/// Panics unless a fresh client (curl) can still log in and LIST the root:
/// the check after every misbehaving client.
pub fn assert_serves_new_client(server: &mut Server) {
    server.assert_running();
    let marker = format!("alive-{}.txt", fastrand::u64(..));
    std::fs::write(server.root().join(&marker), b"still here\n").expect("write a marker file");
    let run = run_bounded(curl().arg(server.url("")), CLIENT_TIMEOUT).success();
    std::fs::remove_file(server.root().join(&marker)).expect("remove the marker file");
    assert!(
        run.stdout
            .lines()
            .any(|line| line.split_whitespace().last() == Some(marker.as_str())),
        "a new client logged in but its listing lacks {marker}: {run}"
    );
}

/// The strings of a JSON array of strings as Python's `json.dumps` writes
/// it (only `\"` and `\\` escapes are expected in test names).
pub fn json_strings(json: &str) -> Vec<String> {
    let inner = json
        .trim()
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or_else(|| panic!("not a JSON array: {json}"));
    let mut strings = Vec::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let mut string = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(escaped @ ('"' | '\\' | '/')) => string.push(escaped),
                            other => panic!("unexpected escape \\{other:?} in {json}"),
                        },
                        Some(c) => string.push(c),
                        None => panic!("unterminated string in {json}"),
                    }
                }
                strings.push(string);
            }
            ',' | ' ' => {}
            _ => panic!("not a JSON array of strings: {json}"),
        }
    }
    strings
}
