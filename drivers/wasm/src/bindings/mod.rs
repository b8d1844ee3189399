//! The JavaScript API: wasm-bindgen classes over the sessions and the
//! core's pure helpers, one file per half, each behind its cargo feature
//! (`server`, `proxy`, `client`), so a host loads only the module it needs.
//! Only conversions live here; every decision is the core's.

#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "proxy")]
pub mod proxy;
#[cfg(feature = "server")]
pub mod server;

use wasm_bindgen::prelude::*;

use crate::answer::{self, AnswerError};
use crate::js;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = "
/** An address as Node's `socket.address()` returns it. */
export interface SocketAddress { address: string; port: number }
";

fn js_error(error: AnswerError) -> JsError {
    JsError::new(&error.message())
}

/// An error whose message is `parts` joined: messages are put together
/// without `format!`, whose `core::fmt::write` the module leaves out.
fn js_message(parts: &[&str]) -> JsError {
    JsError::new(&answer::joined(parts))
}

/// `text` quoted for a message ([`Quoted`](ftpwire_core::text::Quoted)).
#[cfg(feature = "server")]
fn quoted(text: &str) -> alloc::string::String {
    let mut quoted = alloc::string::String::new();
    ftpwire_core::text::Quoted(text).push_to(&mut quoted);
    quoted
}

/// Reads property `name` of a JS object.
#[cfg(any(feature = "server", feature = "client"))]
fn property(object: &JsValue, name: &str) -> JsValue {
    js::reflect_get(object, name).unwrap_or(JsValue::UNDEFINED)
}

#[cfg(any(feature = "server", feature = "client"))]
fn socket_addr(value: &JsValue, what: &'static str) -> Result<core::net::SocketAddr, JsError> {
    let address = property(value, "address").as_string();
    let port = property(value, "port").as_f64();
    match (address, port) {
        (Some(address), Some(port)) => answer::socket_addr(&address, port).map_err(js_error),
        _ => Err(js_message(&[
            what,
            " must be an object {address, port} (as Node's socket.address() returns)",
        ])),
    }
}
