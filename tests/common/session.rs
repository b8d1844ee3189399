//! A polite client for the tests: the project's own `ClientSession`, run by
//! the std driver's client host. Tests that only need a logged-in session
//! and ordinary transfers use it, so the client half is exercised against
//! the server under test on every driver; the raw [`super::control`]
//! connection stays for what a session never sends.

use std::net::SocketAddr;

use ftpwire_core::client::{ClientConfig, ClientError, Request, StoreMode};
use ftpwire_std::client::{Client, Connect};

use super::server::{PASSWORD, USER};

/// Logs in as alice (greeting, FEAT, TYPE I done by the session).
pub fn log_in(addr: SocketAddr) -> Client {
    let connect = Connect::new(&addr.to_string(), ClientConfig::login(USER, PASSWORD));
    Client::connect(&connect).unwrap_or_else(|e| panic!("log in to {addr}: {e}"))
}

/// RETR `path` whole.
pub fn retrieve(client: &mut Client, path: &str) -> Result<Vec<u8>, ClientError> {
    let mut bytes = Vec::new();
    client.get(path.as_bytes(), 0, &mut bytes, &mut |_| {})?;
    Ok(bytes)
}

/// STOR `bytes` as `path`.
pub fn store(client: &mut Client, path: &str, bytes: &[u8]) -> Result<(), ClientError> {
    client
        .put(
            path.as_bytes(),
            StoreMode::Replace,
            &mut &bytes[..],
            &mut |_| {},
        )
        .map(drop)
}

/// NOOP; panics unless the server answers 200.
pub fn noop(client: &mut Client) {
    let done = client
        .request(Request::Noop)
        .unwrap_or_else(|e| panic!("NOOP: {e}"));
    assert_eq!(done.code, 200, "NOOP: {done:?}");
}
