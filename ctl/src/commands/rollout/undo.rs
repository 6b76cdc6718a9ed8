//! `rollout undo`: roll a Deployment back to an earlier revision, on the
//! client as kubectl does — refuse when paused, pick the ReplicaSet of the
//! revision (the previous one by default), and unless its template is
//! already the Deployment's, copy the template (without the
//! `pod-template-hash` label) and its annotations back with a JSON patch.
//! The controller then brings that ReplicaSet back as the newest revision.

use serde_json::{json, Map, Value};
use tug_client::{Patch, PatchParams};

use super::super::apply::LAST_APPLIED;
use super::super::deployments::{
    owned_replica_sets, revision, same_template, without_hash, REVISION,
};
use super::super::emit_line;
use super::super::error::{usage, Result};
use super::deployment;
use crate::cli::{DryRun, RolloutUndoArgs};

/// Annotations that belong to the Deployment, not to a revision.
const KEPT_ANNOTATIONS: &[&str] = &[
    LAST_APPLIED,
    REVISION,
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
];

/// Run `rollout undo`.
pub async fn run(ctx: &super::Ctx, args: &RolloutUndoArgs) -> Result<()> {
    let (api, name, live) = deployment(ctx, &args.target, "rollbacker").await?;
    if live["spec"]["paused"].as_bool() == Some(true) {
        return Err(usage(format!(
            "you cannot rollback a paused deployment; resume it first with 'tugctl rollout resume \
             deployment/{name}' and try again"
        )));
    }
    let owned = owned_replica_sets(ctx, &live).await?;
    let (to_revision, rs) = pick(&owned, args.to_revision, &name)?;
    if same_template(&rs["spec"]["template"], &live["spec"]["template"]) {
        emit_line(format!(
            "deployment.apps/{name} skipped rollback (current template already matches revision {to_revision})"
        ));
        return Ok(());
    }
    let patch = json!([
        {"op": "replace", "path": "/spec/template", "value": without_hash(&rs["spec"]["template"])},
        {"op": "add", "path": "/metadata/annotations", "value": annotations(&live, rs)},
    ]);
    if args.dry_run != DryRun::Client {
        let pp = PatchParams {
            dry_run: args.dry_run == DryRun::Server,
            ..Default::default()
        };
        api.patch(&name, &pp, &Patch::Json(patch)).await?;
    }
    emit_line(format!(
        "deployment.apps/{name} rolled back{}",
        args.dry_run.suffix()
    ));
    Ok(())
}

/// The ReplicaSet of `to_revision`, or with 0 of the highest revision
/// below the current (highest) one.
fn pick<'a>(owned: &'a [Value], to_revision: i64, name: &str) -> Result<(i64, &'a Value)> {
    if to_revision > 0 {
        return owned
            .iter()
            .find(|rs| revision(rs) == to_revision)
            .map(|rs| (to_revision, rs))
            .ok_or_else(|| {
                usage(format!(
                    "unable to find specified revision {to_revision} in history"
                ))
            });
    }
    let current = owned.iter().map(revision).max().unwrap_or(0);
    owned
        .iter()
        .filter(|rs| revision(rs) > 0 && revision(rs) < current)
        .max_by_key(|rs| revision(rs))
        .map(|rs| (revision(rs), rs))
        .ok_or_else(|| {
            usage(format!(
                "no rollout history found for deployment \"{name}\""
            ))
        })
}

/// The Deployment's own annotations (those in [`KEPT_ANNOTATIONS`]) plus
/// the revision's others.
fn annotations(live: &Value, rs: &Value) -> Value {
    let mut out = Map::new();
    if let Some(mine) = live["metadata"]["annotations"].as_object() {
        for key in KEPT_ANNOTATIONS {
            if let Some(v) = mine.get(*key) {
                out.insert(key.to_string(), v.clone());
            }
        }
    }
    if let Some(theirs) = rs["metadata"]["annotations"].as_object() {
        for (k, v) in theirs {
            if !KEPT_ANNOTATIONS.contains(&k.as_str()) {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rs(rev: &str, cause: &str) -> Value {
        json!({"metadata": {"annotations": {REVISION: rev, "kubernetes.io/change-cause": cause}}})
    }

    #[test]
    fn picks_the_previous_revision_or_the_one_asked_for() {
        let owned = [rs("1", "a"), rs("3", "c"), rs("2", "b")];
        assert_eq!(pick(&owned, 0, "web").unwrap().0, 2);
        assert_eq!(pick(&owned, 1, "web").unwrap().0, 1);
        assert_eq!(
            pick(&owned, 9, "web").unwrap_err().line().unwrap(),
            "error: unable to find specified revision 9 in history"
        );
        assert!(pick(&owned[..1], 0, "web").is_err());
    }

    #[test]
    fn annotations_come_from_the_revision_except_the_deployments_own() {
        let live = json!({"metadata": {"annotations": {REVISION: "3", "kubernetes.io/change-cause": "c", "x": "y"}}});
        let got = annotations(&live, &rs("1", "a"));
        assert_eq!(
            got,
            json!({REVISION: "3", "kubernetes.io/change-cause": "a"})
        );
    }
}
