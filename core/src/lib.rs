//! # ftpwire-core: the FTP/FTPS protocol, without I/O
//!
//! A sans-IO engine: the host feeds received control-channel bytes in,
//! drains reply bytes and [`Event`]s out, answers each event
//! (possibly much later), and tells the session what time it is. The core
//! never blocks, never reads a clock, never touches a socket or a file.
//!
//! ```text
//!             bytes in                         bytes out
//!  socket ──► host ──► ServerSession::handle_input   poll_output ──► Transmit ──► socket
//!                           │                          ▲
//!                           ▼  Output::Event            │ host answers (a method call)
//!                  host does the I/O: files, data connections, TLS, time
//! ```
//!
//! ## Session states (RFC 959 §5.4, RFC 4217, RFC 2428)
//!
//! ```text
//!  login:   Connected ──USER──► UserGiven ──PASS ok──► LoggedIn
//!              ▲                    │ PASS bad (delayed 530; 421 + close after N)
//!              └──────REIN──────────┴───────────────────────┘
//!  data:    Idle ──PASV/EPSV──► PassivePending ──(host: port)──► Passive ─┐
//!            │  ──PORT/EPRT──────────────────────────────────► Active  ─┤
//!            └◄───────────── RETR/STOR/LIST... Transfer (150 … 226) ◄──┘
//!  transfer: Opening ─storage─► Connecting ─data connection─► 150 ─► Securing (PROT P)
//!           ─► Moving (progress resets the stall deadline) ─► Closing ─► 226;
//!           each step is an event the host answers (see `server::Transfer`)
//!  tls:     Plain ──AUTH TLS: 234──► Upgrading ──(host: tls_established)──► Secured
//!             ▲        (UpgradeTls)   (new login; bytes after AUTH dropped)  │
//!             └───────────── CCC: 200 (DowngradeTls; --allow-ccc) ◄──────────┘
//!           implicit FTPS starts Secured (the host's TLS layer holds the
//!           greeting until its handshake is done);
//!           PBSZ/PROT only when Secured; PROT P protects data connections;
//!           a TLS layer under the session takes these two events with
//!           `take_tls_change` (the native kit's `ControlConnection`)
//!  busy:    a command that needs the host waits for its answer; later
//!           pipelined lines stay queued (ABOR/STAT/NOOP are still served
//!           during a transfer)
//! ```
//!
//! ## Where things are
//! - [`command`]: framing-free command parsing into a borrowed [`Command`](command::Command).
//! - [`control`]: the control channel reader: Telnet IAC filtering and CRLF framing.
//! - [`reply`]: reply formatting (server) and parsing (client).
//! - [`address`]: PASV/EPSV/PORT/EPRT text and the passive-address policy.
//! - [`path`]: virtual paths that can never climb above the session root.
//! - [`listing`]: LIST / MLSD / MLST lines and MDTM timestamps from metadata.
//! - [`representation`]: TYPE A line-ending conversion for data connections.
//! - [`server`]: the server session state machine.
//! - [`client`]: the client half: [`ClientSession`](client::ClientSession), reply and listing parsing, the `227` address policy.
//! - `pair` (feature `pair`): a client and a server session back to back in memory.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod address;
pub mod client;
pub mod command;
pub mod control;
pub mod listing;
#[cfg(feature = "pair")]
pub mod pair;
pub mod path;
pub mod proxy;
pub mod reply;
pub mod representation;
#[cfg(feature = "script-host")]
pub mod script;
pub mod server;
pub mod text;
pub mod time;

pub use server::{Event, Output, ServerConfig, ServerSession};
pub use time::Instant;
