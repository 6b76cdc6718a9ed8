//! The `certificates.k8s.io/v1` group: CertificateSigningRequest, the
//! request for a certificate that kubelets joining with a bootstrap token
//! make for their node client credential.

mod csr;
mod table;
mod validation;

pub use csr::*;
pub use table::CSR_TABLE;
pub use validation::{validate_csr, validate_csr_update, KNOWN_USAGES};
