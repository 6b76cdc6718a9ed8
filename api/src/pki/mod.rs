//! The cluster's public-key infrastructure: a CA, the certificates it
//! issues (client certificates whose CN is the user and whose O are the
//! groups, serving certificates with SANs), PKCS#10 CSRs for kubelets,
//! and the reading of certificates for x509 authentication.
//!
//! Pure functions on PEM/DER strings: no file I/O. Keys are ECDSA P-256
//! (fast to generate); a CA loaded from PEM may also be RSA or P-384.

mod der;
mod read;
mod tls;

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rcgen::PublicKeyData;

pub use read::{ca_cert_hash, cert_not_after, cert_subject, csr_subject};
pub use tls::{server_tls_config, ClientAuth};

/// How long a CA made by [`new_ca`] is valid (kubeadm's 10 years).
pub const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// How far back certificates' `notBefore` is set, so a client whose clock
/// is a little behind accepts a certificate issued just now (upstream's
/// CSR signer backdates by 5 minutes too).
const BACKDATE: chrono::Duration = chrono::Duration::minutes(5);

/// A failure to make, read or sign a certificate, key or CSR.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// PEM text that does not hold what was expected.
    #[error("invalid PEM: {0}")]
    Pem(String),
    /// A certificate or CSR whose DER does not parse.
    #[error("invalid {what}: {reason}")]
    Parse {
        /// `certificate`, `certificate request`, ...
        what: &'static str,
        /// The parser's complaint.
        reason: String,
    },
    /// A private key that cannot be used (or generated).
    #[error("invalid private key: {0}")]
    Key(String),
    /// A CSR whose signature does not verify with its own public key.
    #[error("the certificate request's signature does not verify")]
    BadCsrSignature,
    /// Signing failed.
    #[error("cannot sign: {0}")]
    Sign(String),
    /// A TLS configuration rustls refused.
    #[error("invalid TLS configuration: {0}")]
    Tls(String),
}

/// A certificate and its private key, PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct CertAndKey {
    /// The certificate, PEM (`CERTIFICATE`).
    pub cert_pem: String,
    /// Its private key, PEM (PKCS#8 `PRIVATE KEY`).
    pub key_pem: String,
}

impl std::fmt::Debug for CertAndKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertAndKey")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// Who a certificate or CSR names: CN = user, O = groups.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subject {
    /// The common name (the user name); empty when absent.
    pub common_name: String,
    /// The organizations (the groups), in order.
    pub organizations: Vec<String>,
}

/// A certificate authority able to issue certificates.
pub struct Ca {
    cert_pem: String,
    subject_der: Vec<u8>,
    key_id: Vec<u8>,
    key: rcgen::KeyPair,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca").finish_non_exhaustive()
    }
}

/// A new self-signed CA named `common_name`, valid for [`CA_VALIDITY`].
pub fn new_ca(common_name: &str) -> Result<CertAndKey, PkiError> {
    let key = new_key()?;
    let spki = key.subject_public_key_info();
    let subject = der::name(common_name, &[]);
    let key_id = der::key_id(&spki);
    let leaf = der::Leaf {
        subject: subject.clone(),
        spki: &spki,
        dns_names: &[],
        ips: &[],
        usage: der::Usage::Ca,
        not_before: Utc::now() - BACKDATE,
        not_after: expiry(CA_VALIDITY),
    };
    let signer = der::Signer {
        subject: &subject,
        key_id: &key_id,
        key: &key,
    };
    Ok(CertAndKey {
        cert_pem: pem("CERTIFICATE", &der::certificate(&leaf, &signer)?),
        key_pem: key.serialize_pem(),
    })
}

