//! The client session against the server session, back to back in memory
//! (`ftpwire_core::pair`): every command both halves speak, with the
//! server's replies and the client's reading of them both real.

use ftpwire_core::ServerConfig;
use ftpwire_core::address::{PassiveAddress, PassivePolicy};
use ftpwire_core::client::listing::{parse_list_line, parse_mlsd_line};
use ftpwire_core::client::{
    ClientConfig, ClientError, DataMode, ListCommand, PasvAddressPolicy, PasvTarget, Request,
    Security, StoreMode, Warning,
};
use ftpwire_core::listing::FileKind;
use ftpwire_core::pair::{Node, Pair};

fn pair_with(server: ServerConfig, client: ClientConfig) -> Pair {
    let mut pair = Pair::new(server, client);
    pair.host.users.push(("ann".into(), "secret".into()));
    pair
}

fn pair() -> Pair {
    pair_with(
        ServerConfig::default(),
        ClientConfig::login("ann", "secret"),
    )
}

fn tls_server() -> ServerConfig {
    ServerConfig {
        tls: true,
        ..ServerConfig::default()
    }
}

fn put(pair: &mut Pair, path: &str, bytes: &[u8]) -> u64 {
    pair.host.upload = bytes.to_vec();
    let done = pair
        .request(Request::Store {
            path: path.as_bytes().to_vec(),
            mode: StoreMode::Replace,
        })
        .unwrap();
    assert_eq!(done.code, 226);
    done.bytes.unwrap()
}

fn get(pair: &mut Pair, path: &str, offset: u64) -> Result<Vec<u8>, ClientError> {
    pair.request(Request::Retrieve {
        path: path.as_bytes().to_vec(),
        offset,
    })?;
    Ok(pair.host.download.clone())
}

fn file(pair: &Pair, path: &str) -> Vec<u8> {
    match pair.host.fs.nodes.get(path.as_bytes()) {
        Some(Node::File(bytes)) => bytes.clone(),
        other => panic!("{path}: {other:?}"),
    }
}

#[test]
fn login_and_a_round_trip_over_epsv() {
    let mut pair = pair();
    pair.connect().unwrap();
    assert!(pair.client.greeting().starts_with(b"220 "));
    assert!(pair.client.features().epsv && pair.client.features().mlst);
    let payload: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
    assert_eq!(put(&mut pair, "/data.bin", &payload), 10_000);
    assert_eq!(file(&pair, "/data.bin"), payload);
    assert_eq!(get(&mut pair, "/data.bin", 0).unwrap(), payload);
    let used = pair.client.last_passive().unwrap();
    assert!(used.extended, "EPSV first");
    assert!(pair.host.warnings.is_empty(), "{:?}", pair.host.warnings);
}

#[test]
fn the_replies_are_recorded_in_order_and_pasv_is_used_when_asked() {
    let config = ClientConfig {
        data_mode: DataMode::Pasv,
        ..ClientConfig::login("ann", "secret")
    };
    let mut pair = pair_with(ServerConfig::default(), config);
    pair.connect().unwrap();
    assert_eq!(pair.host.replies.first(), Some(&220));
    assert!(pair.host.replies.contains(&230), "{:?}", pair.host.replies);
    pair.host.replies.clear();
    assert_eq!(put(&mut pair, "/a", b"abc"), 3);
    assert_eq!(pair.host.replies, [227, 150, 226]);
    assert!(!pair.client.last_passive().unwrap().extended);
    assert_eq!(pair.request(Request::Quit).unwrap().code, 221);
    assert_eq!(pair.host.replies[3..], [221]);
}

#[test]
fn a_wrong_password_fails_the_session_after_the_servers_delay() {
    let mut pair = pair_with(ServerConfig::default(), ClientConfig::login("ann", "wrong"));
    let size = pair.client.request(Request::Size(b"/x".to_vec()));
    let error = pair.connect().unwrap_err();
    assert!(
        matches!(&error, ClientError::Refused { code: 530, .. }),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .starts_with("the server refused the login: 530")
    );
    // The server delays a 530: the simulated clock moved.
    assert!(pair.now.as_duration() >= ServerConfig::default().failed_login_delay);
    let _ = size;
}

