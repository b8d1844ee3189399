//! What a server does, counted for Prometheus: sessions, logins and bans,
//! transfers and bytes, TLS handshakes, passive listeners, and the silent
//! fallback to active mode. One [`Metrics`] per server, shared by its
//! sessions and counted the same way on every native driver; the numbers
//! are cheap atomics, so they are kept whether or not anyone scrapes them.
//! [`Metrics::encode`] writes the OpenMetrics text a scraper reads
//! (`ftpwire serve --metrics-listen` serves it on `/metrics`).

use std::fmt;
use std::sync::Arc;

use ftpwire_core::server::{TransferError, TransferKind};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::limits::Refusal;

type Labels = [(&'static str, &'static str); 1];
type Labels2 = [(&'static str, &'static str); 2];

/// A server's counters and gauges.
///
/// ```
/// use ftpwire_backend::native::metrics::{Login, Metrics};
/// let metrics = Metrics::default();
/// metrics.login(Login::Failed);
/// let text = metrics.encode();
/// assert!(text.contains("ftpwire_logins_total{outcome=\"failed\"} 1"), "{text}");
/// ```
pub struct Metrics {
    registry: Registry,
    sessions: Counter,
    sessions_current: Gauge,
    refused: Family<Labels, Counter>,
    logins: Family<Labels, Counter>,
    bans: Counter,
    bans_ended: Counter,
    transfers: Family<Labels2, Counter>,
    bytes: Family<Labels, Counter>,
    zero_copy: Family<Labels, Counter>,
    tls: Family<Labels2, Counter>,
    passive_in_use: Gauge,
    passive_exhausted: Counter,
    fallbacks: Counter,
    private_pasv: Counter,
}

/// A login's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    /// Logged in.
    Ok,
    /// Wrong user or password.
    Failed,
    /// Refused because the address is banned (whatever the password).
    Banned,
}

/// Which connection a TLS handshake was on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsChannel {
    /// The control connection (AUTH TLS, or implicit FTPS).
    Control,
    /// A data connection (PROT P).
    Data,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("ftpwire");
        let metrics = Metrics {
            sessions: Counter::default(),
            sessions_current: Gauge::default(),
            refused: Family::default(),
            logins: Family::default(),
            bans: Counter::default(),
            bans_ended: Counter::default(),
            transfers: Family::default(),
            bytes: Family::default(),
            zero_copy: Family::default(),
            tls: Family::default(),
            passive_in_use: Gauge::default(),
            passive_exhausted: Counter::default(),
            fallbacks: Counter::default(),
            private_pasv: Counter::default(),
            registry: Registry::default(),
        };
        registry.register(
            "sessions",
            "Control connections admitted",
            metrics.sessions.clone(),
        );
        registry.register(
            "sessions_current",
            "Sessions running now",
            metrics.sessions_current.clone(),
        );
        registry.register(
            "sessions_refused",
            "Connections turned away, by reason (total, per_ip, banned, proxy)",
            metrics.refused.clone(),
        );
        registry.register(
            "logins",
            "Logins by outcome (ok, failed, banned)",
            metrics.logins.clone(),
        );
        registry.register(
            "bans",
            "Addresses banned for failed logins",
            metrics.bans.clone(),
        );
        registry.register(
            "bans_ended",
            "Bans that ran out",
            metrics.bans_ended.clone(),
        );
        registry.register(
            "transfers",
            "Transfers by command and outcome (ok, failed)",
            metrics.transfers.clone(),
        );
        registry.register(
            "bytes",
            "Data bytes moved, by direction (in: uploads, out: downloads and listings)",
            metrics.bytes.clone(),
        );
        registry.register(
            "zero_copy_transfers",
            "Transfers whose bytes the kernel moved (sendfile, splice), by command",
            metrics.zero_copy.clone(),
        );
        registry.register(
            "tls_handshakes",
            "TLS handshakes by channel (control, data) and outcome (ok, failed)",
            metrics.tls.clone(),
        );
        registry.register(
            "passive_listeners_in_use",
            "Passive listeners held by sessions now",
            metrics.passive_in_use.clone(),
        );
        registry.register(
            "passive_ports_exhausted",
            "PASV/EPSV refused because no passive port was free",
            metrics.passive_exhausted.clone(),
        );
        registry.register(
            "passive_fallbacks",
            "Clients that switched to active mode after no data connection reached their passive listener",
            metrics.fallbacks.clone(),
        );
        registry.register(
            "pasv_private_address",
            "227 replies that named a private address to a client outside the local networks",
            metrics.private_pasv.clone(),
        );
        Metrics {
            registry,
            ..metrics
        }
    }
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics")
            .field("sessions", &self.sessions.get())
            .field("sessions_current", &self.sessions_current.get())
            .finish_non_exhaustive()
    }
}

/// A running session's place in `sessions_current`; dropping it leaves.
#[derive(Debug)]
pub struct SessionGauge(Arc<Metrics>);

