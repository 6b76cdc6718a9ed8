//! The certificate controllers (upstream `pkg/controller/certificates`
//! and the bootstrap token cleaner):
//!
//! - [`approver`] (`csrapproving`): approves kubelets' client certificate
//!   requests when a SubjectAccessReview says the requester may ask for
//!   one;
//! - [`signer`] (`csrsigning`): signs approved client certificate
//!   requests with the cluster CA (`--cluster-signing-cert-file`);
//! - [`cleaner`] (`tokencleaner`): deletes expired bootstrap tokens.
//!
//! [`node_client`] holds the pure rules both approver and signer apply to
//! a kubelet's request.

pub mod approver;
pub mod cleaner;
pub mod node_client;
pub mod signer;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use tug_api::certificates::CertificateSigningRequest;

/// The PEM CSR of `spec.request`.
pub fn request_pem(csr: &CertificateSigningRequest) -> Option<String> {
    STANDARD
        .decode(csr.spec.request.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
}

/// Whether the request is decided already: issued, denied or failed.
pub fn is_finished(csr: &CertificateSigningRequest) -> bool {
    use tug_api::certificates::{DENIED, FAILED};
    !csr.status.certificate.is_empty() || csr.has_condition(DENIED) || csr.has_condition(FAILED)
}
