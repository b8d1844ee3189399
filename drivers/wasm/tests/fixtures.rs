//! Runs the shared session scripts (`fixtures/sessions.json`) through the
//! Rust [`Session`] natively; `js/test/fixtures.test.mjs` runs the same file
//! through the built WebAssembly module. The step format is in
//! `fixtures/README.md`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ftpwire_core::ServerConfig;
use ftpwire_core::server::TransferError;
use ftpwire_wasm::answer;
use ftpwire_wasm::{Session, Value};
use serde_json::{Map, Value as Json, json};

fn fixtures() -> Json {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/sessions.json");
    let text = std::fs::read_to_string(path).expect("fixtures/sessions.json is readable");
    serde_json::from_str(&text).expect("fixtures/sessions.json is JSON")
}

/// The fixture form of an output value: no ids, bytes as UTF-8 text.
fn plain(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => json!(b),
        Value::Number(n) if n.fract() == 0.0 && n.abs() < 9e15 => json!(*n as i64),
        Value::Number(n) => json!(n),
        Value::Text(s) => json!(s),
        Value::Bytes(bytes) => json!(String::from_utf8_lossy(bytes)),
        Value::Object(properties) => Json::Object(
            properties
                .iter()
                .filter(|(name, _)| *name != "id")
                .map(|(name, value)| (name.to_string(), plain(value)))
                .collect::<Map<_, _>>(),
        ),
    }
}

fn config(script: &Json) -> ServerConfig {
    let mut config = ServerConfig::default();
    let Some(settings) = script.get("config").and_then(Json::as_object) else {
        return config;
    };
    for (key, value) in settings {
        let ms = || Duration::from_millis(value.as_u64().unwrap());
        match key.as_str() {
            "greeting" => config.greeting = value.as_str().unwrap().to_string().into(),
            "tls" => config.tls = value.as_bool().unwrap(),
            "requireTls" => config.require_tls = value.as_bool().unwrap(),
            "allowCcc" => config.allow_ccc = value.as_bool().unwrap(),
            "showDotFiles" => config.show_dot_files = value.as_bool().unwrap(),
            "shareDotFiles" => config.share_dot_files = value.as_bool().unwrap(),
            "implicitTlsProtP" => config.implicit_tls_prot_p = value.as_bool().unwrap(),
            "passiveAddress" => {
                config.passive.external = Some(value.as_str().unwrap().parse().unwrap())
            }
            "tlsPassiveAddress" => {
                config.tls_passive_address = Some(value.as_str().unwrap().parse().unwrap())
            }
            "localNetworks" => {
                for net in value.as_array().unwrap() {
                    let net = net.as_str().unwrap().parse().unwrap();
                    config.passive.local_networks.push(net);
                }
            }
            "maxLoginFailures" => config.max_login_failures = value.as_u64().unwrap() as u32,
            "failedLoginDelayMs" => config.failed_login_delay = ms(),
            "idleTimeoutMs" => config.idle_timeout = ms(),
            "dataConnectionTimeoutMs" => config.data_connection_timeout = ms(),
            other => panic!("unknown config key {other:?} in fixture"),
        }
    }
    config
}

/// A host in memory, answering as the script says.
struct Runner<'a> {
    facts: &'a Json,
    session: Session,
    now: f64,
    held: Vec<u8>,
    out: Vec<u8>,
    events: Vec<Json>,
    ids: HashMap<String, u32>,
    /// The running transfer's step in flight.
    step: Option<String>,
    closed: bool,
}

