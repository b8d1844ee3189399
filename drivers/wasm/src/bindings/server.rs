//! The server half of the JavaScript API: `ServerConfig`, `Session` (over
//! [`Session`](crate::Session)) and the pure helpers a server host calls
//! (`AsciiEncoder`, `AsciiDecoder`, `sameHost`).

use std::string::String;
use std::sync::Arc;
use std::time::Duration;
use std::vec::Vec;

use ftpwire_core::address::{self, IpNet, PassiveAddress, PassivePortMap};
use ftpwire_core::listing::ListEntry;
use ftpwire_core::representation;
use ftpwire_core::text::Quoted;
use wasm_bindgen::prelude::*;

use super::{js_error, property, socket_addr};
use crate::answer;
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

    fn edit(&mut self) -> &mut ftpwire_core::ServerConfig {
        Arc::make_mut(&mut self.inner)
    }

    /// Text of the `220` greeting.
    #[wasm_bindgen(setter)]
    pub fn set_greeting(&mut self, text: String) {
        self.edit().greeting = text.into();
    }

    /// Longest command line accepted (bytes, CRLF included).
    #[wasm_bindgen(setter = lineLimit)]
    pub fn set_line_limit(&mut self, bytes: u32) {
        self.edit().line_limit = bytes as usize;
    }

    /// A session with no command for this long is closed (`421`).
    #[wasm_bindgen(setter = idleTimeoutMs)]
    pub fn set_idle_timeout_ms(&mut self, ms: f64) {
        self.edit().idle_timeout = duration_ms(ms);
    }

    /// A session not logged in this long after it connected (TLS handshake
    /// included) is closed (`421`).
    #[wasm_bindgen(setter = loginTimeoutMs)]
    pub fn set_login_timeout_ms(&mut self, ms: f64) {
        self.edit().login_timeout = duration_ms(ms);
    }

    /// How long a transfer waits for its data connection before `425`.
    #[wasm_bindgen(setter = dataConnectionTimeoutMs)]
    pub fn set_data_connection_timeout_ms(&mut self, ms: f64) {
        self.edit().data_connection_timeout = duration_ms(ms);
    }

    /// A transfer that moves nothing (no `dataProgress`) for this long is
    /// aborted (`426`).
    #[wasm_bindgen(setter = dataStallTimeoutMs)]
    pub fn set_data_stall_timeout_ms(&mut self, ms: f64) {
        self.edit().data_stall_timeout = duration_ms(ms);
    }

    /// Refuse (`522`) a protected data connection that did not resume the
    /// control connection's TLS session; off by default.
    #[wasm_bindgen(setter = requireTlsSessionReuse)]
    pub fn set_require_tls_session_reuse(&mut self, on: bool) {
        self.edit().require_tls_session_reuse = on;
    }

    /// A failed PASS is answered only after this delay.
    #[wasm_bindgen(setter = failedLoginDelayMs)]
    pub fn set_failed_login_delay_ms(&mut self, ms: f64) {
        self.edit().failed_login_delay = duration_ms(ms);
    }

    /// After this many failed logins the session is closed (`421`).
    #[wasm_bindgen(setter = maxLoginFailures)]
    pub fn set_max_login_failures(&mut self, count: u32) {
        self.edit().max_login_failures = count;
    }

    /// The host can run TLS (it has a certificate): AUTH TLS, PBSZ and PROT are offered.
    #[wasm_bindgen(setter)]
    pub fn set_tls(&mut self, on: bool) {
        self.edit().tls = on;
    }

    /// Refuse logins on a plain control channel and transfers without PROT P.
    #[wasm_bindgen(setter = requireTls)]
    pub fn set_require_tls(&mut self, on: bool) {
        self.edit().require_tls = on;
    }

    /// LIST and NLST show dot files even without `-a`; off by default.
    #[wasm_bindgen(setter = showDotFiles)]
    pub fn set_show_dot_files(&mut self, on: bool) {
        self.edit().show_dot_files = on;
    }

    /// Read-only logins (anonymous) may reach dot files (`.git`, `.env`);
    /// off by default: such paths get `550` and listings leave them out.
    #[wasm_bindgen(setter = shareDotFiles)]
    pub fn set_share_dot_files(&mut self, on: bool) {
        self.edit().share_dot_files = on;
    }

    /// Implicit-FTPS sessions start with PBSZ 0 and PROT P in force, for
    /// clients that protect data connections without asking; off by default.
    #[wasm_bindgen(setter = implicitTlsProtP)]
    pub fn set_implicit_tls_prot_p(&mut self, on: bool) {
        self.edit().implicit_tls_prot_p = on;
    }

    /// Allow CCC (back to a plain control channel after login); off by default.
    #[wasm_bindgen(setter = allowCcc)]
    pub fn set_allow_ccc(&mut self, on: bool) {
        self.edit().allow_ccc = on;
    }

    /// The address PASV advertises to peers outside the local networks: an
    /// IP, or a DNS name the host resolves at each PASV. Throws if it is neither.
    #[wasm_bindgen(js_name = setPassiveAddress)]
    pub fn set_passive_address(&mut self, address: &str) -> Result<(), JsError> {
        self.edit().passive.external = Some(passive_address(address)?);
        Ok(())
    }

    /// Like `setPassiveAddress`, for sessions whose control channel is TLS.
    #[wasm_bindgen(js_name = setTlsPassiveAddress)]
    pub fn set_tls_passive_address(&mut self, address: &str) -> Result<(), JsError> {
        self.edit().tls_passive_address = Some(passive_address(address)?);
        Ok(())
    }

    /// PASV and EPSV advertise these ports instead of the bound ones (a
    /// port-mapping NAT, NodePorts): `BOUND:ADVERTISED` or
    /// `LO-HI:ADVERTISED_LO`, comma-separated. Throws if malformed.
    #[wasm_bindgen(js_name = setPassivePortMap)]
    pub fn set_passive_port_map(&mut self, map: &str) -> Result<(), JsError> {
        let map: PassivePortMap = map
            .parse()
            .map_err(|e| JsError::new(&format!("passive port map {}: {e}", Quoted(map))))?;
        self.edit().passive_advertiser = Some(Arc::new(map));
        Ok(())
    }

    /// Peers inside this network (CIDR, e.g. `10.0.0.0/8`) get the control
    /// connection's local address in PASV replies. Throws if malformed.
    #[wasm_bindgen(js_name = addLocalNetwork)]
    pub fn add_local_network(&mut self, cidr: &str) -> Result<(), JsError> {
        let net: IpNet = cidr.parse().map_err(|e| {
            JsError::new(&format!(
                "local network {}: {e} (use CIDR such as 10.0.0.0/8)",
                Quoted(cidr)
            ))
        })?;
        self.edit().passive.local_networks.push(net);
        Ok(())
    }
}

