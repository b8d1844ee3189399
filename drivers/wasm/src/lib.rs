//! # ftpwire-wasm: the ftpwire server session for JavaScript hosts
//!
//! The same sans-IO core as the native drivers, compiled to WebAssembly and
//! driven from JavaScript (Node, Deno, browsers, edge runtimes). The host
//! only moves bytes, opens sockets and touches files; every protocol
//! decision — replies, login policy, passive addresses, listing lines,
//! TYPE A line ends — is made in the module.
//!
//! ```text
//!  socket bytes ──► session.handleInput(now, bytes)
//!  loop session.pollOutput():
//!     {type: "transmit", data}   → write data to the control socket
//!     {type: "login", id, …}     → do the I/O, answer: session.login(id, …)
//!     {type: "timeout", at}      → setTimeout(() => session.handleTimeout(now), at - now)
//!     {type: "closed"}           → end the socket
//! ```
//!
//! [`Session`] is that API in Rust terms (events as [`Value`]s with numeric
//! ids, tokens kept in a table until the host answers); `bindings` exposes it
//! to JavaScript through wasm-bindgen, typed in the generated `.d.ts`.
//! `drivers/wasm/js/server.mjs` is the reference host: a complete FTP/FTPS
//! server on Node's `net`, `tls` and `fs/promises`.

// A server or client module without the PROXY protocol (whose `ppp` needs
// std) is no_std: std's panic handler and the formatting it keeps cost the
// module about 5 KiB (README "Size"). Native builds (tests) keep std.
#![cfg_attr(all(target_family = "wasm", not(feature = "proxy")), no_std)]

extern crate alloc;

/// A no_std module's panic handler: the module traps (`unreachable`), as
/// std's handler does in a `panic = "abort"` build after printing nothing
/// (wasm32-unknown-unknown has no stderr); the host sees a
/// `WebAssembly.RuntimeError`.
#[cfg(all(target_family = "wasm", not(feature = "proxy")))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

/// The module's allocator: talc in place of std's dlmalloc, for size (the
/// module is single-threaded, which `new_wasm_dynamic_allocator` checks).
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

pub mod answer;
mod bindings;
#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "server")]
mod facts;
mod js;
mod record;
#[cfg(feature = "server")]
mod session;
mod value;

#[cfg(feature = "client")]
pub use bindings::client::JsClient;
#[cfg(feature = "proxy")]
pub use bindings::proxy::{JsBalancers, JsProxyHeaderReader};
#[cfg(feature = "server")]
pub use bindings::server::{
    JsAsciiDecoder, JsAsciiEncoder, JsServerConfig, JsSession, same_host, starts_with_proxy_header,
};
pub use record::Record;
#[cfg(feature = "server")]
pub use session::Session;
pub use value::Value;
