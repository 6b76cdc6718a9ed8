//! `cordon`, `uncordon` and `drain`: mark a node (un)schedulable, and
//! empty it of pods before maintenance.
//!
//! `drain` cordons the node, then deletes its pods except those it must
//! not touch: mirror pods always; DaemonSet pods unless
//! `--ignore-daemonsets` (which leaves them alone); pods no controller
//! manages unless `--force` (they will not come back); pods with emptyDir
//! data unless `--delete-emptydir-data`. It waits until they are gone.

use serde_json::{json, Value};
use tug_api::core::{Node, Pod};
use tug_client::{ApiResource, DeleteParams, DynamicApi, ListParams, Patch, PatchParams};

use super::context::Ctx;
use super::emit_line;
use super::error::{usage, Result};
use super::get::list_all;
use super::wait::{self, Deleting};
use crate::cli::{DrainArgs, NodeArgs};

fn nodes(ctx: &Ctx) -> DynamicApi {
    ctx.api(&ApiResource::of::<Node>(), None)
}

/// Run `cordon` (`unschedulable` true) or `uncordon` (false).
pub async fn cordon(ctx: &Ctx, args: &NodeArgs, unschedulable: bool) -> Result<()> {
    let api = nodes(ctx);
    let names: Vec<String> = match (&args.node, &args.selector) {
        (Some(node), None) => vec![node.clone()],
        (None, Some(selector)) => list_all(&api, &ListParams::default().labels(selector))
            .await?
            .iter()
            .filter_map(|n| n["metadata"]["name"].as_str().map(str::to_string))
            .collect(),
        _ => return Err(usage("give exactly one of NODE and --selector")),
    };
    for name in names {
        set_unschedulable(&api, &name, unschedulable).await?;
    }
    Ok(())
}

/// Cordon or uncordon one node, saying what happened.
async fn set_unschedulable(api: &DynamicApi, name: &str, unschedulable: bool) -> Result<()> {
    let node: Value = api.get(name).await?;
    let now = node["spec"]["unschedulable"].as_bool().unwrap_or(false);
    let word = if unschedulable {
        "cordoned"
    } else {
        "uncordoned"
    };
    if now == unschedulable {
        emit_line(format!("node/{name} already {word}"));
        return Ok(());
    }
    let value = if unschedulable {
        json!(true)
    } else {
        Value::Null
    };
    let patch = Patch::Strategic(json!({"spec": {"unschedulable": value}}));
    api.patch(name, &PatchParams::default(), &patch).await?;
    emit_line(format!("node/{name} {word}"));
    Ok(())
}

/// Run `drain NODE`.
pub async fn drain(ctx: &Ctx, args: &DrainArgs) -> Result<()> {
    set_unschedulable(&nodes(ctx), &args.node, true).await?;
    let pods_everywhere = ctx.api(&ApiResource::of::<Pod>(), None);
    let on_node = ListParams::default().fields(&format!("spec.nodeName={}", args.node));
    let pods = list_all(&pods_everywhere, &on_node).await?;

    let mut refusals: Vec<(&str, Vec<String>)> = Vec::new();
    let mut warnings: Vec<(&str, Vec<String>)> = Vec::new();
    let mut victims = Vec::new();
    for pod in &pods {
        let id = format!(
            "{}/{}",
            pod["metadata"]["namespace"].as_str().unwrap_or_default(),
            pod["metadata"]["name"].as_str().unwrap_or_default()
        );
        match verdict(pod, args) {
            Verdict::Delete => victims.push(pod),
            Verdict::Skip => {}
            Verdict::Warn(why) => {
                push_to(&mut warnings, why, id);
                victims.push(pod);
            }
            Verdict::WarnSkip(why) => push_to(&mut warnings, why, id),
            Verdict::Refuse(why) => push_to(&mut refusals, why, id),
        }
    }
    if !refusals.is_empty() {
        let reasons: Vec<String> = refusals
            .iter()
            .map(|(why, pods)| format!("{why}: {}", pods.join(", ")))
            .collect();
        return Err(usage(format!(
            "unable to drain node \"{}\": {}",
            args.node,
            reasons.join("; ")
        )));
    }
    for (why, pods) in &warnings {
        eprintln!("Warning: {why}: {}", pods.join(", "));
    }

    let params = DeleteParams {
        grace_period_seconds: u32::try_from(args.grace_period).ok(),
        ..Default::default()
    };
    let mut waiting = Vec::new();
    for pod in victims {
        let meta = &pod["metadata"];
        let name = meta["name"].as_str().unwrap_or_default();
        let api = ctx.api(&ApiResource::of::<Pod>(), meta["namespace"].as_str());
        match api.delete(name, &params).await {
            Ok(answer) => {
                emit_line(format!("pod/{name} deleted"));
                waiting.extend(Deleting::after(&api, name, answer));
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
    }
    let deadline = wait::deadline(args.timeout, &waiting);
    wait::until_gone(&waiting, deadline).await?;
    emit_line(format!("node/{} drained", args.node));
    Ok(())
}

fn push_to(groups: &mut Vec<(&'static str, Vec<String>)>, why: &'static str, pod: String) {
    match groups.iter_mut().find(|(w, _)| *w == why) {
        Some((_, pods)) => pods.push(pod),
        None => groups.push((why, vec![pod])),
    }
}

/// What drain does with one pod.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Delete,
    /// Left alone silently (mirror pods).
    Skip,
    /// Deleted, with a warning.
    Warn(&'static str),
    /// Left alone, with a warning.
    WarnSkip(&'static str),
    /// Drain must stop: the user has to decide.
    Refuse(&'static str),
}

/// kubectl's drain filters, in its order.
fn verdict(pod: &Value, args: &DrainArgs) -> Verdict {
    let phase = pod["status"]["phase"].as_str().unwrap_or_default();
    let finished = phase == "Succeeded" || phase == "Failed";
    if pod["metadata"]["annotations"]["kubernetes.io/config.mirror"].is_string() {
        return Verdict::Skip;
    }
    let controller = pod["metadata"]["ownerReferences"]
        .as_array()
        .and_then(|refs| {
            refs.iter()
                .find(|r| r["controller"].as_bool() == Some(true))
        });
    if controller.is_some_and(|c| c["kind"] == "DaemonSet") {
        return if args.ignore_daemonsets {
            Verdict::WarnSkip("ignoring DaemonSet-managed Pods")
        } else {
            Verdict::Refuse(
                "cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore)",
            )
        };
    }
    if controller.is_none() && !finished {
        return if args.force {
            Verdict::Warn("deleting Pods that declare no controller")
        } else {
            Verdict::Refuse(
                "cannot delete Pods that declare no controller (use --force to override)",
            )
        };
    }
    let empty_dir = pod["spec"]["volumes"]
        .as_array()
        .is_some_and(|vs| vs.iter().any(|v| v.get("emptyDir").is_some()));
    if empty_dir && !finished {
        return if args.delete_emptydir_data {
            Verdict::Warn("deleting Pods with local storage")
        } else {
            Verdict::Refuse(
                "cannot delete Pods with local storage (use --delete-emptydir-data to override)",
            )
        };
    }
    Verdict::Delete
}