fn passive_address(text: &str) -> Result<PassiveAddress, JsError> {
    text.parse()
        .map_err(|e| JsError::new(&format!("passive address {}: {e}", Quoted(text))))
}

/// `{kind, size, modified, mode}` as the core's metadata.
fn read_facts(value: &JsValue) -> Result<ftpwire_core::listing::Metadata, JsError> {
    let kind = property(value, "kind")
        .as_string()
        .ok_or_else(|| JsError::new("facts.kind must be file, directory, symlink or other"))?;
    let size = property(value, "size")
        .as_f64()
        .ok_or_else(|| JsError::new("facts.size must be a number"))?;
    let modified = property(value, "modified").as_f64();
    let mode = property(value, "mode").as_f64().unwrap_or(0.0) as u32;
    answer::metadata(&kind, size, modified, mode).map_err(js_error)
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
        self.inner.poll_output().to_js()
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

    /// Answers `login`: accepted or not, and whether the session may only read.
    pub fn login(
        &mut self,
        id: u32,
        accepted: bool,
        #[wasm_bindgen(js_name = readOnly)] read_only: bool,
    ) -> Result<(), JsError> {
        self.inner.login(id, accepted, read_only).map_err(js_error)
    }

    /// Answers `openPassive`: the listener is bound on `port`; `resolved` is
    /// the IP the requested hostname resolved to.
    #[wasm_bindgen(js_name = passiveOpened)]
    pub fn passive_opened(
        &mut self,
        id: u32,
        port: u16,
        resolved: Option<String>,
    ) -> Result<(), JsError> {
        let resolved = resolved
            .as_deref()
            .map(answer::ip)
            .transpose()
            .map_err(js_error)?;
        self.inner
            .passive_opened(id, port, resolved)
            .map_err(js_error)
    }

    /// Answers `openPassive`: no listener (`noFreePort` or `unresolved`).
    #[wasm_bindgen(js_name = passiveFailed)]
    pub fn passive_failed(
        &mut self,
        id: u32,
        #[wasm_bindgen(unchecked_param_type = "PassiveErrorCode")] error: &str,
    ) -> Result<(), JsError> {
        let error = answer::passive_error(error).map_err(js_error)?;
        self.inner.passive_failed(id, error).map_err(js_error)
    }

    /// Answers `stat` with the file's facts.
    #[wasm_bindgen(js_name = statDone)]
    pub fn stat_done(
        &mut self,
        id: u32,
        #[wasm_bindgen(unchecked_param_type = "FileFacts")] facts: JsValue,
    ) -> Result<(), JsError> {
        let metadata = read_facts(&facts)?;
        self.inner.stat_done(id, Ok(metadata)).map_err(js_error)
    }

    /// Answers `stat` with an error name or errno code.
    #[wasm_bindgen(js_name = statFailed)]
    pub fn stat_failed(
        &mut self,
        id: u32,
        #[wasm_bindgen(unchecked_param_type = "FileErrorCode")] error: &str,
    ) -> Result<(), JsError> {
        let error = answer::file_error(error).map_err(js_error)?;
        self.inner.stat_done(id, Err(error)).map_err(js_error)
    }

    /// Answers `enterDirectory` (CWD, CDUP): the directory may be entered.
    #[wasm_bindgen(js_name = directoryEntered)]
    pub fn directory_entered(&mut self, id: u32) -> Result<(), JsError> {
        self.inner.directory_entered(id, Ok(())).map_err(js_error)
    }

    /// Answers `enterDirectory` with an error name or errno code (`EACCES`
    /// for a directory the server cannot search, `ENOTDIR`, `ENOENT`).
    #[wasm_bindgen(js_name = enterDirectoryFailed)]
    pub fn enter_directory_failed(
        &mut self,
        id: u32,
        #[wasm_bindgen(unchecked_param_type = "FileErrorCode")] error: &str,
    ) -> Result<(), JsError> {
        let error = answer::file_error(error).map_err(js_error)?;
        self.inner
            .directory_entered(id, Err(error))
            .map_err(js_error)
    }

    /// Answers `fileChange`: done.
    #[wasm_bindgen(js_name = changeDone)]
    pub fn change_done(&mut self, id: u32) -> Result<(), JsError> {
        self.inner.change_done(id, Ok(())).map_err(js_error)
    }

    /// Answers `fileChange` with an error name or errno code.
    #[wasm_bindgen(js_name = changeFailed)]
    pub fn change_failed(
        &mut self,
        id: u32,
        #[wasm_bindgen(unchecked_param_type = "FileErrorCode")] error: &str,
    ) -> Result<(), JsError> {
        let error = answer::file_error(error).map_err(js_error)?;
        self.inner.change_done(id, Err(error)).map_err(js_error)
    }

    /// Answers `upgradeTls`: the handshake is done.
    #[wasm_bindgen(js_name = tlsEstablished)]
    pub fn tls_established(&mut self, id: u32) -> Result<(), JsError> {
        self.inner.tls_established(id).map_err(js_error)
    }

    /// Answers a `transfer` event: its storage is open. RETR: `size` is the
    /// file's size as opened (a RETR that then delivers fewer bytes after
    /// REST ends in `426`); STOU: `uniqueName` is the new file's name.
    #[wasm_bindgen(js_name = storageOpened)]
    pub fn storage_opened(
        &mut self,
        id: u32,
        size: Option<f64>,
        #[wasm_bindgen(js_name = uniqueName)] unique_name: Option<Vec<u8>>,
        #[wasm_bindgen(js_name = nowMs)] now_ms: f64,
    ) -> Result<(), JsError> {
        self.inner
            .storage_opened(id, size.map(count), unique_name.as_deref(), now_ms)
            .map_err(js_error)
    }

    /// Answers a `connectData` event: the data connection is up (the `150` goes out).
    #[wasm_bindgen(js_name = dataConnected)]
    pub fn data_connected(
        &mut self,
        id: u32,
        #[wasm_bindgen(js_name = nowMs)] now_ms: f64,
    ) -> Result<(), JsError> {
        self.inner.data_connected(id, now_ms).map_err(js_error)
    }

    /// Answers a `secureData` event: the data connection's TLS is up;
    /// `resumed`: it resumed the control connection's TLS session.
    #[wasm_bindgen(js_name = dataSecured)]
    pub fn data_secured(
        &mut self,
        id: u32,
        resumed: bool,
        #[wasm_bindgen(js_name = nowMs)] now_ms: f64,
    ) -> Result<(), JsError> {
        self.inner
            .data_secured(id, resumed, now_ms)
            .map_err(js_error)
    }

    /// During `moveData`: `bytes` moved so far; keeps the stall timeout off.
    #[wasm_bindgen(js_name = dataProgress)]
    pub fn data_progress(
        &mut self,
        id: u32,
        bytes: f64,
        #[wasm_bindgen(js_name = nowMs)] now_ms: f64,
    ) -> Result<(), JsError> {
        self.inner
            .data_progress(id, count(bytes), now_ms)
            .map_err(js_error)
    }

    /// Answers a `moveData` event: every byte moved (for RETR, `bytes` read
    /// from the file).
    #[wasm_bindgen(js_name = dataMoved)]
    pub fn data_moved(
        &mut self,
        id: u32,
        bytes: f64,
        #[wasm_bindgen(js_name = nowMs)] now_ms: f64,
    ) -> Result<(), JsError> {
        self.inner
            .data_moved(id, count(bytes), now_ms)
            .map_err(js_error)
    }

    /// Answers a `closeData` event: the data connection closed in order (`226`).
    #[wasm_bindgen(js_name = dataClosed)]
    pub fn data_closed(
        &mut self,
        id: u32,
        #[wasm_bindgen(js_name = nowMs)] now_ms: f64,
    ) -> Result<(), JsError> {
        self.inner.data_closed(id, now_ms).map_err(js_error)
    }

    /// The step in flight of transfer `id` failed: `noDataConnection`,
    /// `connectionLost`, `tlsFailed`, or a file error name / errno code.
    #[wasm_bindgen(js_name = transferFailed)]
    pub fn transfer_failed(
        &mut self,
        id: u32,
        #[wasm_bindgen(unchecked_param_type = "TransferErrorCode")] error: &str,
        #[wasm_bindgen(js_name = nowMs)] now_ms: f64,
    ) -> Result<(), JsError> {
        let error = answer::transfer_error(error).map_err(js_error)?;
        self.inner
            .transfer_failed(id, error, now_ms)
            .map_err(js_error)
    }

    /// Listing lines for the LIST/NLST/MLSD transfer `id`, in the format the
    /// client asked for; call once per batch of entries and send the bytes.
    /// `nowUnix` (seconds) decides when LIST shows a year instead of a time.
    #[wasm_bindgen(js_name = formatListing)]
    pub fn format_listing(
        &self,
        id: u32,
        #[wasm_bindgen(unchecked_param_type = "DirEntry[]")] entries: Vec<JsValue>,
        #[wasm_bindgen(js_name = nowUnix)] now_unix: f64,
    ) -> Result<Vec<u8>, JsError> {
        let mut names = Vec::with_capacity(entries.len());
        let mut metadata = Vec::with_capacity(names.capacity());
        let mut targets = Vec::with_capacity(names.capacity());
        for entry in entries.iter() {
            let name = bytes(&property(entry, "name"))
                .ok_or_else(|| JsError::new("entry.name must be a Uint8Array or a string"))?;
            names.push(name);
            metadata.push(read_facts(&property(entry, "facts"))?);
            let target = property(entry, "linkTarget");
            targets.push(if target.is_null() || target.is_undefined() {
                None
            } else {
                Some(bytes(&target).ok_or_else(|| {
                    JsError::new("entry.linkTarget must be a Uint8Array, a string or null")
                })?)
            });
        }
        let list: Vec<ListEntry<'_>> = names
            .iter()
            .zip(metadata)
            .zip(&targets)
            .map(|((name, metadata), target)| ListEntry {
                name,
                metadata,
                link_target: target.as_deref(),
            })
            .collect();
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
