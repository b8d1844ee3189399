//! The ftpwire-smoltcp server on a Cortex-M4: two session places, the
//! smoltcp TCP/IP stack and a RAM filesystem, as a firmware would ship
//! them, so its flash and RAM can be measured (the README's "Embedded"
//! section). Its network device is smoltcp's `Loopback` (frames sent come
//! back in), not an Ethernet controller: a small FTP client on the same
//! interface logs in, downloads a file through EPSV and quits, and
//! the run exits with success only if every reply and byte was right.
//! Time is a counter the loop advances (1 ms a round): no timer needed.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec;
use alloc::vec::Vec;

use cortex_m_rt::entry;
use cortex_m_semihosting::hprintln;
use ftpwire_core::server::LoginOutcome;
use ftpwire_core::{Instant, ServerConfig};
use ftpwire_firmware::{HEAP, exit, heap, stack_peak};
use ftpwire_smoltcp::{RamFs, Server, Settings};
use smoltcp::iface::{Config, Interface, SocketHandle};
use smoltcp::phy::{Loopback, Medium};
use smoltcp::socket::tcp;
use smoltcp::wire::{EthernetAddress, IpAddress, IpCidr};

/// The heap: the server's socket buffers (2 × (2 × 1 KiB + 2 × 4 KiB)),
/// the client's, the file, the sessions and the frames in the loopback.
/// Measured: 29,700 bytes in use once the server is up, 36,464 at the
/// most; 37 KiB is the smallest heap that runs it (first fit leaves gaps).
const HEAP_SIZE: usize = 40 * 1024;
/// The file the client downloads: more than one data buffer.
const LEN: usize = 6_000;
/// The host's address (the client's too: one interface).
const ADDR: IpAddress = IpAddress::v4(10, 0, 0, 2);
/// Rounds of the loop (simulated milliseconds) before giving up.
const ROUNDS: u64 = 20_000;

#[entry]
fn main() -> ! {
    heap!(HEAP_SIZE);
    let ok = run();
    hprintln!("heap peak: {} of {} bytes", HEAP.peak(), HEAP_SIZE);
    hprintln!("stack peak: {} bytes", stack_peak());
    hprintln!("result: {}", if ok { "ok" } else { "FAILED" });
    exit(ok)
}

fn run() -> bool {
    let mut device = Loopback::new(Medium::Ethernet);
    let mut config = Config::new(EthernetAddress([2, 0, 0, 0, 0, 2]).into());
    // A real board seeds this from its RNG (TCP initial sequence numbers).
    config.random_seed = 0x2545_f491;
    let mut iface = Interface::new(config, &mut device, smoltcp::time::Instant::ZERO);
    iface.update_ip_addrs(|addrs| {
        let _ = addrs.push(IpCidr::new(ADDR, 24));
    });
    let mut fs = RamFs::new(16 * 1024);
    if fs
        .insert_file(b"/pattern.bin", &Xorshift::new().collect::<Vec<u8>>())
        .is_err()
    {
        return false;
    }
    let users = |user: &[u8], password: &[u8]| match (user, password) {
        (b"ann", b"pw") => LoginOutcome::Accepted { read_only: false },
        _ => LoginOutcome::Rejected,
    };
    let settings = Settings::default();
    hprintln!(
        "server: {} sessions, {} + {} byte buffers each way",
        settings.sessions,
        settings.control_buffer,
        settings.data_buffer
    );
    let Ok(mut server) = Server::new(iface, settings, ServerConfig::default(), fs, users) else {
        return false;
    };
    hprintln!("heap used by the server: {} bytes", HEAP.used());
    let mut client = Client::new(&mut server);
    hprintln!("heap used with the client: {} bytes", HEAP.used());
    for millis in 0..ROUNDS {
        server.poll(Instant::from_millis(millis), &mut device);
        if let Some(ok) = client.step(&mut server) {
            hprintln!("client done after {} ms", millis);
            return ok;
        }
    }
    hprintln!("client stuck at step {}", client.step);
    false
}

/// A minimal FTP client on the server's interface: each step sends a
/// command and waits for its reply code.
struct Client {
    control: SocketHandle,
    data: SocketHandle,
    heard: Vec<u8>,
    /// The download, checked as it comes (nothing kept): how many bytes,
    /// whether each was the file's, and their checksum.
    received: usize,
    equal: bool,
    expected: Xorshift,
    fnv: u32,
    step: usize,
}