#[test]
fn resume_both_ways_and_append() {
    let mut pair = pair();
    pair.connect().unwrap();
    put(&mut pair, "/f.txt", b"0123456789");
    assert_eq!(get(&mut pair, "/f.txt", 4).unwrap(), b"456789");
    pair.host.upload = b"ABC".to_vec();
    pair.request(Request::Store {
        path: b"/f.txt".to_vec(),
        mode: StoreMode::At(5),
    })
    .unwrap();
    assert_eq!(file(&pair, "/f.txt"), b"01234ABC");
    pair.host.upload = b"++".to_vec();
    pair.request(Request::Store {
        path: b"/f.txt".to_vec(),
        mode: StoreMode::Append,
    })
    .unwrap();
    assert_eq!(file(&pair, "/f.txt"), b"01234ABC++");
}

#[test]
fn listings_in_all_three_forms_read_back() {
    let mut pair = pair();
    pair.connect().unwrap();
    put(&mut pair, "/a b.txt", b"12345");
    pair.request(Request::MakeDirectory(b"/sub".to_vec()))
        .unwrap();
    let list = |pair: &mut Pair, command| {
        pair.request(Request::List {
            path: None,
            command,
        })
        .unwrap();
        pair.host.download.clone()
    };
    let mlsd = list(&mut pair, ListCommand::MachineList);
    let entries: Vec<_> = mlsd
        .split_inclusive(|&b| b == b'\n')
        .filter_map(parse_mlsd_line)
        .map(|e| (e.name.to_vec(), e.kind, e.size))
        .collect();
    assert_eq!(
        entries,
        [
            (b"a b.txt".to_vec(), Some(FileKind::File), Some(5)),
            (b"sub".to_vec(), Some(FileKind::Directory), Some(0)),
        ]
    );
    let long = list(&mut pair, ListCommand::List);
    let names: Vec<_> = long
        .split_inclusive(|&b| b == b'\n')
        .filter_map(parse_list_line)
        .map(|e| (e.name.to_vec(), e.kind))
        .collect();
    assert_eq!(
        names,
        [
            (b"a b.txt".to_vec(), Some(FileKind::File)),
            (b"sub".to_vec(), Some(FileKind::Directory)),
        ]
    );
    assert_eq!(
        list(&mut pair, ListCommand::NameList),
        b"a b.txt\r\nsub\r\n"
    );
}

#[test]
fn file_commands_and_their_replies() {
    let mut pair = pair();
    pair.connect().unwrap();
    put(&mut pair, "/f.txt", b"hello");
    let size = pair.request(Request::Size(b"/f.txt".to_vec())).unwrap();
    assert_eq!(size.size(), Some(5));
    let mdtm = pair.request(Request::Modified(b"/f.txt".to_vec())).unwrap();
    assert_eq!(mdtm.modified(), Some(1_710_408_413));
    let mlst = pair.request(Request::Facts(b"/f.txt".to_vec())).unwrap();
    assert_eq!(mlst.code, 250);
    let mkd = pair
        .request(Request::MakeDirectory(b"/d".to_vec()))
        .unwrap();
    assert_eq!(mkd.quoted_path().as_deref(), Some(&b"/d"[..]));
    pair.request(Request::ChangeDirectory(b"/d".to_vec()))
        .unwrap();
    let pwd = pair.request(Request::PrintDirectory).unwrap();
    assert_eq!(pwd.quoted_path().as_deref(), Some(&b"/d"[..]));
    pair.request(Request::ChangeDirectory(b"/".to_vec()))
        .unwrap();
    pair.request(Request::Rename {
        from: b"/f.txt".to_vec(),
        to: b"/d/g.txt".to_vec(),
    })
    .unwrap();
    assert_eq!(file(&pair, "/d/g.txt"), b"hello");
    let refused = pair
        .request(Request::RemoveDirectory(b"/d".to_vec()))
        .unwrap_err();
    assert!(
        matches!(
            refused,
            ClientError::Refused {
                command: "RMD",
                code: 550,
                ..
            }
        ),
        "{refused}"
    );
    pair.request(Request::Delete(b"/d/g.txt".to_vec())).unwrap();
    pair.request(Request::RemoveDirectory(b"/d".to_vec()))
        .unwrap();
    assert!(pair.host.fs.nodes.is_empty());
    let missing = get(&mut pair, "/nope", 0).unwrap_err();
    assert!(
        matches!(
            missing,
            ClientError::Refused {
                command: "RETR",
                code: 550,
                ..
            }
        ),
        "{missing}"
    );
    // A failed transfer leaves the session usable.
    assert_eq!(pair.request(Request::Noop).unwrap().code, 200);
    let raw = pair
        .request(Request::Command(b"SITE NOPE".to_vec()))
        .unwrap();
    assert_eq!(raw.code / 100, 5, "a raw command returns any reply");
    let smuggled = pair
        .request(Request::Delete(b"x\r\nDELE y".to_vec()))
        .unwrap_err();
    assert!(matches!(smuggled, ClientError::BadRequest(_)));
    assert_eq!(pair.request(Request::Quit).unwrap().code, 221);
    assert!(pair.client.is_closed());
}

