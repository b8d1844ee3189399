//! The core on a Cortex-M4 (issue 15): drivers/embedded/firmware built for
//! thumbv7em-none-eabihf and booted in QEMU's mps2-an386 machine. Its `pair`
//! binary runs the in-memory client↔server pair (login, STOR and RETR through
//! PASV, QUIT) with a 24 KiB heap and prints each step through semihosting;
//! these tests check what it printed against figures computed here, and that
//! QEMU's exit status follows the firmware's verdict both ways.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use wait_timeout::ChildExt;

/// The firmware's own workspace.
const FIRMWARE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/drivers/embedded/firmware");
/// The bound on one QEMU run (the pair finishes in well under a second).
const QEMU_TIMEOUT: Duration = Duration::from_secs(60);
/// The issue's goal for the core's share of flash.
const CORE_FLASH_BUDGET: u64 = 64 * 1024;

/// Both tests build the same ELF (with and without a feature): one at a time.
static FIRMWARE_BUILD: Mutex<()> = Mutex::new(());

/// Builds the firmware's `bin` (release profile, size-tuned) with
/// `features`; the ELF's path.
fn build(bin: &str, features: &[&str]) -> PathBuf {
    let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo
        .current_dir(FIRMWARE)
        .args(["build", "--release", "--locked", "--bin", bin]);
    if !features.is_empty() {
        cargo.args(["--features", &features.join(",")]);
    }
    // The firmware's .cargo/config.toml must decide the target, its flags
    // and where the build goes: drop what a parent cargo (or the user, or a
    // coverage tool) set that would override it or point elsewhere.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        let overrides = name.starts_with("CARGO_TARGET_")
            || name.starts_with("CARGO_PROFILE_")
            || (name.starts_with("CARGO_BUILD_") && name != "CARGO_BUILD_JOBS")
            || matches!(
                name.as_str(),
                "RUSTFLAGS"
                    | "CARGO_ENCODED_RUSTFLAGS"
                    | "RUSTC_WORKSPACE_WRAPPER"
                    | "CARGO_MAKEFLAGS"
                    | "CARGO_LLVM_COV"
            );
        if overrides {
            cargo.env_remove(&name);
        }
    }
    let status = cargo.status().expect("run cargo for the firmware");
    assert!(status.success(), "cargo build in {FIRMWARE}: {status}");
    Path::new(FIRMWARE)
        .join("target/thumbv7em-none-eabihf/release")
        .join(bin)
}

/// What one boot printed, and whether QEMU reported success.
struct Boot {
    success: bool,
    output: String,
}

