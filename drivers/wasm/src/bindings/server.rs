//! The server half of the JavaScript API: `ServerConfig`, `Session` (over
//! [`Session`](crate::Session)) and the pure helpers a server host calls
//! (`AsciiEncoder`, `AsciiDecoder`, `sameHost`, `startsWithProxyHeader`).

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::time::Duration;

use ftpwire_core::address::{self, IpNet, PassiveAddress, PassivePortMap};
use ftpwire_core::representation;
use wasm_bindgen::prelude::*;

use super::{js_error, js_message, property, quoted, socket_addr};
use crate::answer;
use crate::facts::FactsReader;
use crate::js;
use crate::session::Session;

/// Settings shared by every session of one server. The defaults are the
/// core's safe operator defaults; change them before creating sessions.
#[wasm_bindgen(js_name = ServerConfig)]
#[derive(Debug, Clone, Default)]
pub struct JsServerConfig {
    inner: Arc<ftpwire_core::ServerConfig>,
}

fn duration_ms(ms: f64) -> Duration {
    Duration::from_millis(if ms.is_finite() && ms > 0.0 {
        ms as u64
    } else {
        0
    })
}

#[wasm_bindgen(js_class = ServerConfig)]
impl JsServerConfig {
    /// The default configuration.
    #[wasm_bindgen(constructor)]
    pub fn new() -> Self {
        Self::default()
    }

    /// The settings to change; an error once a session shares them.
    fn edit(&mut self) -> Result<&mut ftpwire_core::ServerConfig, JsError> {
        Arc::get_mut(&mut self.inner).ok_or_else(|| {
            JsError::new("the settings are in use by a session: change them before creating sessions, or use a new ServerConfig")
        })
    }

