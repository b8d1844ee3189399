//! Input lines → exact reply bytes and events, through the core's fake host
//! (`crate::script::FakeHost`) answering each event the way a test says.
//! The byte-exact scripts every host runs are in `core/scripts/sessions.json`;
//! these are the tests that need more than a script can say.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::net::SocketAddr;
use core::time::Duration;

use super::*;
use crate::Instant;
use crate::address::{
    PassiveAddress, PassiveAdvertiser, PassivePolicy, PassivePortMap, PassiveRequest,
};
use crate::listing::ListFormat;
use crate::script::{DIR, FILE, FakeHost, Log};

/// The events a test sees, as text (transfer steps and `TransferEnded`
/// notices apart: a test asks for them when it cares).
#[derive(Default)]
struct Text {
    events: Vec<String>,
    /// The last ConnectData (endpoint, protection).
    last_connect: String,
    /// TransferEnded notices.
    ended: Vec<String>,
}

impl Log for Text {
    fn event(&mut self, event: &Event<'_>) {
        let text = match event {
            Event::Login(l) => format!("login {} {}", show(l.user), show(l.password)),
            Event::OpenPassive(p) => format!("open-passive {} {:?}", p.bind, p.resolve),
            Event::ClosePassive => "close-passive".to_string(),
            Event::Stat(s) => format!("stat {}", show(s.path)),
            Event::EnterDirectory(e) => format!("enter {}", show(e.path)),
            Event::FileChange(c) => match c.change {
                Change::MakeDirectory(p) => format!("mkd {}", show(p)),
                Change::RemoveDirectory(p) => format!("rmd {}", show(p)),
                Change::Delete(p) => format!("dele {}", show(p)),
                Change::Rename { from, to } => format!("rename {} {}", show(from), show(to)),
                Change::SetModified { path, modified } => {
                    format!("mfmt {} {modified}", show(path))
                }
                Change::SetPermissions { path, mode } => format!("chmod {} {mode:o}", show(path)),
            },
            Event::Transfer(t) => {
                let (path, offset, read_only, dot_files) = match t.plan {
                    Plan::Read { path, offset } => (path, offset, false, false),
                    Plan::Write { path, mode } => match mode {
                        WriteMode::At(offset) => (path, offset, false, false),
                        WriteMode::Truncate | WriteMode::Append => (path, 0, false, false),
                    },
                    Plan::CreateUnique { directory } => (directory, 0, false, false),
                    Plan::List {
                        path,
                        filter,
                        read_only,
                        format,
                    } => {
                        assert_eq!(
                            format,
                            match t.kind {
                                TransferKind::List => ListFormat::Long,
                                TransferKind::NameList => ListFormat::Names,
                                _ => ListFormat::Machine,
                            }
                        );
                        (path, 0, read_only, filter.dot_files)
                    }
                };
                let ro = if t.kind.is_listing() {
                    format!(" ro={read_only}")
                } else {
                    String::new()
                };
                format!(
                    "transfer {:?} {} offset={offset} ascii={}{ro}{}",
                    t.kind,
                    show(path),
                    t.ascii,
                    if dot_files { " dot-files" } else { "" }
                )
            }
            Event::ConnectData(c) => {
                self.last_connect = format!(
                    "connect {:?}{}",
                    c.endpoint,
                    if c.protected { " protected" } else { "" }
                );
                return;
            }
            Event::SecureData(_) | Event::MoveData(_) | Event::CloseData(_) => return,
            Event::AbortTransfer(_) => "abort".to_string(),
            Event::Notice(n @ Notice::TransferEnded { .. }) => {
                self.ended.push(format!("{n}"));
                return;
            }
            Event::UpgradeTls(_) => "upgrade-tls".to_string(),
            Event::DowngradeTls => "downgrade-tls".to_string(),
            Event::Notice(n) => format!("notice {n:?}"),
        };
        self.events.push(text);
    }
}

/// The core's fake host, events as text.
type Host = FakeHost<Text>;

impl FakeHost<Text> {
    fn new() -> Self {
        Self::with(ServerConfig::default(), "127.0.0.1:21", "127.0.0.1:40000")
    }

    fn with(config: ServerConfig, local: &str, peer: &str) -> Self {
        let mut host = FakeHost::with_log(config, local, peer, false, Text::default());
        assert_eq!(host.take(), "220 ftpwire ready\r\n");
        host
    }

    /// A host whose session is logged in (read-write) and has no output pending.
    fn logged_in() -> Self {
        let mut host = Self::new();
        host.login_as(false);
        host
    }

    fn login_as(&mut self, read_only: bool) {
        self.send("USER alice\r\nPASS secret\r\n");
        self.answer_login(LoginOutcome::Accepted { read_only });
        assert_eq!(
            self.take(),
            "331 Password required.\r\n230 Login successful.\r\n"
        );
        self.log.events.clear();
    }

    /// Drains output after an answer given straight to the session.
    fn offer(&mut self) {
        self.drain();
    }

    fn take_events(&mut self) -> Vec<String> {
        core::mem::take(&mut self.log.events)
    }

    /// Storage open, data connection up, the 150 out: TLS is asked for.
    fn start_transfer_to_tls(&mut self) {
        self.open_storage(None);
        self.connect_data();
        assert_eq!(self.take(), "150 Opening data connection.\r\n");
        self.take_events();
        assert!(self.waiting.secure.is_some(), "TLS is asked for");
    }

    /// EPSV answered with port 50000.
    fn epsv(&mut self) {
        self.send("EPSV\r\n");
        self.open_passive(50000, None);
        assert_eq!(
            self.take(),
            "229 Entering Extended Passive Mode (|||50000|)\r\n"
        );
        self.log.events.clear();
    }
}

fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn unknown_users_get_the_same_331() {
    let mut h = Host::new();
    assert_eq!(h.cmd("USER nobody-here"), "331 Password required.\r\n");
    assert_eq!(h.cmd("USER anonymous"), "331 Password required.\r\n");
}

#[test]
fn shut_down_says_421_and_closes() {
    let mut h = Host::logged_in();
    h.session.shut_down(h.now);
    h.drain();
    assert_eq!(
        h.take(),
        "421 Server shutting down; closing the connection.\r\n"
    );
    assert!(h.closed);
    // Once closed, nothing more.
    h.session.shut_down(h.now);
    h.drain();
    assert_eq!(h.take(), "");
}

#[test]
fn shut_down_lets_a_running_transfer_finish_then_421() {
    let mut h = Host::logged_in();
    h.epsv();
    h.cmd("RETR a");
    h.start_transfer();
    h.take();
    h.take_events();
    h.session.shut_down(h.now);
    h.drain();
    assert!(h.session.is_draining());
    assert_eq!(h.take(), "", "the transfer goes on");
    assert!(h.take_events().is_empty());
    // A command pipelined meanwhile never runs.
    h.send("PWD\r\n");
    h.finish_transfer(Ok(9));
    assert_eq!(
        h.take(),
        "226 Transfer complete.\r\n421 Server shutting down; closing the connection.\r\n"
    );
    assert!(h.closed);
}

#[test]
fn shut_down_now_during_a_transfer_aborts_it() {
    let mut h = Host::logged_in();
    h.epsv();
    h.cmd("RETR a");
    h.start_transfer();
    h.take();
    h.take_events();
    h.session.shut_down_now(h.now);
    h.drain();
    assert_eq!(h.take_events(), ["abort"], "the transfer is stopped");
    assert_eq!(
        h.take(),
        "421 Server shutting down; closing the connection.\r\n"
    );
    assert!(h.closed);
}

#[test]
fn a_transfer_refused_before_its_data_connection_keeps_the_passive_listener() {
    let mut h = Host::logged_in();
    h.epsv();
    h.cmd("RETR missing");
    h.take_events();
    h.finish_transfer(Err(FileError::NotFound.into()));
    assert_eq!(h.take(), "550 No such file or directory.\r\n");
    // No close-passive: the client may connect now and send the next command.
    assert!(h.take_events().is_empty());
    h.cmd("LIST gone");
    assert_eq!(
        h.take_events(),
        ["transfer List /gone offset=0 ascii=false ro=false"]
    );
    h.finish_transfer(Err(FileError::NotFound.into()));
    assert_eq!(h.take(), "550 No such file or directory.\r\n");
    h.cmd("RETR a");
    assert_eq!(
        h.take_events(),
        ["transfer Retrieve /a offset=0 ascii=true"]
    );
    h.start_transfer();
    h.finish_transfer(Ok(3));
    assert_eq!(
        h.take(),
        "150 Opening data connection.\r\n226 Transfer complete.\r\n"
    );
    // Used: the listener goes, and the next transfer needs a new PASV/EPSV.
    assert_eq!(h.take_events(), ["close-passive"]);
    assert_eq!(
        h.cmd("RETR a"),
        "425 Use PORT, EPRT, PASV or EPSV first.\r\n"
    );
}

#[test]
fn a_transfer_that_failed_on_its_data_connection_closes_the_passive_listener() {
    let mut h = Host::logged_in();
    h.epsv();
    h.cmd("RETR a");
    h.take_events();
    h.finish_transfer(Err(TransferError::NoDataConnection));
    assert_eq!(h.take(), "425 Cannot open data connection.\r\n");
    assert_eq!(h.take_events(), ["close-passive"]);
    // A file error after the data connection was up (150) uses it up too.
    h.epsv();
    h.cmd("STOR b");
    h.take_events();
    h.start_transfer();
    h.finish_transfer(Err(FileError::StorageFull.into()));
    assert_eq!(
        h.take(),
        "150 Opening data connection.\r\n452 Insufficient storage space.\r\n"
    );
    assert_eq!(h.take_events(), ["close-passive"]);
}

