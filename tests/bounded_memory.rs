//! Transfers stream through bounded buffers: a 1 GiB RETR leaves the
//! server's resident memory where it was (a sparse file, so the test costs
//! no disk).

#[macro_use]
mod common;

use std::io::Read;
use std::net::TcpStream;

use common::control::Control;
use common::server::Server;

driver_matrix!(a_one_gib_retr_does_not_grow_memory);

const GIB: u64 = 1 << 30;

/// Resident set size of `pid` in KiB (Linux).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

fn a_one_gib_retr_does_not_grow_memory(driver: &'static str) {
    let server = Server::start(driver, &[]);
    let file = std::fs::File::create(server.root().join("huge.bin")).unwrap();
    file.set_len(GIB).unwrap();
    let mut control = Control::login(server.addr);
    control.binary();
    let port = control.epsv();
    let mut data = TcpStream::connect((server.addr.ip(), port)).unwrap();
    control.send(b"RETR huge.bin\r\n");
    assert_eq!(control.reply().code, 150);
    let before = rss_kib(server.pid());
    let mut peak = before;
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = data.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        total += n as u64;
        if total % (64 << 20) < n as u64 {
            peak = peak.max(rss_kib(server.pid()));
        }
    }
    assert_eq!(total, GIB, "bytes received");
    assert_eq!(control.reply().code, 226);
    let growth_mib = peak.saturating_sub(before) / 1024;
    assert!(
        growth_mib < 32,
        "resident memory grew by {growth_mib} MiB during a 1 GiB RETR"
    );
}
