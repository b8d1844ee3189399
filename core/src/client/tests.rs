//! The client session against scripted server bytes: exactly what it sends,
//! and how it reads replies real servers send (multi-line, malformed,
//! oversized, late, unsolicited).

use alloc::string::ToString;
use alloc::vec::Vec;
use core::time::Duration;

use super::*;
use crate::Instant;

/// A session after `220`, `USER`/`PASS`, FEAT (`feat` as the reply) and TYPE I.
fn ready(feat: &[u8]) -> (ClientSession, Vec<u8>) {
    let mut s = session(ClientConfig::login("ann", "pw"));
    let mut sent = Vec::new();
    for reply in [
        &b"220 hi\r\n"[..],
        b"331 pw\r\n",
        b"230 ok\r\n",
        feat,
        b"200 I\r\n",
    ] {
        s.handle_input(t(0), reply);
        drain(&mut s, &mut sent);
    }
    assert!(s.is_ready());
    (s, sent)
}

fn session(config: ClientConfig) -> ClientSession {
    let local = "192.0.2.10:40000".parse().unwrap();
    let peer = "198.51.100.1:21".parse().unwrap();
    ClientSession::new(config, local, peer, t(0))
}

fn t(secs: u64) -> Instant {
    Instant::from_duration(Duration::from_secs(secs))
}

/// Everything the session outputs until it waits: sent bytes appended, events returned.
fn drain(s: &mut ClientSession, sent: &mut Vec<u8>) -> Vec<ClientEvent> {
    let mut events = Vec::new();
    loop {
        match s.poll_output() {
            ClientOutput::Transmit(bytes) => sent.extend_from_slice(bytes),
            ClientOutput::Event(e) => events.push(e),
            _ => return events,
        }
    }
}