#[test]
fn directories() {
    let mut h = Host::logged_in();
    assert_eq!(h.cmd("CWD pub/../docs"), "");
    assert_eq!(h.take_events(), ["enter /docs"]);
    h.answer_enter(Ok(()));
    assert_eq!(h.take(), "250 Directory changed.\r\n");
    assert_eq!(h.cmd("PWD"), "257 \"/docs\" is the current directory.\r\n");
    h.cmd("CWD file");
    h.answer_enter(Err(FileError::NotADirectory));
    assert_eq!(h.take(), "550 Not a directory.\r\n");
    h.cmd("CWD missing");
    h.answer_enter(Err(FileError::NotFound));
    assert_eq!(h.take(), "550 No such file or directory.\r\n");
    // A directory the server may not enter (mode 000) stays where it was.
    h.cmd("CWD locked");
    h.answer_enter(Err(FileError::PermissionDenied));
    assert_eq!(h.take(), "550 Permission denied.\r\n");
    assert_eq!(h.cmd("PWD"), "257 \"/docs\" is the current directory.\r\n");
    h.take_events();
    assert_eq!(h.cmd("CDUP"), "");
    assert_eq!(h.take_events(), ["enter /"]);
    h.answer_enter(Ok(()));
    assert_eq!(h.take(), "250 Directory changed.\r\n");
    assert_eq!(h.cmd("XPWD"), "257 \"/\" is the current directory.\r\n");
    h.cmd("CDUP");
    assert_eq!(h.take_events(), ["enter /"]);
    h.answer_enter(Ok(()));
    assert_eq!(h.take(), "250 Directory changed.\r\n");
    assert_eq!(h.cmd("PWD"), "257 \"/\" is the current directory.\r\n");
    h.cmd("CWD /docs");
    h.answer_enter(Ok(()));
    assert_eq!(h.cmd("XCUP"), "250 Directory changed.\r\n");
    h.answer_enter(Err(FileError::PermissionDenied));
    assert_eq!(h.take(), "550 Permission denied.\r\n");
    assert_eq!(h.cmd("PWD"), "257 \"/docs\" is the current directory.\r\n");
    h.cmd("CDUP");
    h.answer_enter(Ok(()));
    h.take();
    h.take_events();

    assert_eq!(h.cmd("MKD new \"dir\""), "");
    assert_eq!(h.take_events(), ["mkd /new \"dir\""]);
    h.answer_change(Ok(()));
    assert_eq!(h.take(), "257 \"/new \"\"dir\"\"\" created.\r\n");
    h.cmd("RMD full");
    assert_eq!(h.take_events(), ["rmd /full"]);
    h.answer_change(Err(FileError::DirectoryNotEmpty));
    assert_eq!(h.take(), "550 Directory not empty.\r\n");
    h.cmd("DELE a.txt");
    assert_eq!(h.take_events(), ["dele /a.txt"]);
    h.answer_change(Ok(()));
    assert_eq!(h.take(), "250 File deleted.\r\n");
    assert_eq!(
        h.cmd("RMD /"),
        "550 The root directory cannot be changed.\r\n"
    );
    assert_eq!(
        h.cmd("RMD .."),
        "550 The root directory cannot be changed.\r\n"
    );
}

#[test]
fn size_mdtm_mlst() {
    let mut h = Host::logged_in();
    h.cmd("SIZE a.txt");
    h.answer_stat(Ok(FILE));
    assert_eq!(h.take(), "213 1234\r\n");
    h.cmd("SIZE dir");
    h.answer_stat(Ok(DIR));
    assert_eq!(h.take(), "550 Not a plain file.\r\n");
    h.cmd("MDTM a.txt");
    h.answer_stat(Ok(FILE));
    assert_eq!(h.take(), "213 20240314092653\r\n");
    h.take_events();
    h.cmd("MLST a.txt");
    assert_eq!(h.take_events(), ["stat /a.txt"]);
    h.answer_stat(Ok(FILE));
    assert_eq!(
        h.take(),
        "250-Listing\r\n type=file;size=1234;modify=20240314092653;perm=radfw; /a.txt\r\n250 End.\r\n"
    );
}

#[test]
fn read_only_logins_cannot_write() {
    let mut h = Host::new();
    h.login_as(true);
    let denied = "550 Permission denied: this login is read-only.\r\n";
    h.epsv();
    for line in [
        "STOR a", "APPE a", "STOU", "DELE a", "MKD a", "RMD a", "RNFR a",
    ] {
        assert_eq!(h.cmd(line), denied, "{line}");
        // The refusal reaches the operator's log, naming the command.
        let verb = line.split(' ').next().unwrap();
        assert_eq!(
            h.take_events(),
            [format!(
                "notice ReadOnlyRefused {{ user: {:?}, command: {verb:?} }}",
                b"alice"
            )],
            "{line}"
        );
    }
    h.cmd("RETR a");
    assert_eq!(
        h.take_events(),
        ["transfer Retrieve /a offset=0 ascii=true"]
    );
}

#[test]
fn read_only_logins_cannot_set_times_or_modes() {
    let mut h = Host::new();
    h.login_as(true);
    let denied = "550 Permission denied: this login is read-only.\r\n";
    for (line, verb) in [
        ("MFMT 20240314092653 a", "MFMT"),
        ("SITE CHMOD 644 a", "SITE CHMOD"),
    ] {
        assert_eq!(h.cmd(line), denied, "{line}");
        assert_eq!(
            h.take_events(),
            [format!(
                "notice ReadOnlyRefused {{ user: {:?}, command: {verb:?} }}",
                b"alice"
            )],
            "{line}"
        );
    }
}

#[test]
fn mfmt_sets_the_modification_time() {
    let mut h = Host::logged_in();
    h.cmd("CWD /pub");
    h.answer_enter(Ok(()));
    h.take();
    h.take_events();
    assert_eq!(h.cmd("MFMT 20240314092653 a b.txt"), "");
    assert_eq!(h.take_events(), ["mfmt /pub/a b.txt 1710408413"]);
    h.answer_change(Ok(()));
    assert_eq!(h.take(), "213 Modify=20240314092653; /pub/a b.txt\r\n");
    // A failure is the storage's error; one that cannot set times says so.
    h.cmd("MFMT 20240314092653 missing");
    h.answer_change(Err(FileError::NotFound));
    assert_eq!(h.take(), "550 No such file or directory.\r\n");
    h.cmd("MFMT 20240314092653 x");
    h.answer_change(Err(FileError::Unsupported));
    assert_eq!(h.take(), "502 This server's storage cannot do that.\r\n");
    // The path echoed is escaped like every path in a reply.
    h.take_events();
    h.cmd("MFMT 19700101000000 a\rb");
    assert_eq!(h.take_events(), ["mfmt /pub/a\rb 0"]);
    h.answer_change(Ok(()));
    assert_eq!(h.take(), "213 Modify=19700101000000; /pub/a\r\0b\r\n");
    assert_eq!(
        h.cmd("MFMT 20240314092653 /"),
        "550 The root directory cannot be changed.\r\n"
    );
}

#[test]
fn site_chmod_sets_permission_bits_only() {
    let mut h = Host::logged_in();
    assert_eq!(h.cmd("SITE CHMOD 640 a.txt"), "");
    assert_eq!(h.take_events(), ["chmod /a.txt 640"]);
    h.answer_change(Ok(()));
    assert_eq!(h.take(), "200 SITE CHMOD command ok.\r\n");
    h.cmd("site chmod 0755 dir");
    assert_eq!(h.take_events(), ["chmod /dir 755"]);
    h.answer_change(Err(FileError::PermissionDenied));
    assert_eq!(h.take(), "550 Permission denied.\r\n");
    // No setuid, setgid or sticky bits from a client.
    assert_eq!(
        h.cmd("SITE CHMOD 4755 a.txt"),
        "504 SITE CHMOD sets permission bits only (000 to 777).\r\n"
    );
    assert!(h.take_events().is_empty());
}

#[test]
fn list_hides_dot_files_unless_asked() {
    let mut h = Host::logged_in();
    for (line, expected) in [
        ("LIST", "transfer List / offset=0 ascii=false ro=false"),
        ("LIST -l", "transfer List / offset=0 ascii=false ro=false"),
        (
            "LIST -la",
            "transfer List / offset=0 ascii=false ro=false dot-files",
        ),
        (
            "LIST -a pub",
            "transfer List /pub offset=0 ascii=false ro=false dot-files",
        ),
        ("NLST", "transfer NameList / offset=0 ascii=false ro=false"),
        (
            "NLST -A",
            "transfer NameList / offset=0 ascii=false ro=false dot-files",
        ),
        (
            "MLSD",
            "transfer MachineList / offset=0 ascii=false ro=false dot-files",
        ),
        // A writable login reaches dot files by name.
        ("RETR .env", "transfer Retrieve /.env offset=0 ascii=true"),
    ] {
        h.cmd("PORT 127,0,0,1,195,80");
        h.cmd(line);
        assert_eq!(h.take_events(), [expected], "{line}");
        h.finish_transfer(Ok(0));
        h.take();
    }
    let config = ServerConfig {
        show_dot_files: true,
        ..ServerConfig::default()
    };
    let mut h = Host::with(config, "127.0.0.1:21", "127.0.0.1:40000");
    h.login_as(false);
    h.cmd("PORT 127,0,0,1,195,80");
    h.cmd("NLST");
    assert_eq!(
        h.take_events(),
        ["transfer NameList / offset=0 ascii=false ro=false dot-files"]
    );
}