impl Ca {
    /// Load a CA from its certificate and private key.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Ca, PkiError> {
        let cert_der = read::cert_der(cert_pem)?;
        let facts = read::ca_facts(&cert_der)?;
        let key = rcgen::KeyPair::from_pem(key_pem).map_err(|e| PkiError::Key(e.to_string()))?;
        if key.subject_public_key_info() != facts.spki {
            return Err(PkiError::Key(
                "the private key does not belong to the CA certificate".into(),
            ));
        }
        Ok(Ca {
            cert_pem: cert_pem.to_string(),
            subject_der: facts.subject,
            key_id: facts.key_id,
            key,
        })
    }

    /// The CA's certificate, PEM (what clients put in
    /// `certificate-authority-data`).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// A client certificate (TLS client auth) for `user` in `groups`,
    /// with a new key.
    pub fn issue_client(
        &self,
        user: &str,
        groups: &[&str],
        valid_for: Duration,
    ) -> Result<CertAndKey, PkiError> {
        let key = new_key()?;
        let cert = self.sign(
            der::name(user, groups),
            &key.subject_public_key_info(),
            &[],
            &[],
            der::Usage::Client,
            valid_for,
        )?;
        Ok(CertAndKey {
            cert_pem: cert,
            key_pem: key.serialize_pem(),
        })
    }

    /// A serving certificate (TLS server auth) for `common_name`, valid
    /// for the names `dns` and the addresses `ips`, with a new key.
    pub fn issue_serving(
        &self,
        common_name: &str,
        dns: &[String],
        ips: &[IpAddr],
        valid_for: Duration,
    ) -> Result<CertAndKey, PkiError> {
        let key = new_key()?;
        let cert = self.sign(
            der::name(common_name, &[]),
            &key.subject_public_key_info(),
            dns,
            ips,
            der::Usage::Server,
            valid_for,
        )?;
        Ok(CertAndKey {
            cert_pem: cert,
            key_pem: key.serialize_pem(),
        })
    }

    /// Sign a PEM CSR for client auth, keeping its subject (CN, O) and
    /// public key and nothing else it asks for (no SANs, no CA bit): the
    /// certificate PEM. The CSR's signature must verify.
    pub fn sign_client_csr(&self, csr_pem: &str, valid_for: Duration) -> Result<String, PkiError> {
        let csr = read::verified_csr(csr_pem)?;
        let groups: Vec<&str> = csr
            .subject
            .organizations
            .iter()
            .map(String::as_str)
            .collect();
        self.sign(
            der::name(&csr.subject.common_name, &groups),
            &csr.spki,
            &[],
            &[],
            der::Usage::Client,
            valid_for,
        )
    }

    fn sign(
        &self,
        subject: Vec<u8>,
        spki: &[u8],
        dns: &[String],
        ips: &[IpAddr],
        usage: der::Usage,
        valid_for: Duration,
    ) -> Result<String, PkiError> {
        let leaf = der::Leaf {
            subject,
            spki,
            dns_names: dns,
            ips,
            usage,
            not_before: Utc::now() - BACKDATE,
            not_after: expiry(valid_for),
        };
        let signer = der::Signer {
            subject: &self.subject_der,
            key_id: &self.key_id,
            key: &self.key,
        };
        Ok(pem("CERTIFICATE", &der::certificate(&leaf, &signer)?))
    }
}

/// A self-signed serving certificate (the kubelet's :10250 when it has no
/// other, as upstream's kubelet makes one).
pub fn self_signed_serving(
    common_name: &str,
    dns: &[String],
    ips: &[IpAddr],
    valid_for: Duration,
) -> Result<CertAndKey, PkiError> {
    let key = new_key()?;
    let spki = key.subject_public_key_info();
    let subject = der::name(common_name, &[]);
    let key_id = der::key_id(&spki);
    let leaf = der::Leaf {
        subject: subject.clone(),
        spki: &spki,
        dns_names: dns,
        ips,
        usage: der::Usage::Server,
        not_before: Utc::now() - BACKDATE,
        not_after: expiry(valid_for),
    };
    let signer = der::Signer {
        subject: &subject,
        key_id: &key_id,
        key: &key,
    };
    Ok(CertAndKey {
        cert_pem: pem("CERTIFICATE", &der::certificate(&leaf, &signer)?),
        key_pem: key.serialize_pem(),
    })
}

/// A new key and a PKCS#10 CSR for `user` in `groups` signed by it:
/// `(CSR PEM, key PEM)`. What a kubelet sends to be given its client
/// certificate.
pub fn new_client_csr(user: &str, groups: &[&str]) -> Result<(String, String), PkiError> {
    let key = new_key()?;
    let csr = der::certification_request(&der::name(user, groups), &key)?;
    Ok((pem("CERTIFICATE REQUEST", &csr), key.serialize_pem()))
}

fn new_key() -> Result<rcgen::KeyPair, PkiError> {
    rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| PkiError::Key(e.to_string()))
}

/// Now + `valid_for`, saturating far in the future.
fn expiry(valid_for: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(valid_for)
        .ok()
        .and_then(|d| Utc::now().checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
        .min(max_time())
}

/// The last instant X.509 can express (GeneralizedTime year 9999).
fn max_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("9999-12-31T23:59:59Z")
        .expect("a valid constant")
        .with_timezone(&Utc)
}

/// PEM-armour `der` with `label`, 64 columns.
fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests;