/// A queued transfer through `229` and its data connection, then `replies`
/// (REST's `350`, the `150`), to the session's `MoveData`.
fn to_moving(s: &mut ClientSession, sent: &mut Vec<u8>, replies: &[&[u8]]) -> MoveData {
    drain(s, sent);
    s.handle_input(t(0), b"229 ok (|||50001|)\r\n");
    let Some(ClientEvent::ConnectData(connect)) = drain(s, sent).pop() else {
        panic!("no ConnectData")
    };
    s.data_connected(connect.token, t(0));
    drain(s, sent);
    let mut last = Vec::new();
    for reply in replies {
        s.handle_input(t(0), reply);
        last = drain(s, sent);
    }
    match last.pop() {
        Some(ClientEvent::MoveData(moving)) => moving,
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_set_up_sends_exactly_these_commands() {
    let mut s = session(ClientConfig::login("ann", "pw"));
    let mut sent = Vec::new();
    let feat = b"211-Features:\r\n UTF8\r\n EPSV\r\n211 End\r\n";
    for reply in [
        &b"220 hi\r\n"[..],
        b"331 pw\r\n",
        b"230 ok\r\n",
        feat,
        b"200 utf8\r\n",
    ] {
        assert!(!s.is_ready());
        s.handle_input(t(0), reply);
        drain(&mut s, &mut sent);
    }
    s.handle_input(t(0), b"200 I\r\n");
    assert!(matches!(drain(&mut s, &mut sent)[..], [ClientEvent::Ready]));
    assert_eq!(
        core::str::from_utf8(&sent).unwrap(),
        "USER ann\r\nPASS pw\r\nFEAT\r\nOPTS UTF8 ON\r\nTYPE I\r\n"
    );
    assert!(s.features().utf8 && s.features().epsv && !s.features().mlst);
}

#[test]
fn explicit_tls_drops_bytes_after_234_and_protects_data() {
    let mut s = session(ClientConfig {
        security: Security::Explicit,
        ..ClientConfig::login("ann", "pw")
    });
    let mut sent = Vec::new();
    s.handle_input(t(0), b"220-multi\r\n220 line greeting\r\n");
    drain(&mut s, &mut sent);
    assert_eq!(s.greeting(), b"220-multi\r\n220 line greeting\r\n");
    // A plain-text reply injected after the 234 must not count.
    s.handle_input(t(0), b"234 go\r\n331 injected\r\n");
    let events = drain(&mut s, &mut sent);
    let [ClientEvent::UpgradeTls(_)] = &events[..] else {
        panic!("{events:?}")
    };
    let Some(ClientEvent::UpgradeTls(token)) = events.into_iter().next() else {
        unreachable!()
    };
    s.tls_established(token);
    drain(&mut s, &mut sent);
    for reply in [
        &b"331 pw\r\n"[..],
        b"230 ok\r\n",
        b"200 PBSZ\r\n",
        b"200 PROT\r\n",
    ] {
        s.handle_input(t(0), reply);
        drain(&mut s, &mut sent);
    }
    assert_eq!(
        core::str::from_utf8(&sent).unwrap(),
        "AUTH TLS\r\nUSER ann\r\nPASS pw\r\nPBSZ 0\r\nPROT P\r\nFEAT\r\n"
    );
}

#[test]
fn epsv_refused_falls_back_to_pasv_with_a_warning_and_remembers() {
    let (mut s, _) = ready(b"500 no\r\n");
    let mut sent = Vec::new();
    s.request(Request::List {
        path: None,
        command: ListCommand::MachineList,
    });
    drain(&mut s, &mut sent);
    s.handle_input(t(0), b"502 EPSV not implemented\r\n");
    let events = drain(&mut s, &mut sent);
    assert!(
        matches!(
            events[..],
            [ClientEvent::Warning(Warning::EpsvRefused { code: 502 })]
        ),
        "{events:?}"
    );
    // The 227 names a private address: replaced by the control peer's.
    s.handle_input(t(0), b"227 Entering Passive Mode (10,0,0,5,195,80).\r\n");
    let events = drain(&mut s, &mut sent);
    let [
        ClientEvent::Warning(Warning::Passive(target)),
        ClientEvent::ConnectData(connect),
    ] = &events[..]
    else {
        panic!("{events:?}")
    };
    assert_eq!(connect.addr.to_string(), "198.51.100.1:50000");
    let warning = target.to_string();
    assert!(
        warning.contains("10.0.0.5:50000") && warning.contains("private"),
        "{warning}"
    );
    assert_eq!(core::str::from_utf8(&sent).unwrap(), "EPSV\r\nPASV\r\n");
    assert!(s.epsv_refused());
}

#[test]
fn a_transfer_ends_after_both_the_data_and_the_226_whichever_comes_first() {
    for reply_first in [true, false] {
        let (mut s, _) = ready(b"500 no\r\n");
        let mut sent = Vec::new();
        let id = s.request(Request::Retrieve {
            path: b"f".to_vec(),
            offset: 7,
        });
        let moving = to_moving(
            &mut s,
            &mut sent,
            &[b"350 restarting\r\n", b"150 here it comes\r\n"],
        );
        assert_eq!(moving.direction, Direction::Download);
        let events = if reply_first {
            s.handle_input(t(1), b"226 done\r\n");
            assert!(
                drain(&mut s, &mut sent).is_empty(),
                "not before the data is in"
            );
            s.data_done(moving.token, Ok(93), t(1));
            drain(&mut s, &mut sent)
        } else {
            s.data_done(moving.token, Ok(93), t(1));
            assert!(drain(&mut s, &mut sent).is_empty(), "not before the 226");
            s.handle_input(t(1), b"226 done\r\n");
            drain(&mut s, &mut sent)
        };
        let [ClientEvent::Done(done)] = &events[..] else {
            panic!("{events:?}")
        };
        assert_eq!(done.request, id);
        let finished = done.result.as_ref().unwrap();
        assert_eq!((finished.code, finished.bytes), (226, Some(93)));
        assert_eq!(
            core::str::from_utf8(&sent).unwrap(),
            "EPSV\r\nREST 7\r\nRETR f\r\n"
        );
    }
}

#[test]
fn a_refused_transfer_drops_its_data_connection_and_the_session_goes_on() {
    let (mut s, _) = ready(b"500 no\r\n");
    let mut sent = Vec::new();
    s.request(Request::Retrieve {
        path: b"missing\xff".to_vec(),
        offset: 0,
    });
    let next = s.request(Request::Noop);
    drain(&mut s, &mut sent);
    s.handle_input(t(0), b"229 ok (|||50001|)\r\n");
    let Some(ClientEvent::ConnectData(connect)) = drain(&mut s, &mut sent).pop() else {
        panic!()
    };
    s.data_connected(connect.token, t(0));
    drain(&mut s, &mut sent);
    s.handle_input(t(0), b"550 missing\xff: no such file\x1b[2J\r\n");
    let events = drain(&mut s, &mut sent);
    let [ClientEvent::AbortData(_), ClientEvent::Done(done)] = &events[..] else {
        panic!("{events:?}")
    };
    let error = done.result.as_ref().unwrap_err().to_string();
    // The server's text is escaped: no terminal control reaches the user.
    assert_eq!(
        error,
        "the server refused RETR: 550 missing\\xff: no such file\\x1b[2J"
    );
    s.handle_input(t(0), b"200 ok\r\n");
    let events = drain(&mut s, &mut sent);
    assert!(matches!(&events[..], [ClientEvent::Done(d)] if d.request == next && d.result.is_ok()));
    assert!(sent.ends_with(b"RETR missing\xff\r\nNOOP\r\n"));
}

#[test]
fn replies_that_cannot_be_read_end_the_session() {
    type Expected = fn(&ClientError) -> bool;
    let cases: [(&[u8], Expected); 3] = [
        (b"HTTP/1.1 400 Bad Request\r\n", |e| {
            matches!(e, ClientError::Malformed)
        }),
        (b"421 too many users\r\n", |e| {
            matches!(e, ClientError::Refused { code: 421, .. })
        }),
        (&[b'x'; 70_000], |e| {
            matches!(e, ClientError::ReplyTooLong { limit: 65_536 })
        }),
    ];
    for (bytes, expected) in cases {
        let mut s = session(ClientConfig::default());
        let queued = s.request(Request::Noop);
        s.handle_input(t(0), bytes);
        let events = drain(&mut s, &mut Vec::new());
        let failed = events.iter().find_map(|e| match e {
            ClientEvent::Failed(error) => Some(error),
            _ => None,
        });
        assert!(failed.is_some_and(expected), "{events:?}");
        assert!(events.iter().any(
            |e| matches!(e, ClientEvent::Done(d) if d.request == queued && d.result.is_err())
        ));
        assert!(matches!(s.poll_output(), ClientOutput::Closed));
    }
    // A multi-line reply that never ends is cut at the limit.
    let mut s = session(ClientConfig {
        reply_limit: 1024,
        ..ClientConfig::default()
    });
    s.handle_input(t(0), b"220-start\r\n");
    for _ in 0..100 {
        s.handle_input(t(0), b" and on and on\r\n");
    }
    let events = drain(&mut s, &mut Vec::new());
    assert!(
        events.iter().any(|e| matches!(
            e,
            ClientEvent::Failed(ClientError::ReplyTooLong { limit: 1024 })
        )),
        "{events:?}"
    );
}

#[test]
fn a_silent_server_times_out_and_a_stalled_transfer_too() {
    let mut s = session(ClientConfig::default());
    let ClientOutput::Timeout(at) = s.poll_output() else {
        panic!()
    };
    assert_eq!(at, t(30));
    s.handle_timeout(t(29));
    assert!(
        matches!(s.poll_output(), ClientOutput::Timeout(_)),
        "not yet"
    );
    s.handle_timeout(t(30));
    let events = drain(&mut s, &mut Vec::new());
    assert!(
        matches!(events[..], [ClientEvent::Failed(ClientError::Timeout)]),
        "{events:?}"
    );

    let (mut s, _) = ready(b"500 no\r\n");
    let mut sent = Vec::new();
    s.request(Request::Store {
        path: b"up".to_vec(),
        mode: StoreMode::Replace,
    });
    let moving = to_moving(&mut s, &mut sent, &[b"150 send\r\n"]);
    // Progress keeps it alive past the first deadline...
    s.data_progress(&moving.token, t(50));
    s.handle_timeout(t(100));
    assert!(matches!(s.poll_output(), ClientOutput::Timeout(at) if at == t(110)));
    // ...silence does not.
    s.handle_timeout(t(110));
    let events = drain(&mut s, &mut sent);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ClientEvent::Failed(ClientError::DataTimeout))),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ClientEvent::AbortData(_)))
    );
}

