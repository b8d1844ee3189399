//! The client side's TLS configuration: which certificates a client trusts
//! (the system's roots, a CA file, or, with `--insecure`, any), shared by
//! the std and smol client hosts. Sessions resume by default (rustls keeps
//! tickets in memory per server name), which servers that require TLS
//! session reuse on data connections need.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// Which server certificates a client accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// Those that chain to the operating system's roots.
    System,
    /// Those that chain to the certificates in this PEM file (`--cacert`).
    CaFile(PathBuf),
    /// Any certificate (`-k`/`--insecure`, as in curl): for self-signed
    /// test servers only; the connection is encrypted but not authenticated.
    Insecure,
}

/// Why a client TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientTlsError {
    /// The CA file could not be read.
    #[error("cannot read CA certificates from {path}: {reason}; give a PEM file of certificates")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// No root certificates at all.
    #[error(
        "no trusted root certificates found on this system; give --cacert FILE, or -k to accept any certificate"
    )]
    NoRoots,
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// A rustls client configuration for `trust`.
///
/// ```
/// use ftpwire_backend::native::client_tls::{client_config, Trust};
/// assert!(client_config(&Trust::Insecure).is_ok());
/// let missing = client_config(&Trust::CaFile("/no/such/ca.pem".into())).unwrap_err();
/// assert!(missing.to_string().starts_with("cannot read CA certificates from /no/such/ca.pem"));
/// ```
pub fn client_config(trust: &Trust) -> Result<Arc<ClientConfig>, ClientTlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientTlsError::Config(e.to_string()))?;
    let config = match trust {
        Trust::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth(),
        Trust::System => {
            let mut roots = RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(ClientTlsError::NoRoots);
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        Trust::CaFile(path) => {
            let mut roots = RootCertStore::empty();
            for cert in read_pem(path)? {
                roots.add(cert).map_err(|e| ca_error(path, e.to_string()))?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    Ok(Arc::new(config))
}

fn read_pem(path: &Path) -> Result<Vec<CertificateDer<'static>>, ClientTlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| ca_error(path, e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ca_error(path, e.to_string()))?;
    if certs.is_empty() {
        return Err(ca_error(path, "no certificate in the file".into()));
    }
    Ok(certs)
}

fn ca_error(path: &Path, reason: String) -> ClientTlsError {
    ClientTlsError::CaFile {
        path: path.to_owned(),
        reason,
    }
}

/// `--insecure`: every certificate verifies; signatures are still checked,
/// so the handshake itself stays sound.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