    /// Sets one setting, before sessions are created: once a session uses
    /// this config it throws (a change needs a new `ServerConfig`; sessions
    /// share their config rather than copy it, and copying it on a change
    /// cost the module almost 3 KiB). It also throws, saying why, for an
    /// unknown name or a value of the wrong type or form:
    ///
    /// | name | value |
    /// | --- | --- |
    /// | `greeting` | text of the `220` greeting |
    /// | `lineLimit` | longest command line accepted (bytes, CRLF included) |
    /// | `idleTimeoutMs` | a session with no command for this long is closed (`421`) |
    /// | `loginTimeoutMs` | a session not logged in this long after it connected (TLS handshake included) is closed |
    /// | `dataConnectionTimeoutMs` | how long a transfer waits for its data connection before `425` |
    /// | `dataStallTimeoutMs` | a transfer that moves nothing (no `dataProgress`) this long is aborted (`426`) |
    /// | `failedLoginDelayMs` | a failed PASS is answered only after this delay |
    /// | `maxLoginFailures` | after this many failed logins the session is closed (`421`) |
    /// | `tls` | the host can run TLS (it has a certificate): AUTH TLS, PBSZ and PROT are offered |
    /// | `requireTls` | refuse logins on a plain control channel and transfers without PROT P |
    /// | `requireTlsSessionReuse` | refuse (`522`) a protected data connection that did not resume the control connection's TLS session |
    /// | `showDotFiles` | LIST and NLST show dot files even without `-a` |
    /// | `shareDotFiles` | read-only logins (anonymous) may reach dot files (`.git`, `.env`) |
    /// | `implicitTlsProtP` | implicit-FTPS sessions start with PBSZ 0 and PROT P in force |
    /// | `allowCcc` | allow CCC (back to a plain control channel after login) |
    /// | `passiveAddress` | the address PASV advertises to peers outside the local networks: an IP, or a DNS name the host resolves at each PASV |
    /// | `tlsPassiveAddress` | the same, for sessions whose control channel is TLS |
    /// | `passivePortMap` | PASV and EPSV advertise these ports instead of the bound ones (a port-mapping NAT): `BOUND:ADVERTISED` or `LO-HI:ADVERTISED_LO`, comma-separated |
    ///
    /// One method for every setting: each exported method or property
    /// costs the module a few hundred bytes of glue (README "Size").
    pub fn set(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "ServerSetting")] name: &str,
        #[wasm_bindgen(unchecked_param_type = "string | number | boolean")] value: JsValue,
    ) -> Result<(), JsError> {
        let wrong = |what: &str| js_message(&["setting ", name, " must be ", what]);
        let number = || value.as_f64().ok_or_else(|| wrong("a number"));
        let ms = || number().map(duration_ms);
        let on = || value.as_bool().ok_or_else(|| wrong("a boolean"));
        let text = || value.as_string().ok_or_else(|| wrong("a string"));
        let config = self.edit()?;
        match name {
            "greeting" => config.greeting = text()?.into(),
            "lineLimit" => config.line_limit = number()? as u32 as usize,
            "idleTimeoutMs" => config.idle_timeout = ms()?,
            "loginTimeoutMs" => config.login_timeout = ms()?,
            "dataConnectionTimeoutMs" => config.data_connection_timeout = ms()?,
            "dataStallTimeoutMs" => config.data_stall_timeout = ms()?,
            "failedLoginDelayMs" => config.failed_login_delay = ms()?,
            "maxLoginFailures" => config.max_login_failures = number()? as u32,
            "tls" => config.tls = on()?,
            "requireTls" => config.require_tls = on()?,
            "requireTlsSessionReuse" => config.require_tls_session_reuse = on()?,
            "showDotFiles" => config.show_dot_files = on()?,
            "shareDotFiles" => config.share_dot_files = on()?,
            "implicitTlsProtP" => config.implicit_tls_prot_p = on()?,
            "allowCcc" => config.allow_ccc = on()?,
            "passiveAddress" => config.passive.external = Some(passive_address(&text()?)?),
            "tlsPassiveAddress" => config.tls_passive_address = Some(passive_address(&text()?)?),
            "passivePortMap" => {
                let map = text()?;
                let map: PassivePortMap = map.parse().map_err(|e: address::AddressError| {
                    let [why, more] = e.message_parts();
                    js_message(&["passive port map ", &quoted(&map), ": ", why, more])
                })?;
                config.passive_advertiser = Some(Arc::new(map));
            }
            _ => return Err(js_message(&["unknown setting ", &quoted(name)])),
        }
        Ok(())
    }

    /// Peers inside this network (CIDR, e.g. `10.0.0.0/8`) get the control
    /// connection's local address in PASV replies. Throws if malformed.
    #[wasm_bindgen(js_name = addLocalNetwork)]
    pub fn add_local_network(&mut self, cidr: &str) -> Result<(), JsError> {
        let net: IpNet = cidr.parse().map_err(|e: address::AddressError| {
            let [why, more] = e.message_parts();
            js_message(&[
                "local network ",
                &quoted(cidr),
                ": ",
                why,
                more,
                " (use CIDR such as 10.0.0.0/8)",
            ])
        })?;
        self.edit()?.passive.local_networks.push(net);
        Ok(())
    }
}

fn passive_address(text: &str) -> Result<PassiveAddress, JsError> {
    text.parse().map_err(|e: address::AddressError| {
        let [why, more] = e.message_parts();
        js_message(&["passive address ", &quoted(text), ": ", why, more])
    })
}

/// `{kind, size, modified, mode}` as the core's metadata.
fn read_facts(value: &JsValue) -> Result<ftpwire_core::listing::Metadata, JsError> {
    FactsReader::new(&js::encode_facts(value))
        .facts()
        .map_err(js_error)
}

/// A name given as a `Uint8Array` (bytes as stored) or a string (UTF-8).
fn bytes(value: &JsValue) -> Option<Vec<u8>> {
    if let Some(text) = value.as_string() {
        return Some(text.into_bytes());
    }
    value
        .dyn_ref::<js::Uint8Array>()
        .map(js::Uint8Array::copy_out)
}

/// One FTP control connection, server side. Feed it received bytes, drain
/// `pollOutput()` until it says `timeout` or `closed`, answer each event by
/// its `id`, and call `handleTimeout` when the deadline passes.
#[wasm_bindgen(js_name = Session)]
#[derive(Debug)]
pub struct JsSession {
    inner: Session,
}