#[test]
fn read_only_logins_never_reach_dot_files_unless_shared() {
    let refused = "550 Permission denied: dot files are not served to this login.\r\n";
    for shared in [false, true] {
        let config = ServerConfig {
            share_dot_files: shared,
            show_dot_files: true,
            ..ServerConfig::default()
        };
        let mut h = Host::with(config, "127.0.0.1:21", "127.0.0.1:40000");
        h.login_as(true);
        h.cmd("PORT 127,0,0,1,195,80");
        for line in [
            "RETR .git/config",
            "RETR /pub/.env",
            "LIST -la .git",
            "NLST .git",
            "MLSD .git",
            "CWD .git",
            "CWD pub/../.git/objects",
            "SIZE .env",
            "MDTM .env",
            "MLST .ssh",
        ] {
            let replies = h.cmd(line);
            let events = h.take_events();
            if shared {
                assert_eq!(replies, "", "{line}");
                assert_eq!(events.len(), 1, "{line}: {events:?}");
                if h.waiting.enter.is_some() {
                    h.answer_enter(Err(FileError::NotFound));
                } else if h.waiting.stat.is_some() {
                    h.answer_stat(Err(FileError::NotFound));
                } else {
                    h.finish_transfer(Err(TransferError::File(FileError::NotFound)));
                    h.cmd("PORT 127,0,0,1,195,80");
                }
                h.take();
            } else {
                assert_eq!(replies, refused, "{line}");
                assert!(events.is_empty(), "{line}: {events:?}");
            }
        }
        // Listings leave dot entries out for this login unless shared, -a or not.
        h.cmd("MLSD");
        let expected = if shared { " dot-files" } else { "" };
        assert_eq!(
            h.take_events(),
            [format!(
                "transfer MachineList / offset=0 ascii=false ro=true{expected}"
            )]
        );
        // Names that merely contain a dot are not dot files.
        h.finish_transfer(Ok(0));
        h.take();
        h.cmd("PORT 127,0,0,1,195,80");
        h.cmd("RETR pub/a.b.txt");
        assert_eq!(
            h.take_events(),
            ["transfer Retrieve /pub/a.b.txt offset=0 ascii=true"]
        );
    }
}

fn masquerade(external: &str, local_networks: &[&str], peer: &str) -> Host {
    let config = ServerConfig {
        passive: PassivePolicy {
            external: Some(external.parse::<PassiveAddress>().unwrap()),
            local_networks: local_networks.iter().map(|n| n.parse().unwrap()).collect(),
        },
        ..ServerConfig::default()
    };
    let mut h = Host::with(config, "10.0.0.5:21", peer);
    h.login_as(false);
    h
}

#[test]
fn pasv_advertises_the_external_address_to_outside_peers() {
    let mut h = masquerade("203.0.113.7", &["10.0.0.0/8"], "198.51.100.20:5000");
    h.cmd("PASV");
    assert_eq!(h.take_events(), ["open-passive 10.0.0.5 None"]);
    h.open_passive(50000, None);
    assert_eq!(
        h.take(),
        "227 Entering Passive Mode (203,0,113,7,195,80).\r\n"
    );
}

#[test]
fn pasv_advertises_the_local_address_to_local_peers() {
    let mut h = masquerade("203.0.113.7", &["10.0.0.0/8"], "10.1.2.3:5000");
    h.cmd("PASV");
    h.open_passive(50000, None);
    assert_eq!(h.take(), "227 Entering Passive Mode (10,0,0,5,195,80).\r\n");
}

#[test]
fn pasv_resolves_a_hostname_each_time() {
    let mut h = masquerade("ftp.example.com", &[], "198.51.100.20:5000");
    for ip in ["203.0.113.7", "203.0.113.99"] {
        h.cmd("PASV");
        assert_eq!(
            h.take_events(),
            ["open-passive 10.0.0.5 Some(\"ftp.example.com\")"]
        );
        h.open_passive(50000, Some(ip.parse().unwrap()));
        let expected = format!(
            "227 Entering Passive Mode ({},195,80).\r\n",
            ip.replace('.', ",")
        );
        assert_eq!(h.take(), expected);
    }
    // A hostname that does not resolve: the listener is closed, EPSV is suggested.
    h.cmd("PASV");
    h.open_passive(50000, None);
    assert_eq!(
        h.take(),
        "425 The passive address hostname did not resolve to an IPv4 address; use EPSV.\r\n"
    );
    assert_eq!(
        h.take_events(),
        [
            "open-passive 10.0.0.5 Some(\"ftp.example.com\")",
            "close-passive"
        ]
    );
    // EPSV never needs the address.
    h.cmd("EPSV");
    assert_eq!(h.take_events(), ["open-passive 10.0.0.5 None"]);
}

#[test]
fn passive_listener_failure_is_425() {
    let mut h = Host::logged_in();
    h.cmd("EPSV");
    let token = h.waiting.passive.take().unwrap().0;
    h.session.passive_failed(token, PassiveError::NoFreePort);
    h.offer();
    assert_eq!(
        h.take(),
        "425 Cannot open a passive listener: no free port in the passive range.\r\n"
    );
    assert_eq!(
        h.cmd("RETR a"),
        "425 Use PORT, EPRT, PASV or EPSV first.\r\n"
    );
}

/// Records what it was asked and advertises `address`, or NodePort-style
/// `bound - 20000` with the policy's address when `address` is `None`.
#[derive(Debug, Default)]
struct Advertiser {
    address: Option<SocketAddr>,
    asked: std::sync::Mutex<Vec<PassiveRequest>>,
}

impl PassiveAdvertiser for Advertiser {
    fn advertise(&self, request: &PassiveRequest) -> SocketAddr {
        self.asked.lock().unwrap().push(*request);
        self.address
            .unwrap_or_else(|| SocketAddr::new(request.policy.ip(), request.bound_port - 20000))
    }
}

fn advertised_by(advertiser: &Arc<Advertiser>, policy: PassivePolicy, peer: &str) -> Host {
    let config = ServerConfig {
        passive: policy,
        passive_advertiser: Some(advertiser.clone()),
        ..ServerConfig::default()
    };
    let mut h = Host::with(config, "10.0.0.5:21", peer);
    h.login_as(false);
    h
}

#[test]
fn the_host_chooses_the_advertised_address_and_port_of_a_227() {
    let advertiser = Arc::new(Advertiser {
        address: Some("198.51.100.9:30001".parse().unwrap()),
        ..Advertiser::default()
    });
    let mut h = advertised_by(&advertiser, PassivePolicy::default(), "192.0.2.4:5000");
    h.cmd("PASV");
    assert_eq!(h.take_events(), ["open-passive 10.0.0.5 None"]);
    // Bound on 50000; the client is told 198.51.100.9:30001.
    h.open_passive(50000, None);
    assert_eq!(
        h.take(),
        "227 Entering Passive Mode (198,51,100,9,117,49).\r\n"
    );
    let asked = advertiser.asked.lock().unwrap().clone();
    assert_eq!(
        asked,
        [PassiveRequest {
            peer: "192.0.2.4:5000".parse().unwrap(),
            local: "10.0.0.5:21".parse().unwrap(),
            bound_port: 50000,
            extended: false,
            secured: false,
            policy: "10.0.0.5:50000".parse().unwrap(),
        }]
    );
}

#[test]
fn the_host_is_given_the_policy_choice_and_may_keep_its_address() {
    // The masquerade address stays; only the port is mapped.
    let advertiser = Arc::new(Advertiser::default());
    let policy = PassivePolicy {
        external: Some("203.0.113.7".parse().unwrap()),
        local_networks: alloc::vec!["10.0.0.0/8".parse().unwrap()],
    };
    let mut h = advertised_by(&advertiser, policy, "198.51.100.20:5000");
    h.cmd("PASV");
    h.open_passive(50000, None);
    assert_eq!(
        h.take(),
        "227 Entering Passive Mode (203,0,113,7,117,48).\r\n"
    );
    assert_eq!(
        advertiser.asked.lock().unwrap()[0].policy,
        "203.0.113.7:50000".parse().unwrap()
    );
}

#[test]
fn epsv_advertises_only_the_host_chosen_port() {
    let advertiser = Arc::new(Advertiser {
        address: Some("198.51.100.9:30001".parse().unwrap()),
        ..Advertiser::default()
    });
    let mut h = advertised_by(&advertiser, PassivePolicy::default(), "192.0.2.4:5000");
    h.cmd("EPSV");
    h.open_passive(50000, None);
    assert_eq!(
        h.take(),
        "229 Entering Extended Passive Mode (|||30001|)\r\n"
    );
    let asked = advertiser.asked.lock().unwrap()[0];
    assert!(asked.extended && asked.bound_port == 50000, "{asked:?}");
    // The data connection is still awaited on the bound listener, from the peer.
    h.cmd("RETR a");
    h.open_storage(None);
    assert_eq!(h.log.last_connect, "connect Passive { peer: 192.0.2.4 }");
}

#[test]
fn a_host_chosen_ipv6_address_cannot_go_into_a_227() {
    let advertiser = Arc::new(Advertiser {
        address: Some("[2001:db8::1]:30001".parse().unwrap()),
        ..Advertiser::default()
    });
    let mut h = advertised_by(&advertiser, PassivePolicy::default(), "192.0.2.4:5000");
    h.cmd("PASV");
    h.open_passive(50000, None);
    assert_eq!(h.take(), "425 No IPv4 address to advertise; use EPSV.\r\n");
    assert_eq!(
        h.take_events(),
        ["open-passive 10.0.0.5 None", "close-passive"]
    );
}

#[test]
fn a_port_map_advertises_mapped_ports_and_leaves_others() {
    let map: PassivePortMap = "50000-50009:30000".parse().unwrap();
    let config = ServerConfig {
        passive_advertiser: Some(Arc::new(map)),
        ..ServerConfig::default()
    };
    let mut h = Host::with(config, "10.0.0.5:21", "192.0.2.4:5000");
    h.login_as(false);
    h.cmd("PASV");
    h.open_passive(50009, None);
    assert_eq!(h.take(), "227 Entering Passive Mode (10,0,0,5,117,57).\r\n");
    h.cmd("PASV");
    h.open_passive(50010, None);
    assert_eq!(h.take(), "227 Entering Passive Mode (10,0,0,5,195,90).\r\n");
}

