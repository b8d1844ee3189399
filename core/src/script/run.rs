//! The runner: one [`Script`] against a [`Target`] (the core session in a
//! [`FakeHost`], or a host adapter such as the wasm one), stopping at the
//! first mismatch.

use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use serde_json::{Value as Json, json};

use super::file::{Answer, Listing, Script, Step, TransferAnswer};
use super::host::{FakeHost, Log};
use crate::listing::ListEntry;
use crate::server::{Change, Event, LoginOutcome, Notice, Plan, WriteMode};

/// A session under test, driven the way a script says. Each method does
/// its action and drains the session's output, keeping the transmitted text
/// and the events (in their plain form) for [`take_output`](Self::take_output).
pub trait Target {
    /// Bytes received at `now_ms` on the host's clock.
    fn send(&mut self, now_ms: u64, bytes: &[u8]);
    /// The clock reached `now_ms`; with `progress`, the running transfer
    /// reported that many bytes moved first.
    fn advance(&mut self, now_ms: u64, progress: Option<u64>);
    /// The control connection ended.
    fn peer_closed(&mut self);
    /// Answers the latest event the answer fits.
    fn answer(&mut self, now_ms: u64, answer: &Answer);
    /// The latest transfer's listing of these entries.
    fn listing(&mut self, listing: &Listing) -> String;
    /// What was transmitted, and the events, since the last call; a
    /// transfer's step events and its `transferEnded` notice are left out.
    fn take_output(&mut self) -> (String, Vec<Json>);
    /// Bytes received and not run yet.
    fn held(&self) -> usize;
    /// Whether the session said `Closed`.
    fn closed(&self) -> bool;
    /// Whether the control channel is TLS.
    fn secured(&self) -> bool;
}

/// Where a script and its session disagree.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// The script's name.
    pub script: String,
    /// Its step (1-based; 0 for the greeting).
    pub step: usize,
    /// What was compared.
    pub what: &'static str,
    /// What the script says.
    pub expected: String,
    /// What the session did.
    pub got: String,
}

impl core::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{}, step {}: {}\n  script:  {}\n  session: {}",
            self.script, self.step, self.what, self.expected, self.got
        )
    }
}

impl std::error::Error for Mismatch {}

/// The clock at the start of every script, in milliseconds.
pub const START_MS: u64 = 1000;

/// Runs `script` against `target` (made for its set-up, nothing fed yet).
pub fn run(script: &Script, target: &mut impl Target) -> Result<(), Mismatch> {
    let mismatch = |step: usize, what: &'static str, expected: String, got: String| Mismatch {
        script: script.name.clone(),
        step,
        what,
        expected,
        got,
    };
    let (greeting, events) = target.take_output();
    if greeting != script.greeting {
        return Err(mismatch(
            0,
            "greeting",
            show(&script.greeting),
            show(&greeting),
        ));
    }
    if !events.is_empty() {
        return Err(mismatch(
            0,
            "events before any input",
            "[]".into(),
            Json::Array(events).to_string(),
        ));
    }
    let mut now = START_MS;
    for (i, step) in script.steps.iter().enumerate() {
        let at = i + 1;
        let (replies, events) = run_step(target, &mut now, step, |what, expected, got| {
            mismatch(at, what, expected, got)
        })?;
        let (got_replies, got_events) = target.take_output();
        if got_replies != replies {
            return Err(mismatch(at, "replies", show(&replies), show(&got_replies)));
        }
        if got_events != events {
            let text = |events: Vec<Json>| Json::Array(events).to_string();
            return Err(mismatch(at, "events", text(events), text(got_events)));
        }
        if let Some(held) = &step.held
            && target.held() != held.len()
        {
            return Err(mismatch(
                at,
                "held input",
                format!("{} bytes ({})", held.len(), show(held)),
                format!("{} bytes", target.held()),
            ));
        }
        if let Some(closed) = step.closed
            && target.closed() != closed
        {
            return Err(mismatch(
                at,
                "closed",
                closed.to_string(),
                target.closed().to_string(),
            ));
        }
        if let Some(secured) = step.secured
            && target.secured() != secured
        {
            return Err(mismatch(
                at,
                "secured",
                secured.to_string(),
                target.secured().to_string(),
            ));
        }
    }
    Ok(())
}

