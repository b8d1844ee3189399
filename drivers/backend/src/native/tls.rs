//! FTPS for every driver: the certificate from PEM files, a TLS session
//! cache of its own for each control connection, and the control channel's
//! TLS as a layer the driver passes socket bytes through (it does no I/O).
//!
//! The per-control-connection cache is what makes
//! `--require-tls-session-reuse` mean something: a data connection that
//! resumed a session can only have found it in *this* control connection's
//! cache, so whoever opened it holds that control connection's TLS secrets
//! (RFC 4217 §10.2). rustls' `handshake_kind()` alone says only "resumed".
//!
//! Certificates loaded from files are reloaded when the files change
//! (checked as each control connection starts TLS), so a renewal by certbot
//! or acme.sh needs no restart; a renewal that cannot be used is logged and
//! the previous certificate stays.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use ftpwire_core::Instant;
use ftpwire_core::server::TransferKind;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ProducesTickets, ServerConnection, StoresServerSessions};
use rustls::{HandshakeKind, ServerConfig};

/// TLS sessions one control connection may keep: its own tickets and those
/// its downloads hand out, least recently used dropped first.
const SESSIONS_PER_CONTROL: usize = 32;

/// TLS 1.3 tickets sent on a control connection (rustls' default is 2).
const CONTROL_TICKETS: usize = 4;

/// TLS 1.3 tickets sent on a download's data connection: enough to replace
/// the one a single-use client spent on it.
const DOWNLOAD_TICKETS: usize = 2;

/// Largest TLS record: header plus 2^14 bytes and expansion (RFC 8446 §5.2).
const MAX_RECORD: usize = 5 + 16384 + 256;

/// After CCC's `200`, how long the server waits for the client to start the
/// TLS closure before it sends its own close_notify. Clients that close
/// first (lftp, curl's `--ftp-ssl-ccc-mode active`) take our close_notify
/// arriving with the `200` for the end of the connection; clients that
/// wait for the server (curl's default passive mode) get it after this.
pub const CCC_CLOSE_WAIT: Duration = Duration::from_millis(250);

/// A certificate or key that cannot be used; one line that names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate file could not be read or holds no certificate.
    #[error(
        "TLS certificate {path}: {reason} (give a PEM file with -----BEGIN CERTIFICATE----- blocks, the server's first)"
    )]
    Certificate {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The key file could not be read or holds no private key.
    #[error(
        "TLS key {path}: {reason} (give an unencrypted PEM private key: PKCS#8, PKCS#1 or SEC1)"
    )]
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// rustls refused the pair (most often: the key is not the certificate's).
    #[error(
        "TLS key {key} cannot be used with certificate {certificate}: {reason} (give the key the certificate was issued for)"
    )]
    Pair {
        /// The certificate file.
        certificate: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls' reason.
        reason: String,
    },
}

/// A server's FTPS settings: its rustls configuration and whether data
/// connections must resume their control connection's TLS session.
///
/// ```no_run
/// use std::path::Path;
/// use ftpwire_backend::native::tls::TlsSettings;
/// let tls = TlsSettings::from_pem_files(Path::new("cert.pem"), Path::new("key.pem"))?
///     .with_session_reuse_required(true);
/// # Ok::<(), ftpwire_backend::native::tls::TlsError>(())
/// ```
#[derive(Debug, Clone)]
pub struct TlsSettings {
    source: Arc<Source>,
    require_session_reuse: bool,
}

/// Where the rustls configuration comes from: fixed, or PEM files watched
/// for renewal.
#[derive(Debug)]
struct Source {
    files: Option<(PathBuf, PathBuf)>,
    loaded: Mutex<Loaded>,
}

#[derive(Debug)]
struct Loaded {
    config: Arc<ServerConfig>,
    /// The files' modification times when last loaded (or tried).
    stamp: Stamp,
}

type Stamp = Option<(SystemTime, SystemTime)>;

fn stamp(certificate: &Path, key: &Path) -> Stamp {
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    Some((modified(certificate)?, modified(key)?))
}

