use std::io::{Read, Write};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};

use super::*;

pub(crate) struct Identity {
    cert: CertificateDer<'static>,
    key_pem: String,
    cert_pem: String,
    key: PrivateKeyDer<'static>,
}

pub(crate) fn identity() -> Identity {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    Identity {
        cert: generated.cert.der().clone(),
        cert_pem: generated.cert.pem(),
        key_pem: generated.signing_key.serialize_pem(),
        key: PrivateKeyDer::Pkcs8(generated.signing_key.serialize_der().into()),
    }
}

pub(crate) fn settings(id: &Identity) -> TlsSettings {
    TlsSettings::from_der(vec![id.cert.clone()], id.key.clone_key()).unwrap()
}

/// A client that trusts `id` and keeps its own session cache (like curl).
pub(crate) fn client_config(id: &Identity) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(id.cert.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

pub(crate) fn client(config: &Arc<ClientConfig>) -> ClientConnection {
    ClientConnection::new(config.clone(), ServerName::try_from("localhost").unwrap()).unwrap()
}

/// Runs client and control TLS against each other until neither has
/// anything to say; returns what the server decrypted.
fn pump(client: &mut ClientConnection, server: &mut ControlTls) -> (Vec<u8>, Received) {
    let mut plain = Vec::new();
    let mut received = Received::Tls;
    for _ in 0..20 {
        let mut to_server = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut to_server).unwrap();
        }
        if !to_server.is_empty() {
            received = server.receive(&to_server, &mut plain).unwrap();
        }
        let mut to_client = Vec::new();
        server.take_wire(&mut to_client);
        if !to_client.is_empty() {
            let mut slice = &to_client[..];
            while !slice.is_empty() {
                client.read_tls(&mut slice).unwrap();
                client.process_new_packets().unwrap();
            }
        }
        if to_server.is_empty() && to_client.is_empty() {
            break;
        }
    }
    (plain, received)
}

pub(crate) fn client_reads(client: &mut ClientConnection) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0; 1024];
    while let Ok(n) = client.reader().read(&mut buf) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    got
}

/// A data connection of `session` opened by a client with `config`.
fn data_handshake(session: &SessionTls, config: &Arc<ClientConfig>) -> ServerConnection {
    let mut server = session.data_connection(TransferKind::Retrieve).unwrap();
    let mut client = client(config);
    for _ in 0..20 {
        let mut wire = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut wire).unwrap();
        }
        let mut slice = &wire[..];
        while !slice.is_empty() {
            server.read_tls(&mut slice).unwrap();
            server.process_new_packets().unwrap();
        }
        let mut back = Vec::new();
        while server.wants_write() {
            server.write_tls(&mut back).unwrap();
        }
        let mut slice = &back[..];
        while !slice.is_empty() {
            client.read_tls(&mut slice).unwrap();
            client.process_new_packets().unwrap();
        }
        if wire.is_empty() && back.is_empty() {
            break;
        }
    }
    assert!(!server.is_handshaking(), "the data handshake finished");
    server
}

#[test]
fn control_channel_round_trip_after_handshake() {
    let id = identity();
    let session = settings(&id).for_session();
    let mut control = session.control().unwrap();
    let config = client_config(&id);
    let mut client = client(&config);
    // Queued before the handshake, as an implicit-FTPS greeting is.
    control.send(b"220 Ready.\r\n");
    client.writer().write_all(b"USER alice\r\n").unwrap();
    let (plain, received) = pump(&mut client, &mut control);
    assert!(!control.is_handshaking());
    assert_eq!(received, Received::Tls);
    assert_eq!(plain, b"USER alice\r\n");
    assert_eq!(client_reads(&mut client), b"220 Ready.\r\n");
}

#[test]
fn plain_text_where_tls_is_expected_fails() {
    let id = identity();
    let mut control = settings(&id).for_session().control().unwrap();
    let mut plain = Vec::new();
    assert!(
        control
            .receive(b"PBSZ 0\r\nPROT P\r\n", &mut plain)
            .is_err()
    );
    assert!(plain.is_empty(), "nothing is passed on as a command");
}

#[test]
fn data_connections_resume_only_their_own_control_session() {
    let id = identity();
    let tls = settings(&id).with_session_reuse_required(true);
    let curl_like = client_config(&id);

    let session = tls.for_session();
    let mut control = session.control().unwrap();
    let mut client = client(&curl_like);
    pump(&mut client, &mut control);
    assert!(!control.is_handshaking());

    // The same client (same cache) resumes on this control connection's data connection.
    let data = data_handshake(&session, &curl_like);
    assert_eq!(data.handshake_kind(), Some(HandshakeKind::Resumed));
    assert!(session.resumed(&data));

    // A second data connection resumes too. (rustls' client takes a fresh
    // ticket each time; lftp re-sends the first one, which the tests with the
    // real client cover: rustls' client store cannot be made to do that.)
    let data = data_handshake(&session, &curl_like);
    assert_eq!(data.handshake_kind(), Some(HandshakeKind::Resumed));

    // A client that does not resume (ftplib) is refused.
    let fresh = client_config(&id);
    let data = data_handshake(&session, &fresh);
    assert_eq!(data.handshake_kind(), Some(HandshakeKind::Full));
    assert!(!session.resumed(&data));

    // A session from another control connection does not resume here.
    let other = tls.for_session();
    let data = data_handshake(&other, &curl_like);
    assert_ne!(data.handshake_kind(), Some(HandshakeKind::Resumed));
    assert!(!other.resumed(&data));
}

