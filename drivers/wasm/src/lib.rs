//! # ftpwire-wasm: the ftpwire server session for JavaScript hosts