/// Does the step's actions; what its replies and events must be.
fn run_step(
    target: &mut impl Target,
    now: &mut u64,
    step: &Step,
    mismatch: impl Fn(&'static str, String, String) -> Mismatch,
) -> Result<(String, Vec<Json>), Mismatch> {
    if let Some(read_only) = step.login {
        target.send(*now, b"USER alice\r\nPASS secret\r\n");
        target.answer(
            *now,
            &Answer::Login {
                accepted: true,
                read_only,
            },
        );
        let events = std::vec![
            json!({"type": "login", "user": "alice", "password": "secret"}),
            json!({"type": "notice", "notice": "loginSucceeded", "user": "alice", "message": "login ok: alice"}),
        ];
        return Ok((
            "331 Password required.\r\n230 Login successful.\r\n".into(),
            events,
        ));
    }
    if !step.send.is_empty() {
        target.send(*now, &step.send);
    }
    if let Some(ms) = step.advance {
        *now += ms;
        target.advance(*now, step.progress);
    }
    if step.peer_closed {
        target.peer_closed();
    }
    if let Some(answer) = &step.answer {
        target.answer(*now, answer);
    }
    if let Some(listing) = &step.listing {
        let got = target.listing(listing);
        if got != listing.bytes {
            return Err(mismatch("listing bytes", show(&listing.bytes), show(&got)));
        }
    }
    Ok((step.replies.clone(), step.events.clone()))
}

fn show(text: &str) -> String {
    format!("{text:?}")
}

/// The plain form of an event, as scripts list it (`None` for a transfer's
/// steps and its `transferEnded` notice, which are the runner's business).
pub fn event_json(event: &Event<'_>) -> Option<Json> {
    let text = |bytes: &[u8]| Json::String(String::from_utf8_lossy(bytes).into_owned());
    Some(match event {
        Event::Login(login) => {
            json!({"type": "login", "user": text(login.user), "password": text(login.password)})
        }
        Event::OpenPassive(open) => json!({
            "type": "openPassive",
            "bind": open.bind.to_string(),
            "resolve": open.resolve,
        }),
        Event::ClosePassive => json!({"type": "closePassive"}),
        Event::Stat(stat) => json!({"type": "stat", "path": text(stat.path)}),
        Event::EnterDirectory(enter) => json!({"type": "enterDirectory", "path": text(enter.path)}),
        Event::FileChange(change) => {
            let (name, mut fields) = match change.change {
                Change::MakeDirectory(path) => ("makeDirectory", json!({"path": text(path)})),
                Change::RemoveDirectory(path) => ("removeDirectory", json!({"path": text(path)})),
                Change::Delete(path) => ("delete", json!({"path": text(path)})),
                Change::Rename { from, to } => {
                    ("rename", json!({"from": text(from), "to": text(to)}))
                }
                Change::SetModified { path, modified } => (
                    "setModified",
                    json!({"path": text(path), "modified": modified}),
                ),
                Change::SetPermissions { path, mode } => {
                    ("setPermissions", json!({"path": text(path), "mode": mode}))
                }
            };
            fields["type"] = json!("fileChange");
            fields["change"] = json!(name);
            fields
        }
        Event::Transfer(transfer) => {
            let mut fields = match transfer.plan {
                Plan::Read { path, offset } => {
                    json!({"plan": "read", "path": text(path), "offset": offset})
                }
                Plan::Write { path, mode } => {
                    let (mode, offset) = match mode {
                        WriteMode::Truncate => ("truncate", 0),
                        WriteMode::At(offset) => ("at", offset),
                        WriteMode::Append => ("append", 0),
                    };
                    json!({"plan": "write", "path": text(path), "mode": mode, "offset": offset})
                }
                Plan::CreateUnique { directory } => {
                    json!({"plan": "createUnique", "path": text(directory)})
                }
                Plan::List {
                    path,
                    filter,
                    read_only,
                    ..
                } => json!({
                    "plan": "list",
                    "path": text(path),
                    "readOnly": read_only,
                    "dotFiles": filter.dot_files,
                }),
            };
            fields["type"] = json!("transfer");
            fields["kind"] = json!(transfer.kind.name());
            fields["ascii"] = json!(transfer.ascii);
            fields
        }
        Event::ConnectData(_)
        | Event::SecureData(_)
        | Event::MoveData(_)
        | Event::CloseData(_)
        | Event::Notice(Notice::TransferEnded { .. }) => return None,
        Event::AbortTransfer(_) => json!({"type": "abortTransfer"}),
        Event::UpgradeTls(_) => json!({"type": "upgradeTls"}),
        Event::DowngradeTls => json!({"type": "downgradeTls"}),
        Event::Notice(notice) => notice_json(notice),
    })
}

fn notice_json(notice: &Notice<'_>) -> Json {
    let user = |user: &[u8]| json!(String::from_utf8_lossy(user));
    let (name, mut fields) = match *notice {
        Notice::LoginSucceeded { user: u } => ("loginSucceeded", json!({"user": user(u)})),
        Notice::LoginFailed { user: u } => ("loginFailed", json!({"user": user(u)})),
        Notice::TooManyLoginFailures => ("tooManyLoginFailures", json!({})),
        Notice::PortRefused { addr, reason } => (
            "portRefused",
            json!({"address": addr.to_string(), "reason": reason}),
        ),
        Notice::LineTooLong => ("lineTooLong", json!({})),
        Notice::IdleTimeout => ("idleTimeout", json!({})),
        Notice::LoginTimeout => ("loginTimeout", json!({})),
        Notice::TlsRequired => ("tlsRequired", json!({})),
        Notice::ReadOnlyRefused { user: u, command } => (
            "readOnlyRefused",
            json!({"user": user(u), "command": command}),
        ),
        Notice::ForeignAnswer { answer } => ("foreignAnswer", json!({"answer": answer})),
        Notice::StaleAnswer { answer } => ("staleAnswer", json!({"answer": answer})),
        Notice::WrongAnswer { answer } => ("wrongAnswer", json!({"answer": answer})),
        Notice::HostAnswerTimeout { answer } => ("hostAnswerTimeout", json!({"answer": answer})),
        Notice::InputLimit => ("inputLimit", json!({})),
        Notice::PassiveFallback { verb } => ("passiveFallback", json!({"verb": verb})),
        Notice::PrivatePassiveAddress { advertised, peer } => (
            "privatePassiveAddress",
            json!({"advertised": advertised.to_string(), "peer": peer.to_string()}),
        ),
        Notice::TransferEnded { .. } => ("transferEnded", json!({})),
    };
    fields["type"] = json!("notice");
    fields["notice"] = json!(name);
    fields["message"] = json!(notice.to_string());
    fields
}

/// The plain form of every event a [`FakeHost`] sees.
#[derive(Debug, Default)]
pub struct JsonLog(pub Vec<Json>);

impl Log for JsonLog {
    fn event(&mut self, event: &Event<'_>) {
        self.0.extend(event_json(event));
    }
}

/// The core session itself as a [`Target`]: a [`FakeHost`] answering as
/// the script says.
pub type CoreTarget = FakeHost<JsonLog>;

impl CoreTarget {
    /// The session `script` sets up, its greeting drained.
    pub fn for_script(script: &Script) -> Self {
        let config = std::sync::Arc::new(script.config.clone());
        FakeHost::on(
            config,
            script.local,
            script.peer,
            script.implicit_tls,
            JsonLog::default(),
        )
    }

    fn answer_transfer(&mut self, answer: &TransferAnswer) {
        if answer.opens() && self.waiting.open.is_some() {
            match &answer.unique_name {
                Some(name) => self.create_unique(name),
                None => self.open_storage(None),
            }
        }
        if answer.connects() && self.waiting.connect.is_some() {
            self.connect_data();
            if self.waiting.secure.is_some() {
                self.secure_data(true);
            }
        }
        if let Some(bytes) = answer.finished {
            self.moved(Ok(bytes));
            self.close_data(Ok(()));
        }
        if let Some(error) = answer.error {
            self.fail_transfer(error);
        }
    }
}

fn instant(ms: u64) -> crate::Instant {
    crate::Instant::from_millis(ms)
}

impl Target for CoreTarget {
    fn send(&mut self, now_ms: u64, bytes: &[u8]) {
        self.now = instant(now_ms);
        FakeHost::send(self, bytes);
    }

    fn advance(&mut self, now_ms: u64, progress: Option<u64>) {
        self.now = instant(now_ms);
        // As a host does before a deadline: what moved meanwhile.
        if let Some(bytes) = progress {
            self.progress(bytes);
        }
        self.session.handle_timeout(self.now);
        self.drain();
    }

    fn peer_closed(&mut self) {
        FakeHost::peer_closed(self);
    }

    fn answer(&mut self, now_ms: u64, answer: &Answer) {
        self.now = instant(now_ms);
        match answer {
            Answer::Login {
                accepted,
                read_only,
            } => self.answer_login(if *accepted {
                LoginOutcome::Accepted {
                    read_only: *read_only,
                }
            } else {
                LoginOutcome::Rejected
            }),
            Answer::OpenPassive(Ok((port, resolved))) => self.open_passive(*port, *resolved),
            Answer::OpenPassive(Err(error)) => self.fail_passive(*error),
            Answer::Stat(result) => self.answer_stat(*result),
            Answer::EnterDirectory(result) => self.answer_enter(*result),
            Answer::FileChange(result) => self.answer_change(*result),
            Answer::UpgradeTls => self.tls_established(),
            Answer::Transfer(answer) => self.answer_transfer(answer),
        }
    }

    fn listing(&mut self, listing: &Listing) -> String {
        let running = self.waiting.transfer.and_then(|t| t.listing);
        let (format, filter, read_only) = running.expect("a listing transfer runs");
        let mut out = Vec::new();
        for (name, metadata, target) in &listing.entries {
            let entry = ListEntry {
                name,
                metadata: *metadata,
                link_target: target.as_deref(),
            };
            if filter.shows(entry.name) {
                format.write_entry(&mut out, &entry, listing.now_unix, !read_only);
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    fn take_output(&mut self) -> (String, Vec<Json>) {
        (self.take(), core::mem::take(&mut self.log.0))
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
