//! The session script file (`core/scripts/sessions.json`, its format in
//! `core/scripts/README.md`) as typed values.

use std::borrow::ToOwned;
use std::format;
use std::net::{IpAddr, SocketAddr};
use std::string::{String, ToString};
use std::time::Duration;
use std::vec::Vec;

use serde_json::{Map, Value as Json};

use crate::ServerConfig;
use crate::listing::{FileKind, Metadata};
use crate::server::{FileError, PassiveError, TransferError};

/// The byte-exact session scripts every host adapter runs (the same text
/// as `core/scripts/sessions.json`).
pub const SESSIONS_JSON: &str = include_str!("../../scripts/sessions.json");

/// A script that could not be read, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError(pub String);

impl core::fmt::Display for FormatError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FormatError {}

fn bad(what: impl Into<String>) -> FormatError {
    FormatError(what.into())
}

/// One script: a session's set-up and its steps.
#[derive(Debug, Clone)]
pub struct Script {
    /// What it shows.
    pub name: String,
    /// The server's settings (`config`).
    pub config: ServerConfig,
    /// The control connection's local end (default `127.0.0.1:21`).
    pub local: SocketAddr,
    /// Its peer (default `127.0.0.1:40000`).
    pub peer: SocketAddr,
    /// TLS from the first byte.
    pub implicit_tls: bool,
    /// The first bytes transmitted (default `220 ftpwire ready\r\n`).
    pub greeting: String,
    /// In order.
    pub steps: Vec<Step>,
}

/// One step: actions, then what must have come out.
#[derive(Debug, Clone, Default)]
pub struct Step {
    /// `login`: USER alice / PASS secret, accepted (`Some(read_only)`);
    /// the runner checks its replies and events itself.
    pub login: Option<bool>,
    /// `sendHex`, `sendRepeat`, `send`: bytes received, concatenated in that order.
    pub send: Vec<u8>,
    /// `advance`: milliseconds pass.
    pub advance: Option<u64>,
    /// `progress`: with `advance`, the running transfer reported this many
    /// bytes moved first.
    pub progress: Option<u64>,
    /// `peerClosed`.
    pub peer_closed: bool,
    /// `answer`: the latest event of that type is answered.
    pub answer: Option<Answer>,
    /// `listing`: entries formatted for the latest transfer.
    pub listing: Option<Listing>,
    /// `replies`: exactly the text transmitted.
    pub replies: String,
    /// `events`: exactly the events, in their plain form (see [`event_json`](super::event_json)).
    pub events: Vec<Json>,
    /// `held`: input the session still holds.
    pub held: Option<String>,
    /// `closed`: whether the session is over.
    pub closed: Option<bool>,
    /// `secured`: whether the control channel is TLS.
    pub secured: Option<bool>,
}

/// The host's answer to the latest event of a type.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// `login`.
    Login {
        /// Credentials good.
        accepted: bool,
        /// The login may only read.
        read_only: bool,
    },
    /// `openPassive`: the port and what the name resolved to, or why not.
    OpenPassive(Result<(u16, Option<IpAddr>), PassiveError>),
    /// `stat`.
    Stat(Result<Metadata, FileError>),
    /// `enterDirectory`.
    EnterDirectory(Result<(), FileError>),
    /// `fileChange`.
    FileChange(Result<(), FileError>),
    /// `upgradeTls`: the handshake is done.
    UpgradeTls,
    /// `transfer`, walked through its steps by the runner.
    Transfer(TransferAnswer),
}

/// How far a transfer gets: each field says the steps up to it succeed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TransferAnswer {
    /// `opened`: storage open.
    pub opened: bool,
    /// `started`: also connected, and secured under PROT P.
    pub started: bool,
    /// `uniqueName`: STOU's new file (implies `started`).
    pub unique_name: Option<Vec<u8>>,
    /// `finished`: this many bytes moved, then closed in order.
    pub finished: Option<u64>,
    /// `error`: the step in flight failed (a file error before `started`
    /// or `opened` is the storage's).
    pub error: Option<TransferError>,
}

impl TransferAnswer {
    /// Whether the storage opens.
    pub fn opens(&self) -> bool {
        !matches!(self.error, Some(TransferError::File(_))) || self.started || self.opened
    }

    /// Whether the data connection comes up (and TLS, when asked).
    pub fn connects(&self) -> bool {
        self.started || self.finished.is_some() || self.unique_name.is_some()
    }
}