impl Runner<'_> {
    fn offer(&mut self) {
        self.drain();
        if !self.held.is_empty() {
            let input = std::mem::take(&mut self.held);
            self.session.handle_input(self.now, &input);
            self.drain();
        }
    }

    fn drain(&mut self) {
        loop {
            let output = self.session.poll_output();
            match output.kind() {
                Some("transmit") => match output.get("data") {
                    Some(Value::Bytes(data)) => self.out.extend_from_slice(data),
                    other => panic!("transmit without bytes: {other:?}"),
                },
                Some("timeout") => break,
                Some("closed") => {
                    self.closed = true;
                    break;
                }
                // A transfer's steps: the scripts answer a transfer as a
                // whole ("started", "finished", "error"); the runner walks it
                // through the steps.
                Some(kind @ ("connectData" | "secureData" | "moveData" | "closeData")) => {
                    self.step = Some(kind.to_string());
                }
                Some("notice")
                    if output.get("notice") == Some(&Value::Text("transferEnded".into())) => {}
                Some(kind) => {
                    if kind == "abortTransfer" {
                        self.ids.remove("transfer");
                        self.step = None;
                    } else if let Some(Value::Number(id)) = output.get("id") {
                        self.ids.insert(kind.to_string(), *id as u32);
                    }
                    self.events.push(plain(&output));
                }
                None => panic!("output without a type: {output:?}"),
            }
        }
    }

    fn id(&mut self, kind: &str, keep: bool) -> u32 {
        let id = self.ids.get(kind).copied();
        let id = id.unwrap_or_else(|| panic!("no {kind} event to answer"));
        if !keep {
            self.ids.remove(kind);
        }
        id
    }

    fn facts(&self, value: &Json) -> ftpwire_core::listing::Metadata {
        let value = match value {
            Json::String(name) => &self.facts[name.as_str()],
            other => other,
        };
        answer::metadata(
            value["kind"].as_str().unwrap(),
            value["size"].as_f64().unwrap(),
            value["modified"].as_f64(),
            value["mode"].as_u64().unwrap_or(0) as u32,
        )
        .unwrap()
    }

    fn answer(&mut self, step: &Json) {
        let kind = step["answer"].as_str().unwrap();
        let error = step.get("error").and_then(Json::as_str);
        let result = match kind {
            "login" => {
                let id = self.id(kind, false);
                let read_only = step["readOnly"].as_bool().unwrap_or(false);
                self.session
                    .login(id, step["accepted"].as_bool().unwrap(), read_only)
            }
            "openPassive" => {
                let id = self.id(kind, false);
                match error {
                    Some(error) => self
                        .session
                        .passive_failed(id, answer::passive_error(error).unwrap()),
                    None => {
                        let resolved = step.get("resolved").and_then(Json::as_str);
                        let resolved = resolved.map(|ip| answer::ip(ip).unwrap());
                        let port = step["port"].as_u64().unwrap() as u16;
                        self.session.passive_opened(id, port, resolved)
                    }
                }
            }
            "stat" => {
                let id = self.id(kind, false);
                let result = match error {
                    Some(error) => Err(answer::file_error(error).unwrap()),
                    None => Ok(self.facts(&step["facts"])),
                };
                self.session.stat_done(id, result)
            }
            "enterDirectory" => {
                let id = self.id(kind, false);
                let result = error.map_or(Ok(()), |e| Err(answer::file_error(e).unwrap()));
                self.session.directory_entered(id, result)
            }
            "fileChange" => {
                let id = self.id(kind, false);
                let result = error.map_or(Ok(()), |e| Err(answer::file_error(e).unwrap()));
                self.session.change_done(id, result)
            }
            "upgradeTls" => {
                let id = self.id(kind, false);
                self.session.tls_established(id)
            }
            "transfer" => {
                let id = self.id(kind, true);
                let unique = step.get("uniqueName").and_then(Json::as_str);
                let finished = step.get("finished").and_then(Json::as_u64);
                let error = error.map(|e| answer::transfer_error(e).unwrap());
                // A file error before any data connection is the storage's.
                let opens = !matches!(error, Some(TransferError::File(_)))
                    || step.get("started").is_some()
                    || step.get("opened").is_some();
                if opens && self.step.is_none() {
                    let name = unique.map(str::as_bytes);
                    self.session
                        .storage_opened(id, None, name, self.now)
                        .unwrap();
                    self.offer();
                }
                let connects =
                    step.get("started").is_some() || finished.is_some() || unique.is_some();
                if connects && self.step.as_deref() == Some("connectData") {
                    self.session.data_connected(id, self.now).unwrap();
                    self.offer();
                    if self.step.as_deref() == Some("secureData") {
                        self.session.data_secured(id, true, self.now).unwrap();
                        self.offer();
                    }
                }
                if let Some(bytes) = finished {
                    self.session.data_moved(id, bytes, self.now).unwrap();
                    self.offer();
                    self.session.data_closed(id, self.now).unwrap();
                    self.ids.remove(kind);
                    self.step = None;
                }
                if let Some(error) = error {
                    self.session.transfer_failed(id, error, self.now).unwrap();
                    self.ids.remove(kind);
                    self.step = None;
                }
                Ok(())
            }
            other => panic!("cannot answer {other:?}"),
        };
        result.unwrap_or_else(|e| panic!("answer {kind} refused: {e}"));
        self.offer();
    }

    fn listing(&mut self, step: &Json) -> String {
        let id = self.id("transfer", true);
        type Entry = (Vec<u8>, ftpwire_core::listing::Metadata, Option<Vec<u8>>);
        let entries: Vec<Entry> = step["listing"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["name"].as_str().unwrap().as_bytes().to_vec(),
                    self.facts(&e["facts"]),
                    e["linkTarget"].as_str().map(|t| t.as_bytes().to_vec()),
                )
            })
            .collect();
        let entries: Vec<_> = entries
            .iter()
            .map(
                |(name, metadata, target)| ftpwire_core::listing::ListEntry {
                    name,
                    metadata: *metadata,
                    link_target: target.as_deref(),
                },
            )
            .collect();
        let mut out = Vec::new();
        let now = step["nowUnix"].as_i64().unwrap();
        self.session
            .format_listing(id, &entries, now, &mut out)
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    fn run_step(&mut self, step: &Json, at: &str) {
        let (replies, events) = if let Some(login) = step.get("login") {
            let read_only = login["readOnly"].as_bool().unwrap_or(false);
            self.held
                .extend_from_slice(b"USER alice\r\nPASS secret\r\n");
            self.offer();
            let id = self.id("login", false);
            self.session.login(id, true, read_only).unwrap();
            self.offer();
            let events = json!([
                {"type": "login", "user": "alice", "password": "secret"},
                {"type": "notice", "notice": "loginSucceeded", "user": "alice", "message": "login ok: alice"},
            ]);
            (
                json!("331 Password required.\r\n230 Login successful.\r\n"),
                events,
            )
        } else {
            let mut sent = false;
            if let Some(hex) = step.get("sendHex").and_then(Json::as_str) {
                let bytes = (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap());
                self.held.extend(bytes);
                sent = true;
            }
            if let Some(repeat) = step.get("sendRepeat") {
                let text = repeat["text"].as_str().unwrap();
                self.held.extend_from_slice(
                    text.repeat(repeat["times"].as_u64().unwrap() as usize)
                        .as_bytes(),
                );
                sent = true;
            }
            if let Some(text) = step.get("send").and_then(Json::as_str) {
                self.held.extend_from_slice(text.as_bytes());
                sent = true;
            }
            if sent {
                self.offer();
            }
            if let Some(ms) = step.get("advance").and_then(Json::as_f64) {
                self.now += ms;
                // As a host does before a deadline: what moved meanwhile.
                if let Some(bytes) = step.get("progress").and_then(Json::as_u64) {
                    let id = self.id("transfer", true);
                    self.session.data_progress(id, bytes, self.now).unwrap();
                }
                self.session.handle_timeout(self.now);
                self.offer();
            }
            if step.get("peerClosed").is_some() {
                self.session.handle_peer_closed();
                self.offer();
            }
            if step.get("answer").is_some() {
                self.answer(step);
            }
            if step.get("listing").is_some() {
                let bytes = self.listing(step);
                assert_eq!(
                    bytes,
                    step["bytes"].as_str().unwrap(),
                    "{at}: listing bytes"
                );
            }
            (
                step.get("replies").cloned().unwrap_or(json!("")),
                step.get("events").cloned().unwrap_or(json!([])),
            )
        };
        let out = String::from_utf8_lossy(&std::mem::take(&mut self.out)).into_owned();
        assert_eq!(json!(out), replies, "{at}: replies");
        assert_eq!(
            Json::Array(std::mem::take(&mut self.events)),
            events,
            "{at}: events"
        );
        if let Some(held) = step.get("held").and_then(Json::as_str) {
            // The session holds them now; the script names the bytes.
            assert_eq!(self.session.held_input(), held.len(), "{at}: held input");
        }
        if let Some(closed) = step.get("closed").and_then(Json::as_bool) {
            assert_eq!(self.closed, closed, "{at}: closed");
        }
        if let Some(secured) = step.get("secured").and_then(Json::as_bool) {
            assert_eq!(self.session.is_secured(), secured, "{at}: secured");
        }
    }
}