#[test]
fn ipv6_control_connections() {
    let mut h = Host::with(ServerConfig::default(), "[::1]:21", "[::1]:40000");
    h.login_as(false);
    assert_eq!(
        h.cmd("PASV"),
        "522 PASV cannot carry an IPv6 address; use EPSV (RFC 2428).\r\n"
    );
    assert_eq!(
        h.cmd("EPSV 1"),
        "522 Network protocol not supported, use (2).\r\n"
    );
    h.cmd("EPSV 2");
    assert_eq!(h.take_events(), ["open-passive ::1 None"]);
    h.open_passive(50000, None);
    assert_eq!(
        h.take(),
        "229 Entering Extended Passive Mode (|||50000|)\r\n"
    );
    assert_eq!(
        h.cmd("EPRT |2|::1|50001|"),
        "200 EPRT command successful.\r\n"
    );
    assert_eq!(
        h.take_events(),
        ["close-passive", "notice PassiveFallback { verb: \"EPRT\" }"]
    );
    h.cmd("RETR a");
    assert_eq!(
        h.take_events(),
        ["transfer Retrieve /a offset=0 ascii=true"]
    );
    h.open_storage(None);
    assert_eq!(h.log.last_connect, "connect Active([::1]:50001)");
}

#[test]
fn ipv4_mapped_addresses_count_as_ipv4() {
    let mut h = Host::with(
        ServerConfig::default(),
        "[::ffff:127.0.0.1]:21",
        "[::ffff:127.0.0.1]:4000",
    );
    h.login_as(false);
    h.cmd("PASV");
    assert_eq!(h.take_events(), ["open-passive 127.0.0.1 None"]);
    h.open_passive(50000, None);
    assert_eq!(
        h.take(),
        "227 Entering Passive Mode (127,0,0,1,195,80).\r\n"
    );
    assert_eq!(
        h.cmd("PORT 127,0,0,1,200,10"),
        "200 PORT command successful.\r\n"
    );
}

#[test]
fn port_and_eprt_refuse_bounces_and_privileged_ports() {
    let mut h = Host::logged_in();
    assert_eq!(
        h.cmd("PORT 127,0,0,2,200,10"),
        "504 PORT refused: address is not the client's own (RFC 2577).\r\n"
    );
    assert_eq!(
        h.cmd("PORT 127,0,0,1,0,80"),
        "504 PORT refused: port below 1024 (RFC 2577).\r\n"
    );
    assert_eq!(
        h.cmd("EPRT |1|10.9.8.7|50000|"),
        "504 EPRT refused: address is not the client's own (RFC 2577).\r\n"
    );
    assert_eq!(
        h.take_events(),
        [
            "notice PortRefused { addr: 127.0.0.2:51210, reason: \"address is not the client's own\" }",
            "notice PortRefused { addr: 127.0.0.1:80, reason: \"port below 1024\" }",
            "notice PortRefused { addr: 10.9.8.7:50000, reason: \"address is not the client's own\" }",
        ]
    );
    // Nothing was set up by the refused commands.
    assert_eq!(
        h.cmd("RETR a"),
        "425 Use PORT, EPRT, PASV or EPSV first.\r\n"
    );
    assert_eq!(
        h.cmd("PORT 127,0,0,1,200,10"),
        "200 PORT command successful.\r\n"
    );
    h.cmd("LIST -la");
    assert_eq!(
        h.take_events(),
        ["transfer List / offset=0 ascii=false ro=false dot-files"]
    );
    h.open_storage(None);
    assert_eq!(h.log.last_connect, "connect Active(127.0.0.1:51210)");
}

#[test]
fn a_transfer_replies_150_then_226() {
    let mut h = Host::logged_in();
    h.cmd("TYPE I");
    h.epsv();
    assert_eq!(h.cmd("RETR docs/a.bin"), "");
    assert_eq!(
        h.take_events(),
        ["transfer Retrieve /docs/a.bin offset=0 ascii=false"]
    );
    h.start_transfer();
    assert_eq!(h.take(), "150 Opening data connection.\r\n");
    h.finish_transfer(Ok(1234));
    assert_eq!(h.take(), "226 Transfer complete.\r\n");
    // The data connection set-up is used up.
    assert_eq!(
        h.cmd("RETR a"),
        "425 Use PORT, EPRT, PASV or EPSV first.\r\n"
    );
}

#[test]
fn transfer_failures_never_say_226() {
    let cases: [(Result<u64, TransferError>, bool, &str); 9] = [
        (
            Err(FileError::NotFound.into()),
            false,
            "550 No such file or directory.\r\n",
        ),
        (
            Err(FileError::InvalidName.into()),
            false,
            "553 File name not allowed.\r\n",
        ),
        (
            Err(TransferError::NoDataConnection),
            false,
            "425 Cannot open data connection.\r\n",
        ),
        (
            Err(TransferError::ConnectionLost),
            true,
            "150 Opening data connection.\r\n426 Data connection closed; transfer aborted.\r\n",
        ),
        (
            Err(FileError::StorageFull.into()),
            true,
            "150 Opening data connection.\r\n452 Insufficient storage space.\r\n",
        ),
        (
            Err(FileError::Local.into()),
            true,
            "150 Opening data connection.\r\n451 Local error in processing.\r\n",
        ),
        (
            Err(TransferError::Aborted),
            true,
            "150 Opening data connection.\r\n426 Transfer aborted.\r\n",
        ),
        (
            Err(TransferError::TlsFailed),
            true,
            "150 Opening data connection.\r\n425 TLS negotiation on the data connection failed.\r\n",
        ),
        (
            Err(TransferError::TlsSessionNotReused),
            true,
            "150 Opening data connection.\r\n522 The data connection must resume the control connection's TLS session.\r\n",
        ),
    ];
    for (result, started, expected) in cases {
        let mut h = Host::logged_in();
        h.epsv();
        h.cmd("STOR x");
        if started {
            h.start_transfer();
        }
        h.finish_transfer(result);
        assert_eq!(h.take(), expected, "{result:?}");
        assert_eq!(h.cmd("NOOP"), "200 NOOP ok.\r\n");
    }
}

#[test]
fn abor_during_a_transfer_is_426_then_226() {
    let mut h = Host::logged_in();
    h.epsv();
    h.cmd("RETR big");
    h.start_transfer();
    assert_eq!(h.take(), "150 Opening data connection.\r\n");
    h.take_events();
    // Telnet IP + Synch, then ABOR, as RFC 959 clients send it.
    h.send(b"\xff\xf4\xff\xf2ABOR\r\n");
    assert_eq!(
        h.take(),
        "426 Transfer aborted.\r\n226 ABOR successful.\r\n"
    );
    assert_eq!(h.take_events(), ["abort"]);
    assert_eq!(
        h.log.ended,
        ["RETR /big failed: transfer aborted (0 bytes in 0 ms) (alice)"]
    );
    assert_eq!(h.cmd("NOOP"), "200 NOOP ok.\r\n");
}

#[test]
fn commands_during_a_transfer_wait_except_noop_stat_abor() {
    let mut h = Host::logged_in();
    h.epsv();
    h.cmd("RETR big");
    h.start_transfer();
    h.take();
    h.send("NOOP\r\nSTAT\r\nPWD\r\nNOOP\r\n");
    assert_eq!(h.take(), "200 NOOP ok.\r\n211 Transfer in progress.\r\n");
    assert_eq!(h.session.held_input(), b"PWD\r\nNOOP\r\n".len());
    h.finish_transfer(Ok(10));
    assert_eq!(
        h.take(),
        "226 Transfer complete.\r\n257 \"/\" is the current directory.\r\n200 NOOP ok.\r\n"
    );
}

#[test]
fn a_held_line_split_across_reads_runs_after_the_transfer() {
    let mut h = Host::logged_in();
    h.epsv();
    h.cmd("RETR big");
    h.start_transfer();
    h.take();
    h.send("PW");
    h.send("D\r\n");
    assert_eq!(h.take(), "");
    h.finish_transfer(Ok(10));
    assert_eq!(
        h.take(),
        "226 Transfer complete.\r\n257 \"/\" is the current directory.\r\n"
    );
}

#[test]
fn the_data_connection_timeout_is_425() {
    let mut h = Host::logged_in();
    h.epsv();
    h.cmd("RETR a");
    h.take_events();
    h.open_storage(None);
    assert_eq!(h.log.last_connect, "connect Passive { peer: 127.0.0.1 }");
    let (session, seq) = {
        let token = h.waiting.connect.as_ref().unwrap();
        (token.session, token.seq)
    };
    h.advance(Duration::from_secs(29));
    assert!(h.take_events().is_empty());
    h.advance(Duration::from_secs(1));
    assert_eq!(h.take(), "425 No data connection was made in time.\r\n");
    assert_eq!(h.take_events(), ["abort", "close-passive"]);
    // The connection the host made too late: refused with a notice.
    h.session
        .data_connected(ConnectToken::new(session, seq), h.now);
    h.offer();
    assert_eq!(h.take(), "");
    assert_eq!(
        h.take_events(),
        ["notice StaleAnswer { answer: \"data connection\" }"]
    );
}

#[test]
fn rest_applies_to_the_next_transfer_only() {
    let mut h = Host::logged_in();
    assert_eq!(
        h.cmd("REST 1000"),
        "350 Restarting at 1000; send RETR or STOR.\r\n"
    );
    h.epsv();
    h.cmd("RETR a");
    assert_eq!(
        h.take_events(),
        ["transfer Retrieve /a offset=1000 ascii=true"]
    );
    h.finish_transfer(Ok(5));
    h.take();
    h.epsv();
    h.cmd("STOR a");
    assert_eq!(h.take_events(), ["transfer Store /a offset=0 ascii=true"]);
}

#[test]
fn only_stou_answers_with_a_unique_name() {
    let mut h = Host::logged_in();
    h.epsv();
    h.cmd("RETR a");
    h.take_events();
    let (session, seq) = (
        h.waiting.open.as_ref().unwrap().session,
        h.waiting.open.as_ref().unwrap().seq,
    );
    h.session
        .unique_created(OpenToken::new(session, seq), b"x", h.now);
    h.offer();
    assert_eq!(h.take(), "");
    assert_eq!(
        h.take_events(),
        ["notice WrongAnswer { answer: \"storage\" }"]
    );
    assert!(h.waiting.connect.is_none(), "not applied");
    h.finish_transfer(Ok(1));
    assert_eq!(
        h.take(),
        "150 Opening data connection.\r\n226 Transfer complete.\r\n"
    );
}