#[test]
fn a_full_handshake_is_not_resumed() {
    let id = identity();
    let session = settings(&id).for_session();
    let data = data_handshake(&session, &client_config(&id));
    assert_eq!(data.handshake_kind(), Some(HandshakeKind::Full));
    assert!(!session.resumed(&data));
}

/// A control channel after login, CCC's `200` sent and the downgrade
/// started at `t0`; the client has read the `200`.
fn after_ccc(id: &Identity) -> (ControlTls, ClientConnection) {
    let mut control = settings(id).for_session().control().unwrap();
    let config = client_config(id);
    let mut client = client(&config);
    pump(&mut client, &mut control);
    control.send(b"200 Control channel in plain text.\r\n");
    control.downgrade(Instant::from_millis(1_000));
    let mut to_client = Vec::new();
    control.take_wire(&mut to_client);
    feed_client(&mut client, &to_client);
    assert_eq!(
        client_reads(&mut client),
        b"200 Control channel in plain text.\r\n"
    );
    (control, client)
}

fn feed_client(client: &mut ClientConnection, wire: &[u8]) {
    let mut slice = wire;
    while !slice.is_empty() {
        client.read_tls(&mut slice).unwrap();
        client.process_new_packets().unwrap();
    }
}

fn client_wire(client: &mut ClientConnection) -> Vec<u8> {
    let mut wire = Vec::new();
    while client.wants_write() {
        client.write_tls(&mut wire).unwrap();
    }
    wire
}

/// Whether `wire` holds the server's close_notify, as the client sees it.
fn closes_client(client: &mut ClientConnection, wire: &[u8]) -> bool {
    feed_client(client, wire);
    let mut buf = [0; 64];
    matches!(client.reader().read(&mut buf), Ok(0))
}

#[test]
fn ccc_answers_a_client_that_closes_first() {
    let id = identity();
    let (mut control, mut client) = after_ccc(&id);
    // Nothing goes out with the 200: a client that closes first (lftp)
    // would take our close_notify for the end of the connection.
    let mut wire = Vec::new();
    control.take_wire(&mut wire);
    assert!(wire.is_empty(), "close_notify sent before the client's");
    assert_eq!(
        control.deadline(),
        Some(Instant::from_millis(1_000) + CCC_CLOSE_WAIT)
    );
    assert!(!control.sends_plain());

    // A last protected command, the client's close_notify and plain text,
    // in one read, split mid-record to exercise the record reassembly.
    client.writer().write_all(b"NOOP\r\n").unwrap();
    client.send_close_notify();
    let mut wire = client_wire(&mut client);
    wire.extend_from_slice(b"PWD\r\n");
    let mut plain = Vec::new();
    assert_eq!(
        control.receive(&wire[..3], &mut plain).unwrap(),
        Received::Tls
    );
    assert_eq!(
        control.receive(&wire[3..], &mut plain).unwrap(),
        Received::Plain
    );
    assert_eq!(plain, b"NOOP\r\nPWD\r\n");
    // Our close_notify answers theirs at once, not at the deadline.
    let mut to_client = Vec::new();
    control.take_wire(&mut to_client);
    assert!(closes_client(&mut client, &to_client));
    assert_eq!(control.deadline(), None);
    assert!(control.sends_plain());
}

#[test]
fn ccc_drops_alerts_after_the_close_notify_and_waits_for_plain_text() {
    let id = identity();
    let (mut control, mut client) = after_ccc(&id);
    client.send_close_notify();
    let close = client_wire(&mut client);
    let mut plain = Vec::new();
    // The close_notify alone: still waiting for the plain text.
    assert_eq!(control.receive(&close, &mut plain).unwrap(), Received::Tls);
    assert!(control.sends_plain());
    // An alert record more (GnuTLS can send one), then the command.
    let mut more = vec![23, 3, 3, 0, 19];
    more.extend_from_slice(&[0xa5; 19]);
    more.extend_from_slice(b"PWD\r\n");
    assert_eq!(control.receive(&more, &mut plain).unwrap(), Received::Plain);
    assert_eq!(plain, b"PWD\r\n");
}

