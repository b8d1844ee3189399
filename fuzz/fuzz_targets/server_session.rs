//! A whole `ServerSession` driven by the core's fake host
//! (`ftpwire_core::script::FakeHost`): arbitrary control bytes in
//! arbitrary chunks, every event answered (at once or later, with outcomes
//! the input picks), time advanced, the peer hanging up.
//!
//! Checks, beyond "never panics": everything transmitted is a stream of
//! well-formed replies (RFC 959 §4.2: a 3-digit code, space or hyphen, text,
//! CRLF; a multi-line reply ends with its code and a space; a CR inside a
//! line only as CR NUL); `226 Transfer complete` never outnumbers the
//! transfers the host reported complete; nothing is transmitted after
//! `Output::Closed`; the session never holds more than its input limit
//! plus one read.
#![no_main]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ftpwire_core::ServerConfig;
use ftpwire_core::address::{PassiveAddress, canonical_ip};
use ftpwire_core::listing::{FileKind, Metadata};
use ftpwire_core::script::{FakeHost, Log};
use ftpwire_core::server::{
    DataEndpoint, Event, FileError, LoginOutcome, PassiveError, Plan, TransferError, TransferKind,
};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Script {
    setup: Setup,
    /// Outcomes for the host's answers, used in turn (cycled).
    choices: Vec<u8>,
    steps: Vec<Step>,
}

#[derive(Arbitrary, Debug)]
struct Setup {
    tls: bool,
    require_tls: bool,
    allow_ccc: bool,
    implicit_tls: bool,
    /// The control connection: IPv4, IPv6, or IPv4-mapped IPv6.
    family: u8,
    /// 0: the default limit (4096); otherwise a small one, to hit it often.
    line_limit: u8,
    /// Passive masquerade: none, an IPv4, an IPv6, a hostname.
    external: u8,
    local_network: bool,
    tls_passive_hostname: bool,
    max_login_failures: u8,
    /// Start with USER and PASS sent (the answer still comes from `choices`),
    /// so the fuzzer spends its time past the login.
    log_in: bool,
}

#[derive(Arbitrary, Debug)]
enum Step {
    /// Raw bytes as one read from the socket.
    Send(Bytes),
    /// A command line: a known verb and either the fuzzer's own argument or,
    /// when that is empty, one of `ARGUMENTS` (deep states come faster).
    Line {
        verb: u8,
        known_argument: u8,
        argument: Bytes,
    },
    /// Answer every held event now.
    AnswerHeld,
    /// Let this many tens of milliseconds pass.
    Advance(u16),
    /// The client hung up.
    PeerClosed,
}

/// Bytes that print as a byte string (`cargo fuzz fmt` shows a crash readably).
#[derive(Arbitrary)]
struct Bytes(Vec<u8>);

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

const VERBS: &[&str] = &[
    "USER", "PASS", "ACCT", "QUIT", "REIN", "NOOP", "SYST", "STAT", "HELP", "FEAT", "OPTS", "PWD",
    "XPWD", "CWD", "XCWD", "CDUP", "XCUP", "MKD", "XMKD", "RMD", "XRMD", "DELE", "RNFR", "RNTO",
    "SIZE", "MDTM", "TYPE", "MODE", "STRU", "REST", "PASV", "EPSV", "PORT", "EPRT", "RETR", "STOR",
    "STOU", "APPE", "LIST", "NLST", "MLSD", "MLST", "ABOR", "ALLO", "SITE", "HOST", "AUTH", "PBSZ",
    "PROT", "CCC", "SMNT",
];

/// Arguments worth trying with any verb, picked when the fuzzer's own is empty.
const ARGUMENTS: &[&str] = &[
    "",
    "anonymous",
    "TLS",
    "0",
    "P",
    "C",
    "I",
    "A",
    "L 8",
    "ALL",
    "2",
    "UTF8 ON",
    "100",
    "127,0,0,1,4,1",
    "127,0,0,2,4,1",
    "127,0,0,1,0,80",
    "|1|127.0.0.1|5000|",
    "|2|::1|5000|",
    "a.txt",
    "../../etc/passwd",
    "/",
    "dir/sub",
    "-la",
    "ftp.example",
];

/// File names a real filesystem may hand back for STOU, including awkward ones.
const UNIQUE_NAMES: &[&[u8]] = &[
    b"upload.1",
    b"with space",
    b"quote\"d",
    b"caf\xc3\xa9",
    b"\xff",
];

