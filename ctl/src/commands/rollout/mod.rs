//! `rollout status|history|undo|restart|pause|resume` for Deployments.
//!
//! Everything here is client-side, as in kubectl: history comes from the
//! ReplicaSets a Deployment owns and their revision annotations; undo
//! copies an old ReplicaSet's template back into the Deployment; restart,
//! pause and resume are patches of the Deployment.

mod history;
mod status;
mod undo;

use chrono::Local;
use serde_json::{json, Value};
use tug_client::{DynamicApi, Patch, PatchParams};

use super::context::Ctx;
use super::emit_line;
use super::error::{usage, Result};
use super::target;
use crate::cli::{RolloutCommand, RolloutTarget};

/// The annotation `rollout restart` sets on the pod template.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

/// Run a `rollout` subcommand.
pub async fn run(ctx: &Ctx, command: &RolloutCommand) -> Result<()> {
    match command {
        RolloutCommand::Status(args) => status::run(ctx, args).await,
        RolloutCommand::History(args) => history::run(ctx, args).await,
        RolloutCommand::Undo(args) => undo::run(ctx, args).await,
        RolloutCommand::Restart(args) => restart(ctx, args).await,
        RolloutCommand::Pause(args) => set_paused(ctx, args, true).await,
        RolloutCommand::Resume(args) => set_paused(ctx, args, false).await,
    }
}

/// The Deployment a rollout command names, its API and the live object.
/// `what` names the missing capability for other kinds, as kubectl does
/// (`no status viewer has been implemented for ReplicaSet.apps`).
pub(crate) async fn deployment(
    ctx: &Ctx,
    target: &RolloutTarget,
    what: &str,
) -> Result<(DynamicApi, String, Value)> {
    let (resource, name) = target::resolve_one(ctx, &target.args).await?;
    let r = &resource.resource;
    if !(r.group == "apps" && r.kind == "Deployment") {
        let group = if r.group.is_empty() {
            String::new()
        } else {
            format!(".{}", r.group)
        };
        return Err(usage(format!(
            "no {what} has been implemented for {}{group}",
            r.kind
        )));
    }
    let api = ctx.api_here(r);
    let live = api.get(&name).await?;
    Ok((api, name, live))
}

/// `rollout restart`: a new `restartedAt` annotation on the pod template
/// makes the controller roll out new pods.
async fn restart(ctx: &Ctx, args: &RolloutTarget) -> Result<()> {
    let (api, name, live) = deployment(ctx, args, "restarter").await?;
    if live["spec"]["paused"].as_bool() == Some(true) {
        return Err(usage(format!(
            "deployments.apps \"{name}\" can't restart paused deployment (run rollout resume first)"
        )));
    }
    let now = Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
    let patch = json!({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}});
    api.patch(&name, &PatchParams::default(), &Patch::Strategic(patch))
        .await?;
    emit_line(format!("deployment.apps/{name} restarted"));
    Ok(())
}

/// `rollout pause` / `rollout resume`.
async fn set_paused(ctx: &Ctx, args: &RolloutTarget, paused: bool) -> Result<()> {
    let what = if paused { "pauser" } else { "resumer" };
    let (api, name, live) = deployment(ctx, args, what).await?;
    let now = live["spec"]["paused"].as_bool().unwrap_or(false);
    if now == paused {
        let state = if paused {
            "is already paused"
        } else {
            "is not paused"
        };
        return Err(usage(format!("deployments.apps \"{name}\" {state}")));
    }
    let value = if paused { json!(true) } else { Value::Null };
    api.patch(
        &name,
        &PatchParams::default(),
        &Patch::Strategic(json!({"spec": {"paused": value}})),
    )
    .await?;
    let word = if paused { "paused" } else { "resumed" };
    emit_line(format!("deployment.apps/{name} {word}"));
    Ok(())
}