/// Boots `elf` on mps2-an386 with semihosting (its output on QEMU's stdout,
/// its exit call QEMU's exit status), bounded by [`QEMU_TIMEOUT`].
fn boot(elf: &Path) -> Boot {
    let mut qemu = Command::new("qemu-system-arm")
        .args(["-machine", "mps2-an386", "-cpu", "cortex-m4", "-nographic"])
        .args(["-semihosting-config", "enable=on,target=native", "-kernel"])
        .arg(elf)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run qemu-system-arm (Debian's qemu-system-arm; .ci/install.sh installs it)");
    // Waited for before reading: the firmware prints a few hundred bytes,
    // far less than a pipe holds.
    let Some(status) = qemu.wait_timeout(QEMU_TIMEOUT).expect("wait for qemu") else {
        qemu.kill().expect("kill qemu");
        let _ = qemu.wait();
        panic!("the firmware did not exit within {QEMU_TIMEOUT:?}");
    };
    let out = qemu.wait_with_output().expect("read qemu's output");
    let output =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    println!("qemu ({status}):\n{output}");
    Boot {
        success: status.success(),
        output,
    }
}

/// The payload as the firmware defines it: `len` bytes, each the low byte
/// of a 32-bit xorshift (13, 17, 5) state seeded with 0x2545_F491, stepped
/// before each byte.
fn pattern(len: usize) -> Vec<u8> {
    let mut state: u32 = 0x2545_F491;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect()
}

/// 32-bit FNV-1a (offset basis 0x811c9dc5, prime 0x01000193).
fn fnv1a32(bytes: &[u8]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for &b in bytes {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// The line that starts with `prefix`.
fn line<'a>(output: &'a str, prefix: &str) -> &'a str {
    output
        .lines()
        .find(|line| line.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?} in:\n{output}"))
}

/// The reply codes of a `NAME: replies 220 331 ...` line.
fn replies(output: &str, step: &str) -> Vec<u16> {
    line(output, &format!("{step}: replies"))
        .split_whitespace()
        .skip(2)
        .map(|code| code.parse().expect("a reply code"))
        .collect()
}

/// Runs `tool` on `elf`, panicking unless it succeeds; its stdout.
fn binutil(tool: &str, args: &[&str], elf: &Path) -> String {
    let out = Command::new(tool)
        .args(args)
        .arg(elf)
        .output()
        .unwrap_or_else(|e| {
            panic!("run {tool} (binutils-arm-none-eabi; .ci/install.sh installs it): {e}")
        });
    assert!(out.status.success(), "{tool}: {}", out.status);
    String::from_utf8(out.stdout).expect("UTF-8 from binutils")
}

/// Flash (vector table, code, read-only data, .data's initial values) and
/// static RAM (.data, .bss, .uninit) of `elf`, from `arm-none-eabi-size -A`.
fn sizes(elf: &Path) -> (u64, u64) {
    let table = binutil("arm-none-eabi-size", &["-A", "-d"], elf);
    let (mut flash, mut ram) = (0, 0);
    for row in table.lines() {
        let mut cols = row.split_whitespace();
        let (Some(section), Some(size)) = (cols.next(), cols.next()) else {
            continue;
        };
        let Ok(size) = size.parse::<u64>() else {
            continue;
        };
        match section {
            ".vector_table" | ".text" | ".rodata" => flash += size,
            ".data" => {
                flash += size;
                ram += size;
            }
            ".bss" | ".uninit" => ram += size,
            _ => {}
        }
    }
    (flash, ram)
}

/// Flash bytes of named code and read-only data per crate (the first path
/// segment of each demangled symbol: `<ftpwire_core::X as core::fmt::Debug>`
/// counts for ftpwire_core), biggest first. What LTO inlined into a
/// function counts for that function's crate.
fn flash_by_crate(elf: &Path) -> Vec<(String, u64)> {
    let symbols = binutil("arm-none-eabi-nm", &["-C", "--print-size", "-t", "d"], elf);
    let mut by_crate: Vec<(String, u64)> = Vec::new();
    for row in symbols.lines() {
        let mut cols = row.splitn(4, ' ');
        let (Some(_addr), Some(size), Some(kind), Some(name)) =
            (cols.next(), cols.next(), cols.next(), cols.next())
        else {
            continue;
        };
        let (Ok(size), true) = (size.parse::<u64>(), matches!(kind, "t" | "T" | "r" | "R")) else {
            continue;
        };
        let krate = name
            .find("::")
            .map(|end| {
                let start = name[..end]
                    .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .map_or(0, |i| i + 1);
                &name[start..end]
            })
            .filter(|krate| !krate.is_empty())
            .unwrap_or("(no path: compiler builtins, outlined code, vectors)");
        match by_crate.iter_mut().find(|(name, _)| name == krate) {
            Some((_, total)) => *total += size,
            None => by_crate.push((krate.to_owned(), size)),
        }
    }
    by_crate.sort_by_key(|&(_, bytes)| std::cmp::Reverse(bytes));
    by_crate
}

#[test]
fn the_pair_runs_on_a_cortex_m4_under_qemu() {
    let _one_build = FIRMWARE_BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let elf = build("pair", &[]);
    let boot = boot(&elf);
    let out = &boot.output;

    let login = replies(out, "login");
    assert_eq!(login.first(), Some(&220), "the greeting: {out}");
    assert!(login.contains(&230), "logged in: {out}");
    // PASV (not EPSV), the transfer's start and its end, for both directions.
    assert_eq!(replies(out, "STOR"), [227, 150, 226], "{out}");
    assert_eq!(replies(out, "RETR"), [227, 150, 226], "{out}");
    assert_eq!(replies(out, "QUIT"), [221], "{out}");

    let sent = pattern(6_000);
    assert_eq!(
        line(out, "sent: "),
        format!("sent: {} bytes through PASV: true", sent.len())
    );
    assert_eq!(
        line(out, "received: "),
        format!(
            "received: {} bytes, fnv1a32 {:08x}, equal to what was sent: true",
            sent.len(),
            fnv1a32(&sent)
        )
    );
    assert_eq!(line(out, "result: "), "result: ok");
    assert!(boot.success, "QEMU's exit status says failure:\n{out}");

    let peak: u64 = line(out, "heap peak: ")
        .split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .expect("the heap peak in bytes");
    assert!(
        peak > sent.len() as u64 && peak <= 24 * 1024,
        "heap peak {peak}"
    );

    let (flash, ram) = sizes(&elf);
    println!("firmware: {flash} bytes of flash, {ram} bytes of static RAM (the heap included)");
    let by_crate = flash_by_crate(&elf);
    for (krate, bytes) in &by_crate {
        println!("{bytes:>8}  {krate}");
    }
    let core = by_crate
        .iter()
        .find(|(krate, _)| krate == "ftpwire_core")
        .map_or(0, |(_, bytes)| *bytes);
    assert!(
        core > 0 && core <= CORE_FLASH_BUDGET,
        "ftpwire_core takes {core} bytes of flash (goal: at most {CORE_FLASH_BUDGET})"
    );
}

#[test]
fn a_starved_heap_ends_the_run_with_failure() {
    let _one_build = FIRMWARE_BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let boot = boot(&build("pair", &["starved-heap"]));
    assert!(
        boot.output.contains("memory allocation of"),
        "the allocation failure is reported: {}",
        boot.output
    );
    assert!(!boot.output.contains("result: ok"), "{}", boot.output);
    assert!(
        !boot.success,
        "QEMU's exit status says success:\n{}",
        boot.output
    );
}

/// The issue's goals for the 2-session ftpwire-smoltcp server with its
/// network stack.
const SERVER_FLASH_BUDGET: u64 = 192 * 1024;
const SERVER_RAM_BUDGET: u64 = 64 * 1024;

/// The `server` bin: ftpwire-smoltcp with two sessions and smoltcp over its
/// Loopback device, a small client on the same interface downloading a
/// file through EPSV. Its replies, the download's checksum (recomputed
/// here), the exit status, and its size against the issue's goals.
#[test]
fn the_smoltcp_server_runs_on_a_cortex_m4_under_qemu() {
    let _one_build = FIRMWARE_BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let elf = build("server", &[]);
    let boot = boot(&elf);
    let out = &boot.output;
    let said: Vec<&str> = out
        .lines()
        .filter_map(|line| line.strip_prefix("reply: "))
        .map(|reply| &reply[..3])
        .collect();
    assert_eq!(
        said,
        ["220", "331", "230", "200", "229", "150", "226", "221"],
        "{out}"
    );
    let file = pattern(6_000);
    assert_eq!(
        line(out, "downloaded: "),
        format!(
            "downloaded: {} bytes, fnv1a32 {:08x}, equal to the file: true",
            file.len(),
            fnv1a32(&file)
        )
    );
    assert_eq!(line(out, "result: "), "result: ok");
    assert!(boot.success, "QEMU's exit status says failure:\n{out}");

    let stack: u64 = line(out, "stack peak: ")
        .split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .expect("the stack peak in bytes");
    let (flash, ram) = sizes(&elf);
    println!(
        "server firmware: {flash} bytes of flash, {ram} bytes of static RAM (the heap included), stack peak {stack}"
    );
    let by_crate = flash_by_crate(&elf);
    for (krate, bytes) in &by_crate {
        println!("{bytes:>8}  {krate}");
    }
    assert!(
        flash <= SERVER_FLASH_BUDGET,
        "{flash} bytes of flash (goal: at most {SERVER_FLASH_BUDGET})"
    );
    assert!(
        ram + stack <= SERVER_RAM_BUDGET,
        "{ram} bytes of static RAM and {stack} of stack (goal: at most {SERVER_RAM_BUDGET})"
    );
    let core = by_crate
        .iter()
        .find(|(krate, _)| krate == "ftpwire_core")
        .map_or(0, |(_, bytes)| *bytes);
    assert!(
        core > 0 && core <= CORE_FLASH_BUDGET,
        "ftpwire_core takes {core} bytes of flash (goal: at most {CORE_FLASH_BUDGET})"
    );
}