#[test]
fn stou_names_the_file_in_its_150() {
    let mut h = Host::logged_in();
    h.epsv();
    h.cmd("STOU");
    assert_eq!(
        h.take_events(),
        ["transfer StoreUnique / offset=0 ascii=true"]
    );
    let token = h.waiting.open.take().unwrap();
    h.session.unique_created(token, b"ftpwire.1", h.now);
    h.offer();
    h.finish_transfer(Ok(3));
    assert_eq!(
        h.take(),
        "150 FILE: ftpwire.1\r\n226 Transfer complete.\r\n"
    );
}

#[test]
fn a_long_transfer_is_not_idleness() {
    let mut h = Host::logged_in();
    h.epsv();
    h.cmd("RETR a");
    h.start_transfer();
    h.take();
    // 1,000 s of data moving (progress every 200 s): neither idle nor stalled.
    for step in 1..=5 {
        h.advance(Duration::from_secs(200));
        let token = h.waiting.moving.as_ref().unwrap();
        h.session.data_progress(token, step << 20, h.now);
    }
    assert_eq!(h.take(), "");
    assert!(!h.closed);
    h.finish_transfer(Ok(5 << 20));
    assert_eq!(h.take(), "226 Transfer complete.\r\n");
}

#[test]
fn a_transfer_that_moves_nothing_for_the_stall_timeout_is_426() {
    let mut h = Host::logged_in();
    h.epsv();
    h.cmd("RETR a");
    h.start_transfer();
    h.take();
    h.take_events();
    h.advance(Duration::from_secs(200));
    let token = h.waiting.moving.as_ref().unwrap();
    h.session.data_progress(token, 4096, h.now);
    h.advance(Duration::from_secs(299));
    assert_eq!(h.take(), "");
    h.advance(Duration::from_secs(1));
    assert_eq!(
        h.take(),
        "426 No data moved for too long; transfer aborted.\r\n"
    );
    assert_eq!(h.take_events(), ["abort"]);
    assert_eq!(
        h.log.ended,
        [
            "RETR /a failed: no data moved within the stall timeout (4096 bytes in 500000 ms) (alice)"
        ]
    );
    assert_eq!(h.cmd("NOOP"), "200 NOOP ok.\r\n");
}

#[test]
fn peer_close_during_a_transfer_aborts_it() {
    let mut h = Host::logged_in();
    h.epsv();
    h.cmd("RETR a");
    h.take_events();
    h.session.handle_peer_closed();
    h.offer();
    assert_eq!(h.take_events(), ["abort", "close-passive"]);
    assert_eq!(
        h.log.ended,
        ["RETR /a failed: transfer aborted (0 bytes in 0 ms) (alice)"]
    );
    assert!(h.closed);
}

#[test]
fn a_stale_answer_is_ignored_with_a_notice() {
    let mut h = Host::logged_in();
    h.cmd("SIZE a");
    h.take_events();
    let token = h.waiting.stat.as_ref().unwrap();
    let (session, seq) = (token.session, token.seq);
    let stale = StatToken::new(session, seq + 100);
    h.session.stat_done(stale, Ok(FILE));
    h.offer();
    assert_eq!(h.take(), "");
    assert_eq!(h.take_events(), ["notice StaleAnswer { answer: \"stat\" }"]);
    h.answer_stat(Ok(FILE));
    assert_eq!(h.take(), "213 1234\r\n");
    // The same answer again: the session no longer waits for it.
    let again = StatToken::new(session, seq);
    h.session.stat_done(again, Ok(FILE));
    h.offer();
    assert_eq!(h.take(), "");
    assert_eq!(h.take_events(), ["notice StaleAnswer { answer: \"stat\" }"]);
}

#[test]
fn a_crossed_token_is_refused_not_applied() {
    // Two sessions; A's login token handed to B must not log B in.
    let mut a = Host::new();
    let mut b = Host::new();
    a.send("USER alice\r\nPASS secret\r\n");
    b.send("USER mallory\r\nPASS guess\r\n");
    let from_a = a.waiting.login.take().unwrap();
    assert_eq!(
        from_a.seq,
        b.waiting.login.as_ref().unwrap().seq,
        "same sequence number"
    );
    b.session
        .login(from_a, LoginOutcome::Accepted { read_only: false });
    b.offer();
    assert_eq!(b.take(), "331 Password required.\r\n");
    assert!(
        b.take_events()
            .contains(&"notice ForeignAnswer { answer: \"login\" }".to_string())
    );
    assert_eq!(b.cmd("PWD"), "", "B still waits for its own login");
    b.answer_login(LoginOutcome::Rejected);
    b.advance(Duration::from_secs(1));
    assert_eq!(
        b.take(),
        "530 Login incorrect.\r\n530 Please log in with USER and PASS first.\r\n"
    );
}

#[test]
fn a_forgotten_answer_closes_the_session_after_the_host_answer_timeout() {
    let mut h = Host::logged_in();
    h.cmd("PASV");
    assert_eq!(h.take_events(), ["open-passive 127.0.0.1 None"]);
    let _forgotten = h.waiting.passive.take();
    let timeout = ServerConfig::default().host_answer_timeout;
    h.advance(timeout - Duration::from_millis(1));
    assert_eq!(h.take(), "");
    assert!(!h.closed);
    h.advance(Duration::from_millis(1));
    assert_eq!(
        h.take(),
        "421 The server could not complete the request in time; closing the connection.\r\n"
    );
    assert_eq!(
        h.take_events(),
        ["notice HostAnswerTimeout { answer: \"passive\" }"]
    );
    assert!(h.closed);
}

#[test]
fn reply_addresses_are_not_dialled_by_the_core() {
    // The core only formats; a PASV masquerade address is text in a reply.
    let mut h = masquerade("203.0.113.7", &[], "198.51.100.1:1");
    h.cmd("PASV");
    let events = h.take_events();
    assert_eq!(events, ["open-passive 10.0.0.5 None"]);
    let _: SocketAddr = "10.0.0.5:1".parse().unwrap();
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    /// Answers every event with something plausible, chosen by `choice`.
    fn answer_all(h: &mut Host, choice: u8) {
        if let Some(t) = h.waiting.login.take() {
            let outcome = if choice.is_multiple_of(2) {
                LoginOutcome::Accepted {
                    read_only: choice.is_multiple_of(4),
                }
            } else {
                LoginOutcome::Rejected
            };
            h.session.login(t, outcome);
        }
        if let Some((t, _)) = h.waiting.passive.take() {
            if choice.is_multiple_of(5) {
                h.session.passive_failed(t, PassiveError::NoFreePort);
            } else {
                h.session
                    .passive_opened(t, 50000, Some("203.0.113.1".parse().unwrap()));
            }
        }
        if let Some(t) = h.waiting.stat.take() {
            h.session.stat_done(
                t,
                if choice.is_multiple_of(3) {
                    Ok(DIR)
                } else {
                    Ok(FILE)
                },
            );
        }
        if let Some(t) = h.waiting.change.take() {
            h.session.change_done(t, Err(FileError::PermissionDenied));
        }
        if h.waiting.transfer.is_some() {
            h.finish_transfer(Ok(7));
        }
    }

    proptest! {
        #[test]
        fn a_session_never_panics_on_arbitrary_bytes(
            chunks in proptest::collection::vec(
                prop_oneof![
                    proptest::collection::vec(any::<u8>(), 0..64),
                    proptest::sample::select(alloc::vec![
                        b"USER a\r\n".to_vec(), b"PASS b\r\n".to_vec(), b"EPSV\r\n".to_vec(),
                        b"PASV\r\n".to_vec(), b"RETR x\r\n".to_vec(), b"ABOR\r\n".to_vec(),
                        b"PORT 127,0,0,1,4,1\r\n".to_vec(), b"RNFR a\r\n".to_vec(),
                        b"RNTO b\r\n".to_vec(), b"\xff\xf4\xff\xf2".to_vec(), b"REIN\r\n".to_vec(),
                    ]),
                ],
                0..40),
            choices in proptest::collection::vec(any::<u8>(), 40),
        ) {
            let mut h = Host::new();
            for (chunk, choice) in chunks.iter().zip(choices) {
                h.send(chunk);
                answer_all(&mut h, choice);
                h.offer();
                if choice % 7 == 0 {
                    h.advance(Duration::from_secs(u64::from(choice)));
                }
                if h.closed {
                    break;
                }
            }
            // Every transmitted line is a well-formed reply.
            let mut rest = &h.out[..];
            while !rest.is_empty() {
                match crate::reply::parse(rest) {
                    Ok(Some((_, used))) => rest = &rest[used..],
                    other => prop_assert!(false, "bad reply stream {:?}: {:?}", other, show(rest)),
                }
            }
        }
    }
}

mod tls {
    use super::*;

    fn tls_config() -> ServerConfig {
        ServerConfig {
            tls: true,
            ..ServerConfig::default()
        }
    }

    /// Logged in over AUTH TLS with PBSZ 0 / PROT P, EPSV open.
    fn protected_session(config: ServerConfig) -> Host {
        let mut h = Host::with(config, "127.0.0.1:21", "127.0.0.1:4000");
        upgrade(&mut h);
        h.login_as(false);
        h.cmd("PBSZ 0");
        h.cmd("PROT P");
        h.epsv();
        h.take();
        h
    }

    #[test]
    fn a_protected_transfer_sends_150_before_the_tls_handshake() {
        let mut h = protected_session(tls_config());
        h.cmd("RETR a");
        h.open_storage(None);
        assert!(
            h.waiting.secure.is_none(),
            "no TLS before the data connection"
        );
        let token = h.waiting.connect.take().unwrap();
        h.session.data_connected(token, h.now);
        h.offer();
        // ftplib, curl and rclone read the 150 before they start TLS.
        assert_eq!(h.take(), "150 Opening data connection.\r\n");
        assert!(
            h.waiting.secure.is_some() && h.waiting.moving.is_none(),
            "TLS before any byte"
        );
        let token = h.waiting.secure.take().unwrap();
        h.session.data_secured(token, false, h.now);
        h.offer();
        h.finish_transfer(Ok(4));
        assert_eq!(h.take(), "226 Transfer complete.\r\n");
        assert_eq!(h.log.ended, ["RETR /a: 4 bytes in 0 ms (alice, TLS)"]);
    }