/// Checks every event against what a host may rely on (the fake host checks
/// the rest: nothing after `Closed`, steps of the running transfer only).
struct Checks {
    /// The control connection's two ends, as the session names them.
    local: SocketAddr,
    peer: SocketAddr,
}

impl Log for Checks {
    fn event(&mut self, event: &Event<'_>) {
        match event {
            Event::OpenPassive(open) => {
                assert_eq!(open.bind, self.local.ip(), "passive listener on another IP");
            }
            Event::Stat(stat) => assert!(stat.path.starts_with(b"/"), "stat path not absolute"),
            Event::EnterDirectory(enter) => {
                assert!(enter.path.starts_with(b"/"), "CWD path not absolute")
            }
            Event::Transfer(transfer) => {
                let path = match transfer.plan {
                    Plan::Read { path, .. }
                    | Plan::Write { path, .. }
                    | Plan::List { path, .. } => path,
                    Plan::CreateUnique { directory } => directory,
                };
                assert!(path.starts_with(b"/"), "transfer path not absolute");
            }
            // RFC 2577: data connections only with the control connection's peer.
            Event::ConnectData(connect) => match connect.endpoint {
                DataEndpoint::Active(addr) => {
                    assert_eq!(addr.ip(), self.peer.ip(), "PORT bounce let through");
                    assert!(
                        addr.port() >= 1024,
                        "active connection to a privileged port"
                    );
                }
                DataEndpoint::Passive { peer } => {
                    assert_eq!(peer, self.peer.ip(), "passive accepts another peer");
                }
            },
            _ => {}
        }
    }
}

struct Host {
    /// The core's fake host; it answers only when this one says so.
    fake: FakeHost<Checks>,
    choices: Vec<u8>,
    next_choice: usize,
    hung_up: bool,
}

fuzz_target!(|script: Script| {
    let mut host = Host::new(&script.setup, script.choices);
    for step in script.steps.iter().take(200) {
        if host.fake.closed {
            break;
        }
        match step {
            Step::Send(bytes) => host.receive(&bytes.0),
            Step::Line {
                verb,
                known_argument,
                argument,
            } => {
                let mut line = VERBS[usize::from(*verb) % VERBS.len()].as_bytes().to_vec();
                let arg: &[u8] = if argument.0.is_empty() {
                    ARGUMENTS[usize::from(*known_argument) % ARGUMENTS.len()].as_bytes()
                } else {
                    &argument.0
                };
                if !arg.is_empty() {
                    line.push(b' ');
                    line.extend_from_slice(arg);
                }
                line.extend_from_slice(b"\r\n");
                host.receive(&line);
            }
            Step::AnswerHeld => host.answer_held(),
            Step::Advance(tens_of_ms) => {
                host.advance(Duration::from_millis(u64::from(*tens_of_ms) * 10))
            }
            Step::PeerClosed => host.hang_up(),
        }
    }
    // Let everything finish: answer what is held, let every timer fire.
    for _ in 0..4 {
        host.answer_held();
        host.advance(Duration::from_secs(400));
    }
    check_replies(&host.fake.out, host.fake.completed);
});

impl Host {
    fn new(setup: &Setup, choices: Vec<u8>) -> Self {
        let mut config = ServerConfig {
            tls: setup.tls,
            require_tls: setup.require_tls,
            allow_ccc: setup.allow_ccc,
            max_login_failures: u32::from(setup.max_login_failures % 5),
            ..ServerConfig::default()
        };
        if setup.line_limit != 0 {
            config.line_limit = usize::from(setup.line_limit % 64);
        }
        config.passive.external = match setup.external % 4 {
            0 => None,
            1 => Some(PassiveAddress::Ip("203.0.113.7".parse().unwrap())),
            2 => Some(PassiveAddress::Ip("2001:db8::7".parse().unwrap())),
            _ => Some(PassiveAddress::Hostname("ftp.example".into())),
        };
        if setup.local_network {
            config.passive.local_networks =
                vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
        }
        if setup.tls_passive_hostname {
            config.tls_passive_address = Some(PassiveAddress::Hostname("tls.example".into()));
        }
        let (local, peer) = match setup.family % 3 {
            0 => ("127.0.0.1:21", "127.0.0.1:40000"),
            1 => ("[::1]:21", "[::1]:40000"),
            _ => ("[::ffff:127.0.0.1]:21", "[::ffff:127.0.0.1]:40000"),
        };
        let (local, peer): (SocketAddr, SocketAddr) =
            (local.parse().unwrap(), peer.parse().unwrap());
        let checks = Checks {
            // Events name addresses as the session sees them: mapped IPv4 as IPv4.
            local: SocketAddr::new(canonical_ip(local.ip()), local.port()),
            peer: SocketAddr::new(canonical_ip(peer.ip()), peer.port()),
        };
        let fake = FakeHost::on(Arc::new(config), local, peer, setup.implicit_tls, checks);
        let mut host = Host {
            fake,
            choices,
            next_choice: 0,
            hung_up: false,
        };
        if setup.log_in {
            host.receive(b"USER alice\r\nPASS secret\r\n");
        }
        host
    }

