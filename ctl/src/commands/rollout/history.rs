//! `rollout history`: the revisions of a Deployment, from the ReplicaSets
//! it owns, with their change causes; `--revision=N` shows one template.

use std::collections::BTreeMap;

use super::super::deployments::{owned_replica_sets, revision, CHANGE_CAUSE};
use super::super::describe::{pod_template, Text};
use super::super::emit;
use super::super::error::{usage, Result};
use super::deployment;
use crate::cli::RolloutHistoryArgs;

/// Run `rollout history`.
pub async fn run(ctx: &super::Ctx, args: &RolloutHistoryArgs) -> Result<()> {
    let (_, name, live) = deployment(ctx, &args.target, "history viewer").await?;
    let owned = owned_replica_sets(ctx, &live).await?;
    let by_revision: BTreeMap<i64, &serde_json::Value> = owned
        .iter()
        .map(|rs| (revision(rs), rs))
        .filter(|(r, _)| *r > 0)
        .collect();
    if args.revision > 0 {
        let rs = by_revision.get(&args.revision).ok_or_else(|| {
            usage(format!(
                "unable to find the specified revision {}",
                args.revision
            ))
        })?;
        let mut t = Text::default();
        pod_template(&mut t, &rs["spec"]["template"]);
        emit(&format!(
            "deployment.apps/{name} with revision #{}\n{}\n",
            args.revision,
            t.render()
        ));
        return Ok(());
    }
    if by_revision.is_empty() {
        emit(&format!(
            "deployment.apps/{name} \nNo rollout history found.\n"
        ));
        return Ok(());
    }
    let mut t = Text::default();
    t.cells(0, &["REVISION", "CHANGE-CAUSE"]);
    for (rev, rs) in &by_revision {
        let cause = rs["metadata"]["annotations"][CHANGE_CAUSE]
            .as_str()
            .filter(|c| !c.is_empty())
            .unwrap_or("<none>");
        t.cells(0, &[&rev.to_string(), cause]);
    }
    emit(&format!("deployment.apps/{name} \n{}\n", t.render()));
    Ok(())
}