/// Directory entries to format for the latest (listing) transfer.
#[derive(Debug, Clone)]
pub struct Listing {
    /// Name, facts, link target.
    pub entries: Vec<(Vec<u8>, Metadata, Option<Vec<u8>>)>,
    /// `nowUnix`: the host's wall clock (LIST's date style).
    pub now_unix: i64,
    /// `bytes`: what formatting them must give.
    pub bytes: String,
}

/// Every script of `text` (a script file).
pub fn parse(text: &str) -> Result<Vec<Script>, FormatError> {
    let file: Json = serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let facts = file.get("facts").cloned().unwrap_or(Json::Null);
    let scripts = file["scripts"]
        .as_array()
        .ok_or_else(|| bad("no `scripts` array"))?;
    scripts
        .iter()
        .map(|script| {
            let name = script["name"].as_str().unwrap_or("(unnamed)");
            parse_script(&facts, script).map_err(|e| bad(format!("script {name:?}: {e}")))
        })
        .collect()
}

fn parse_script(facts: &Json, script: &Json) -> Result<Script, FormatError> {
    let object = script.as_object().ok_or_else(|| bad("not an object"))?;
    let addr = |key: &str, default: &str| -> Result<SocketAddr, FormatError> {
        let text = object.get(key).map_or(Some(default), Json::as_str);
        let text = text.ok_or_else(|| bad(format!("`{key}` is not text")))?;
        text.parse()
            .map_err(|_| bad(format!("`{key}`: {text:?} is not a socket address")))
    };
    let mut steps = Vec::new();
    let list = object.get("steps").and_then(Json::as_array);
    for (i, step) in list
        .ok_or_else(|| bad("no `steps` array"))?
        .iter()
        .enumerate()
    {
        steps.push(parse_step(facts, step).map_err(|e| bad(format!("step {}: {e}", i + 1)))?);
    }
    Ok(Script {
        name: text(object, "name")?
            .ok_or_else(|| bad("no `name`"))?
            .to_owned(),
        config: config(object.get("config"))?,
        local: addr("local", "127.0.0.1:21")?,
        peer: addr("peer", "127.0.0.1:40000")?,
        implicit_tls: flag(object, "implicitTls")?.unwrap_or(false),
        greeting: text(object, "greeting")?
            .unwrap_or("220 ftpwire ready\r\n")
            .to_owned(),
        steps,
    })
}

fn text<'a>(object: &'a Map<String, Json>, key: &str) -> Result<Option<&'a str>, FormatError> {
    object
        .get(key)
        .map(|v| {
            v.as_str()
                .ok_or_else(|| bad(format!("`{key}` is not text")))
        })
        .transpose()
}

fn flag(object: &Map<String, Json>, key: &str) -> Result<Option<bool>, FormatError> {
    object
        .get(key)
        .map(|v| {
            v.as_bool()
                .ok_or_else(|| bad(format!("`{key}` is not true or false")))
        })
        .transpose()
}

fn number(object: &Map<String, Json>, key: &str) -> Result<Option<u64>, FormatError> {
    object
        .get(key)
        .map(|v| {
            v.as_u64()
                .ok_or_else(|| bad(format!("`{key}` is not a whole number")))
        })
        .transpose()
}