impl Source {
    fn lock(&self) -> MutexGuard<'_, Loaded> {
        self.loaded.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The configuration now, reloaded first if the files changed.
    fn config(&self) -> Arc<ServerConfig> {
        let mut loaded = self.lock();
        if let Some((certificate, key)) = &self.files {
            let now = stamp(certificate, key);
            if now != loaded.stamp {
                // Tried once per change: a half-written renewal is retried
                // when its second file lands.
                loaded.stamp = now;
                match TlsSettings::load(certificate, key) {
                    Ok(config) => {
                        log::info!("TLS certificate {} reloaded", certificate.display());
                        loaded.config = config;
                    }
                    Err(error) => log::warn!("{error}; still using the previous certificate"),
                }
            }
        }
        loaded.config.clone()
    }
}

impl TlsSettings {
    /// Loads a certificate chain and its private key from PEM files, and
    /// reloads them when they change.
    pub fn from_pem_files(certificate: &Path, key: &Path) -> Result<Self, TlsError> {
        let before = stamp(certificate, key);
        let config = Self::load(certificate, key)?;
        Ok(TlsSettings {
            source: Arc::new(Source {
                files: Some((certificate.to_owned(), key.to_owned())),
                loaded: Mutex::new(Loaded {
                    config,
                    stamp: before,
                }),
            }),
            require_session_reuse: false,
        })
    }

    fn load(certificate: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
        let cert_error = |reason: String| TlsError::Certificate {
            path: certificate.to_owned(),
            reason,
        };
        let chain = CertificateDer::pem_file_iter(certificate)
            .map_err(|e| cert_error(pem_reason(e)))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| cert_error(pem_reason(e)))?;
        if chain.is_empty() {
            return Err(cert_error("no certificate in the file".into()));
        }
        let private_key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key {
            path: key.to_owned(),
            reason: pem_reason(e),
        })?;
        Self::config_from_der(chain, private_key).map_err(|reason| TlsError::Pair {
            certificate: certificate.to_owned(),
            key: key.to_owned(),
            reason,
        })
    }

    /// From a DER certificate chain (server certificate first) and its key.
    pub fn from_der(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self, String> {
        Self::config_from_der(chain, key).map(Self::new)
    }

    fn config_from_der(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Arc<ServerConfig>, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| e.to_string())?;
        Ok(Arc::new(config))
    }

    /// Uses a rustls configuration built elsewhere. Its session storage and
    /// ticketer are replaced per control connection (see the module docs).
    pub fn new(config: Arc<ServerConfig>) -> Self {
        TlsSettings {
            source: Arc::new(Source {
                files: None,
                loaded: Mutex::new(Loaded {
                    config,
                    stamp: None,
                }),
            }),
            require_session_reuse: false,
        }
    }

    /// Refuse (`522`) a protected data connection that did not resume its
    /// control connection's TLS session. Clients that never resume (Python's
    /// ftplib) then cannot transfer, so this is off unless asked for.
    pub fn with_session_reuse_required(mut self, required: bool) -> Self {
        self.require_session_reuse = required;
        self
    }

    /// Whether data connections must resume their control connection's session.
    pub fn session_reuse_required(&self) -> bool {
        self.require_session_reuse
    }

    /// The TLS state of one new control connection.
    pub fn for_session(&self) -> SessionTls {
        let mut control = (*self.source.config()).clone();
        control.session_storage = Arc::new(ControlSessionCache::default());
        // Stateless tickets would resume from any connection: off.
        control.ticketer = Arc::new(NoTickets);
        // Enough TLS 1.3 tickets for clients that use each one once
        // (rustls' own client) to resume several uploads, which bring none.
        control.send_tls13_tickets = CONTROL_TICKETS;
        let mut download = control.clone();
        download.send_tls13_tickets = DOWNLOAD_TICKETS;
        let mut upload = control.clone();
        // An upload's client never reads its data connection, and closing
        // a socket with unread tickets in it sends a TCP reset that can cut
        // off the end of the upload: no tickets there. Downloads are read to
        // the end, so they hand out fresh ones.
        upload.send_tls13_tickets = 0;
        SessionTls {
            control: Arc::new(control),
            download: Arc::new(download),
            upload: Arc::new(upload),
        }
    }
}

