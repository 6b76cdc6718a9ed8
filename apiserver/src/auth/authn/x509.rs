//! X.509 client certificates: the TLS handshake has already verified the
//! chain against the client CA; the leaf's subject names the user (CN)
//! and its groups (every O), as upstream's x509 authenticator reads it.

use tug_api::pki::cert_subject;

use crate::auth::user::AUTHENTICATED;
use crate::auth::UserInfo;

/// The user of a verified chain (leaf first); `None` without a
/// certificate, an error for a leaf that cannot be read or has no common
/// name.
pub fn user_from_chain(chain: &[Vec<u8>]) -> Option<Result<UserInfo, String>> {
    let leaf = chain.first()?;
    Some(match cert_subject(leaf) {
        Err(e) => Err(format!("client certificate: {e}")),
        Ok(s) if s.common_name.is_empty() => Err("client certificate has no common name".into()),
        Ok(s) => {
            let mut groups = s.organizations;
            if !groups.iter().any(|g| g == AUTHENTICATED) {
                groups.push(AUTHENTICATED.into());
            }
            Ok(UserInfo {
                name: s.common_name,
                uid: String::new(),
                groups,
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tug_api::pki::{new_ca, Ca};

    fn der_of(pem: &str) -> Vec<u8> {
        use base64::Engine;
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap()
    }

    #[test]
    fn common_name_is_the_user_and_organizations_the_groups() {
        let ca_pem = new_ca("test-ca").unwrap();
        let ca = Ca::from_pem(&ca_pem.cert_pem, &ca_pem.key_pem).unwrap();
        let jane = ca
            .issue_client("jane", &["devs", "ops"], Duration::from_secs(3600))
            .unwrap();
        let user = user_from_chain(&[der_of(&jane.cert_pem)]).unwrap().unwrap();
        assert_eq!(user.name, "jane");
        assert_eq!(user.groups, vec!["devs", "ops", "system:authenticated"]);
        assert!(user_from_chain(&[]).is_none());
        assert!(user_from_chain(&[vec![1, 2, 3]]).unwrap().is_err());
    }
}
