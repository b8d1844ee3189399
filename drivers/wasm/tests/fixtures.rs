//! Runs the core's session scripts (`core/scripts/sessions.json`, the step
//! format in `core/scripts/README.md`) through the Rust [`Session`] of this
//! adapter, natively: the core's runner drives it as a
//! [`Target`](ftpwire_core::script::Target), answering by id as JavaScript
//! does. `js/test/fixtures.test.mjs` runs the same file through the built
//! WebAssembly module.

use std::collections::HashMap;
use std::sync::Arc;

use ftpwire_core::listing::ListEntry;
use ftpwire_core::script::{self, Answer, Listing, Script, Target};
use ftpwire_core::server::TransferError;
use ftpwire_wasm::{Session, Value};
use serde_json::{Map, Value as Json, json};

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

/// The adapter's session, answered by id.
struct Adapter {
    session: Session,
    out: Vec<u8>,
    events: Vec<Json>,
    /// The id of the latest event of each type still waiting.
    ids: HashMap<String, u32>,
    /// The running transfer's step in flight.
    step: Option<String>,
    closed: bool,
}

impl Adapter {
    fn new(script: &Script) -> Self {
        let session = Session::new(
            Arc::new(script.config.clone()),
            script.local,
            script.peer,
            script::START_MS as f64,
            script.implicit_tls,
        );
        let mut adapter = Adapter {
            session,
            out: Vec::new(),
            events: Vec::new(),
            ids: HashMap::new(),
            step: None,
            closed: false,
        };
        adapter.drain();
        adapter
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
                // whole; the runner walks it through the steps.
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

    fn answer_transfer(&mut self, now: f64, answer: &script::TransferAnswer) {
        let id = self.id("transfer", true);
        if answer.opens() && self.step.is_none() {
            let name = answer.unique_name.as_deref();
            self.session.storage_opened(id, None, name, now).unwrap();
            self.drain();
        }
        if answer.connects() && self.step.as_deref() == Some("connectData") {
            self.session.data_connected(id, now).unwrap();
            self.drain();
            if self.step.as_deref() == Some("secureData") {
                self.session.data_secured(id, true, now).unwrap();
                self.drain();
            }
        }
        if let Some(bytes) = answer.finished {
            self.session.data_moved(id, bytes, now).unwrap();
            self.drain();
            self.session.data_closed(id, now).unwrap();
            self.ids.remove("transfer");
            self.step = None;
        }
        if let Some(error) = answer.error {
            let error: TransferError = error;
            self.session.transfer_failed(id, error, now).unwrap();
            self.ids.remove("transfer");
            self.step = None;
        }
    }
}

impl Target for Adapter {
    fn send(&mut self, now_ms: u64, bytes: &[u8]) {
        self.session.handle_input(now_ms as f64, bytes);
        self.drain();
    }

    fn advance(&mut self, now_ms: u64, progress: Option<u64>) {
        if let Some(bytes) = progress {
            let id = self.id("transfer", true);
            self.session
                .data_progress(id, bytes, now_ms as f64)
                .unwrap();
        }
        self.session.handle_timeout(now_ms as f64);
        self.drain();
    }

    fn peer_closed(&mut self) {
        self.session.handle_peer_closed();
        self.drain();
    }

    fn answer(&mut self, now_ms: u64, answer: &Answer) {
        let now = now_ms as f64;
        let result = match answer {
            Answer::Login {
                accepted,
                read_only,
            } => {
                let id = self.id("login", false);
                self.session.login(id, *accepted, *read_only)
            }
            Answer::OpenPassive(result) => {
                let id = self.id("openPassive", false);
                match *result {
                    Ok((port, resolved)) => self.session.passive_opened(id, port, resolved),
                    Err(error) => self.session.passive_failed(id, error),
                }
            }
            Answer::Stat(result) => {
                let id = self.id("stat", false);
                self.session.stat_done(id, *result)
            }
            Answer::EnterDirectory(result) => {
                let id = self.id("enterDirectory", false);
                self.session.directory_entered(id, *result)
            }
            Answer::FileChange(result) => {
                let id = self.id("fileChange", false);
                self.session.change_done(id, *result)
            }
            Answer::UpgradeTls => {
                let id = self.id("upgradeTls", false);
                self.session.tls_established(id)
            }
            Answer::Transfer(answer) => {
                self.answer_transfer(now, answer);
                Ok(())
            }
        };
        result.unwrap_or_else(|e| panic!("answer {answer:?} refused: {e}"));
        self.drain();
    }

    fn listing(&mut self, listing: &Listing) -> String {
        let id = self.id("transfer", true);
        let entries: Vec<_> = listing
            .entries
            .iter()
            .map(|(name, metadata, target)| ListEntry {
                name,
                metadata: *metadata,
                link_target: target.as_deref(),
            })
            .collect();
        let mut out = Vec::new();
        self.session
            .format_listing(id, &entries, listing.now_unix, &mut out)
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    fn take_output(&mut self) -> (String, Vec<Json>) {
        let out = String::from_utf8_lossy(&std::mem::take(&mut self.out)).into_owned();
        (out, std::mem::take(&mut self.events))
    }

    fn held(&self) -> usize {
        self.session.held_input()
    }

    fn closed(&self) -> bool {
        self.closed
    }

    fn secured(&self) -> bool {
        self.session.is_secured()
    }
}

#[test]
fn every_session_script_passes_through_the_adapter() {
    let scripts = script::parse(script::SESSIONS_JSON).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        scripts.len() >= 55,
        "the script file lost scripts: {}",
        scripts.len()
    );
    let mut failed = Vec::new();
    for script in &scripts {
        if let Err(mismatch) = script::run(script, &mut Adapter::new(script)) {
            failed.push(mismatch.to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} scripts failed:\n{}",
        failed.len(),
        scripts.len(),
        failed.join("\n")
    );
}
