//! `rollout status`: follow a Deployment until its rollout is complete,
//! printing kubectl's progress lines; fail when the controller reports
//! ProgressDeadlineExceeded or `--timeout` passes.

use serde_json::Value;
use tokio::time::Instant;
use tug_client::ListParams;

use super::super::emit_line;
use super::super::error::{usage, Result};
use super::super::watch::{ChangeType, Follower};
use super::deployment;
use crate::cli::RolloutStatusArgs;
use crate::printers::fields::{int_at, str_at};

/// Run `rollout status`.
pub async fn run(ctx: &super::Ctx, args: &RolloutStatusArgs) -> Result<()> {
    let (api, name, live) = deployment(ctx, &args.target, "status viewer").await?;
    let deadline = (!args.timeout.is_zero()).then(|| Instant::now() + args.timeout);
    let by_name = ListParams::default().fields(&format!("metadata.name={name}"));
    let mut current = live;
    let mut follower = None;
    let mut last = String::new();
    loop {
        let (message, done) = status_message(&current)?;
        if message != last {
            emit_line(&message);
            last = message;
        }
        if done || !args.watch {
            return Ok(());
        }
        let follower = match &mut follower {
            Some(f) => f,
            None => {
                let (f, objects) = Follower::start(api.clone(), by_name.clone()).await?;
                if let Some(o) = objects.into_iter().next() {
                    current = o;
                }
                follower.insert(f)
            }
        };
        let next = follower.next();
        let changes = match deadline {
            Some(d) => tokio::time::timeout_at(d, next)
                .await
                .map_err(|_| usage("timed out waiting for the condition"))??,
            None => next.await?,
        };
        for change in changes {
            if change.kind == ChangeType::Deleted {
                return Err(usage("object has been deleted"));
            }
            current = change.object;
        }
    }
}

/// kubectl's `DeploymentStatusViewer`: the line to print and whether the
/// rollout is complete; an error once the progress deadline passed.
pub fn status_message(d: &Value) -> Result<(String, bool)> {
    let name = str_at(d, &["metadata", "name"]);
    let generation = int_at(d, &["metadata", "generation"]);
    let status = &d["status"];
    if generation > int_at(status, &["observedGeneration"]) {
        return Ok((
            "Waiting for deployment spec update to be observed...".into(),
            false,
        ));
    }
    let progressing = status["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Progressing"));
    if progressing.is_some_and(|c| c["reason"] == "ProgressDeadlineExceeded") {
        return Err(usage(format!(
            "deployment \"{name}\" exceeded its progress deadline"
        )));
    }
    let desired = d["spec"]["replicas"].as_i64().unwrap_or(1);
    let updated = int_at(status, &["updatedReplicas"]);
    let replicas = int_at(status, &["replicas"]);
    let available = int_at(status, &["availableReplicas"]);
    let waiting = |what: String| {
        Ok((
            format!("Waiting for deployment \"{name}\" rollout to finish: {what}"),
            false,
        ))
    };
    if updated < desired {
        return waiting(format!(
            "{updated} out of {desired} new replicas have been updated..."
        ));
    }
    if replicas > updated {
        return waiting(format!(
            "{} old replicas are pending termination...",
            replicas - updated
        ));
    }
    if available < updated {
        return waiting(format!(
            "{available} of {updated} updated replicas are available..."
        ));
    }
    Ok((
        format!("deployment \"{name}\" successfully rolled out"),
        true,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn line(status: Value) -> String {
        let d = json!({"metadata": {"name": "web", "generation": 2}, "spec": {"replicas": 3}, "status": status});
        match status_message(&d) {
            Ok((m, _)) => m,
            Err(e) => e.line().unwrap(),
        }
    }

    #[test]
    fn progress_lines_as_kubectl() {
        assert_eq!(
            line(json!({"observedGeneration": 1})),
            "Waiting for deployment spec update to be observed..."
        );
        assert_eq!(
            line(json!({"observedGeneration": 2, "updatedReplicas": 1, "replicas": 4})),
            "Waiting for deployment \"web\" rollout to finish: 1 out of 3 new replicas have been updated..."
        );
        assert_eq!(
            line(json!({"observedGeneration": 2, "updatedReplicas": 3, "replicas": 4})),
            "Waiting for deployment \"web\" rollout to finish: 1 old replicas are pending termination..."
        );
        assert_eq!(
            line(json!({"observedGeneration": 2, "updatedReplicas": 3, "replicas": 3, "availableReplicas": 1})),
            "Waiting for deployment \"web\" rollout to finish: 1 of 3 updated replicas are available..."
        );
        assert_eq!(
            line(
                json!({"observedGeneration": 2, "updatedReplicas": 3, "replicas": 3, "availableReplicas": 3})
            ),
            "deployment \"web\" successfully rolled out"
        );
        assert_eq!(
            line(
                json!({"observedGeneration": 2, "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]})
            ),
            "error: deployment \"web\" exceeded its progress deadline"
        );
    }
}