    fn choice(&mut self) -> u8 {
        if self.choices.is_empty() {
            return 0;
        }
        let c = self.choices[self.next_choice % self.choices.len()];
        self.next_choice += 1;
        c
    }

    /// Bytes read from the socket.
    fn receive(&mut self, bytes: &[u8]) {
        // A host reads only while the session wants input.
        if self.hung_up || self.fake.closed || !self.fake.session.wants_input() {
            return;
        }
        let before = self.fake.session.held_input();
        self.fake.send(bytes);
        assert!(
            self.fake.session.held_input() <= before + bytes.len(),
            "the session holds more than it was given"
        );
        self.respond();
    }

    fn hang_up(&mut self) {
        if !self.hung_up {
            self.hung_up = true;
            self.fake.peer_closed();
        }
    }

    fn advance(&mut self, by: Duration) {
        let fake = &mut self.fake;
        fake.now = fake.now + by;
        if let Some(deadline) = fake.session.poll_timeout()
            && fake.now >= deadline
        {
            fake.session.handle_timeout(fake.now);
        }
        fake.drain();
        self.respond();
    }

    /// Answers what waits, at once, until the input says to leave the rest
    /// for later (after a file read, a handshake).
    fn respond(&mut self) {
        for _ in 0..16 {
            if self.fake.closed || !self.fake.waiting.any() || self.choice() % 4 == 3 {
                return;
            }
            self.answer_one();
        }
    }

    fn answer_held(&mut self) {
        // Bounded: an answer may leave a token waiting (a transfer still moving).
        for _ in 0..8 {
            if self.fake.closed || !self.fake.waiting.any() {
                return;
            }
            self.answer_one();
        }
    }

