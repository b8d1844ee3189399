//! The in-memory client↔server pair on a Cortex-M4.
#![no_std]
#![no_main]

extern crate alloc;

use cortex_m_rt::entry;
use cortex_m_semihosting::hprintln;
use ftpwire_core::client::ClientConfig;
use ftpwire_core::pair::Pair;
use ftpwire_firmware::{HEAP, exit, heap};

#[entry]
fn main() -> ! {
    heap!(32 * 1024);
    let mut pair = Pair::new(Default::default(), ClientConfig::login("ann", "pw"));
    pair.host.users.push(("ann".into(), "pw".into()));
    let ok = pair.connect().is_ok();
    hprintln!("connect: {}", ok);
    hprintln!("heap peak: {} bytes", HEAP.peak());
    exit(ok)
}
