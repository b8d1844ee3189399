//! The client half of the JavaScript API: `ClientSession`, over
//! [`Client`](crate::client::Client).

use alloc::string::ToString;

use wasm_bindgen::prelude::*;

use super::socket_addr;

/// One FTP control connection, client side: the core's client session.
/// Feed it received bytes, drain `pollOutput()` until it says `timeout`,
/// `idle` or `closed`, answer each event by its `id`. `js/client.mjs` is
/// the Promise-based client built on it.
#[wasm_bindgen(js_name = ClientSession)]
#[derive(Debug)]
pub struct JsClient {
    inner: crate::client::Client,
}

fn unknown(error: crate::client::UnknownId) -> JsError {
    JsError::new(&error.to_string())
}

#[wasm_bindgen(js_class = ClientSession)]
impl JsClient {
    /// A client for a control connection from `local` to `peer`;
    /// `security` is `"plain"`, `"explicit"` (AUTH TLS) or `"implicit"`
    /// (the host ran the TLS handshake before the first byte).
    #[wasm_bindgen(constructor)]
    pub fn new(
        user: &str,
        password: &str,
        security: &str,
        #[wasm_bindgen(unchecked_param_type = "SocketAddress")] local: JsValue,
        #[wasm_bindgen(unchecked_param_type = "SocketAddress")] peer: JsValue,
        #[wasm_bindgen(js_name = nowMs)] now_ms: f64,
    ) -> Result<JsClient, JsError> {
        let local = socket_addr(&local, "local")?;
        let peer = socket_addr(&peer, "peer")?;
        crate::client::Client::new(user, password, security, local, peer, now_ms)
            .map(|inner| JsClient { inner })
            .map_err(|e| JsError::new(&e))
    }

    /// Received control bytes (decrypted, under TLS).
    #[wasm_bindgen(js_name = handleInput)]
    pub fn handle_input(&mut self, #[wasm_bindgen(js_name = nowMs)] now_ms: f64, data: &[u8]) {
        self.inner.handle_input(now_ms, data);
    }

    /// The control connection ended.
    #[wasm_bindgen(js_name = handlePeerClosed)]
    pub fn handle_peer_closed(&mut self) {
        self.inner.handle_peer_closed();
    }

    /// The deadline of a `timeout` output passed.
    #[wasm_bindgen(js_name = handleTimeout)]
    pub fn handle_timeout(&mut self, #[wasm_bindgen(js_name = nowMs)] now_ms: f64) {
        self.inner.handle_timeout(now_ms);
    }

    /// The next output: `transmit`, `ready`, `upgradeTls`, `connectData`,
    /// `secureData`, `moveData`, `abortData`, `done`, `warning`, `failed`,
    /// `timeout`, `idle` or `closed`.
    #[wasm_bindgen(js_name = pollOutput)]
    pub fn poll_output(&mut self) -> JsValue {
        self.inner.poll_output().to_js()
    }

    /// Queues a request (see the README); returns its number, which its
    /// `done` output carries.
    pub fn request(&mut self, kind: &str, path: &[u8], offset: f64) -> Result<u32, JsError> {
        let offset = if offset.is_finite() && offset > 0.0 {
            offset as u64
        } else {
            0
        };
        self.inner
            .request(kind, path, offset)
            .map_err(|e| JsError::new(&e))
    }

    /// How later transfers get their data connection: `"passive"` (EPSV,
    /// then PASV if refused; the default), `"epsv"` or `"pasv"`.
    #[wasm_bindgen(js_name = setDataMode)]
    pub fn set_data_mode(&mut self, mode: &str) -> Result<(), JsError> {
        self.inner.set_data_mode(mode).map_err(|e| JsError::new(&e))
    }

    /// Whether the set-up (login, TLS, FEAT, TYPE I) is done.
    #[wasm_bindgen(js_name = isReady)]
    pub fn is_ready(&self) -> bool {
        self.inner.is_ready()
    }

    /// Answers `upgradeTls`: the control connection's handshake is done.
    #[wasm_bindgen(js_name = tlsEstablished)]
    pub fn tls_established(&mut self, id: u32) -> Result<(), JsError> {
        self.inner.tls_established(id).map_err(unknown)
    }

    /// Answers `connectData`: connected.
    #[wasm_bindgen(js_name = dataConnected)]
    pub fn data_connected(
        &mut self,
        id: u32,
        #[wasm_bindgen(js_name = nowMs)] now_ms: f64,
    ) -> Result<(), JsError> {
        self.inner.data_connected(id, now_ms).map_err(unknown)
    }

    /// Answers `connectData`: the connection failed.
    #[wasm_bindgen(js_name = dataConnectFailed)]
    pub fn data_connect_failed(
        &mut self,
        id: u32,
        reason: &str,
        #[wasm_bindgen(js_name = nowMs)] now_ms: f64,
    ) -> Result<(), JsError> {
        self.inner
            .data_connect_failed(id, reason, now_ms)
            .map_err(unknown)
    }

    /// Answers `secureData`: the data connection is under TLS.
    #[wasm_bindgen(js_name = dataSecured)]
    pub fn data_secured(
        &mut self,
        id: u32,
        resumed: bool,
        #[wasm_bindgen(js_name = nowMs)] now_ms: f64,
    ) -> Result<(), JsError> {
        self.inner
            .data_secured(id, resumed, now_ms)
            .map_err(unknown)
    }

    /// Answers `secureData`: the handshake failed.
    #[wasm_bindgen(js_name = dataTlsFailed)]
    pub fn data_tls_failed(
        &mut self,
        id: u32,
        reason: &str,
        #[wasm_bindgen(js_name = nowMs)] now_ms: f64,
    ) -> Result<(), JsError> {
        self.inner
            .data_tls_failed(id, reason, now_ms)
            .map_err(unknown)
    }

    /// Answers `moveData`: every byte moved and the data connection closed.
    #[wasm_bindgen(js_name = dataDone)]
    pub fn data_done(
        &mut self,
        id: u32,
        bytes: f64,
        #[wasm_bindgen(js_name = nowMs)] now_ms: f64,
    ) -> Result<(), JsError> {
        self.inner
            .data_done(id, bytes.max(0.0) as u64, now_ms)
            .map_err(unknown)
    }

    /// Answers `moveData`: the data connection broke.
    #[wasm_bindgen(js_name = dataFailed)]
    pub fn data_failed(
        &mut self,
        id: u32,
        reason: &str,
        #[wasm_bindgen(js_name = nowMs)] now_ms: f64,
    ) -> Result<(), JsError> {
        self.inner.data_failed(id, reason, now_ms).map_err(unknown)
    }
}
