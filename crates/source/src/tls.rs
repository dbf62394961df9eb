//! TLS for IMAP and POP3: rustls with the ring provider, system roots via the platform verifier
//! plus an optional extra CA file, and error texts an admin can act on.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{CertificateError, ClientConfig};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::SourceError;

/// A client config trusting the system roots and, if given, the CAs in `ca_file` (PEM).
pub(crate) fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, SourceError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let extra = match ca_file {
        Some(path) => read_ca_file(path)?,
        None => Vec::new(),
    };
    let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
        .map_err(|e| SourceError::Tls(format!("cannot load trusted certificates: {e}")))?;
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SourceError::Tls(e.to_string()))?
        .dangerous() // not dangerous: the platform verifier does full WebPKI verification
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, SourceError> {
    let bad = |e: String| SourceError::Config(format!("CA file {}: {e}", path.display()));
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no certificate in the file".into()));
    }
    Ok(certs)
}

/// TLS handshake over an open TCP stream (implicit TLS or after STARTTLS/STLS).
pub(crate) async fn handshake(
    tcp: TcpStream,
    host: &str,
    ca_file: Option<&Path>,
    limit: Duration,
) -> Result<TlsStream<TcpStream>, SourceError> {
    let config = client_config(ca_file)?;
    let name = ServerName::try_from(host.to_string())
        .map_err(|_| SourceError::Config(format!("not a valid host name for TLS: {host}")))?;
    let connect = TlsConnector::from(config).connect(name, tcp);
    match tokio::time::timeout(limit, connect).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => {
            let cause = match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                Some(tls) => describe(tls, Some(host)),
                None => format!("handshake with {host} failed: {e}"),
            };
            Err(SourceError::Tls(cause))
        }
        Err(_) => Err(SourceError::Tls(format!("no TLS handshake with {host} within {} s", limit.as_secs()))),
    }
}

/// The cause of a TLS failure in words an admin can act on.
pub(crate) fn describe(e: &rustls::Error, host: Option<&str>) -> String {
    let host = host.unwrap_or("the server");
    match e {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer => {
                format!("certificate of {host} is signed by an unknown CA (add it as CA file?)")
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                format!("certificate of {host} has expired")
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                format!("certificate of {host} is not valid yet (check the clock)")
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!("certificate is not valid for the host name {host}")
            }
            CertificateError::Revoked => format!("certificate of {host} has been revoked"),
            other => format!("certificate of {host} rejected: {other:?}"),
        },
        other => format!("TLS with {host} failed: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_ca_is_described_in_plain_words() {
        let e = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        assert!(describe(&e, Some("mail.example.de")).contains("unknown CA"));
    }

    #[test]
    fn wrong_host_name_is_described_with_the_host() {
        let e = rustls::Error::InvalidCertificate(CertificateError::NotValidForName);
        assert!(describe(&e, Some("mail.example.de")).contains("mail.example.de"));
    }

    #[test]
    fn a_ca_file_without_certificates_is_a_config_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate").unwrap();
        assert!(matches!(read_ca_file(&path), Err(SourceError::Config(_))));
    }

    #[test]
    fn the_client_config_builds_with_ring_and_system_roots() {
        client_config(None).unwrap();
    }
}
