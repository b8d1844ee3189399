//! A fake host and the session scripts, for tests, fuzzing and benchmarks
//! (feature `script-host`; never for a real host).
//!
//! - [`FakeHost`] drives one [`ServerSession`](crate::ServerSession) in
//!   memory: it keeps each event's token until a test answers it, or
//!   answers every event at once with fixed [`Answers`]. The core's tests,
//!   the fuzzer, the benchmarks and the allocation count all use it.
//! - The byte-exact session scripts live in `core/scripts/sessions.json`
//!   (the format in `core/scripts/README.md`, the text in [`SESSIONS_JSON`]):
//!   [`parse`] reads them, [`run`] runs one against a [`Target`] and reports
//!   the first [`Mismatch`]. [`CoreTarget`] is the core session itself; a
//!   host adapter implements [`Target`] to run the same file (the wasm
//!   adapter does, natively and in Node).

mod file;
mod host;
mod run;

pub use file::{
    Answer, FormatError, Listing, SESSIONS_JSON, Script, Step, TransferAnswer, file_error, parse,
    passive_error, transfer_error,
};
pub use host::{Answers, DIR, FILE, FakeHost, Log, Running, Waiting, by_name};
pub use run::{CoreTarget, JsonLog, Mismatch, START_MS, Target, event_json, run};