fn pem_reason(error: rustls::pki_types::pem::Error) -> String {
    match error {
        rustls::pki_types::pem::Error::Io(e) => e.to_string(),
        rustls::pki_types::pem::Error::NoItemsFound => "no PEM item of that kind found".into(),
        other => format!("not valid PEM ({other:?})"),
    }
}

/// Tickets off: resumption only from the control connection's own cache.
#[derive(Debug)]
struct NoTickets;

impl ProducesTickets for NoTickets {
    fn enabled(&self) -> bool {
        false
    }
    fn lifetime(&self) -> u32 {
        0
    }
    fn encrypt(&self, _plain: &[u8]) -> Option<Vec<u8>> {
        None
    }
    fn decrypt(&self, _cipher: &[u8]) -> Option<Vec<u8>> {
        None
    }
}

/// The TLS sessions of one control connection, for its data connections to
/// resume. A TLS 1.3 ticket stays usable after a resumption: clients such
/// as lftp (GnuTLS) resume every data connection from the control
/// connection's first ticket, and the tickets never leave this connection's
/// cache, so single use would buy nothing here.
#[derive(Debug, Default)]
struct ControlSessionCache {
    sessions: Mutex<VecDeque<(Vec<u8>, Vec<u8>)>>,
}

impl ControlSessionCache {
    fn lock(&self) -> MutexGuard<'_, VecDeque<(Vec<u8>, Vec<u8>)>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl StoresServerSessions for ControlSessionCache {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        let mut sessions = self.lock();
        sessions.retain(|(k, _)| *k != key);
        if sessions.len() == SESSIONS_PER_CONTROL {
            sessions.pop_front();
        }
        sessions.push_back((key, value));
        true
    }

    /// A resumed session becomes the newest: a client that resumes from
    /// the same ticket every time (lftp) must not lose it to the tickets
    /// its own downloads keep adding.
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        let mut sessions = self.lock();
        let found = sessions.iter().position(|(k, _)| k == key)?;
        let entry = sessions.remove(found)?;
        let value = entry.1.clone();
        sessions.push_back(entry);
        Some(value)
    }

    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.get(key)
    }

    fn can_cache(&self) -> bool {
        true
    }
}

/// The TLS of one control connection and its data connections, which share
/// its session cache.
#[derive(Debug, Clone)]
pub struct SessionTls {
    control: Arc<ServerConfig>,
    download: Arc<ServerConfig>,
    upload: Arc<ServerConfig>,
}

impl SessionTls {
    /// TLS for the control channel (after `AUTH TLS`, or at once on an
    /// implicit-FTPS listener).
    pub fn control(&self) -> Result<ControlTls, rustls::Error> {
        Ok(ControlTls {
            conn: ServerConnection::new(self.control.clone())?,
            downgrade: None,
            partial: Vec::new(),
        })
    }

    /// The configuration for the protected data connection of a `kind`
    /// transfer (for TLS stream wrappers that take one).
    pub fn data_config(&self, kind: TransferKind) -> Arc<ServerConfig> {
        if kind.is_upload() {
            self.upload.clone()
        } else {
            self.download.clone()
        }
    }

    /// A server-side TLS connection for the protected data connection of a
    /// `kind` transfer.
    pub fn data_connection(&self, kind: TransferKind) -> Result<ServerConnection, rustls::Error> {
        ServerConnection::new(self.data_config(kind))
    }

    /// After a data connection's handshake: whether it resumed from this
    /// control connection's cache (the session's
    /// [`data_secured`](ftpwire_core::ServerSession::data_secured) decides
    /// what that means under `require_tls_session_reuse`).
    pub fn resumed(&self, conn: &ServerConnection) -> bool {
        conn.handshake_kind() == Some(HandshakeKind::Resumed)
    }
}

