//! Reading certificates and CSRs (x509-parser): subjects for x509
//! authentication, expiry for rotation, the CA hash kubeadm pins.

use chrono::{DateTime, Utc};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateSigningRequestDer};
use sha2::{Digest, Sha256};
use x509_parser::certificate::X509Certificate;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::FromDer;
use x509_parser::x509::X509Name;

use super::{PkiError, Subject};

/// The first certificate of a PEM bundle, DER.
pub(crate) fn cert_der(cert_pem: &str) -> Result<Vec<u8>, PkiError> {
    CertificateDer::from_pem_slice(cert_pem.as_bytes())
        .map(|c| c.to_vec())
        .map_err(|e| PkiError::Pem(format!("no certificate: {e}")))
}

fn parse_cert(der: &[u8]) -> Result<X509Certificate<'_>, PkiError> {
    let (rest, cert) = X509Certificate::from_der(der).map_err(|e| PkiError::Parse {
        what: "certificate",
        reason: e.to_string(),
    })?;
    if !rest.is_empty() {
        return Err(PkiError::Parse {
            what: "certificate",
            reason: "trailing bytes after the certificate".into(),
        });
    }
    Ok(cert)
}

fn subject_of(name: &X509Name) -> Result<Subject, PkiError> {
    let text = |a: &x509_parser::x509::AttributeTypeAndValue| {
        a.as_str().map(str::to_string).map_err(|e| PkiError::Parse {
            what: "subject",
            reason: e.to_string(),
        })
    };
    let common_name = match name.iter_common_name().next() {
        Some(cn) => text(cn)?,
        None => String::new(),
    };
    let organizations = name
        .iter_organization()
        .map(text)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Subject {
        common_name,
        organizations,
    })
}

/// The subject (CN = user, O = groups) of a DER certificate, as the x509
/// authenticator reads a verified client certificate.
pub fn cert_subject(cert_der: &[u8]) -> Result<Subject, PkiError> {
    subject_of(parse_cert(cert_der)?.subject())
}

/// When a PEM certificate expires.
pub fn cert_not_after(cert_pem: &str) -> Result<DateTime<Utc>, PkiError> {
    let der = cert_der(cert_pem)?;
    let cert = parse_cert(&der)?;
    DateTime::from_timestamp(cert.validity().not_after.timestamp(), 0).ok_or(PkiError::Parse {
        what: "certificate",
        reason: "notAfter out of range".into(),
    })
}

/// kubeadm's pin of a CA: `sha256:<hex>` of the SHA-256 of its
/// SubjectPublicKeyInfo DER (what `--discovery-token-ca-cert-hash` takes).
pub fn ca_cert_hash(ca_cert_pem: &str) -> Result<String, PkiError> {
    let der = cert_der(ca_cert_pem)?;
    let cert = parse_cert(&der)?;
    let digest = Sha256::digest(cert.public_key().raw);
    Ok(format!("sha256:{}", hex(&digest)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What signing with a CA needs from its certificate.
pub(crate) struct CaFacts {
    /// The subject, raw DER (becomes the issuer of what it signs).
    pub subject: Vec<u8>,
    /// Its SubjectPublicKeyInfo, DER.
    pub spki: Vec<u8>,
    /// Its subject key identifier (or one derived from its key).
    pub key_id: Vec<u8>,
}

pub(crate) fn ca_facts(cert_der: &[u8]) -> Result<CaFacts, PkiError> {
    let cert = parse_cert(cert_der)?;
    if !cert.is_ca() {
        return Err(PkiError::Parse {
            what: "CA certificate",
            reason: "it is not a CA (basicConstraints cA is not set)".into(),
        });
    }
    let spki = cert.public_key().raw.to_vec();
    let key_id = cert
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
            _ => None,
        })
        .unwrap_or_else(|| super::der::key_id(&spki));
    Ok(CaFacts {
        subject: cert.subject().as_raw().to_vec(),
        spki,
        key_id,
    })
}

fn csr_der(csr_pem: &str) -> Result<Vec<u8>, PkiError> {
    CertificateSigningRequestDer::from_pem_slice(csr_pem.as_bytes())
        .map(|c| c.as_ref().to_vec())
        .map_err(|e| PkiError::Pem(format!("no certificate request: {e}")))
}

fn parse_csr(der: &[u8]) -> Result<X509CertificationRequest<'_>, PkiError> {
    X509CertificationRequest::from_der(der)
        .map(|(_, csr)| csr)
        .map_err(|e| PkiError::Parse {
            what: "certificate request",
            reason: e.to_string(),
        })
}

/// The subject (CN, O) a PEM CSR asks for.
pub fn csr_subject(csr_pem: &str) -> Result<Subject, PkiError> {
    let der = csr_der(csr_pem)?;
    subject_of(&parse_csr(&der)?.certification_request_info.subject)
}

/// A CSR whose signature verified: what it asks for.
pub(crate) struct VerifiedCsr {
    pub subject: Subject,
    /// The requester's SubjectPublicKeyInfo, DER.
    pub spki: Vec<u8>,
}

pub(crate) fn verified_csr(csr_pem: &str) -> Result<VerifiedCsr, PkiError> {
    let der = csr_der(csr_pem)?;
    let csr = parse_csr(&der)?;
    csr.verify_signature()
        .map_err(|_| PkiError::BadCsrSignature)?;
    let info = &csr.certification_request_info;
    Ok(VerifiedCsr {
        subject: subject_of(&info.subject)?,
        spki: info.subject_pki.raw.to_vec(),
    })
}
