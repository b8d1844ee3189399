//! `ftpwire doctor URL`: connects as a client and reports, step by step,
//! what an operator behind NAT needs to know: the greeting and features,
//! EPSV and PASV each tried with a real LIST, the `227` address compared
//! with the address the client connected to, the same PASV inside TLS (a
//! `227` right in plain text and wrong under TLS means a NAT helper
//! rewrites plain FTP), protected data and TLS session reuse, and active
//! mode on its own (never counted as passive success). Each finding says
//! the fix in the server's own terms.

use std::fmt::Write as _;

use crate::client::{Client, ClientDriver, Via};
use ftpwire::ftp_url::FtpUrl;
use ftpwire_backend::native::client_tls::Trust;
use ftpwire_core::client::{
    ClientConfig, DataMode, ListCommand, Mismatch, PasvAddressPolicy, PasvTarget, Security, escape,
};
use serde::Serialize;

/// `ftpwire doctor URL`.
#[derive(clap::Args)]
pub struct DoctorArgs {
    /// ftp://[user[:password]@]host[:port]/ (ftps:// to start with implicit FTPS).
    url: String,
    /// Accept any server certificate (self-signed), as curl's -k.
    #[arg(short = 'k', long)]
    insecure: bool,
    /// Trust the CA certificates in this PEM file instead of the system's.
    #[arg(long, value_name = "FILE.pem")]
    cacert: Option<std::path::PathBuf>,
    /// Machine-readable output: one JSON object.
    #[arg(long)]
    json: bool,
    /// The client host: `std` (blocking) or `smol` (async).
    #[arg(long, value_enum, default_value = "std")]
    driver: ClientDriver,
    /// Where to try implicit FTPS (TLS from the first byte) [default: 990].
    #[arg(long, value_name = "PORT", default_value_t = 990)]
    implicit_port: u16,
}

/// How a finding counts.
#[derive(Serialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
enum Status {
    /// Works.
    Ok,
    /// Worth knowing; not a fault.
    Info,
    /// Works only because the client worked around the server.
    Warn,
    /// Does not work.
    Fail,
}

/// One step's result.
#[derive(Serialize, Debug)]
struct Finding {
    step: &'static str,
    status: Status,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
}

/// The report.
#[derive(Serialize, Debug, Default)]
struct Report {
    server: String,
    healthy: bool,
    findings: Vec<Finding>,
}

impl Report {
    fn add(&mut self, step: &'static str, status: Status, detail: String, fix: Option<String>) {
        self.findings.push(Finding {
            step,
            status,
            detail,
            fix,
        });
    }
}

/// The same setting in the servers operators run.
const PASSIVE_ADDRESS_FIX: &str = "make the server advertise the address clients connect to: \
    ftpwire serve --passive-address IP_OR_HOSTNAME; vsftpd: pasv_address=IP (and \
    pasv_addr_resolve=YES for a name); ProFTPD: MasqueradeAddress IP; pure-ftpd: -P IP \
    (ForcePassiveIP); FileZilla Server: Server Settings > Passive mode > Public IPv4 address; \
    IIS: FTP Firewall Support > External IP Address of Firewall. Open the passive port range \
    (ftpwire serve --passive-ports LO-HI; vsftpd pasv_min_port/pasv_max_port; ProFTPD \
    PassivePorts; pure-ftpd -p LO:HI) on the firewall, and prefer EPSV, which names no address";

const ALG_FIX: &str = "a NAT helper (an FTP ALG: the Linux nf_conntrack_ftp helper, a router's \
    \"FTP fixup\") on the path rewrites the 227 replies it can read, so plain FTP works, but it \
    cannot read TLS, so FTPS gets the server's private address. Do not rely on the helper: set \
    the passive address on the server itself (ftpwire serve --passive-address IP, and \
    --tls-passive-address IP if TLS sessions need another; vsftpd pasv_address; ProFTPD \
    MasqueradeAddress; pure-ftpd -P; FileZilla Server Public IPv4 address; IIS FTP Firewall \
    Support > External IP Address of Firewall), open the passive port range on the firewall, \
    and prefer EPSV";

/// Runs the diagnosis; `Ok(true)` when healthy.
pub fn doctor(args: DoctorArgs) -> Result<bool, String> {
    // The findings say what the client's warnings would: only errors go to stderr.
    log::set_max_level(log::LevelFilter::Error);
    let url = FtpUrl::parse(&args.url).map_err(|e| e.to_string())?;
    let mut report = Report {
        server: url.address(),
        ..Report::default()
    };
    let via = Via {
        trust: crate::client::trust(args.insecure, args.cacert.as_deref()),
        driver: args.driver,
    };
    run(&url, &via, args.implicit_port, &mut report);
    report.healthy = !report.findings.iter().any(|f| f.status == Status::Fail);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
        );
    } else {
        print!("{}", human(&report));
    }
    Ok(report.healthy)
}

