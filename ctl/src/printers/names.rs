//! `kind.group/name`, the way kubectl names an object in `-o name`,
//! `apply` messages and multi-kind tables.

use serde_json::Value;

use super::fields::{name, str_at};
use super::PrintError;

/// `deployment.apps`, `pod`, `lease.coordination.k8s.io`: the lower-case
/// kind, then the API group when there is one.
pub fn kind_prefix(object: &Value) -> Result<String, PrintError> {
    let kind = str_at(object, &["kind"]);
    if kind.is_empty() {
        return Err(PrintError::MissingKind(name(object).to_string()));
    }
    let kind = kind.to_lowercase();
    Ok(match str_at(object, &["apiVersion"]).split_once('/') {
        Some((group, _)) if !group.is_empty() => format!("{kind}.{group}"),
        _ => kind,
    })
}

/// `deployment.apps/web`, `pod/nginx`.
pub fn qualified_name(object: &Value) -> Result<String, PrintError> {
    Ok(format!("{}/{}", kind_prefix(object)?, name(object)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn group_qualified_names() {
        let name = |api: &str, kind: &str| {
            qualified_name(&json!({"apiVersion": api, "kind": kind, "metadata": {"name": "x"}}))
                .unwrap()
        };
        assert_eq!(name("apps/v1", "Deployment"), "deployment.apps/x");
        assert_eq!(name("v1", "Pod"), "pod/x");
        assert_eq!(
            name("coordination.k8s.io/v1", "Lease"),
            "lease.coordination.k8s.io/x"
        );
        assert_eq!(
            qualified_name(&json!({"metadata": {"name": "x"}}))
                .unwrap_err()
                .to_string(),
            "missing kind for resource with name x"
        );
    }
}
