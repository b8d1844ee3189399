//! The client side's TLS configuration: which certificates a client trusts
//! (the system's roots, a CA file, or, with `--insecure`, any), shared by
//! the std and smol client hosts. Sessions resume by default (rustls keeps
//! tickets in memory per server name), which servers that require TLS
//! session reuse on data connections need.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, verify_server_name};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

/// Which server certificates a client accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// Those that chain to the operating system's roots.
    System,
    /// Those that chain to the certificates in this PEM file (`--cacert`),
    /// and a certificate in it that is the server's own (a self-signed
    /// one), once its name and dates are right: as curl does.
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
            let certs = read_pem(path)?;
            let mut roots = RootCertStore::empty();
            for cert in &certs {
                roots
                    .add(cert.clone())
                    .map_err(|e| ca_error(path, e.to_string()))?;
            }
            let chains = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| ClientTlsError::Config(e.to_string()))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(CaFile { chains, own: certs }))
                .with_no_client_auth()
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

/// `--cacert FILE`: a certificate chaining to one in the file, or one that
/// is in the file itself. The second is what a self-signed server has
/// (`openssl req -x509` marks it a CA, which a chain's end may not be, so
/// the chain check alone refuses it).
#[derive(Debug)]
struct CaFile {
    chains: Arc<WebPkiServerVerifier>,
    own: Vec<CertificateDer<'static>>,
}

impl ServerCertVerifier for CaFile {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let chained =
            self.chains
                .verify_server_cert(end_entity, intermediates, server_name, ocsp, now);
        if chained.is_ok() || !self.own.iter().any(|own| own == end_entity) {
            return chained;
        }
        // Trusted as itself: its name and its dates still count.
        verify_server_name(&ParsedCertificate::try_from(end_entity)?, server_name)?;
        let expired = || rustls::Error::InvalidCertificate(CertificateError::Expired);
        let (_, parsed) = x509_parser::parse_x509_certificate(end_entity)
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        let at = i64::try_from(now.as_secs()).map_err(|_| expired())?;
        let at = x509_parser::time::ASN1Time::from_timestamp(at).map_err(|_| expired())?;
        if !parsed.validity().is_valid_at(at) {
            return Err(if at < parsed.validity().not_before {
                rustls::Error::InvalidCertificate(CertificateError::NotValidYet)
            } else {
                expired()
            });
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.chains.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.chains.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.chains.supported_verify_schemes()
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

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use rustls::pki_types::PrivateKeyDer;
    use rustls::{ClientConnection, ServerConfig, ServerConnection};

    use super::*;

    /// A self-signed certificate for `localhost` marked a CA, as
    /// `openssl req -x509` makes them, valid from `from` to `until` (years).
    fn self_signed_ca(
        from: i32,
        until: i32,
    ) -> (CertificateDer<'static>, PrivateKeyDer<'static>, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.not_before = rcgen::date_time_ymd(from, 1, 1);
        params.not_after = rcgen::date_time_ymd(until, 1, 1);
        let cert = params.self_signed(&key).unwrap();
        let der = PrivateKeyDer::Pkcs8(key.serialize_der().into());
        (cert.der().clone(), der, cert.pem())
    }

    /// A handshake of a client trusting the PEM file `trusted` with a server
    /// presenting `cert`, named `name` by the client.
    fn handshake(
        trusted: &str,
        cert: CertificateDer<'static>,
        key: PrivateKeyDer<'static>,
        name: &str,
    ) -> Result<(), rustls::Error> {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(trusted.as_bytes()).unwrap();
        let config = client_config(&Trust::CaFile(file.path().to_owned())).unwrap();
        let server_config =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![cert], key)
                .unwrap();
        let mut client =
            ClientConnection::new(config, ServerName::try_from(name.to_owned()).unwrap()).unwrap();
        let mut server = ServerConnection::new(Arc::new(server_config)).unwrap();
        for _ in 0..10 {
            let mut bytes = Vec::new();
            while client.wants_write() {
                client.write_tls(&mut bytes).unwrap();
            }
            server.read_tls(&mut &bytes[..]).unwrap();
            server.process_new_packets()?;
            let mut bytes = Vec::new();
            while server.wants_write() {
                server.write_tls(&mut bytes).unwrap();
            }
            client.read_tls(&mut &bytes[..]).unwrap();
            client.process_new_packets()?;
            if !client.is_handshaking() && !server.is_handshaking() {
                return Ok(());
            }
        }
        panic!("the handshake did not end");
    }

    #[test]
    fn a_self_signed_server_certificate_in_the_ca_file_is_trusted_as_itself() {
        let (cert, key, pem) = self_signed_ca(2020, 2100);
        handshake(&pem, cert, key, "localhost").expect("its own certificate trusted");
    }

    #[test]
    fn its_name_and_dates_still_count() {
        let (cert, key, pem) = self_signed_ca(2020, 2100);
        let wrong_name = handshake(&pem, cert, key, "example.com").unwrap_err();
        assert!(
            matches!(
                wrong_name,
                rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName
                        | CertificateError::NotValidForNameContext { .. }
                )
            ),
            "{wrong_name:?}"
        );
        let (cert, key, pem) = self_signed_ca(2020, 2021);
        let expired = handshake(&pem, cert, key, "localhost").unwrap_err();
        assert_eq!(
            expired,
            rustls::Error::InvalidCertificate(CertificateError::Expired)
        );
        let (cert, key, pem) = self_signed_ca(2090, 2100);
        let early = handshake(&pem, cert, key, "localhost").unwrap_err();
        assert_eq!(
            early,
            rustls::Error::InvalidCertificate(CertificateError::NotValidYet)
        );
    }

    #[test]
    fn another_self_signed_certificate_is_not_trusted() {
        let (cert, key, _) = self_signed_ca(2020, 2100);
        let (_, _, other) = self_signed_ca(2020, 2100);
        assert!(handshake(&other, cert, key, "localhost").is_err());
    }
}