/// What [`ControlTls::receive`] found besides application bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// TLS goes on.
    Tls,
    /// After [`ControlTls::downgrade`] (CCC) the TLS closure is over and
    /// the client speaks plain text (already in `plain`); drop this layer.
    Plain,
    /// The client ended TLS without CCC: the control connection is over.
    Closed,
}

/// The control channel's TLS, as a layer without I/O: the driver passes
/// what it reads to [`receive`](Self::receive), what the session says to
/// [`send`](Self::send), and writes what [`take_wire`](Self::take_wire)
/// gives to the socket (handshake messages and alerts included).
///
/// ```
/// # use std::sync::Arc;
/// # use ftpwire_backend::native::tls::{Received, TlsSettings};
/// # let key = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
/// # let tls = TlsSettings::from_der(
/// #     vec![key.cert.der().clone()],
/// #     rustls::pki_types::PrivateKeyDer::Pkcs8(key.signing_key.serialize_der().into()),
/// # ).unwrap();
/// let mut control = tls.for_session().control().unwrap();
/// // The greeting of an implicit-FTPS session waits for the handshake.
/// control.send(b"220 Ready.\r\n");
/// let mut plain = Vec::new();
/// // Not a TLS record: the client is not speaking TLS.
/// assert!(control.receive(b"USER alice\r\n", &mut plain).is_err());
/// assert!(plain.is_empty());
/// ```
pub struct ControlTls {
    conn: ServerConnection,
    /// After CCC: where the TLS closure stands.
    downgrade: Option<Downgrade>,
    /// While downgrading: an incomplete record (records are passed one by
    /// one so that nothing after the client's close_notify is lost).
    partial: Vec<u8>,
}

/// The TLS closure after CCC (RFC 4217 §6). Clients differ: some send
/// close_notify at once and wait for ours, some wait for ours and never
/// answer it, some send an alert more; all then speak plain text.
#[derive(Debug, Clone, Copy)]
struct Downgrade {
    /// When our close_notify goes out unless the client's comes first;
    /// `None` once it is queued.
    ours_due: Option<Instant>,
    /// The client's close_notify arrived: further records are dropped.
    theirs_seen: bool,
}

/// Whether `byte` can start a TLS record (content types 20..=24). No FTP
/// command starts with one, so after CCC it tells TLS from plain text.
fn starts_tls_record(byte: u8) -> bool {
    (20..=24).contains(&byte)
}

impl ControlTls {
    /// Whether the handshake is still going on (the session's `AUTH TLS`
    /// upgrade completes when it is not).
    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// Takes bytes read from the socket; appends what they decrypt to to
    /// `plain`. On `Err` write [`take_wire`](Self::take_wire) (an alert) and
    /// close the connection.
    pub fn receive(&mut self, wire: &[u8], plain: &mut Vec<u8>) -> Result<Received, rustls::Error> {
        if self.downgrade.is_some() {
            return self.receive_records(wire, plain);
        }
        let mut rest = wire;
        while !rest.is_empty() {
            let fed = self.conn.read_tls(&mut rest).map_err(io_to_tls)?;
            self.conn.process_new_packets()?;
            if self.read_plain(plain) {
                return Ok(Received::Closed);
            }
            if fed == 0 {
                return Err(rustls::Error::General("TLS input buffer full".into()));
            }
        }
        Ok(Received::Tls)
    }