impl Drop for SessionGauge {
    fn drop(&mut self) {
        self.0.sessions_current.dec();
    }
}

/// A passive listener's place in `passive_listeners_in_use`.
#[derive(Debug)]
pub struct PassiveGauge(Arc<Metrics>);

impl Drop for PassiveGauge {
    fn drop(&mut self) {
        self.0.passive_in_use.dec();
    }
}

impl Metrics {
    /// A session began; it counts as running until the guard drops.
    pub fn session(self: &Arc<Self>) -> SessionGauge {
        self.sessions.inc();
        self.sessions_current.inc();
        SessionGauge(self.clone())
    }

    /// A connection was turned away.
    pub fn refused(&self, refusal: &Refusal) {
        let reason = match refusal {
            Refusal::Total(_) => "total",
            Refusal::PerIp(_) => "per_ip",
            Refusal::Banned(_) => "banned",
        };
        self.refused.get_or_create(&[("reason", reason)]).inc();
    }

    /// A connection closed for a missing, malformed or unexpected PROXY header.
    pub fn refused_proxy(&self) {
        self.refused.get_or_create(&[("reason", "proxy")]).inc();
    }

    /// A login's outcome.
    pub fn login(&self, outcome: Login) {
        let outcome = match outcome {
            Login::Ok => "ok",
            Login::Failed => "failed",
            Login::Banned => "banned",
        };
        self.logins.get_or_create(&[("outcome", outcome)]).inc();
    }

    /// An address was banned.
    pub fn banned(&self) {
        self.bans.inc();
    }

    /// Bans that ran out.
    pub fn bans_ended(&self, n: u64) {
        self.bans_ended.inc_by(n);
    }

    /// A transfer ended, having moved `bytes`.
    pub fn transfer(&self, kind: TransferKind, outcome: &Result<(), TransferError>, bytes: u64) {
        let outcome = if outcome.is_ok() { "ok" } else { "failed" };
        self.transfers
            .get_or_create(&[("command", kind.verb()), ("outcome", outcome)])
            .inc();
        let direction = match kind {
            TransferKind::Store | TransferKind::Append | TransferKind::StoreUnique => "in",
            _ => "out",
        };
        self.bytes
            .get_or_create(&[("direction", direction)])
            .inc_by(bytes);
    }

    /// A transfer's bytes are moved by the kernel (sendfile, splice), not copied.
    pub fn zero_copy_transfer(&self, kind: TransferKind) {
        self.zero_copy
            .get_or_create(&[("command", kind.verb())])
            .inc();
    }

    /// A TLS handshake's outcome.
    pub fn tls_handshake(&self, channel: TlsChannel, ok: bool) {
        let channel = match channel {
            TlsChannel::Control => "control",
            TlsChannel::Data => "data",
        };
        let outcome = if ok { "ok" } else { "failed" };
        self.tls
            .get_or_create(&[("channel", channel), ("outcome", outcome)])
            .inc();
    }

    /// A passive listener is held until the guard drops.
    pub fn passive_listener(self: &Arc<Self>) -> PassiveGauge {
        self.passive_in_use.inc();
        PassiveGauge(self.clone())
    }

    /// PASV/EPSV found no free passive port.
    pub fn passive_exhausted(&self) {
        self.passive_exhausted.inc();
    }

    /// A client fell back to active mode after an unreached passive listener.
    pub fn passive_fallback(&self) {
        self.fallbacks.inc();
    }

    /// A `227` named a private address to a client outside the local networks.
    pub fn pasv_private_address(&self) {
        self.private_pasv.inc();
    }

    /// The OpenMetrics text of every metric, for a scraper.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_reach_the_text() {
        let metrics = Arc::new(Metrics::default());
        let session = metrics.session();
        let _second = metrics.session();
        drop(session);
        metrics.refused(&Refusal::PerIp(2));
        metrics.transfer(TransferKind::Retrieve, &Ok(()), 100);
        metrics.transfer(TransferKind::Store, &Err(TransferError::ConnectionLost), 7);
        metrics.tls_handshake(TlsChannel::Data, false);
        metrics.zero_copy_transfer(TransferKind::Retrieve);
        let text = metrics.encode();
        for line in [
            "ftpwire_sessions_total 2",
            "ftpwire_sessions_current 1",
            "ftpwire_sessions_refused_total{reason=\"per_ip\"} 1",
            "ftpwire_transfers_total{command=\"RETR\",outcome=\"ok\"} 1",
            "ftpwire_transfers_total{command=\"STOR\",outcome=\"failed\"} 1",
            "ftpwire_bytes_total{direction=\"out\"} 100",
            "ftpwire_bytes_total{direction=\"in\"} 7",
            "ftpwire_tls_handshakes_total{channel=\"data\",outcome=\"failed\"} 1",
            "ftpwire_zero_copy_transfers_total{command=\"RETR\"} 1",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
    }
}