fn connect(url: &FtpUrl, security: Security, via: &Via) -> Result<Client, String> {
    let config = ClientConfig {
        security,
        ..ClientConfig::default()
    };
    crate::client::open(url, config, via)
}

/// What one PASV + LIST showed.
struct PasvResult {
    target: Option<PasvTarget>,
    /// The advertised address worked.
    advertised_ok: bool,
    /// The control peer's address (on the advertised port) worked.
    replaced_ok: Option<bool>,
    error: Option<String>,
}

/// PASV and LIST, dialling what the server advertised; if that fails and
/// the address was not the control peer's, again dialling the control peer.
fn try_pasv(client: &mut Client) -> PasvResult {
    client.set_data_mode(DataMode::Pasv);
    client.set_pasv_policy(PasvAddressPolicy::Trust);
    let first = client.list(None, ListCommand::List);
    let target = client.session().last_passive().map(|p| p.target);
    let mut result = PasvResult {
        target,
        advertised_ok: first.is_ok(),
        replaced_ok: None,
        error: first.err().map(|e| e.to_string()),
    };
    if !result.advertised_ok && target.is_some_and(|t| t.is_warning()) {
        client.set_pasv_policy(PasvAddressPolicy::Replace);
        result.replaced_ok = Some(client.list(None, ListCommand::List).is_ok());
    }
    client.set_data_mode(DataMode::Passive);
    client.set_pasv_policy(PasvAddressPolicy::Replace);
    result
}

fn mismatch_words(mismatch: Mismatch) -> &'static str {
    match mismatch {
        Mismatch::Unspecified => "the unspecified address (the server printed what it listens on)",
        Mismatch::Loopback => "a loopback address",
        Mismatch::Private => "a private address (the server's address inside its NAT)",
        Mismatch::Different => "another public address than the one connected to",
    }
}

fn run(url: &FtpUrl, via: &Via, implicit_port: u16, report: &mut Report) {
    let first = if url.implicit_tls {
        Security::Implicit
    } else {
        Security::Plain
    };
    let mut client = match connect(url, first, via) {
        Ok(client) => client,
        Err(e) => {
            report.add("connect and log in", Status::Fail, e, None);
            return;
        }
    };
    let peer = client.session().peer();
    let greeting = escape(client.session().greeting(), 200);
    report.add(
        "connect and log in",
        Status::Ok,
        format!(
            "connected to {peer}; greeting: {}",
            greeting.trim_end_matches("\\x0d\\x0a")
        ),
        None,
    );
    let features = client.session().features();
    report.add(
        "features (FEAT)",
        Status::Info,
        format!(
            "EPSV {}, MLSD {}, REST STREAM {}, UTF8 {}, AUTH TLS {}",
            yes(features.epsv),
            yes(features.mlst),
            yes(features.rest_stream),
            yes(features.utf8),
            yes(features.auth_tls)
        ),
        None,
    );
    passive_steps(
        &mut client,
        report,
        if url.implicit_tls {
            "under TLS"
        } else {
            "plain"
        },
    );
    let plain_pasv = if url.implicit_tls {
        None
    } else {
        client.session().last_passive().map(|p| p.target)
    };
    // Active mode, on its own.
    client.set_data_mode(DataMode::Active);
    match client.list(None, ListCommand::List) {
        Ok(_) => report.add(
            "active mode (PORT/EPRT)",
            Status::Info,
            "works from here (tried on its own: never counted as passive success)".into(),
            None,
        ),
        Err(e) => report.add(
            "active mode (PORT/EPRT)",
            Status::Info,
            format!("does not work from here ({e}); clients behind NAT cannot use it anyway"),
            None,
        ),
    }
    let _ = client.quit();
    if url.implicit_tls {
        return;
    }
    // Explicit TLS: the same passive checks inside it.
    match connect(url, Security::Explicit, via) {
        Ok(mut tls) => {
            report.add(
                "explicit FTPS (AUTH TLS)",
                Status::Ok,
                "TLS handshake and login under TLS work".into(),
                None,
            );
            certificate_step(&tls, &via.trust, report);
            passive_steps(&mut tls, report, "under TLS");
            let tls_pasv = tls.session().last_passive().map(|p| p.target);
            alg_check(plain_pasv, tls_pasv, report);
            match tls.list(None, ListCommand::List) {
                Ok(_) => report.add(
                    "protected data (PROT P)",
                    Status::Ok,
                    format!(
                        "a protected LIST works; the data connection {} the control connection's TLS session",
                        if tls.session().data_resumed() == Some(true) { "resumed" } else { "did not resume" }
                    ),
                    None,
                ),
                Err(e) => report.add(
                    "protected data (PROT P)",
                    Status::Fail,
                    e.to_string(),
                    Some("check that the server's passive ports accept TLS data connections".into()),
                ),
            }
            let _ = tls.quit();
            reuse_step(url, via, report);
        }
        Err(e) if features.auth_tls => report.add(
            "explicit FTPS (AUTH TLS)",
            Status::Fail,
            e,
            Some("the server lists AUTH TLS but the TLS session failed; check its certificate (or run doctor with -k for a self-signed one)".into()),
        ),
        Err(e) => report.add(
            "explicit FTPS (AUTH TLS)",
            Status::Info,
            format!("not offered ({e})"),
            Some("to offer FTPS: ftpwire serve --tls-cert FILE --tls-key FILE".into()),
        ),
    }
    implicit_step(url, via, implicit_port, report);
}