#[wasm_bindgen(js_class = Session)]
impl JsSession {
    /// A session for a control connection from `peer` accepted on `local`;
    /// `nowMs` is the host's monotonic clock (e.g. `performance.now()`).
    #[wasm_bindgen(constructor)]
    pub fn new(
        config: &JsServerConfig,
        #[wasm_bindgen(unchecked_param_type = "SocketAddress")] local: JsValue,
        #[wasm_bindgen(unchecked_param_type = "SocketAddress")] peer: JsValue,
        #[wasm_bindgen(js_name = nowMs)] now_ms: f64,
    ) -> Result<JsSession, JsError> {
        Self::start(config, &local, &peer, now_ms, false)
    }

    /// A session on an implicit-FTPS listener: the host finished the TLS
    /// handshake before the first byte.
    #[wasm_bindgen(js_name = implicitTls)]
    pub fn implicit_tls(
        config: &JsServerConfig,
        #[wasm_bindgen(unchecked_param_type = "SocketAddress")] local: JsValue,
        #[wasm_bindgen(unchecked_param_type = "SocketAddress")] peer: JsValue,
        #[wasm_bindgen(js_name = nowMs)] now_ms: f64,
    ) -> Result<JsSession, JsError> {
        Self::start(config, &local, &peer, now_ms, true)
    }

    fn start(
        config: &JsServerConfig,
        local: &JsValue,
        peer: &JsValue,
        now_ms: f64,
        implicit_tls: bool,
    ) -> Result<JsSession, JsError> {
        let local = socket_addr(local, "local")?;
        let peer = socket_addr(peer, "peer")?;
        Ok(JsSession {
            inner: Session::new(config.inner.clone(), local, peer, now_ms, implicit_tls),
        })
    }

    /// The connection came through a load balancer whose PROXY header named
    /// the client (the session's `peer`): EPSV is refused and left out of
    /// FEAT, since its reply would send the client to the balancer.
    #[wasm_bindgen(js_name = setThroughBalancer)]
    pub fn set_through_balancer(&mut self) {
        self.inner.set_through_balancer();
    }

    /// Feeds received control bytes: the session takes them all and keeps
    /// what it cannot run yet.
    #[wasm_bindgen(js_name = handleInput)]
    pub fn handle_input(&mut self, #[wasm_bindgen(js_name = nowMs)] now_ms: f64, data: &[u8]) {
        self.inner.handle_input(now_ms, data)
    }

    /// Whether to read more input now: false while the session holds its
    /// input limit of bytes it cannot run yet (pause the socket then).
    #[wasm_bindgen(js_name = wantsInput)]
    pub fn wants_input(&self) -> bool {
        self.inner.wants_input()
    }

    /// Received bytes the session holds without having run them yet.
    #[wasm_bindgen(js_name = heldInput)]
    pub fn held_input(&self) -> usize {
        self.inner.held_input()
    }

    /// The control connection ended (EOF or error).
    #[wasm_bindgen(js_name = handlePeerClosed)]
    pub fn handle_peer_closed(&mut self) {
        self.inner.handle_peer_closed();
    }

    /// The next thing to do; call until it returns `timeout` or `closed`.
    #[wasm_bindgen(js_name = pollOutput, unchecked_return_type = "SessionOutput")]
    pub fn poll_output(&mut self) -> JsValue {
        js::decode_record(self.inner.poll_record())
    }

    /// When `handleTimeout` is due (host milliseconds); undefined once closed.
    #[wasm_bindgen(js_name = pollTimeout)]
    pub fn poll_timeout(&self) -> Option<f64> {
        self.inner.poll_timeout()
    }

    /// The host's clock reached the deadline.
    #[wasm_bindgen(js_name = handleTimeout)]
    pub fn handle_timeout(&mut self, #[wasm_bindgen(js_name = nowMs)] now_ms: f64) {
        self.inner.handle_timeout(now_ms);
    }

    /// The server is stopping: `421` and the session closes, at once or,
    /// if a transfer runs, once it is over (no command runs meanwhile).
    #[wasm_bindgen(js_name = shutDown)]
    pub fn shut_down(&mut self, #[wasm_bindgen(js_name = nowMs)] now_ms: f64) {
        self.inner.shut_down(now_ms);
    }

