//! The workloads. Each round runs against a started server and returns how
//! many operations it did, how long they took, and what the server's whole
//! process tree spent on them according to the kernel.

use std::io::{self, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::ClientConfig;

use crate::client::{Control, Stream, error};
use crate::proc;
use crate::server::Server;

/// One round of a workload.
pub struct Round {
    pub ops: f64,
    pub seconds: f64,
    pub cpu_seconds: f64,
}

/// Waits (bounded) until the forking peers' sessions of the round have
/// ended and been reaped, by the server or (orphans) by the harness, so
/// their CPU time has been added to a parent's cutime/cstime. A poll: the
/// kernel offers no readiness signal for another process's child.
fn wait_sessions_reaped(server: &Server) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while (proc::tree_size(server.pid()) > 1 || proc::reap_adopted() > 0)
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// CPU seconds so far of the server's tree and of its orphans.
fn server_seconds(server: &Server) -> f64 {
    proc::tree_ticks(server.pid()) as f64 / proc::ticks_per_second()
        + proc::reaped_children_seconds()
}

/// Runs `work` (which returns its operation count) between two readings of
/// the server's CPU time.
pub fn measure(
    server: &Server,
    work: impl FnOnce(&Server) -> io::Result<f64>,
) -> io::Result<Round> {
    wait_sessions_reaped(server);
    let before = server_seconds(server);
    let started = Instant::now();
    let ops = work(server)?;
    let seconds = started.elapsed().as_secs_f64();
    wait_sessions_reaped(server);
    Ok(Round {
        ops,
        seconds,
        cpu_seconds: (server_seconds(server) - before).max(0.0),
    })
}

fn login(server: &Server) -> io::Result<Control> {
    let mut control = Control::connect(server.addr)?;
    control.login(server.user, server.pass)?;
    Ok(control)
}

/// NOOPs kept flowing: one batch always in flight while the previous one's
/// replies are read, so the server never waits for the client.
pub fn pipelined_noops(server: &Server, count: usize, deadline: Instant) -> io::Result<f64> {
    const BATCH: usize = 500;
    let batch = "NOOP\r\n".repeat(BATCH);
    let mut control = login(server)?;
    let mut writer = control.try_clone_plain()?;
    writer.write_all(batch.as_bytes())?;
    let mut done = 0;
    while done < count {
        let more = done + BATCH < count && Instant::now() < deadline;
        if more {
            writer.write_all(batch.as_bytes())?;
        }
        for _ in 0..BATCH {
            control.expect(2)?;
        }
        done += BATCH;
        if !more {
            break;
        }
    }
    control.quit()?;
    Ok(done as f64)
}

/// NOOPs one at a time: each waits for the previous reply.
pub fn noop_round_trips(server: &Server, count: usize, deadline: Instant) -> io::Result<f64> {
    let mut control = login(server)?;
    let mut done = 0;
    while done < count && Instant::now() < deadline {
        control.command("NOOP", 2)?;
        done += 1;
    }
    control.quit()?;
    Ok(done as f64)
}

/// connect, USER, PASS, QUIT (and the server's close), from `clients`
/// threads at once; with `tls`, AUTH TLS (a full handshake) before USER.
pub fn session_setups(
    server: &Server,
    clients: usize,
    count: usize,
    deadline: Instant,
    tls: Option<&Arc<ClientConfig>>,
) -> io::Result<f64> {
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..clients)
            .map(|_| {
                scope.spawn(move || -> io::Result<usize> {
                    let mut done = 0;
                    while done < count / clients && Instant::now() < deadline {
                        let mut control = Control::connect(server.addr)?;
                        if let Some(config) = tls {
                            control = control.auth_tls(config)?;
                        }
                        control.login(server.user, server.pass)?;
                        control.quit()?;
                        done += 1;
                    }
                    Ok(done)
                })
            })
            .collect();
        let mut total = 0;
        for worker in workers {
            total += worker
                .join()
                .map_err(|_| error("client thread panicked"))??;
        }
        Ok(total as f64)
    })
}

/// What came over a data connection.
struct Received {
    bytes: u64,
    lines: u64,
}