    #[test]
    fn a_data_connection_that_does_not_resume_the_tls_session_is_522_when_required() {
        let mut h = protected_session(ServerConfig {
            require_tls_session_reuse: true,
            ..tls_config()
        });
        h.cmd("RETR a");
        h.open_storage(None);
        let token = h.waiting.connect.take().unwrap();
        h.session.data_connected(token, h.now);
        h.offer();
        h.take_events();
        let token = h.waiting.secure.take().unwrap();
        h.session.data_secured(token, false, h.now);
        h.offer();
        assert_eq!(
            h.take(),
            "150 Opening data connection.\r\n522 The data connection must resume the control connection's TLS session.\r\n"
        );
        assert_eq!(h.take_events(), ["abort"], "the host drops the connection");
        // A resumed session is served.
        h.epsv();
        h.cmd("RETR a");
        h.open_storage(None);
        let token = h.waiting.connect.take().unwrap();
        h.session.data_connected(token, h.now);
        h.offer();
        let token = h.waiting.secure.take().unwrap();
        h.session.data_secured(token, true, h.now);
        h.offer();
        h.finish_transfer(Ok(1));
        assert_eq!(
            h.take(),
            "150 Opening data connection.\r\n226 Transfer complete.\r\n"
        );
    }

    #[test]
    fn a_failed_data_tls_handshake_is_one_425_and_so_is_a_slow_one() {
        let mut h = protected_session(tls_config());
        h.cmd("RETR a");
        h.start_transfer_to_tls();
        let token = h.waiting.secure.take().unwrap();
        h.session.data_tls_failed(token, h.now);
        h.offer();
        assert_eq!(
            h.take(),
            "425 TLS negotiation on the data connection failed.\r\n"
        );
        h.epsv();
        h.cmd("RETR a");
        h.start_transfer_to_tls();
        h.advance(Duration::from_secs(30));
        assert_eq!(
            h.take(),
            "425 TLS negotiation on the data connection failed.\r\n"
        );
        assert_eq!(h.take_events(), ["abort"]);
    }

    /// Runs AUTH TLS and the host's (pretend) handshake.
    fn upgrade(h: &mut Host) {
        h.take_events();
        h.send("AUTH TLS\r\n");
        assert_eq!(h.take(), "234 AUTH TLS ok; start the TLS handshake.\r\n");
        let event = h.take_events();
        assert_eq!(event.len(), 1);
        assert!(event[0].starts_with("upgrade-tls"), "{event:?}");
        let token = h.waiting.tls.take().unwrap();
        h.session.tls_established(token);
        h.offer();
        assert!(h.session.is_secured());
    }

    #[test]
    fn pipelined_commands_after_auth_tls_are_discarded() {
        let mut h = Host::with(tls_config(), "127.0.0.1:21", "127.0.0.1:4000");
        // STARTTLS-style injection: plain-text commands behind AUTH TLS.
        h.send("AUTH TLS\r\nUSER evil\r\nPASS x\r\nDELE /important\r\n");
        assert_eq!(h.take(), "234 AUTH TLS ok; start the TLS handshake.\r\n");
        assert!(
            h.session.held_input() == 0,
            "the injected bytes were dropped, not kept"
        );
        assert_eq!(h.take_events().len(), 1);
        // Bytes arriving before the handshake completes are dropped too.
        h.send("USER evil\r\n");
        assert_eq!(h.take(), "");
        let token = h.waiting.tls.take().unwrap();
        h.session.tls_established(token);
        assert_eq!(
            h.cmd("PWD"),
            "530 Please log in with USER and PASS first.\r\n"
        );
    }

    #[test]
    fn pbsz_and_prot_follow_rfc_4217() {
        let mut h = Host::with(tls_config(), "127.0.0.1:21", "127.0.0.1:4000");
        assert_eq!(
            h.cmd("PBSZ 0"),
            "503 PBSZ needs a protected control connection; send AUTH TLS first.\r\n"
        );
        assert_eq!(
            h.cmd("AUTH KERBEROS"),
            "504 Unknown security mechanism; use AUTH TLS.\r\n"
        );
        upgrade(&mut h);
        assert_eq!(
            h.cmd("AUTH TLS"),
            "503 The control connection is already protected.\r\n"
        );
        assert_eq!(h.cmd("PROT P"), "503 Send PBSZ 0 before PROT.\r\n");
        // ftplib's prot_c() sends PROT C without PBSZ.
        assert_eq!(
            h.cmd("PROT C"),
            "200 Data connections will be in clear text.\r\n"
        );
        assert_eq!(h.cmd("PBSZ x"), "501 PBSZ takes a number; send PBSZ 0.\r\n");
        assert_eq!(h.cmd("PBSZ 0"), "200 PBSZ=0\r\n");
        assert_eq!(
            h.cmd("PROT S"),
            "536 Only PROT C and PROT P are supported with TLS.\r\n"
        );
        assert_eq!(
            h.cmd("PROT Z"),
            "504 Unknown protection level; use C or P.\r\n"
        );
        assert_eq!(
            h.cmd("PROT P"),
            "200 Data connections will be protected.\r\n"
        );
        h.login_as(false);
        h.epsv();
        h.cmd("RETR a");
        assert_eq!(
            h.take_events(),
            ["transfer Retrieve /a offset=0 ascii=true"]
        );
        h.open_storage(None);
        assert_eq!(
            h.log.last_connect,
            "connect Passive { peer: 127.0.0.1 } protected"
        );
        h.finish_transfer(Ok(1));
        h.take();
        assert_eq!(
            h.cmd("PROT C"),
            "200 Data connections will be in clear text.\r\n"
        );
        assert_eq!(h.cmd("CCC"), "534 CCC is disabled on this server.\r\n");
    }

    #[test]
    fn require_tls_refuses_plain_logins_and_clear_data() {
        let config = ServerConfig {
            require_tls: true,
            ..tls_config()
        };
        let mut h = Host::with(config, "127.0.0.1:21", "127.0.0.1:4000");
        let refused =
            "530 This server requires TLS: send AUTH TLS before USER (or use implicit FTPS).\r\n";
        assert_eq!(h.cmd("USER alice"), refused);
        assert_eq!(h.cmd("PASS secret"), refused);
        assert_eq!(
            h.take_events(),
            ["notice TlsRequired", "notice TlsRequired"]
        );
        upgrade(&mut h);
        h.login_as(false);
        h.epsv();
        assert_eq!(
            h.cmd("RETR a"),
            "521 This server requires protected data connections; send PBSZ 0 and PROT P.\r\n"
        );
        h.cmd("PBSZ 0");
        assert_eq!(
            h.cmd("PROT C"),
            "534 This server requires protected data connections; send PROT P.\r\n"
        );
    }

    #[test]
    fn implicit_tls_sessions_start_secured() {
        let config = Arc::new(ServerConfig {
            require_tls: true,
            ..tls_config()
        });
        let session = ServerSession::new_implicit_tls(
            config,
            "127.0.0.1:990".parse().unwrap(),
            "127.0.0.1:4000".parse().unwrap(),
            Instant::default(),
        );
        assert!(session.is_secured());
        let mut h = Host {
            session,
            ..Host::with(tls_config(), "127.0.0.1:21", "127.0.0.1:4000")
        };
        h.drain();
        assert_eq!(h.take(), "220 ftpwire ready\r\n");
        assert_eq!(h.cmd("USER alice"), "331 Password required.\r\n");
    }

    /// An implicit-FTPS session, drained of its greeting.
    fn implicit(config: ServerConfig) -> Host {
        let session = ServerSession::new_implicit_tls(
            Arc::new(config.clone()),
            "127.0.0.1:990".parse().unwrap(),
            "127.0.0.1:4000".parse().unwrap(),
            Instant::default(),
        );
        let mut h = Host {
            session,
            ..Host::with(config, "127.0.0.1:990", "127.0.0.1:4000")
        };
        h.drain();
        h.take();
        h
    }

    #[test]
    fn implicit_tls_prot_p_starts_implicit_sessions_protected() {
        let config = ServerConfig {
            implicit_tls_prot_p: true,
            require_tls: true,
            ..tls_config()
        };
        let mut h = implicit(config.clone());
        h.login_as(false);
        h.epsv();
        // No PBSZ, no PROT: protected all the same, and require_tls is content.
        h.cmd("RETR a");
        assert_eq!(
            h.take_events(),
            ["transfer Retrieve /a offset=0 ascii=true"]
        );
        h.open_storage(None);
        assert_eq!(
            h.log.last_connect,
            "connect Passive { peer: 127.0.0.1 } protected"
        );
        h.finish_transfer(Ok(1));
        h.take();
        // PROT C still works (no PBSZ needed), and REIN returns to PROT P.
        let mut h = implicit(ServerConfig {
            require_tls: false,
            ..config.clone()
        });
        h.login_as(false);
        assert_eq!(
            h.cmd("PROT C"),
            "200 Data connections will be in clear text.\r\n"
        );
        assert_eq!(h.cmd("REIN"), "220 Ready for a new user.\r\n");
        h.login_as(false);
        h.epsv();
        h.cmd("LIST");
        h.take_events();
        h.open_storage(None);
        assert!(h.log.last_connect.ends_with(" protected"));
        // Explicit FTPS (AUTH TLS) is not affected.
        let mut h = Host::with(config, "127.0.0.1:21", "127.0.0.1:4000");
        upgrade(&mut h);
        h.login_as(false);
        h.epsv();
        assert_eq!(
            h.cmd("RETR a"),
            "521 This server requires protected data connections; send PBSZ 0 and PROT P.\r\n"
        );
    }