#[test]
fn explicit_and_implicit_tls_protect_the_data() {
    for security in [Security::Explicit, Security::Implicit] {
        let client = ClientConfig {
            security,
            ..ClientConfig::login("ann", "secret")
        };
        let mut pair = pair_with(tls_server(), client);
        pair.connect().unwrap();
        assert!(pair.client.is_secured(), "{security:?}");
        assert!(
            pair.server.is_secured() && pair.server.data_protected(),
            "{security:?}"
        );
        put(&mut pair, "/s.txt", b"secret bytes");
        assert_eq!(get(&mut pair, "/s.txt", 0).unwrap(), b"secret bytes");
    }
}

#[test]
fn a_server_that_requires_tls_refuses_a_plain_login() {
    let server = ServerConfig {
        tls: true,
        require_tls: true,
        ..ServerConfig::default()
    };
    let mut pair = pair_with(server, ClientConfig::login("ann", "secret"));
    let error = pair.connect().unwrap_err();
    assert!(
        matches!(
            error,
            ClientError::Refused {
                code: 530 | 534 | 550,
                ..
            }
        ),
        "{error}"
    );
}

fn advertising(ip: &str) -> ServerConfig {
    ServerConfig {
        passive: PassivePolicy {
            external: Some(PassiveAddress::Ip(ip.parse().unwrap())),
            local_networks: Vec::new(),
        },
        ..ServerConfig::default()
    }
}

#[test]
fn a_private_227_address_is_replaced_with_a_warning() {
    let client = ClientConfig {
        data_mode: DataMode::Pasv,
        ..ClientConfig::login("ann", "secret")
    };
    let mut pair = pair_with(advertising("10.0.0.5"), client);
    pair.connect().unwrap();
    put(&mut pair, "/p.txt", b"via the control peer");
    let [Warning::Passive(target)] = &pair.host.warnings[..] else {
        panic!("{:?}", pair.host.warnings);
    };
    assert!(matches!(target, PasvTarget::Replaced { .. }));
    let text = target.to_string();
    assert!(
        text.contains("10.0.0.5") && text.contains("a private address"),
        "{text}"
    );
    assert_eq!(
        get(&mut pair, "/p.txt", 0).unwrap(),
        b"via the control peer"
    );
}

#[test]
fn trust_dials_the_advertised_address_and_refuse_does_not_dial() {
    let client = ClientConfig {
        data_mode: DataMode::Pasv,
        pasv_policy: PasvAddressPolicy::Trust,
        ..ClientConfig::login("ann", "secret")
    };
    let mut pair = pair_with(advertising("10.0.0.5"), client);
    pair.connect().unwrap();
    // Nothing listens at 10.0.0.5 in the pair: the dial fails.
    let error = get(&mut pair, "/x", 0).unwrap_err();
    assert!(
        matches!(&error, ClientError::DataConnect { addr, .. } if addr.ip().to_string() == "10.0.0.5"),
        "{error}"
    );
    pair.client.set_pasv_policy(PasvAddressPolicy::Refuse);
    let error = get(&mut pair, "/x", 0).unwrap_err();
    assert!(
        matches!(
            error,
            ClientError::PassiveRefused(PasvTarget::Refused { .. })
        ),
        "{error}"
    );
    // EPSV names no address: it works whatever the 227 says.
    pair.client.set_data_mode(DataMode::Passive);
    put(&mut pair, "/y", b"ok");
    assert_eq!(get(&mut pair, "/y", 0).unwrap(), b"ok");
}

#[test]
fn active_mode_only_when_asked() {
    let client = ClientConfig {
        data_mode: DataMode::Active,
        ..ClientConfig::login("ann", "secret")
    };
    let mut pair = pair_with(ServerConfig::default(), client);
    pair.connect().unwrap();
    put(&mut pair, "/a.txt", b"active bytes");
    assert_eq!(get(&mut pair, "/a.txt", 0).unwrap(), b"active bytes");
    assert!(
        pair.client.last_passive().is_none(),
        "no passive command was sent"
    );
}