    /// Downgrading: one whole record at a time, so that plain text is
    /// recognised wherever it starts: after the client's close_notify, or
    /// straight after ours from a client that never sends one.
    fn receive_records(
        &mut self,
        wire: &[u8],
        plain: &mut Vec<u8>,
    ) -> Result<Received, rustls::Error> {
        self.partial.extend_from_slice(wire);
        loop {
            let Some(&first) = self.partial.first() else {
                return Ok(Received::Tls);
            };
            if !starts_tls_record(first) {
                // Plain text: the closure is over (or the client skipped
                // its part). Make sure ours went out first.
                self.send_our_close_notify();
                plain.append(&mut self.partial);
                return Ok(Received::Plain);
            }
            if self.partial.len() < 5 {
                return Ok(Received::Tls);
            }
            let length = 5 + usize::from(u16::from_be_bytes([self.partial[3], self.partial[4]]));
            if length > MAX_RECORD {
                return Err(rustls::Error::General("oversized TLS record".into()));
            }
            if self.partial.len() < length {
                return Ok(Received::Tls);
            }
            let theirs_seen = self.downgrade.is_some_and(|d| d.theirs_seen);
            if theirs_seen {
                // An alert sent after the client's close_notify: nothing
                // can be read from it any more.
                self.partial.drain(..length);
                continue;
            }
            let mut record = &self.partial[..length];
            self.conn.read_tls(&mut record).map_err(io_to_tls)?;
            self.partial.drain(..length);
            self.conn.process_new_packets()?;
            // Commands sent between CCC and the close_notify are still
            // protected ones; keep them.
            if self.read_plain(plain) {
                if let Some(downgrade) = &mut self.downgrade {
                    downgrade.theirs_seen = true;
                }
                self.send_our_close_notify();
            }
        }
    }

    /// Queues our close_notify after CCC unless it already is.
    fn send_our_close_notify(&mut self) {
        if let Some(downgrade) = &mut self.downgrade
            && downgrade.ours_due.take().is_some()
        {
            self.conn.send_close_notify();
        }
    }

    /// Moves decrypted bytes to `plain`; `true` once the peer closed TLS.
    fn read_plain(&mut self, plain: &mut Vec<u8>) -> bool {
        let mut buf = [0u8; 4096];
        loop {
            match self.conn.reader().read(&mut buf) {
                Ok(0) => return true,
                Ok(n) => plain.extend_from_slice(&buf[..n]),
                // WouldBlock: nothing more for now; UnexpectedEof cannot
                // happen without I/O of our own.
                Err(_) => return false,
            }
        }
    }

    /// Queues application bytes (sent once the handshake has finished).
    pub fn send(&mut self, plain: &[u8]) {
        // The writer only buffers; it cannot fail.
        let _ = io::Write::write_all(&mut self.conn.writer(), plain);
    }

    /// Appends what must go to the socket now.
    pub fn take_wire(&mut self, wire: &mut Vec<u8>) {
        while self.conn.wants_write() {
            if self.conn.write_tls(wire).is_err() {
                break;
            }
        }
    }

    /// Queues a close_notify, for a session that ends (unless CCC sent it).
    pub fn close(&mut self) {
        if !self.sends_plain() {
            self.conn.send_close_notify();
        }
    }

    /// CCC (its `200` already sent): starts the TLS closure.
    /// [`receive`](Self::receive) returns [`Received::Plain`] once the client
    /// speaks plain text. Our close_notify answers the client's, or goes out
    /// at [`deadline`](Self::deadline) if the client waits for us.
    pub fn downgrade(&mut self, now: Instant) {
        self.downgrade = Some(Downgrade {
            ours_due: Some(now + CCC_CLOSE_WAIT),
            theirs_seen: false,
        });
    }

    /// When [`handle_timeout`](Self::handle_timeout) has something to do.
    pub fn deadline(&self) -> Option<Instant> {
        self.downgrade.and_then(|d| d.ours_due)
    }

    /// Sends our close_notify after CCC if the client did not start the
    /// closure by `now`; then write [`take_wire`](Self::take_wire).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.deadline().is_some_and(|due| due <= now) {
            self.send_our_close_notify();
        }
    }

    /// After CCC, once our close_notify is out: replies go in plain text
    /// (the client reads nothing more under TLS).
    pub fn sends_plain(&self) -> bool {
        self.downgrade.is_some_and(|d| d.ours_due.is_none())
    }
}

fn io_to_tls(error: io::Error) -> rustls::Error {
    rustls::Error::General(error.to_string())
}

#[cfg(test)]
pub(crate) mod tests;
