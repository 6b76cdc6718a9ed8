//! What `describe` and `rollout` need to know about a Deployment's
//! ReplicaSets: which it owns, their revisions, and whether a template
//! is the Deployment's own (ignoring the `pod-template-hash` label the
//! controller adds).

use serde_json::Value;
use tug_api::apps::ReplicaSet;
use tug_client::{ApiResource, ListParams};

use super::context::Ctx;
use super::error::Result;
use super::get::list_all;

/// The label the controller adds to tell ReplicaSets' pods apart.
pub const HASH_LABEL: &str = "pod-template-hash";
/// The annotation holding a ReplicaSet's (and Deployment's) revision.
pub const REVISION: &str = "deployment.kubernetes.io/revision";
/// The annotation recording why a revision was made.
pub const CHANGE_CAUSE: &str = "kubernetes.io/change-cause";

/// The ReplicaSets `deployment` controls (by ownerReference uid).
pub async fn owned_replica_sets(ctx: &Ctx, deployment: &Value) -> Result<Vec<Value>> {
    let ns = deployment["metadata"]["namespace"].as_str();
    let uid = deployment["metadata"]["uid"].as_str().unwrap_or_default();
    let api = ctx.api(&ApiResource::of::<ReplicaSet>(), ns);
    let all = list_all(&api, &ListParams::default()).await?;
    Ok(all
        .into_iter()
        .filter(|rs| controlled_by(rs, uid))
        .collect())
}

/// Whether `object`'s controller has this uid.
pub fn controlled_by(object: &Value, uid: &str) -> bool {
    object["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|refs| {
            refs.iter()
                .any(|r| r["controller"].as_bool() == Some(true) && r["uid"] == uid)
        })
}

/// A ReplicaSet's revision (0 when it has none).
pub fn revision(rs: &Value) -> i64 {
    rs["metadata"]["annotations"][REVISION]
        .as_str()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// A pod template without the `pod-template-hash` label.
pub fn without_hash(template: &Value) -> Value {
    let mut t = template.clone();
    if let Some(labels) = t["metadata"]["labels"].as_object_mut() {
        labels.remove(HASH_LABEL);
    }
    t
}

/// Whether two templates are equal once the hash label is ignored.
pub fn same_template(a: &Value, b: &Value) -> bool {
    without_hash(a) == without_hash(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn templates_compare_without_the_hash_label() {
        let a =
            json!({"metadata": {"labels": {"app": "web", HASH_LABEL: "abc"}}, "spec": {"x": 1}});
        let b = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"x": 1}});
        assert!(same_template(&a, &b));
        assert!(!same_template(
            &a,
            &json!({"metadata": {"labels": {"app": "web"}}, "spec": {"x": 2}})
        ));
        let rs = json!({"metadata": {"annotations": {REVISION: "7"}, "ownerReferences": [
            {"uid": "u1", "controller": true}]}});
        assert_eq!(revision(&rs), 7);
        assert!(controlled_by(&rs, "u1"));
        assert!(!controlled_by(&rs, "u2"));
    }
}