    /// The server stops now (the grace period is over): a running transfer
    /// is ended, then `421` and `closed`.
    #[wasm_bindgen(js_name = shutDownNow)]
    pub fn shut_down_now(&mut self, #[wasm_bindgen(js_name = nowMs)] now_ms: f64) {
        self.inner.shut_down_now(now_ms);
    }

    /// Whether the session is over.
    #[wasm_bindgen(js_name = isClosed)]
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Whether the control channel is protected by TLS now.
    #[wasm_bindgen(js_name = isSecured)]
    pub fn is_secured(&self) -> bool {
        self.inner.is_secured()
    }

    /// Whether data connections are protected now (PROT P): the host then
    /// secures a passive data connection that arrives before its command.
    #[wasm_bindgen(js_name = dataProtected)]
    pub fn data_protected(&self) -> bool {
        self.inner.data_protected()
    }

    /// Answers event (or transfer step) `id`: `answer` names the answer,
    /// `value` carries what it needs (see the README's "Answers"):
    ///
    /// | `answer` | `value` |
    /// | --- | --- |
    /// | `login` | `{accepted, readOnly}` |
    /// | `passiveOpened` | `{port, resolved}` (`resolved`: the IP a requested name resolved to) |
    /// | `statDone` | the file's facts |
    /// | `storageOpened` | `{size, uniqueName}` (RETR: the size as opened; STOU: the new name) |
    /// | `dataSecured` | whether the data connection resumed the control connection's TLS session |
    /// | `dataProgress`, `dataMoved` | bytes moved so far / in all |
    /// | `directoryEntered`, `changeDone`, `tlsEstablished`, `dataConnected`, `dataClosed` | nothing |
    /// | `passiveFailed`, `statFailed`, `enterDirectoryFailed`, `changeFailed`, `transferFailed` | an error name or errno code |
    ///
    /// One method for every answer: each exported method costs the module
    /// a few hundred bytes of glue (README "Size").
    pub fn answer(
        &mut self,
        id: u32,
        #[wasm_bindgen(unchecked_param_type = "AnswerName")] answer: &str,
        #[wasm_bindgen(unchecked_param_type = "unknown")] value: JsValue,
        #[wasm_bindgen(js_name = nowMs)] now_ms: Option<f64>,
    ) -> Result<(), JsError> {
        let now = now_ms.unwrap_or(0.0);
        let session = &mut self.inner;
        let code = || value.as_string().unwrap_or_default();
        let done = match answer {
            "login" => session.login(
                id,
                property(&value, "accepted").is_truthy(),
                property(&value, "readOnly").is_truthy(),
            ),
            "passiveOpened" => {
                let port = property(&value, "port").as_f64().unwrap_or(-1.0);
                let port = answer::whole_port(port).ok_or_else(|| {
                    JsError::new("passiveOpened: port must be a whole number from 0 to 65535")
                })?;
                let resolved = property(&value, "resolved")
                    .as_string()
                    .as_deref()
                    .map(answer::ip)
                    .transpose()
                    .map_err(js_error)?;
                session.passive_opened(id, port, resolved)
            }
            "passiveFailed" => {
                answer::passive_error(&code()).and_then(|error| session.passive_failed(id, error))
            }
            "statDone" => {
                let metadata = read_facts(&value)?;
                session.stat_done(id, Ok(metadata))
            }
            "statFailed" => {
                answer::file_error(&code()).and_then(|error| session.stat_done(id, Err(error)))
            }
            "directoryEntered" => session.directory_entered(id, Ok(())),
            "enterDirectoryFailed" => answer::file_error(&code())
                .and_then(|error| session.directory_entered(id, Err(error))),
            "changeDone" => session.change_done(id, Ok(())),
            "changeFailed" => {
                answer::file_error(&code()).and_then(|error| session.change_done(id, Err(error)))
            }
            "tlsEstablished" => session.tls_established(id),
            "storageOpened" => {
                let size = property(&value, "size").as_f64().map(count);
                let unique_name = bytes(&property(&value, "uniqueName"));
                session.storage_opened(id, size, unique_name.as_deref(), now)
            }
            "dataConnected" => session.data_connected(id, now),
            "dataSecured" => session.data_secured(id, value.is_truthy(), now),
            "dataProgress" => session.data_progress(id, count(value.as_f64().unwrap_or(0.0)), now),
            "dataMoved" => session.data_moved(id, count(value.as_f64().unwrap_or(0.0)), now),
            "dataClosed" => session.data_closed(id, now),
            "transferFailed" => answer::transfer_error(&code())
                .and_then(|error| session.transfer_failed(id, error, now)),
            _ => return Err(js_message(&["unknown answer ", &quoted(answer)])),
        };
        done.map_err(js_error)
    }

