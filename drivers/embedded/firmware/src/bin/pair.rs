//! The core's client and server sessions back to back in memory
//! (`ftpwire_core::pair`), on a Cortex-M4 with a small heap: a login, an
//! upload and a download through PASV, a byte-for-byte compare, QUIT. Each
//! step's reply codes go out through semihosting; QEMU exits with success
//! only when every step gave what it should (tests/embedded_qemu.rs reads
//! both).
#![no_std]
#![no_main]

extern crate alloc;

use cortex_m_rt::entry;
use cortex_m_semihosting::{hprint, hprintln};
use ftpwire_core::ServerConfig;
use ftpwire_core::client::{ClientConfig, ClientError, DataMode, Finished, Request, StoreMode};
use ftpwire_core::pair::Pair;
use ftpwire_firmware::{HEAP, exit, heap, stack_peak};

/// The heap: 24 KiB, some headroom over the smallest that works (19,840
/// bytes when measured: first-fit leaves gaps, the most in use at once was
/// 14,048). The README's "Embedded" section has the figures.
#[cfg(not(feature = "starved-heap"))]
const HEAP_SIZE: usize = 24 * 1024;
/// Too small for the run: the allocation failure must end it with failure.
#[cfg(feature = "starved-heap")]
const HEAP_SIZE: usize = 8 * 1024;

/// The file that goes up and comes back.
const PATH: &[u8] = b"/pattern.bin";
/// Its length: a few KiB, not a multiple of any buffer size.
const LEN: usize = 6_000;

#[entry]
fn main() -> ! {
    heap!(HEAP_SIZE);
    let ok = run().unwrap_or_else(|error| {
        hprintln!("failed: {}", error);
        false
    });
    hprintln!("heap peak: {} of {} bytes", HEAP.peak(), HEAP_SIZE);
    hprintln!("stack peak: {} bytes", stack_peak());
    hprintln!("result: {}", if ok { "ok" } else { "FAILED" });
    exit(ok)
}

/// The session; `Ok(true)` when every step gave what it should. Each
/// step's replies are printed before its error ends the run.
fn run() -> Result<bool, ClientError> {
    // PASV only (the client's default is EPSV, PASV as a fallback).
    let client = ClientConfig {
        data_mode: DataMode::Pasv,
        ..ClientConfig::login("ann", "pw")
    };
    let mut pair = Pair::new(ServerConfig::default(), client);
    pair.host.users.push(("ann".into(), "pw".into()));
    let mut ok = true;

    let connected = pair.connect();
    step(&mut pair, "login");
    connected?;

    pair.host.upload = pattern().collect();
    let stored = pair.request(Request::Store {
        path: PATH.to_vec(),
        mode: StoreMode::Replace,
    });
    step(&mut pair, "STOR");
    let stored = stored?;
    let pasv = pair
        .client
        .last_passive()
        .is_some_and(|used| !used.extended);
    ok &= moved(&stored) && pasv;
    hprintln!("sent: {} bytes through PASV: {}", bytes(&stored), pasv);

    let retrieved = pair.request(Request::Retrieve {
        path: PATH.to_vec(),
        offset: 0,
    });
    step(&mut pair, "RETR");
    ok &= moved(&retrieved?);
    let download = core::mem::take(&mut pair.host.download);
    // Against a second run of the generator: no copy kept on the heap.
    let equal = download.len() == LEN && download.iter().copied().eq(pattern());
    ok &= equal;
    hprintln!(
        "received: {} bytes, fnv1a32 {:08x}, equal to what was sent: {}",
        download.len(),
        fnv1a32(&download),
        equal
    );
    drop(download);

    let quit = pair.request(Request::Quit);
    step(&mut pair, "QUIT");
    ok &= quit?.code == 221 && pair.client.is_closed();
    Ok(ok)
}

/// Prints the replies since the last step (`NAME: replies 227 150 226`),
/// then forgets them.
fn step(pair: &mut Pair, name: &str) {
    hprint!("{}: replies", name);
    for code in &pair.host.replies {
        hprint!(" {}", code);
    }
    hprintln!();
    pair.host.replies.clear();
}

/// A transfer that ended with 226 and moved the whole pattern.
fn moved(done: &Finished) -> bool {
    done.code == 226 && done.bytes == Some(LEN as u64)
}

/// What a transfer moved (0 for none).
fn bytes(done: &Finished) -> u64 {
    done.bytes.unwrap_or(0)
}

/// The payload: `LEN` bytes, each the low byte of a 32-bit xorshift
/// (13, 17, 5) state seeded with 0x2545_F491, stepped before each byte.
/// tests/embedded_qemu.rs computes the same from this definition.
fn pattern() -> impl Iterator<Item = u8> {
    let mut state: u32 = 0x2545_F491;
    (0..LEN).map(move |_| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state as u8
    })
}

/// 32-bit FNV-1a: a checksum the test recomputes on the host.
fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |hash, &b| {
        (hash ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}