#[test]
fn ccc_closes_first_for_a_client_that_waits() {
    let id = identity();
    let (mut control, mut client) = after_ccc(&id);
    let due = control.deadline().expect("a deadline after CCC");
    control.handle_timeout(Instant::from_millis(1_000));
    let mut wire = Vec::new();
    control.take_wire(&mut wire);
    assert!(wire.is_empty(), "close_notify before the deadline");
    control.handle_timeout(due);
    control.take_wire(&mut wire);
    assert!(
        closes_client(&mut client, &wire),
        "our close_notify at the deadline"
    );
    assert_eq!(control.deadline(), None);
    // curl's passive mode never answers it: plain text follows at once.
    let mut plain = Vec::new();
    assert_eq!(
        control.receive(b"PWD\r\n", &mut plain).unwrap(),
        Received::Plain
    );
    assert_eq!(plain, b"PWD\r\n");
    // Replies now go in plain text.
    assert!(control.sends_plain());
}

#[test]
fn close_notify_without_ccc_ends_the_channel() {
    let id = identity();
    let mut control = settings(&id).for_session().control().unwrap();
    let config = client_config(&id);
    let mut client = client(&config);
    pump(&mut client, &mut control);
    client.send_close_notify();
    let (_, received) = pump(&mut client, &mut control);
    assert_eq!(received, Received::Closed);
}

#[test]
fn pem_files_load_and_bad_ones_name_the_file() {
    let id = identity();
    let other = identity();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let cert = write("cert.pem", &id.cert_pem);
    let key = write("key.pem", &id.key_pem);
    let other_key = write("other-key.pem", &other.key_pem);
    let garbage = write("garbage.pem", "not a pem file\n");
    let missing = dir.path().join("missing.pem");

    assert!(TlsSettings::from_pem_files(&cert, &key).is_ok());

    let message = |r: Result<TlsSettings, TlsError>| {
        let m = r.unwrap_err().to_string();
        assert!(!m.contains('\n'), "one line: {m}");
        m
    };
    let m = message(TlsSettings::from_pem_files(&missing, &key));
    assert!(
        m.contains("missing.pem") && m.contains("certificate"),
        "{m}"
    );
    let m = message(TlsSettings::from_pem_files(&garbage, &key));
    assert!(
        m.contains("garbage.pem") && m.contains("no certificate"),
        "{m}"
    );
    let m = message(TlsSettings::from_pem_files(&cert, &garbage));
    assert!(m.contains("garbage.pem") && m.contains("key"), "{m}");
    let m = message(TlsSettings::from_pem_files(&cert, &cert));
    assert!(m.contains("cert.pem") && m.contains("key"), "{m}");
    let m = message(TlsSettings::from_pem_files(&cert, &other_key));
    assert!(
        m.contains("other-key.pem") && m.contains("cert.pem") && m.contains("issued for"),
        "{m}"
    );
}

#[test]
fn a_renewed_certificate_is_used_by_the_next_session() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let write_pair = |id: &Identity, at: SystemTime| {
        for (path, text) in [(&cert, &id.cert_pem), (&key, &id.key_pem)] {
            std::fs::write(path, text).unwrap();
            let file = std::fs::File::options().write(true).open(path).unwrap();
            file.set_modified(at).unwrap();
        }
    };
    let served_certificate = |tls: &TlsSettings, trusted: &Identity| {
        let mut control = tls.for_session().control().unwrap();
        let mut client = client(&client_config(trusted));
        pump(&mut client, &mut control);
        assert!(
            !control.is_handshaking(),
            "handshake with the trusted certificate"
        );
        client.peer_certificates().unwrap()[0].clone()
    };
    let (old, new) = (identity(), identity());
    let start = SystemTime::now();
    write_pair(&old, start);
    let tls = TlsSettings::from_pem_files(&cert, &key).unwrap();
    assert_eq!(served_certificate(&tls, &old), old.cert);

    // Half a renewal (new certificate, old key) cannot be used: the old pair stays.
    std::fs::write(&cert, &new.cert_pem).unwrap();
    let file = std::fs::File::options().write(true).open(&cert).unwrap();
    file.set_modified(start + std::time::Duration::from_secs(10))
        .unwrap();
    assert_eq!(served_certificate(&tls, &old), old.cert);

    write_pair(&new, start + std::time::Duration::from_secs(20));
    assert_eq!(served_certificate(&tls, &new), new.cert);
}

#[test]
fn a_ticket_resumed_again_and_again_outlives_newer_ones() {
    let cache = ControlSessionCache::default();
    cache.put(b"control".to_vec(), b"first".to_vec());
    for n in 0..10 * SESSIONS_PER_CONTROL {
        // Each download resumes from the same ticket and is issued new ones.
        assert_eq!(cache.get(b"control"), Some(b"first".to_vec()), "round {n}");
        cache.put(format!("download {n} a").into_bytes(), vec![1]);
        cache.put(format!("download {n} b").into_bytes(), vec![2]);
    }
    // Bounded all the same: the oldest unused tickets went.
    assert!(cache.get(b"download 0 a").is_none());
    assert_eq!(cache.lock().len(), SESSIONS_PER_CONTROL);
}