/// The certificate's subject and expiry.
fn certificate_step(client: &Client, trust: &Trust, report: &mut Report) {
    let Some(der) = client.peer_certificate() else {
        return;
    };
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(&der) else {
        report.add(
            "certificate",
            Status::Warn,
            "the server's certificate does not parse as X.509".into(),
            None,
        );
        return;
    };
    let subject = cert.subject().to_string();
    let not_after = cert.validity().not_after;
    let left = not_after.timestamp()
        - std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
    let days = left / 86_400;
    let verified = if *trust == Trust::Insecure {
        "not verified (-k)"
    } else {
        "verified"
    };
    let detail = format!("subject {subject}, expires {not_after} (in {days} days), {verified}");
    let renew = "renew the certificate (ftpwire serve picks up renewed --tls-cert/--tls-key files for new sessions, without a restart)";
    if left <= 0 {
        report.add("certificate", Status::Fail, detail, Some(renew.into()));
    } else if days < 14 {
        report.add("certificate", Status::Warn, detail, Some(renew.into()));
    } else {
        report.add("certificate", Status::Ok, detail, None);
    }
}

/// Whether the server requires data connections to resume the control
/// connection's TLS session: a client that cannot resume tries a
/// protected LIST.
fn reuse_step(url: &FtpUrl, via: &Via, report: &mut Report) {
    let config = ClientConfig {
        security: Security::Explicit,
        ..ClientConfig::default()
    };
    let no_resumption = |connect: &mut ftpwire_backend::native::client::Connect| {
        if let Some(tls) = &connect.tls {
            let mut tls = (**tls).clone();
            tls.resumption = rustls::client::Resumption::disabled();
            connect.tls = Some(std::sync::Arc::new(tls));
        }
    };
    let Ok(mut client) = crate::client::open_with(url, config, via, no_resumption) else {
        return;
    };
    match client.list(None, ListCommand::List) {
        Ok(_) => report.add(
            "TLS session reuse",
            Status::Info,
            "not required: a data connection that does not resume the control session is accepted".into(),
            None,
        ),
        Err(e) => report.add(
            "TLS session reuse",
            Status::Info,
            format!("required: a data connection without resumption was refused ({e}); clients that cannot resume (Python's ftplib) cannot transfer"),
            Some("to serve such clients: ftpwire serve without --require-tls-session-reuse; vsftpd require_ssl_reuse=NO; ProFTPD TLSOptions NoSessionReuseRequired".into()),
        ),
    }
    let _ = client.quit();
}

/// Implicit FTPS on `port` of the same host.
fn implicit_step(url: &FtpUrl, via: &Via, port: u16, report: &mut Report) {
    if url.implicit_tls {
        return;
    }
    let implicit = FtpUrl {
        implicit_tls: true,
        port,
        ..url.clone()
    };
    let config = ClientConfig {
        security: Security::Implicit,
        ..ClientConfig::default()
    };
    let short = |connect: &mut ftpwire_backend::native::client::Connect| {
        connect.connect_timeout = std::time::Duration::from_secs(3);
    };
    match crate::client::open_with(&implicit, config, via, short) {
        Ok(mut client) => {
            let listed = client.list(None, ListCommand::List);
            let (status, detail) = match listed {
                Ok(_) => (Status::Ok, format!("port {port}: TLS handshake, login and a protected LIST work")),
                Err(e) => (Status::Fail, format!("port {port}: logged in, but a protected LIST failed: {e}")),
            };
            report.add("implicit FTPS", status, detail, None);
            let _ = client.quit();
        }
        Err(e) => report.add(
            "implicit FTPS",
            Status::Info,
            format!("not offered on port {port} ({e})"),
            Some("to offer it: ftpwire serve --implicit-tls-listen ADDR:990; vsftpd implicit_ssl=YES; ProFTPD TLSOptions UseImplicitSSL".into()),
        ),
    }
}