/// The server settings of a script's `config`.
fn config(settings: Option<&Json>) -> Result<ServerConfig, FormatError> {
    let mut config = ServerConfig::default();
    let Some(settings) = settings else {
        return Ok(config);
    };
    let settings = settings
        .as_object()
        .ok_or_else(|| bad("`config` is not an object"))?;
    for key in settings.keys() {
        let on = || flag(settings, key).map(Option::unwrap_or_default);
        let ms = || number(settings, key).map(|n| Duration::from_millis(n.unwrap_or_default()));
        let address = || -> Result<_, FormatError> {
            let text = text(settings, key)?.unwrap_or_default();
            text.parse()
                .map_err(|_| bad(format!("`{key}`: {text:?} is not an address or name")))
        };
        match key.as_str() {
            "greeting" => {
                config.greeting = text(settings, key)?.unwrap_or_default().to_owned().into()
            }
            "tls" => config.tls = on()?,
            "requireTls" => config.require_tls = on()?,
            "allowCcc" => config.allow_ccc = on()?,
            "showDotFiles" => config.show_dot_files = on()?,
            "shareDotFiles" => config.share_dot_files = on()?,
            "implicitTlsProtP" => config.implicit_tls_prot_p = on()?,
            "passiveAddress" => config.passive.external = Some(address()?),
            "tlsPassiveAddress" => config.tls_passive_address = Some(address()?),
            "localNetworks" => {
                let nets = settings[key].as_array();
                for net in nets.ok_or_else(|| bad("`localNetworks` is not an array"))? {
                    let net = net.as_str().unwrap_or_default();
                    let parsed = net
                        .parse()
                        .map_err(|_| bad(format!("{net:?} is not a network")))?;
                    config.passive.local_networks.push(parsed);
                }
            }
            "maxLoginFailures" => {
                let n = number(settings, key)?.unwrap_or_default();
                config.max_login_failures =
                    u32::try_from(n).map_err(|_| bad("too many failures"))?;
            }
            "failedLoginDelayMs" => config.failed_login_delay = ms()?,
            "idleTimeoutMs" => config.idle_timeout = ms()?,
            "dataConnectionTimeoutMs" => config.data_connection_timeout = ms()?,
            other => return Err(bad(format!("unknown config key {other:?}"))),
        }
    }
    Ok(config)
}

const STEP_KEYS: &[&str] = &[
    "login",
    "sendHex",
    "sendRepeat",
    "send",
    "advance",
    "progress",
    "peerClosed",
    "answer",
    "accepted",
    "readOnly",
    "port",
    "resolved",
    "error",
    "facts",
    "opened",
    "started",
    "uniqueName",
    "finished",
    "listing",
    "nowUnix",
    "bytes",
    "replies",
    "events",
    "held",
    "closed",
    "secured",
];

fn parse_step(facts: &Json, step: &Json) -> Result<Step, FormatError> {
    let object = step.as_object().ok_or_else(|| bad("not an object"))?;
    if let Some(key) = object.keys().find(|k| !STEP_KEYS.contains(&k.as_str())) {
        return Err(bad(format!("unknown key {key:?}")));
    }
    let mut out = Step::default();
    if let Some(login) = object.get("login") {
        out.login = Some(
            login
                .get("readOnly")
                .and_then(Json::as_bool)
                .unwrap_or(false),
        );
    }
    if let Some(hex) = text(object, "sendHex")? {
        let digits = hex.as_bytes();
        if digits.len() % 2 != 0 {
            return Err(bad("`sendHex` has an odd number of digits"));
        }
        for pair in digits.chunks(2) {
            let pair = core::str::from_utf8(pair).unwrap_or("?");
            let byte =
                u8::from_str_radix(pair, 16).map_err(|_| bad(format!("`sendHex`: {pair:?}")))?;
            out.send.push(byte);
        }
    }
    if let Some(repeat) = object.get("sendRepeat") {
        let what = repeat
            .as_object()
            .ok_or_else(|| bad("`sendRepeat` is not an object"))?;
        let text = text(what, "text")?.ok_or_else(|| bad("`sendRepeat` without `text`"))?;
        let times = number(what, "times")?.ok_or_else(|| bad("`sendRepeat` without `times`"))?;
        out.send
            .extend_from_slice(text.repeat(times as usize).as_bytes());
    }
    if let Some(text) = text(object, "send")? {
        out.send.extend_from_slice(text.as_bytes());
    }
    out.advance = number(object, "advance")?;
    out.progress = number(object, "progress")?;
    out.peer_closed = object.contains_key("peerClosed");
    if let Some(kind) = text(object, "answer")? {
        out.answer = Some(answer(facts, object, kind)?);
    }
    if let Some(entries) = object.get("listing") {
        let entries = entries
            .as_array()
            .ok_or_else(|| bad("`listing` is not an array"))?;
        let mut listing = Listing {
            entries: Vec::new(),
            now_unix: object
                .get("nowUnix")
                .and_then(Json::as_i64)
                .ok_or_else(|| bad("`listing` without `nowUnix`"))?,
            bytes: text(object, "bytes")?
                .ok_or_else(|| bad("`listing` without `bytes`"))?
                .to_owned(),
        };
        for entry in entries {
            let name = entry["name"]
                .as_str()
                .ok_or_else(|| bad("a listing entry without `name`"))?;
            let target = entry.get("linkTarget").and_then(Json::as_str);
            listing.entries.push((
                name.as_bytes().to_vec(),
                metadata(facts, &entry["facts"])?,
                target.map(|t| t.as_bytes().to_vec()),
            ));
        }
        out.listing = Some(listing);
    }
    out.replies = text(object, "replies")?.unwrap_or_default().to_owned();
    out.events = match object.get("events") {
        None => Vec::new(),
        Some(Json::Array(events)) => events.clone(),
        Some(_) => return Err(bad("`events` is not an array")),
    };
    out.held = text(object, "held")?.map(ToString::to_string);
    out.closed = flag(object, "closed")?;
    out.secured = flag(object, "secured")?;
    Ok(out)
}