    /// Listing lines for the LIST/NLST/MLSD transfer `id`, in the format the
    /// client asked for; call once per batch of entries and send the bytes.
    /// `nowUnix` (seconds) decides when LIST shows a year instead of a time.
    #[wasm_bindgen(js_name = formatListing)]
    pub fn format_listing(
        &self,
        id: u32,
        #[wasm_bindgen(unchecked_param_type = "DirEntry[]")] entries: JsValue,
        #[wasm_bindgen(js_name = nowUnix)] now_unix: f64,
    ) -> Result<Vec<u8>, JsError> {
        let encoded = js::encode_entries(&entries);
        let Some((1, encoded)) = encoded.split_first() else {
            return Err(JsError::new("entries must be an array"));
        };
        let mut reader = FactsReader::new(encoded);
        let mut list = Vec::new();
        while !reader.is_done() {
            list.push(reader.entry().map_err(js_error)?);
        }
        let mut out = Vec::with_capacity(list.len() * 80);
        self.inner
            .format_listing(id, &list, now_unix as i64, &mut out)
            .map_err(js_error)?;
        Ok(out)
    }
}

/// TYPE A for downloads: local LF line ends to the network's CRLF, across chunk boundaries.
#[wasm_bindgen(js_name = AsciiEncoder)]
#[derive(Debug, Default)]
pub struct JsAsciiEncoder(representation::AsciiEncoder);

#[wasm_bindgen(js_class = AsciiEncoder)]
impl JsAsciiEncoder {
    /// A fresh encoder for one transfer.
    #[wasm_bindgen(constructor)]
    pub fn new() -> Self {
        Self::default()
    }

    /// The network form of `chunk`.
    pub fn encode(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(chunk.len() + chunk.len() / 16);
        self.0.encode(chunk, &mut out);
        out
    }
}

/// TYPE A for uploads: the network's CRLF to local LF, across chunk boundaries.
#[wasm_bindgen(js_name = AsciiDecoder)]
#[derive(Debug, Default)]
pub struct JsAsciiDecoder(representation::AsciiDecoder);

#[wasm_bindgen(js_class = AsciiDecoder)]
impl JsAsciiDecoder {
    /// A fresh decoder for one transfer.
    #[wasm_bindgen(constructor)]
    pub fn new() -> Self {
        Self::default()
    }

    /// The local form of `chunk` (a CR at its end waits for the next chunk).
    pub fn decode(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(chunk.len() + 1);
        self.0.decode(chunk, &mut out);
        out
    }

    /// What is held back at the end of the stream (a final lone CR).
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.0.finish(&mut out);
        out
    }
}

/// Whether two IP address texts name the same host (`::ffff:10.0.0.1` is
/// `10.0.0.1`): a passive data connection is accepted only from the
/// control connection's peer (RFC 2577).
#[wasm_bindgen(js_name = sameHost)]
pub fn same_host(a: &str, b: &str) -> Result<bool, JsError> {
    let a = answer::ip(a).map_err(js_error)?;
    let b = answer::ip(b).map_err(js_error)?;
    Ok(address::canonical_ip(a) == address::canonical_ip(b))
}

/// Whether a client's first bytes are a PROXY header where none is
/// expected (it is not a balancer, or the host offers no PROXY protocol):
/// close the connection. In every server module, with PROXY support or not.
#[wasm_bindgen(js_name = startsWithProxyHeader)]
pub fn starts_with_proxy_header(bytes: &[u8]) -> bool {
    ftpwire_core::proxy::starts_with_header(bytes)
}

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = include_str!("../types.d.ts");

/// A byte count from JavaScript: negative or not a number counts as 0.
fn count(bytes: f64) -> u64 {
    if bytes.is_finite() && bytes > 0.0 {
        bytes as u64
    } else {
        0
    }
}
