//! `--metrics-listen ADDR`: the server's [`Metrics`] for Prometheus on
//! `http://ADDR/metrics`, served by a thread of its own (tiny_http, no
//! async runtime), whichever driver runs the sessions.

use std::net::SocketAddr;
use std::sync::Arc;

use ftpwire_backend::native::metrics::Metrics;

/// The OpenMetrics text format's content type.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Starts serving `metrics` on `addr`; the error says what to change.
pub fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> Result<SocketAddr, String> {
    let server = tiny_http::Server::http(addr).map_err(|e| {
        format!("cannot serve metrics on {addr}: {e} (pick another --metrics-listen address)")
    })?;
    let bound = server.server_addr().to_ip().unwrap_or(addr);
    log::info!("metrics on http://{bound}/metrics");
    std::thread::Builder::new()
        .name("ftpwire-metrics".into())
        .spawn(move || {
            for request in server.incoming_requests() {
                let found = *request.method() == tiny_http::Method::Get
                    && request.url().split('?').next() == Some("/metrics");
                let response = if found {
                    let header = tiny_http::Header::from_bytes("Content-Type", CONTENT_TYPE)
                        .expect("a valid header");
                    tiny_http::Response::from_string(metrics.encode()).with_header(header)
                } else {
                    tiny_http::Response::from_string("only GET /metrics is served here\n")
                        .with_status_code(404)
                };
                let _ = request.respond(response);
            }
        })
        .map_err(|e| format!("cannot start the metrics thread: {e}"))?;
    Ok(bound)
}