    #[test]
    fn implicit_sessions_start_with_clear_data_by_default() {
        let mut h = implicit(tls_config());
        h.login_as(false);
        h.epsv();
        h.cmd("RETR a");
        assert_eq!(
            h.take_events(),
            ["transfer Retrieve /a offset=0 ascii=true"]
        );
        h.open_storage(None);
        assert_eq!(h.log.last_connect, "connect Passive { peer: 127.0.0.1 }");
    }

    #[test]
    fn tls_sessions_use_the_tls_passive_address() {
        let config = ServerConfig {
            passive: PassivePolicy {
                external: None,
                local_networks: alloc::vec!["10.0.0.0/8".parse().unwrap()],
            },
            tls_passive_address: Some("203.0.113.9".parse().unwrap()),
            ..tls_config()
        };
        let mut h = Host::with(config.clone(), "10.0.0.5:21", "198.51.100.2:4000");
        h.login_as(false);
        h.cmd("PASV");
        h.open_passive(50000, None);
        // Plain control channel: an ALG may rewrite it, no masquerade.
        assert_eq!(h.take(), "227 Entering Passive Mode (10,0,0,5,195,80).\r\n");
        upgrade(&mut h);
        h.login_as(false);
        h.cmd("PASV");
        h.open_passive(50000, None);
        assert_eq!(
            h.take(),
            "227 Entering Passive Mode (203,0,113,9,195,80).\r\n"
        );
        // Local peers still get the local address under TLS.
        let mut h = Host::with(config, "10.0.0.5:21", "10.0.0.9:4000");
        upgrade(&mut h);
        h.login_as(false);
        h.cmd("PASV");
        h.open_passive(50000, None);
        assert_eq!(h.take(), "227 Entering Passive Mode (10,0,0,5,195,80).\r\n");
    }

    #[test]
    fn ccc_when_allowed() {
        let config = ServerConfig {
            allow_ccc: true,
            ..tls_config()
        };
        let mut plain = Host::with(config.clone(), "127.0.0.1:21", "127.0.0.1:4000");
        plain.login_as(false);
        assert_eq!(
            plain.cmd("CCC"),
            "533 The control connection is not protected.\r\n"
        );
        let mut h = Host::with(config, "127.0.0.1:21", "127.0.0.1:4000");
        assert_eq!(
            h.cmd("CCC"),
            "530 Please log in with USER and PASS first.\r\n"
        );
        upgrade(&mut h);
        assert!(h.cmd("FEAT").contains(" CCC\r\n"));
        h.login_as(false);
        assert_eq!(
            h.cmd("CCC"),
            "200 Control connection is now in clear text.\r\n"
        );
        assert_eq!(h.take_events(), ["downgrade-tls"]);
        assert!(!h.session.is_secured());
    }
}

#[test]
fn control_characters_in_paths_cannot_break_reply_lines() {
    let mut h = Host::logged_in();
    h.send("MLST x\r\r\n");
    h.answer_stat(Ok(FILE));
    assert_eq!(
        h.take(),
        "250-Listing\r\n type=file;size=1234;modify=20240314092653;perm=radfw; /x\r\0\r\n250 End.\r\n"
    );
    h.cmd("PASV");
    h.open_passive(50000, None);
    h.take();
    h.cmd("STOU");
    let token = h.waiting.open.take().unwrap();
    h.session.unique_created(token, b"evil\r\n226 fake", h.now);
    h.drain();
    h.start_transfer();
    assert_eq!(h.take(), "150 FILE: evil\r\0\u{0}226 fake\r\n");
}

#[test]
fn stat_escapes_the_user_name_like_a_path() {
    // Found by the session fuzzer: a CR in USER reached the 211 reply raw.
    let mut h = Host::new();
    h.send(b"USER ubuntu\r{{{\nPASS x\r\n");
    assert_eq!(h.take(), "331 Password required.\r\n");
    h.answer_login(LoginOutcome::Accepted { read_only: false });
    h.take();
    h.send(b"STAT\r\n");
    assert_eq!(
        h.out,
        b"211-ftpwire status:\r\n Connected from 127.0.0.1\r\n Logged in as ubuntu\r\0{{{\r\n TYPE: ASCII; STRUcture: File; MODE: Stream\r\n211 End of status.\r\n"
    );
}

#[test]
fn a_session_that_never_logs_in_is_closed_at_the_login_timeout() {
    let mut h = Host::new();
    // Commands do not extend it: only a login does.
    h.advance(Duration::from_secs(29));
    assert_eq!(h.cmd("USER alice"), "331 Password required.\r\n");
    assert_eq!(h.cmd("NOOP"), "200 NOOP ok.\r\n");
    assert_eq!(h.session.poll_timeout(), Some(Instant::from_millis(31_000)));
    h.advance(Duration::from_secs(1));
    assert_eq!(h.take(), "421 Login timeout; closing the connection.\r\n");
    assert_eq!(h.take_events(), ["notice LoginTimeout"]);
    assert!(h.closed);
}

#[test]
fn the_login_timeout_waits_for_a_pending_login_and_ends_with_it() {
    let config = ServerConfig {
        login_timeout: Duration::from_secs(5),
        ..ServerConfig::default()
    };
    let mut h = Host::with(config, "127.0.0.1:21", "127.0.0.1:40000");
    h.send("USER alice\r\nPASS secret\r\n");
    h.take();
    // The host is still checking the password: its answer decides.
    h.advance(Duration::from_secs(6));
    assert_eq!(h.take(), "");
    h.answer_login(LoginOutcome::Accepted { read_only: false });
    assert_eq!(h.take(), "230 Login successful.\r\n");
    // Logged in: only the idle timeout applies now.
    h.advance(Duration::from_secs(290));
    assert_eq!(h.take(), "");
    assert!(!h.closed);
}

#[test]
fn a_tls_handshake_that_stalls_is_bounded_by_the_login_timeout() {
    let config = ServerConfig {
        tls: true,
        login_timeout: Duration::from_secs(5),
        ..ServerConfig::default()
    };
    let mut h = Host::with(config, "127.0.0.1:21", "127.0.0.1:40000");
    h.advance(Duration::from_secs(3));
    h.cmd("AUTH TLS");
    h.take_events();
    // AUTH TLS starts a new login: its 5 s count from here.
    h.advance(Duration::from_secs(4));
    assert_eq!(h.take(), "");
    h.advance(Duration::from_secs(1));
    assert_eq!(h.take(), "421 Login timeout; closing the connection.\r\n");
    assert!(h.closed);
    // Implicit FTPS: the session exists while the host runs the handshake.
    let config = Arc::new(ServerConfig {
        tls: true,
        login_timeout: Duration::from_secs(5),
        ..ServerConfig::default()
    });
    let start = Instant::from_millis(1_000);
    let peer = "127.0.0.1:40000".parse().unwrap();
    let session =
        ServerSession::new_implicit_tls(config, "127.0.0.1:990".parse().unwrap(), peer, start);
    assert_eq!(session.poll_timeout(), Some(Instant::from_millis(6_000)));
}

#[test]
fn a_retrieve_that_delivers_less_than_the_file_had_is_426() {
    let mut h = Host::logged_in();
    h.cmd("TYPE I");
    h.epsv();
    h.cmd("RETR big");
    h.take_events();
    let token = h.waiting.open.take().unwrap();
    h.session.storage_opened(token, Some(64 << 20), h.now);
    h.start_transfer();
    assert_eq!(h.take(), "150 Opening data connection.\r\n");
    h.finish_transfer(Ok(2 << 20));
    assert_eq!(
        h.take(),
        "426 The file was truncated while being sent; transfer aborted.\r\n"
    );
    assert_eq!(h.take_events(), ["close-passive", "abort"]);
    assert_eq!(
        h.log.ended,
        [
            "RETR /big failed: the file was truncated while being sent (2097152 bytes in 0 ms) (alice)"
        ]
    );

    // After REST, what is due is the size minus the offset; more (a file
    // that grew) is complete.
    for (sent, reply) in [
        (
            99,
            "426 The file was truncated while being sent; transfer aborted.\r\n",
        ),
        (100, "226 Transfer complete.\r\n"),
        (150, "226 Transfer complete.\r\n"),
    ] {
        h.cmd("REST 900");
        h.epsv();
        h.cmd("RETR big");
        let token = h.waiting.open.take().unwrap();
        h.session.storage_opened(token, Some(1000), h.now);
        h.start_transfer();
        h.take();
        h.finish_transfer(Ok(sent));
        assert_eq!(h.take(), reply, "{sent} bytes");
    }
    // Without a size the host's word stands.
    h.epsv();
    h.cmd("RETR big");
    h.start_transfer();
    h.take();
    h.finish_transfer(Ok(1));
    assert_eq!(h.take(), "226 Transfer complete.\r\n");
}

#[test]
fn held_input_is_bounded_and_a_host_that_ignores_the_hint_is_closed() {
    let config = ServerConfig {
        input_limit: 64,
        ..ServerConfig::default()
    };
    let mut h = Host::with(config, "127.0.0.1:21", "127.0.0.1:40000");
    h.login_as(false);
    h.epsv();
    h.cmd("RETR big");
    h.start_transfer();
    h.take();
    // Pipelined behind the transfer: held by the session, not run.
    h.send("PWD\r\n".repeat(13));
    assert_eq!(h.take(), "");
    assert_eq!(h.session.held_input(), 65);
    assert!(!h.session.wants_input(), "past the limit: stop reading");
    // A host that read ahead a little more is still served...
    h.send("PWD\r\n".repeat(13));
    assert_eq!(h.take(), "");
    assert!(!h.closed);
    // ...but not one that goes on past twice the limit.
    h.send("PWD\r\n");
    assert_eq!(h.take(), "421 Too much input; closing the connection.\r\n");
    assert!(h.take_events().contains(&"notice InputLimit".to_string()));
    assert!(h.closed);
}