#[test]
fn a_stale_answer_is_ignored() {
    let (mut s, _) = ready(b"500 no\r\n");
    s.data_connected(DataToken(99), t(0));
    let events = drain(&mut s, &mut Vec::new());
    assert!(matches!(
        events[..],
        [ClientEvent::Warning(Warning::StaleAnswer)]
    ));
    assert!(matches!(s.poll_output(), ClientOutput::Idle));
}

const PREFIXES: [&[u8]; 3] = [
    b"",
    b"220 hi\r\n",
    b"220 hi\r\n331 pw\r\n230 ok\r\n211-F\r\n EPSV\r\n211 E\r\n200 I\r\n229 (|||1|)\r\n",
];

proptest::proptest! {
    /// Arbitrary server bytes, in arbitrary pieces, never panic the session,
    /// and it never buffers much more than its reply limit.
    #[test]
    fn arbitrary_reply_bytes_never_panic(
        chunks in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300), 0..12),
        prefix in proptest::sample::select(&PREFIXES[..]),
    ) {
        let mut s = session(ClientConfig { reply_limit: 512, ..ClientConfig::default() });
        s.request(Request::Retrieve { path: b"f".to_vec(), offset: 3 });
        s.request(Request::Rename { from: b"a".to_vec(), to: b"b".to_vec() });
        s.handle_input(t(0), prefix);
        for (i, chunk) in chunks.iter().enumerate() {
            s.handle_input(t(i as u64), chunk);
            for event in drain(&mut s, &mut Vec::new()) {
                if let ClientEvent::ConnectData(c) = event {
                    s.data_connected(c.token, t(i as u64));
                }
            }
            proptest::prop_assert!(s.buffered() <= 512 + 300);
        }
        s.handle_timeout(t(1_000));
        drain(&mut s, &mut Vec::new());
    }
}

#[test]
fn a_login_with_a_line_break_is_never_sent() {
    for (user, password) in [("ann\r\nDELE x", "pw"), ("ann", "pw\nDELE x")] {
        let mut s = session(ClientConfig::login(user, password));
        let mut sent = Vec::new();
        s.handle_input(t(0), b"220 hi\r\n");
        let events = drain(&mut s, &mut sent);
        assert!(sent.is_empty(), "{sent:?}");
        assert!(
            matches!(
                &events[..],
                [ClientEvent::Failed(ClientError::BadRequest(_))]
            ),
            "{events:?}"
        );
    }
}