fn run(fixtures: &Json, script: &Json) {
    let name = script["name"].as_str().unwrap();
    let addr = |key: &str, default: &str| -> SocketAddr {
        script
            .get(key)
            .and_then(Json::as_str)
            .unwrap_or(default)
            .parse()
            .unwrap()
    };
    let implicit = script
        .get("implicitTls")
        .and_then(Json::as_bool)
        .unwrap_or(false);
    let session = Session::new(
        Arc::new(config(script)),
        addr("local", "127.0.0.1:21"),
        addr("peer", "127.0.0.1:40000"),
        1000.0,
        implicit,
    );
    let mut runner = Runner {
        facts: &fixtures["facts"],
        session,
        now: 1000.0,
        held: Vec::new(),
        out: Vec::new(),
        events: Vec::new(),
        ids: HashMap::new(),
        step: None,
        closed: false,
    };
    runner.drain();
    let greeting = script
        .get("greeting")
        .and_then(Json::as_str)
        .unwrap_or("220 ftpwire ready\r\n");
    assert_eq!(
        String::from_utf8_lossy(&std::mem::take(&mut runner.out)),
        greeting,
        "{name}: greeting"
    );
    assert!(runner.events.is_empty(), "{name}: events before any input");
    for (i, step) in script["steps"].as_array().unwrap().iter().enumerate() {
        runner.run_step(step, &format!("{name}, step {}", i + 1));
    }
}

#[test]
fn every_shared_script_passes_natively() {
    let fixtures = fixtures();
    let scripts = fixtures["scripts"].as_array().unwrap();
    assert!(
        scripts.len() >= 40,
        "the fixture file lost scripts: {}",
        scripts.len()
    );
    for script in scripts {
        run(&fixtures, script);
    }
}
