//! X.509 client certificates: the TLS handshake has already verified the
//! chain against the client CA; the leaf's subject names the user (CN)
//! and its groups (every O), as upstream's x509 authenticator reads it.

use crate::auth::user::AUTHENTICATED;
use crate::auth::UserInfo;

/// The subject fields authentication uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subject {
    pub common_name: String,
    pub organizations: Vec<String>,
}

/// Read the subject of a DER certificate.
fn cert_subject(der: &[u8]) -> Result<Subject, String> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|e| format!("bad certificate: {e}"))?;
    let subject = cert.subject();
    let text = |attr: &x509_parser::x509::AttributeTypeAndValue| {
        attr.as_str().map(str::to_string).map_err(|e| e.to_string())
    };
    let common_name = match subject.iter_common_name().next() {
        Some(cn) => text(cn)?,
        None => String::new(),
    };
    let organizations = subject
        .iter_organization()
        .map(text)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Subject {
        common_name,
        organizations,
    })
}

/// The user of a verified chain (leaf first); `None` without a
/// certificate, an error for a leaf without a common name.
pub fn user_from_chain(chain: &[Vec<u8>]) -> Option<Result<UserInfo, String>> {
    let leaf = chain.first()?;
    Some(cert_subject(leaf).and_then(|s| {
        if s.common_name.is_empty() {
            return Err("client certificate has no common name".into());
        }
        let mut groups = s.organizations;
        if !groups.iter().any(|g| g == AUTHENTICATED) {
            groups.push(AUTHENTICATED.into());
        }
        Ok(UserInfo {
            name: s.common_name,
            uid: String::new(),
            groups,
        })
    }))
}
