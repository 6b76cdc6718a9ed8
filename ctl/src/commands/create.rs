//! `create -f` and `replace -f`: send each manifest object as is (POST,
//! or PUT over the live object) and say what happened.

use serde_json::Value;
use tug_client::PostParams;

use super::apply::with_last_applied;
use super::context::Ctx;
use super::emit_line;
use super::error::{Problems, Result};
use super::manifests::{self, Placed};
use crate::cli::{CreateArgs, DryRun, ReplaceArgs};

/// How many times `replace` retries after a conflict with a concurrent
/// writer (only when the manifest did not pin a resourceVersion).
const CONFLICT_RETRIES: usize = 3;

fn post_params(dry_run: DryRun) -> PostParams {
    PostParams {
        dry_run: dry_run == DryRun::Server,
        ..Default::default()
    }
}

/// Run `create -f`: `deployment.apps/web created` per object.
pub async fn create(ctx: &Ctx, args: &CreateArgs) -> Result<()> {
    let mut problems = Problems::default();
    let loaded = manifests::load(&args.files, &mut problems)?;
    for m in &loaded {
        let result = async {
            let p = manifests::place(ctx, m, false).await?;
            let object = if args.save_config {
                with_last_applied(&p.object)
            } else {
                p.object.clone()
            };
            let name = if args.dry_run == DryRun::Client {
                p.name.clone()
            } else {
                let created = p
                    .api(ctx)
                    .create(&post_params(args.dry_run), &object)
                    .await?;
                created["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            };
            Ok(format!(
                "{}/{name} created{}",
                p.resource.kind_group(),
                args.dry_run.suffix()
            ))
        }
        .await;
        match result {
            Ok(line) => emit_line(line),
            Err(e) => manifests::failed(&mut problems, m, e)?,
        }
    }
    problems.finish()
}

/// Run `replace -f`: `deployment.apps/web replaced` per object.
pub async fn replace(ctx: &Ctx, args: &ReplaceArgs) -> Result<()> {
    let mut problems = Problems::default();
    let loaded = manifests::load(&args.files, &mut problems)?;
    for m in &loaded {
        let result = async {
            let p = manifests::place(ctx, m, true).await?;
            replace_one(ctx, &p, args.dry_run).await?;
            Ok(format!(
                "{} replaced{}",
                p.display_name(),
                args.dry_run.suffix()
            ))
        }
        .await;
        match result {
            Ok(line) => emit_line(line),
            Err(e) => manifests::failed(&mut problems, m, e)?,
        }
    }
    problems.finish()
}

/// PUT one object. Without a resourceVersion in the manifest, the live
/// object's is used (the object must exist), retrying on conflict.
async fn replace_one(ctx: &Ctx, p: &Placed<'_>, dry_run: DryRun) -> Result<()> {
    let api = p.api(ctx);
    let pinned = p.object["metadata"]["resourceVersion"]
        .as_str()
        .is_some_and(|rv| !rv.is_empty());
    let mut attempt = 0;
    loop {
        let mut object = p.object.clone();
        let live: Value = api.get(&p.name).await?;
        if !pinned {
            object["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"].clone();
        }
        if dry_run == DryRun::Client {
            return Ok(());
        }
        match api.replace(&p.name, &post_params(dry_run), &object).await {
            Ok(_) => return Ok(()),
            Err(e) if e.is_conflict() && !pinned && attempt < CONFLICT_RETRIES => attempt += 1,
            Err(e) => return Err(e.into()),
        }
    }
}