/// Each step: what to send once the previous reply came, and the reply
/// code it waits for.
const STEPS: [(&[u8], &[u8]); 7] = [
    (b"", b"220"),
    (b"USER ann\r\n", b"331"),
    (b"PASS pw\r\n", b"230"),
    (b"TYPE I\r\n", b"200"),
    (b"EPSV\r\n", b"229"),
    (b"RETR /pattern.bin\r\n", b"226"),
    (b"QUIT\r\n", b"221"),
];

impl Client {
    fn new<U: ftpwire_smoltcp::Users>(server: &mut Server<RamFs, U>) -> Self {
        let (iface, sockets) = server.parts();
        let socket = |rx, tx| {
            tcp::Socket::new(
                tcp::SocketBuffer::new(vec![0; rx]),
                tcp::SocketBuffer::new(vec![0; tx]),
            )
        };
        let mut control = socket(256, 128);
        let _ = control.connect(iface.context(), (ADDR, 21), 49_152);
        Client {
            control: sockets.add(control),
            data: sockets.add(socket(2048, 64)),
            heard: Vec::new(),
            received: 0,
            equal: true,
            expected: Xorshift::new(),
            fnv: FNV_BASIS,
            step: 0,
        }
    }

    /// Reads what came; sends the next command when its reply is in.
    /// `Some(verdict)` at the end.
    fn step<U: ftpwire_smoltcp::Users>(&mut self, server: &mut Server<RamFs, U>) -> Option<bool> {
        let (iface, sockets) = server.parts();
        let data = sockets.get_mut::<tcp::Socket>(self.data);
        while data.can_recv() {
            let _ = data.recv(|bytes| {
                for &b in bytes.iter() {
                    self.equal &= self.expected.next() == Some(b);
                    self.fnv = (self.fnv ^ u32::from(b)).wrapping_mul(FNV_PRIME);
                }
                self.received += bytes.len();
                (bytes.len(), ())
            });
        }
        if !data.may_recv() && data.state() == tcp::State::CloseWait {
            data.close();
        }
        let control = sockets.get_mut::<tcp::Socket>(self.control);
        while control.can_recv() {
            let _ = control.recv(|bytes| {
                self.heard.extend_from_slice(bytes);
                (bytes.len(), ())
            });
        }
        // One complete reply line at a time: "CODE text\r\n" (the 150
        // before RETR's 226 is passed over).
        let end = self.heard.windows(2).position(|w| w == b"\r\n")? + 2;
        let line: Vec<u8> = self.heard.drain(..end).collect();
        hprintln!(
            "reply: {}",
            core::str::from_utf8(&line[..line.len() - 2]).unwrap_or("?")
        );
        let (_, want) = STEPS[self.step];
        if line.starts_with(b"150") {
            return None;
        }
        if !line.starts_with(want) {
            return Some(false);
        }
        if want == b"229" {
            // 229 Entering Extended Passive Mode (|||PORT|)
            let port = epsv_port(&line)?;
            let data = sockets.get_mut::<tcp::Socket>(self.data);
            if data.connect(iface.context(), (ADDR, port), 49_153).is_err() {
                return Some(false);
            }
        }
        self.step += 1;
        let Some((command, _)) = STEPS.get(self.step) else {
            let ok = self.received == LEN && self.equal;
            hprintln!(
                "downloaded: {} bytes, fnv1a32 {:08x}, equal to the file: {}",
                self.received,
                self.fnv,
                ok
            );
            return Some(ok);
        };
        let control = sockets.get_mut::<tcp::Socket>(self.control);
        let _ = control.send_slice(command);
        None
    }
}

/// The port of a `229 ... (|||PORT|)` reply.
fn epsv_port(line: &[u8]) -> Option<u16> {
    let open = line.iter().position(|&b| b == b'(')?;
    let digits = line[open..].split(|&b| b == b'|').nth(3)?;
    core::str::from_utf8(digits).ok()?.parse().ok()
}

/// The file: `LEN` bytes, each the low byte of a 32-bit xorshift (13, 17,
/// 5) state seeded with 0x2545_F491, stepped before each byte (as the pair
/// firmware's).
struct Xorshift {
    state: u32,
    left: usize,
}

impl Xorshift {
    fn new() -> Self {
        Xorshift {
            state: 0x2545_F491,
            left: LEN,
        }
    }
}

impl Iterator for Xorshift {
    type Item = u8;
    fn next(&mut self) -> Option<u8> {
        self.left = self.left.checked_sub(1)?;
        self.state ^= self.state << 13;
        self.state ^= self.state >> 17;
        self.state ^= self.state << 5;
        Some(self.state as u8)
    }
}

/// 32-bit FNV-1a's offset basis and prime.
const FNV_BASIS: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;
