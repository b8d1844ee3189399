//! The PROXY protocol for JavaScript hosts behind load balancers:
//! `Balancers`, `ProxyHeaderReader` (only in the server module built with
//! it, `pkg/node-proxy`; `startsWithProxyHeader` is in every server module).

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use ftpwire_core::proxy::{Balancers, HeaderReader};
use wasm_bindgen::prelude::*;

use super::js_error;
use crate::answer;

/// The load balancers allowed (and required) to start their connections
/// with a PROXY header: `--proxy-protocol-from` values, comma-separated.
#[wasm_bindgen(js_name = Balancers)]
#[derive(Debug, Clone, Default)]
pub struct JsBalancers {
    inner: Balancers,
}

#[wasm_bindgen(js_class = Balancers)]
impl JsBalancers {
    /// `"10.0.0.0/8,192.0.2.7"`; an empty list turns the PROXY protocol off.
    #[wasm_bindgen(constructor)]
    pub fn new(list: Vec<String>) -> Result<JsBalancers, JsError> {
        let mut inner = Balancers::default();
        for text in &list {
            inner.extend(
                text.parse()
                    .map_err(|e: ftpwire_core::proxy::BalancerError| {
                        JsError::new(&e.to_string())
                    })?,
            );
        }
        Ok(JsBalancers { inner })
    }

    /// Whether a connection from `ip` is a balancer's.
    pub fn contains(&self, ip: &str) -> Result<bool, JsError> {
        Ok(self.inner.contains(answer::ip(ip).map_err(js_error)?))
    }
}

/// Reads a balancer's first bytes into the real client's address.
#[wasm_bindgen(js_name = ProxyHeaderReader)]
#[derive(Debug, Default)]
pub struct JsProxyHeaderReader {
    inner: HeaderReader,
}

#[wasm_bindgen(js_class = ProxyHeaderReader)]
impl JsProxyHeaderReader {
    /// A reader with nothing read yet.
    #[wasm_bindgen(constructor)]
    pub fn new() -> JsProxyHeaderReader {
        JsProxyHeaderReader::default()
    }

    /// Bytes just read: `undefined` while more are needed; once the header
    /// is whole, `{client, rest}` (`client`: `{address, port}`, or `null`
    /// when the balancer speaks for itself; `rest`: the bytes after it,
    /// the session's first input). Throws, saying why, when it is no header.
    #[wasm_bindgen(unchecked_return_type = "ProxiedConnection | undefined")]
    pub fn push(&mut self, bytes: &[u8]) -> Result<JsValue, JsError> {
        let Some(proxied) = self
            .inner
            .push(bytes)
            .map_err(|e| JsError::new(&e.to_string()))?
        else {
            return Ok(JsValue::UNDEFINED);
        };
        let mut record = crate::Record::default();
        record.begin();
        match proxied.client {
            Some(addr) => record
                .object("client")
                .text_with("address", |out| {
                    ftpwire_core::address::write_ip(out, addr.ip())
                })
                .number("port", f64::from(addr.port()))
                .end(),
            None => record.null("client"),
        };
        record.bytes("rest", &proxied.rest);
        Ok(crate::js::decode_record(record.finish()))
    }
}

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = "
/** A balancer's PROXY header, read: the real client (`null`: the balancer's own
 *  connection, a health check) and the bytes after the header. */
export interface ProxiedConnection { client: SocketAddress | null; rest: Uint8Array }
";
