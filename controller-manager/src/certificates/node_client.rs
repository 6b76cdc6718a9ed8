//! What a kubelet's client certificate request must look like (upstream
//! `isNodeClientCert` and the kubelet signer's checks): subject
//! `CN=system:node:<name>, O=system:nodes`, and usages within digital
//! signature, key encipherment and client auth, client auth included.

use tug_api::pki::Subject;

/// The group of node credentials.
pub const NODES_GROUP: &str = "system:nodes";
/// The user name prefix of node credentials.
pub const NODE_USER_PREFIX: &str = "system:node:";

/// The usages a kubelet client certificate may carry.
pub const ALLOWED_USAGES: &[&str] = &["digital signature", "key encipherment", "client auth"];

/// Why a request is not a valid kubelet client certificate request, if
/// it is not.
pub fn check(subject: &Subject, usages: &[String]) -> Result<(), String> {
    if subject.organizations != [NODES_GROUP] {
        return Err(format!(
            "subject organization must be exactly [{NODES_GROUP:?}], not {:?}",
            subject.organizations
        ));
    }
    let node = subject
        .common_name
        .strip_prefix(NODE_USER_PREFIX)
        .unwrap_or("");
    if node.is_empty() {
        return Err(format!(
            "subject common name must be {NODE_USER_PREFIX}<node name>, not {:?}",
            subject.common_name
        ));
    }
    if let Some(bad) = usages
        .iter()
        .find(|u| !ALLOWED_USAGES.contains(&u.as_str()))
    {
        return Err(format!(
            "usage {bad:?} is not allowed for a kubelet client certificate"
        ));
    }
    if !usages.iter().any(|u| u == "client auth") {
        return Err("usage \"client auth\" is required".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(cn: &str, o: &[&str]) -> Subject {
        Subject {
            common_name: cn.into(),
            organizations: o.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn usages(u: &[&str]) -> Vec<String> {
        u.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn only_node_credentials_with_client_usages_pass() {
        let ok = usages(&["digital signature", "client auth"]);
        assert!(check(&subject("system:node:n1", &["system:nodes"]), &ok).is_ok());
        assert!(check(
            &subject("system:node:n1", &["system:nodes", "system:masters"]),
            &ok
        )
        .unwrap_err()
        .contains("organization"));
        assert!(check(&subject("admin", &["system:nodes"]), &ok).is_err());
        assert!(check(&subject("system:node:", &["system:nodes"]), &ok).is_err());
        let server = usages(&["digital signature", "server auth", "client auth"]);
        assert!(
            check(&subject("system:node:n1", &["system:nodes"]), &server)
                .unwrap_err()
                .contains("server auth")
        );
        assert!(check(
            &subject("system:node:n1", &["system:nodes"]),
            &usages(&["digital signature"])
        )
        .is_err());
    }
}