#[test]
fn a_line_split_across_reads_behind_a_transfer_runs_once_it_ends() {
    let mut h = Host::logged_in();
    h.epsv();
    h.cmd("RETR big");
    h.start_transfer();
    h.take();
    h.send("PW");
    h.send("D\r\nNO");
    assert_eq!(h.take(), "");
    h.finish_transfer(Ok(10));
    assert_eq!(
        h.take(),
        "226 Transfer complete.\r\n257 \"/\" is the current directory.\r\n"
    );
    h.send("OP\r\n");
    assert_eq!(h.take(), "200 NOOP ok.\r\n");
}

#[test]
fn urgent_abor_works_where_the_host_cannot_read_urgent_data() {
    // ftplib's abort() sends `ABOR\r\n` as urgent data; on a host without
    // OOBINLINE (Node) the stream holds `ABOR\r` and the LF never comes.
    let mut h = Host::logged_in();
    h.epsv();
    h.cmd("RETR big");
    h.start_transfer();
    h.take();
    h.take_events();
    h.send(b"ABOR\r");
    assert_eq!(h.take_events(), ["abort"]);
    h.finish_transfer(Err(TransferError::Aborted));
    assert_eq!(
        h.take(),
        "426 Transfer aborted.\r\n226 ABOR successful.\r\n"
    );
    assert_eq!(
        h.cmd("NOOP"),
        "200 NOOP ok.\r\n",
        "not `ABOR\\rNOOP`: no 500"
    );
    // The DM of a Synch taken out of the stream: IAC IP IAC, then ABOR.
    h.epsv();
    h.cmd("RETR big");
    h.start_transfer();
    h.take();
    h.take_events();
    h.send(b"\xff\xf4\xff");
    h.send(b"ABOR\r\n");
    assert_eq!(h.take_events(), ["abort"]);
    h.finish_transfer(Err(TransferError::Aborted));
    assert_eq!(
        h.take(),
        "426 Transfer aborted.\r\n226 ABOR successful.\r\n"
    );
}

#[test]
fn a_steps_deadline_counts_from_its_answer() {
    let mut h = Host::logged_in();
    h.epsv();
    h.cmd("RETR a");
    h.take_events();
    // The storage took 20 s to open (a slow object store): the data
    // connection still gets its whole 30 s from then.
    h.now = h.now + Duration::from_secs(20);
    h.open_storage(None);
    h.advance(Duration::from_secs(29));
    assert_eq!(h.take(), "");
    h.advance(Duration::from_secs(1));
    assert_eq!(h.take(), "425 No data connection was made in time.\r\n");
    assert_eq!(
        h.log.ended,
        ["RETR /a failed: cannot open data connection (0 bytes in 50000 ms) (alice)"]
    );
}

#[test]
fn an_abor_pipelined_behind_its_transfer_command_ends_it_before_the_host_sees_it() {
    let mut h = Host::logged_in();
    h.epsv();
    h.send("RETR a\r\nABOR\r\n");
    assert_eq!(
        h.take(),
        "426 Transfer aborted.\r\n226 ABOR successful.\r\n"
    );
    assert_eq!(
        h.take_events(),
        [
            "transfer Retrieve /a offset=0 ascii=true",
            "abort",
            "close-passive"
        ]
    );
    assert_eq!(h.cmd("NOOP"), "200 NOOP ok.\r\n");
}

/// Behind a load balancer (the host read a PROXY header), EPSV would send
/// the client to the balancer: refused, so clients use PASV, whose reply
/// names this server; FEAT leaves EPSV out.
#[test]
fn through_a_balancer_epsv_is_refused_and_pasv_serves() {
    let mut h = Host::logged_in();
    h.session.set_through_balancer();
    assert_eq!(
        h.cmd("EPSV"),
        "502 EPSV cannot work through this server's load balancer; use PASV.\r\n"
    );
    assert_eq!(
        h.cmd("EPSV ALL"),
        "502 EPSV cannot work through this server's load balancer; use PASV.\r\n"
    );
    h.send("PASV\r\n");
    h.open_passive(50000, None);
    assert_eq!(
        h.take(),
        "227 Entering Passive Mode (127,0,0,1,195,80).\r\n"
    );
    let features = h.cmd("FEAT");
    assert!(!features.contains(" EPSV\r\n"), "{features}");
    assert!(features.contains(" EPRT\r\n"), "{features}");
    // Without a balancer EPSV is offered.
    let mut direct = Host::new();
    assert!(direct.cmd("FEAT").contains(" EPSV\r\n"));
}

/// A passive listener no data connection reached, then PORT: the silent
/// fallback to active mode of FileZilla and lftp, made visible.
#[test]
fn a_switch_to_active_after_an_unused_passive_listener_is_a_notice() {
    let mut h = Host::logged_in();
    h.epsv();
    // No data connection arrives; the client gives up and tries PORT.
    h.cmd("PORT 127,0,0,1,200,10");
    let events = h.take_events();
    assert!(
        events
            .iter()
            .any(|e| e.contains("PassiveFallback") && e.contains("PORT")),
        "{events:?}"
    );
    // Told once.
    h.cmd("PORT 127,0,0,1,200,12");
    assert!(
        !h.take_events()
            .iter()
            .any(|e| e.contains("PassiveFallback"))
    );
    let mut clean = Host::logged_in();
    clean.cmd("PORT 127,0,0,1,200,11");
    assert!(
        !clean
            .take_events()
            .iter()
            .any(|e| e.contains("PassiveFallback")),
        "PORT without a passive listener before"
    );
}

/// A `227` with a private address to a client with a public one: the
/// operator is told (once), with the fix; a client in the private network
/// is not a case for it.
#[test]
fn a_private_227_to_a_public_client_is_a_notice_once() {
    let mut h = Host::with(ServerConfig::default(), "10.0.0.5:21", "203.0.113.9:40000");
    h.login_as(false);
    for round in 0..2 {
        h.send("PASV\r\n");
        h.take_events();
        h.open_passive(50000, None);
        assert_eq!(h.take(), "227 Entering Passive Mode (10,0,0,5,195,80).\r\n");
        let told = h
            .take_events()
            .iter()
            .filter(|e| e.contains("PrivatePassiveAddress"))
            .count();
        assert_eq!(told, usize::from(round == 0), "round {round}");
    }
    let mut inside = Host::with(ServerConfig::default(), "10.0.0.5:21", "10.0.0.9:40000");
    inside.login_as(false);
    inside.send("PASV\r\n");
    inside.take_events();
    inside.open_passive(50000, None);
    inside.take();
    assert!(
        !inside
            .take_events()
            .iter()
            .any(|e| e.contains("PrivatePassiveAddress"))
    );
}

/// Every notice's log line, word for word (`write_message` and `Display`
/// agree; a user name that is not UTF-8 reads lossily).
#[test]
fn notice_messages() {
    let addr: SocketAddr = "[2001:db8::7]:2121".parse().unwrap();
    let ended = |outcome, protected| Notice::TransferEnded {
        kind: TransferKind::Store,
        path: b"/up/f.bin",
        user: b"ann",
        bytes: 1234,
        elapsed: Duration::from_millis(5_007),
        protected,
        outcome,
    };
    let cases: [(Notice<'_>, &str); 19] = [
        (Notice::LoginSucceeded { user: b"ann" }, "login ok: ann"),
        (
            Notice::LoginFailed { user: b"b\xffb" },
            "login failed: b\u{fffd}b",
        ),
        (
            Notice::TooManyLoginFailures,
            "too many failed logins; closing",
        ),
        (
            Notice::PortRefused {
                addr,
                reason: "port below 1024",
            },
            "PORT/EPRT to [2001:db8::7]:2121 refused: port below 1024",
        ),
        (Notice::LineTooLong, "command line too long; discarded"),
        (Notice::IdleTimeout, "idle timeout; closing"),
        (
            Notice::LoginTimeout,
            "not logged in within the login timeout; closing",
        ),
        (Notice::TlsRequired, "command refused: TLS is required"),
        (
            Notice::ReadOnlyRefused {
                user: b"anonymous",
                command: "STOR",
            },
            "STOR refused: anonymous is read-only",
        ),
        (
            Notice::ForeignAnswer { answer: "login" },
            "host bug: a login answer carried another session's token; refused",
        ),
        (
            Notice::StaleAnswer { answer: "stat" },
            "host bug: a stat answer for nothing the session waits for; ignored",
        ),
        (
            Notice::HostAnswerTimeout { answer: "stat" },
            "host bug or overload: no stat answer within the host-answer timeout; closing",
        ),
        (Notice::InputLimit, "too much input held; closing"),
        (
            Notice::PrivatePassiveAddress {
                advertised: "10.0.0.5".parse().unwrap(),
                peer: "::ffff:203.0.113.9".parse().unwrap(),
            },
            "PASV advertised 10.0.0.5, a private address, to ::ffff:203.0.113.9, a client outside the local networks that cannot reach it; set --passive-address to this server's public address (or a DNS name that follows it)",
        ),
        (
            Notice::PassiveFallback { verb: "EPRT" },
            "no data connection reached the passive listener, and the client switched to active mode (EPRT); check that the passive ports are open and that PASV advertises an address the client can reach (--passive-address)",
        ),
        (
            Notice::WrongAnswer {
                answer: "dataMoved",
            },
            "host bug: a dataMoved answer that does not fit its event; ignored",
        ),
        (
            ended(Ok(()), false),
            "STOR /up/f.bin: 1234 bytes in 5007 ms (ann)",
        ),
        (
            ended(Err(TransferError::File(FileError::StorageFull)), true),
            "STOR /up/f.bin failed: insufficient storage space (1234 bytes in 5007 ms) (ann, TLS)",
        ),
        (
            ended(Err(TransferError::Stalled), false),
            "STOR /up/f.bin failed: no data moved within the stall timeout (1234 bytes in 5007 ms) (ann)",
        ),
    ];
    for (notice, line) in cases {
        assert_eq!(notice.to_string(), line);
    }
}