/// Sends `line` (RETR, LIST, MLSD) and reads the data connection to its end
/// on another thread while this one reads the replies.
fn download(
    control: &mut Control,
    line: &str,
    tls: Option<&Arc<ClientConfig>>,
) -> io::Result<Received> {
    let data = control.passive()?;
    control.send(line)?;
    let tls = tls.cloned();
    // Under PROT P the handshake starts after the 1yz, as ftplib and curl
    // do (RFC 4217 §9's order).
    let (preliminary_came, wait_preliminary) = std::sync::mpsc::channel::<()>();
    let reader = std::thread::spawn(move || -> io::Result<Received> {
        let mut stream = match tls {
            Some(config) => {
                wait_preliminary.recv().map_err(|_| error("no 1yz reply"))?;
                Stream::secure(data, &config)?
            }
            None => Stream::Plain(data),
        };
        let mut buf = vec![0; 256 * 1024];
        let mut received = Received { bytes: 0, lines: 0 };
        loop {
            let n = match io::Read::read(&mut stream, &mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                // A TLS peer that closes without close_notify: the byte count decides.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(e),
            };
            received.bytes += n as u64;
            received.lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        }
        Ok(received)
    });
    let preliminary = control.expect(1);
    if preliminary.is_ok() {
        let _ = preliminary_came.send(());
    }
    drop(preliminary_came);
    let received = reader.join().map_err(|_| error("data thread panicked"))?;
    preliminary.map_err(|e| error(format!("{line}: {e}")))?;
    let received = received?;
    control
        .expect(2)
        .map_err(|e| error(format!("{line}: {e}")))?;
    Ok(received)
}

/// One RETR of `path` (`bytes` long), optionally under PROT P; returns bytes.
pub fn retr(
    server: &Server,
    path: &str,
    bytes: u64,
    tls: Option<&Arc<ClientConfig>>,
) -> io::Result<f64> {
    let mut control = Control::connect(server.addr)?;
    if let Some(config) = tls {
        control = control.auth_tls(config)?;
    }
    control.login(server.user, server.pass)?;
    control.command("TYPE I", 2)?;
    if tls.is_some() {
        control.command("PBSZ 0", 2)?;
        control.command("PROT P", 2)?;
    }
    let received = download(&mut control, &format!("RETR {path}"), tls)?;
    if received.bytes != bytes {
        return Err(error(format!("RETR: {} of {bytes} bytes", received.bytes)));
    }
    control.quit()?;
    Ok(bytes as f64)
}

/// One STOR of `bytes` bytes into up/; returns bytes.
pub fn stor(server: &Server, bytes: u64) -> io::Result<f64> {
    let mut control = login(server)?;
    control.command("TYPE I", 2)?;
    let mut data: TcpStream = control.passive()?;
    control.send("STOR up/stored.bin")?;
    control.expect(1)?;
    let chunk = vec![0x5a; 1 << 20];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        data.write_all(&chunk[..n])?;
        left -= n as u64;
    }
    drop(data);
    control.expect(2).map_err(|e| error(format!("STOR: {e}")))?;
    control.quit()?;
    let _ = std::fs::remove_file(server.root.join("up/stored.bin"));
    Ok(bytes as f64)
}

/// `verb` (LIST or MLSD) of `dir`, `count` times on one session; each must
/// name at least `files` entries.
pub fn listings(
    server: &Server,
    verb: &str,
    files: u64,
    count: usize,
    deadline: Instant,
) -> io::Result<f64> {
    let mut control = login(server)?;
    let mut done = 0;
    while done < count && Instant::now() < deadline {
        let received = download(&mut control, &format!("{verb} list"), None)?;
        if received.lines < files {
            return Err(error(format!(
                "{verb}: {} lines for {files} files",
                received.lines
            )));
        }
        done += 1;
    }
    control.quit()?;
    Ok(done as f64)
}

/// What idle sessions cost a server.
pub struct IdleMemory {
    pub kib_per_session: f64,
    pub opened: usize,
    /// Processes or threads: the kernel's pid_max bounds them.
    pub tasks_per_session: f64,
    /// Descriptors in the server's main process: RLIMIT_NOFILE bounds them.
    pub files_per_session: f64,
}

/// KiB of server memory (Pss of the whole tree) per idle logged-in session:
/// after `sessions` logins less before them, with one session open in both
/// so one-off set-up is not counted.
pub fn idle_memory(server: &Server, sessions: usize, deadline: Instant) -> io::Result<IdleMemory> {
    let warm = login(server)?;
    let pid = server.pid();
    let before = proc::tree_pss_kib(pid);
    let tasks_before = proc::tree_tasks(pid);
    let fds_before = proc::open_files(pid);
    let mut idle = Vec::with_capacity(sessions);
    while idle.len() < sessions && Instant::now() < deadline {
        idle.push(login(server)?);
    }
    // Each session proves it is still served, then the tree is read.
    for control in idle.iter_mut().step_by((sessions / 100).max(1)) {
        control.command("NOOP", 2)?;
    }
    let after = proc::tree_pss_kib(pid);
    let tasks = proc::tree_tasks(pid).saturating_sub(tasks_before);
    let fds = proc::open_files(pid).saturating_sub(fds_before);
    let opened = idle.len();
    drop((warm, idle));
    let per = |n: usize| n as f64 / opened.max(1) as f64;
    Ok(IdleMemory {
        kib_per_session: per(after.saturating_sub(before) as usize),
        opened,
        tasks_per_session: per(tasks),
        files_per_session: per(fds),
    })
}
