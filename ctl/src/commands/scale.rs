//! `scale deploy/NAME --replicas=N` (and replicasets): a merge patch of
//! the `scale` subresource, as kubectl sends.

use serde_json::{json, Value};
use tug_client::{Patch, PatchParams};

use super::context::Ctx;
use super::emit_line;
use super::error::{usage, Result};
use super::target;
use crate::cli::ScaleArgs;

/// Run `scale`: `deployment.apps/web scaled`.
pub async fn run(ctx: &Ctx, args: &ScaleArgs) -> Result<()> {
    if args.replicas < 0 {
        return Err(usage(
            "The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0",
        ));
    }
    let (resource, name) = target::resolve_one(ctx, &args.args).await?;
    if !resource.subresources.iter().any(|s| s == "scale") {
        return Err(usage(format!(
            "cannot scale {}: it has no scale subresource",
            resource.resource.plural_group()
        )));
    }
    let api = ctx.api_here(&resource.resource);
    if args.current_replicas >= 0 {
        let scale: Value = api.get_subresource(&name, "scale").await?;
        let current = scale["spec"]["replicas"].as_i64().unwrap_or(0);
        if current != i64::from(args.current_replicas) {
            return Err(usage(format!(
                "Expected replicas to be {}, was {current}",
                args.current_replicas
            )));
        }
    }
    let patch = Patch::Merge(json!({"spec": {"replicas": args.replicas}}));
    let _: Value = api
        .patch_subresource(&name, Some("scale"), &PatchParams::default(), &patch)
        .await?;
    emit_line(format!("{}/{name} scaled", resource.resource.kind_group()));
    Ok(())
}
