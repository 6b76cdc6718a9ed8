//! The rustls server configuration the apiserver (:6443) and the kubelet
//! (:10250) serve with.

use std::sync::Arc;

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
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
                let cert = cert.map_err(|e| PkiError::Pem(format!("client CA: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| PkiError::Tls(format!("client CA: {e}")))?;
            }
            if roots.is_empty() {
                return Err(PkiError::Pem("client CA: no CERTIFICATE block".into()));
            }
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