fn answer(facts: &Json, step: &Map<String, Json>, kind: &str) -> Result<Answer, FormatError> {
    let error = text(step, "error")?;
    let file_result = || error.map_or(Ok(Ok(())), |e| file_error(e).map(Err));
    Ok(match kind {
        "login" => Answer::Login {
            accepted: flag(step, "accepted")?
                .ok_or_else(|| bad("a login answer without `accepted`"))?,
            read_only: flag(step, "readOnly")?.unwrap_or(false),
        },
        "openPassive" => Answer::OpenPassive(match error {
            Some(error) => Err(passive_error(error)?),
            None => {
                let port = number(step, "port")?
                    .ok_or_else(|| bad("an openPassive answer without `port`"))?;
                let port = u16::try_from(port).map_err(|_| bad("`port` out of range"))?;
                let resolved = text(step, "resolved")?;
                let resolved = resolved.map(|ip| {
                    ip.parse()
                        .map_err(|_| bad(format!("{ip:?} is not an IP address")))
                });
                Ok((port, resolved.transpose()?))
            }
        }),
        "stat" => Answer::Stat(match error {
            Some(error) => Err(file_error(error)?),
            None => Ok(metadata(facts, &step["facts"])?),
        }),
        "enterDirectory" => Answer::EnterDirectory(file_result()?),
        "fileChange" => Answer::FileChange(file_result()?),
        "upgradeTls" => Answer::UpgradeTls,
        "transfer" => Answer::Transfer(TransferAnswer {
            opened: step.contains_key("opened"),
            started: step.contains_key("started"),
            unique_name: text(step, "uniqueName")?.map(|n| n.as_bytes().to_vec()),
            finished: number(step, "finished")?,
            error: error.map(transfer_error).transpose()?,
        }),
        other => return Err(bad(format!("cannot answer {other:?}"))),
    })
}

/// Facts: a name from the file's top-level `facts`, or an object
/// (`kind`, `size`, `modified`, `mode`).
fn metadata(facts: &Json, value: &Json) -> Result<Metadata, FormatError> {
    let value = match value {
        Json::String(name) => facts
            .get(name.as_str())
            .ok_or_else(|| bad(format!("no facts named {name:?}")))?,
        other => other,
    };
    let kind = match value["kind"].as_str() {
        Some("file") => FileKind::File,
        Some("directory") => FileKind::Directory,
        Some("symlink") => FileKind::Symlink,
        Some("other") => FileKind::Other,
        other => return Err(bad(format!("unknown file kind {other:?}"))),
    };
    Ok(Metadata {
        kind,
        size: value["size"]
            .as_u64()
            .ok_or_else(|| bad("facts without a whole `size`"))?,
        modified: value.get("modified").and_then(Json::as_i64),
        mode: value.get("mode").and_then(Json::as_u64).unwrap_or(0) as u32,
    })
}

/// A storage error by the name the scripts use ([`FileError::from_name`]).
pub fn file_error(name: &str) -> Result<FileError, FormatError> {
    FileError::from_name(name).ok_or_else(|| bad(format!("unknown file error {name:?}")))
}

/// A transfer error by name ([`TransferError::from_name`]).
pub fn transfer_error(name: &str) -> Result<TransferError, FormatError> {
    TransferError::from_name(name).ok_or_else(|| bad(format!("unknown transfer error {name:?}")))
}

/// A passive listener error by name ([`PassiveError::from_name`]).
pub fn passive_error(name: &str) -> Result<PassiveError, FormatError> {
    PassiveError::from_name(name).ok_or_else(|| bad(format!("unknown passive error {name:?}")))
}