    /// Answers one waiting event with an outcome the input picks.
    fn answer_one(&mut self) {
        let c = self.choice();
        let h = &mut self.fake;
        let w = &h.waiting;
        if w.login.is_some() {
            h.answer_login(match c % 4 {
                0 | 1 => LoginOutcome::Accepted { read_only: false },
                2 => LoginOutcome::Accepted { read_only: true },
                _ => LoginOutcome::Rejected,
            });
        } else if let Some((_, resolve)) = w.passive {
            match c % 8 {
                6 => h.fail_passive(PassiveError::NoFreePort),
                7 => h.fail_passive(PassiveError::Unresolved),
                _ => {
                    let port = 1024 + u16::from(c) * 200;
                    let resolved = match (resolve, c % 3) {
                        (false, _) => None,
                        (true, 0) => Some("198.51.100.9".parse().unwrap()),
                        (true, 1) => Some("2001:db8::9".parse().unwrap()),
                        (true, _) => Some("::ffff:198.51.100.10".parse().unwrap()),
                    };
                    h.open_passive(port, resolved);
                }
            }
        } else if w.stat.is_some() {
            h.answer_stat(match c % 5 {
                0 | 1 => Ok(metadata(FileKind::File, c)),
                2 => Ok(metadata(FileKind::Directory, c)),
                3 => Err(FileError::NotFound),
                _ => Err(file_error(c)),
            });
        } else if w.enter.is_some() {
            h.answer_enter(if c % 3 == 0 {
                Err(file_error(c))
            } else {
                Ok(())
            });
        } else if w.change.is_some() {
            h.answer_change(if c % 3 == 0 {
                Err(file_error(c))
            } else {
                Ok(())
            });
        } else if w.tls.is_some() {
            if c % 8 == 7 {
                // The handshake failed: the host closes the connection.
                drop(h.waiting.tls.take());
                self.hang_up();
            } else {
                h.tls_established();
            }
        } else if w.open.is_some() {
            let kind = w.transfer.map(|t| t.kind);
            if c % 8 >= 6 {
                h.fail_transfer(TransferError::File(file_error(c)));
            } else if kind == Some(TransferKind::StoreUnique) {
                h.create_unique(UNIQUE_NAMES[usize::from(c) % UNIQUE_NAMES.len()]);
            } else {
                // Sometimes more than the host will report: a truncated file.
                let retrieve = kind == Some(TransferKind::Retrieve);
                h.open_storage((retrieve && c % 2 == 0).then(|| u64::from(c) * 1500));
            }
        } else if w.connect.is_some() {
            if c % 8 == 6 {
                h.fail_transfer(TransferError::NoDataConnection);
            } else {
                h.connect_data();
            }
        } else if w.secure.is_some() {
            if c % 8 == 7 {
                h.fail_transfer(TransferError::TlsFailed);
            } else {
                h.secure_data(c % 2 == 0);
            }
        } else if w.moving.is_some() {
            match c % 8 {
                // Still moving: report progress, finish on a later answer
                // (ABOR or a deadline may come first).
                5 => h.progress(u64::from(c)),
                4 => h.moved(Err(TransferError::ConnectionLost)),
                7 => h.moved(Err(TransferError::File(file_error(c)))),
                _ => h.moved(Ok(u64::from(c) * 1000)),
            }
        } else if w.closing.is_some() {
            if c % 8 == 4 {
                h.close_data(Err(TransferError::ConnectionLost));
            } else {
                h.close_data(Ok(()));
            }
        }
    }
}

fn metadata(kind: FileKind, c: u8) -> Metadata {
    Metadata {
        kind,
        size: u64::from(c) << (c % 40),
        modified: match c % 3 {
            0 => None,
            1 => Some(1_710_408_413),
            _ => Some(-i64::from(c) * 1_000_000_000),
        },
        mode: 0o600 | u32::from(c),
    }
}

fn file_error(c: u8) -> FileError {
    [
        FileError::NotFound,
        FileError::PermissionDenied,
        FileError::NotADirectory,
        FileError::IsADirectory,
        FileError::AlreadyExists,
        FileError::DirectoryNotEmpty,
        FileError::InvalidName,
        FileError::StorageFull,
        FileError::Local,
        FileError::Unsupported,
    ][usize::from(c) % 10]
}

/// The transmitted bytes are whole, well-formed replies (RFC 959 §4.2).
fn check_replies(out: &[u8], completed_transfers: usize) {
    let mut open: Option<&[u8]> = None;
    let mut transfers_complete = 0;
    for line in out.split_inclusive(|&b| b == b'\n') {
        let Some(body) = line.strip_suffix(b"\r\n") else {
            panic!(
                "reply line without CRLF: {:?}",
                String::from_utf8_lossy(line)
            );
        };
        for (i, &b) in body.iter().enumerate() {
            assert!(
                b != b'\r' || body.get(i + 1) == Some(&0),
                "bare CR inside a reply line: {:?}",
                String::from_utf8_lossy(line)
            );
        }
        let code = body.get(..3).filter(|c| c.iter().all(u8::is_ascii_digit));
        let separator = body.get(3).copied();
        match open {
            Some(first) if code == Some(first) && separator == Some(b' ') => open = None,
            Some(_) => {}
            None => {
                let code = code.unwrap_or_else(|| {
                    panic!("reply without a code: {:?}", String::from_utf8_lossy(line))
                });
                assert!(
                    (b'1'..=b'5').contains(&code[0]),
                    "reply code {code:?} out of range"
                );
                match separator {
                    Some(b'-') => open = Some(code),
                    Some(b' ') => {}
                    _ => panic!(
                        "code not followed by space or hyphen: {:?}",
                        String::from_utf8_lossy(line)
                    ),
                }
                if body.starts_with(b"226 Transfer complete") {
                    transfers_complete += 1;
                }
            }
        }
    }
    assert!(open.is_none(), "a multi-line reply never ended");
    assert!(
        transfers_complete <= completed_transfers,
        "226 sent {transfers_complete} times for {completed_transfers} completed transfers"
    );
}
