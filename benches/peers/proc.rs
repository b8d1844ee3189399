//! The kernel's accounting of a server: CPU time and memory of its whole
//! process tree (vsftpd and pure-ftpd fork per session), from /proc.

use std::collections::HashMap;

/// Clock ticks per second, the unit of /proc/PID/stat's times.
pub fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 { hz as f64 } else { 100.0 }
}

/// One process's stat line: (ppid, own utime+stime, reaped children's cutime+cstime).
fn stat(pid: u32) -> Option<(u32, u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    Some((num(1)? as u32, num(11)? + num(12)?, num(13)? + num(14)?))
}

fn all_parents() -> HashMap<u32, u32> {
    let mut parents = HashMap::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        if let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok())
            && let Some((ppid, _, _)) = stat(pid)
        {
            parents.insert(pid, ppid);
        }
    }
    parents
}

/// Every live descendant of `root` (children, grandchildren, ...).
pub fn descendants(root: u32) -> Vec<u32> {
    let parents = all_parents();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|&(_, &pp)| pp == parent)
                .map(|(&p, _)| p),
        );
        i += 1;
    }
    found.remove(0);
    found
}

/// CPU ticks the tree has used: the root's own and reaped children's
/// (cutime/cstime, which the kernel adds when a child is waited for), plus
/// every live descendant's own and reaped children's.
pub fn tree_ticks(root: u32) -> u64 {
    std::iter::once(root)
        .chain(descendants(root))
        .filter_map(stat)
        .map(|(_, own, reaped)| own + reaped)
        .sum()
}

/// Processes in the tree, the root included.
pub fn tree_size(root: u32) -> usize {
    1 + descendants(root).len()
}

fn status_kib(path: &str, key: &str) -> Option<u64> {
    std::fs::read_to_string(path)
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Proportional set size of the whole tree in KiB: forked sessions share
/// their parent's pages, which Pss counts once; for one process it is its RSS
/// less its share of libraries that other processes also map.
pub fn tree_pss_kib(root: u32) -> u64 {
    std::iter::once(root)
        .chain(descendants(root))
        .filter_map(|pid| {
            status_kib(&format!("/proc/{pid}/smaps_rollup"), "Pss:")
                .or_else(|| status_kib(&format!("/proc/{pid}/status"), "VmRSS:"))
        })
        .sum()
}

/// Tasks (threads included) on the machine now, and the kernel's ceiling.
pub fn tasks_and_limit() -> (usize, usize) {
    let limit = |f: &str| {
        std::fs::read_to_string(f)
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .unwrap_or(usize::MAX)
    };
    let ceiling = limit("/proc/sys/kernel/pid_max").min(limit("/proc/sys/kernel/threads-max"));
    let tasks = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.parse::<u32>().is_ok())
        })
        .map(|e| std::fs::read_dir(e.path().join("task")).map_or(1, |t| t.count()))
        .sum();
    (tasks, ceiling)
}

/// Tasks of the tree (a thread-per-session server counts its threads).
pub fn tree_tasks(root: u32) -> usize {
    std::iter::once(root)
        .chain(descendants(root))
        .map(|pid| std::fs::read_dir(format!("/proc/{pid}/task")).map_or(1, |t| t.count()))
        .sum()
}

/// Open descriptors of one process.
pub fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// This process's descriptor limit (servers inherit it).
pub fn files_limit() -> usize {
    rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(usize::MAX, |(soft, _)| soft as usize)
}

/// Makes the harness the reaper of orphans from the servers' trees: a
/// vsftpd session's privileged process may exit before its unprivileged
/// child, which init would otherwise adopt, taking its CPU time with it.
pub fn become_subreaper() {
    // SAFETY: prctl(PR_SET_CHILD_SUBREAPER) only sets a flag on this process.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) };
}

/// The servers the harness started and has not stopped: its children that
/// are no orphans. Several run at once, one measured at a time.
static SERVERS: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());

/// A server was started (`true`) or stopped and waited for (`false`).
pub fn server_running(pid: u32, running: bool) {
    let mut servers = SERVERS.lock().unwrap_or_else(|e| e.into_inner());
    servers.retain(|&p| p != pid);
    if running {
        servers.push(pid);
    }
}

/// Orphans the harness adopted: its child processes other than the servers.
fn adopted() -> Vec<u32> {
    let me = std::process::id();
    let servers = SERVERS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    all_parents()
        .into_iter()
        .filter(|&(pid, ppid)| ppid == me && !servers.contains(&pid))
        .map(|(pid, _)| pid)
        .collect()
}

/// Reaps adopted orphans that have exited (their CPU time then counts in
/// the harness's RUSAGE_CHILDREN); returns how many are still alive. Every
/// round ends with none alive, so the next round's server, whichever it
/// is, inherits none of them.
pub fn reap_adopted() -> usize {
    adopted()
        .into_iter()
        .filter(|&pid| {
            let mut status = 0;
            // SAFETY: waitpid on our own child, without blocking.
            let reaped = unsafe { libc::waitpid(pid as i32, &mut status, libc::WNOHANG) };
            reaped == 0
        })
        .count()
}

/// CPU seconds of the harness's reaped children (adopted orphans: the
/// servers themselves are reaped only after their last measurement).
pub fn reaped_children_seconds() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}