/// EPSV and PASV, each with a real LIST.
fn passive_steps(client: &mut Client, report: &mut Report, context: &'static str) {
    client.set_data_mode(DataMode::ExtendedPassive);
    let (epsv_step, pasv_step) = if context == "plain" {
        ("EPSV + LIST", "PASV + LIST")
    } else {
        ("EPSV + LIST under TLS", "PASV + LIST under TLS")
    };
    match client.list(None, ListCommand::List) {
        Ok(_) => report.add(epsv_step, Status::Ok, "works".into(), None),
        Err(e) => report.add(
            epsv_step,
            Status::Warn,
            e.to_string(),
            Some("offer EPSV (RFC 2428): it names no address, so NAT cannot get it wrong".into()),
        ),
    }
    let pasv = try_pasv(client);
    let peer = client.session().peer();
    match (
        pasv.target.as_ref().and_then(PasvTarget::advertised),
        pasv.advertised_ok,
    ) {
        (None, true) => report.add(
            pasv_step,
            Status::Ok,
            format!(
                "the 227 names {}, the address connected to; LIST works",
                peer.ip()
            ),
            None,
        ),
        (None, false) => report.add(
            pasv_step,
            Status::Fail,
            pasv.error.unwrap_or_default(),
            Some("open the server's passive port range on its firewall".into()),
        ),
        (Some((addr, mismatch)), ok) => {
            let mut detail = format!(
                "the 227 names {addr}, {}, not {} (the address connected to)",
                mismatch_words(mismatch),
                peer.ip()
            );
            let status = if ok {
                detail.push_str(
                    "; dialling it worked from here, but clients elsewhere cannot reach it",
                );
                Status::Fail
            } else {
                let _ = write!(
                    detail,
                    "; dialling it failed ({})",
                    pasv.error.as_deref().unwrap_or("no connection")
                );
                match pasv.replaced_ok {
                    Some(true) => detail.push_str(&format!(
                        "; the same port at {} worked: clients that trust the 227 fail, clients that silently replace it hide the fault",
                        peer.ip()
                    )),
                    _ => detail.push_str(&format!("; the same port at {} failed too", peer.ip())),
                }
                Status::Fail
            };
            report.add(pasv_step, status, detail, Some(PASSIVE_ADDRESS_FIX.into()));
        }
    }
}

/// A `227` right in plain text and wrong under TLS: a NAT helper.
fn alg_check(plain: Option<PasvTarget>, tls: Option<PasvTarget>, report: &mut Report) {
    let (Some(plain), Some(tls)) = (plain, tls) else {
        return;
    };
    let plain_right = plain.advertised().is_none();
    if let (true, Some((addr, mismatch))) = (plain_right, tls.advertised()) {
        report.add(
            "NAT helper (ALG)",
            Status::Fail,
            format!(
                "the plain-text 227 names the address connected to, but under TLS it names {addr}, {}: something between here and the server rewrites plain 227 replies",
                mismatch_words(mismatch)
            ),
            Some(ALG_FIX.into()),
        );
    } else if plain_right {
        report.add(
            "NAT helper (ALG)",
            Status::Ok,
            "the 227 is the same in plain text and under TLS".into(),
            None,
        );
    }
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn human(report: &Report) -> String {
    let mut out = format!("ftpwire doctor: {}\n", report.server);
    for f in &report.findings {
        let mark = match f.status {
            Status::Ok => "ok  ",
            Status::Info => "info",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        };
        let _ = writeln!(out, "[{mark}] {}: {}", f.step, f.detail);
        if let Some(fix) = &f.fix {
            let _ = writeln!(out, "       fix: {fix}");
        }
    }
    let _ = writeln!(
        out,
        "{}",
        if report.healthy {
            "healthy: no fault found"
        } else {
            "FAULT: see the findings marked FAIL"
        }
    );
    out
}
