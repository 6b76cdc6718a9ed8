//! The rustls server configuration the apiserver (:6443) and the kubelet
//! (:10250) serve with.

use std::sync::Arc;

use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;

use super::PkiError;

/// Whether the server asks TLS clients for a certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// Never asks.
    None,
    /// Asks; a client may present none (it then authenticates otherwise,
    /// e.g. with a bearer token), but one it presents must verify
    /// against the client CA.
    Optional,
    /// A certificate signed by the client CA is required.
    Required,
}

/// A TLS server configuration: the certificate chain `cert_pem` with its
/// key `key_pem`, client certificates verified against `client_ca_pem`
/// as `client_auth` says, ALPN `h2` and `http/1.1`, rustls' ring provider.
pub fn server_tls_config(
    cert_pem: &str,
    key_pem: &str,
    client_ca_pem: Option<&str>,
    client_auth: ClientAuth,
) -> Result<rustls::ServerConfig, PkiError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PkiError::Pem(format!("serving certificate: {e}")))?;
    if chain.is_empty() {
        return Err(PkiError::Pem(
            "serving certificate: no CERTIFICATE block".into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| PkiError::Pem(format!("serving key: {e}")))?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| PkiError::Tls(e.to_string()))?;
    let builder = match (client_auth, client_ca_pem) {
        (ClientAuth::None, _) => builder.with_no_client_auth(),
        (_, None) => {
            return Err(PkiError::Tls(
                "client certificate authentication needs a client CA".into(),
            ))
        }
        (auth, Some(ca_pem)) => {
            let roots = roots(ca_pem)?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if auth == ClientAuth::Optional {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier.build().map_err(|e| PkiError::Tls(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| PkiError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Whether `cert_pem` (a chain, leaf first) is a serving certificate a
/// TLS client trusting `ca_pem` accepts for `name` (a DNS name or an IP
/// address) at `at`: chain, validity, serverAuth usage and SANs, as
/// rustls' webpki verifier checks them.
pub fn verify_server_cert(
    ca_pem: &str,
    cert_pem: &str,
    name: &str,
    at: std::time::SystemTime,
) -> Result<(), PkiError> {
    use rustls::pki_types::{ServerName, UnixTime};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = roots(ca_pem)?;
    let (leaf, intermediates) = split_chain(cert_pem)?;
    let name = ServerName::try_from(name.to_string())
        .map_err(|e| PkiError::Tls(format!("{name:?}: {e}")))?;
    let verifier =
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| PkiError::Tls(e.to_string()))?;
    verifier
        .verify_server_cert(
            &leaf,
            &intermediates,
            &name,
            &[],
            UnixTime::since_unix_epoch(
                at.duration_since(std::time::UNIX_EPOCH).unwrap_or_default(),
            ),
        )
        .map(|_| ())
        .map_err(|e| PkiError::Tls(e.to_string()))
}

/// Whether `cert_pem` (a chain, leaf first) is a client certificate a
/// server whose client CA is `ca_pem` accepts now.
pub fn verify_client_cert(ca_pem: &str, cert_pem: &str) -> Result<(), PkiError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca_pem)?), provider)
        .build()
        .map_err(|e| PkiError::Tls(e.to_string()))?;
    let (leaf, intermediates) = split_chain(cert_pem)?;
    verifier
        .verify_client_cert(&leaf, &intermediates, rustls::pki_types::UnixTime::now())
        .map(|_| ())
        .map_err(|e| PkiError::Tls(e.to_string()))
}

fn roots(ca_pem: &str) -> Result<RootCertStore, PkiError> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        let cert = cert.map_err(|e| PkiError::Pem(format!("CA: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| PkiError::Tls(format!("CA: {e}")))?;
    }
    if roots.is_empty() {
        return Err(PkiError::Pem("CA: no CERTIFICATE block".into()));
    }
    Ok(roots)
}

fn split_chain(
    cert_pem: &str,
) -> Result<(CertificateDer<'static>, Vec<CertificateDer<'static>>), PkiError> {
    let mut chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PkiError::Pem(format!("certificate: {e}")))?;
    if chain.is_empty() {
        return Err(PkiError::Pem("certificate: no CERTIFICATE block".into()));
    }
    let leaf = chain.remove(0);
    Ok((leaf, chain))
}
