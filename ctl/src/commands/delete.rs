//! `delete`: by manifest (`-f`), by name (`TYPE NAME...`, `TYPE/NAME`),
//! or by selection (`TYPE --all`, `TYPE -l app=web`). Prints
//! `deployment.apps "web" deleted` per object, then (by default, as
//! kubectl) waits until they are gone.

use tug_client::{ApiResource, DeleteParams, ListParams, PropagationPolicy};

use super::context::Ctx;
use super::emit_line;
use super::error::{usage, CtlError, Problems, Result};
use super::get::list_all;
use super::manifests;
use super::target;
use super::wait::{self, Deleting};
use crate::cli::{Cascade, DeleteArgs, DryRun};
use crate::manifest::Manifest;

/// One object to delete, and the manifest it came from (for error lines).
struct Victim<'m> {
    resource: ApiResource,
    namespace: Option<String>,
    name: String,
    manifest: Option<&'m Manifest>,
}

/// Run `delete`.
pub async fn run(ctx: &Ctx, args: &DeleteArgs) -> Result<()> {
    let params = delete_params(args)?;
    let mut problems = Problems::default();
    let loaded;
    let victims = if !args.files.filenames.is_empty() {
        if !args.args.is_empty() {
            return Err(usage(
                "when paths, URLs, or stdin is provided as input, you may not specify resource arguments as well",
            ));
        }
        loaded = manifests::load(&args.files, &mut problems)?;
        let mut victims = Vec::new();
        for m in &loaded {
            match manifests::place(ctx, m, true).await {
                Ok(p) => victims.push(Victim {
                    resource: p.resource,
                    namespace: p.namespace,
                    name: p.name,
                    manifest: Some(m),
                }),
                Err(e) => manifests::failed(&mut problems, m, e)?,
            }
        }
        victims
    } else {
        by_arguments(ctx, args).await?
    };

    let mut waiting = Vec::new();
    for v in &victims {
        let deleted = format!(
            "{} \"{}\" deleted{}",
            v.resource.kind_group(),
            v.name,
            args.dry_run.suffix()
        );
        if args.dry_run == DryRun::Client {
            emit_line(deleted);
            continue;
        }
        let api = ctx.api(&v.resource, v.namespace.as_deref());
        match api.delete(&v.name, &params).await {
            Ok(answer) => {
                emit_line(deleted);
                waiting.extend(Deleting::after(&api, &v.name, answer));
            }
            Err(e) if e.is_not_found() && args.ignore_not_found => {}
            Err(e) => {
                let e = CtlError::from(e);
                match v.manifest {
                    Some(m) => manifests::failed(&mut problems, m, e)?,
                    None if e.is_transport() => return Err(e),
                    None => problems.report_error(&e),
                }
            }
        }
    }
    if args.wait && args.dry_run == DryRun::None && !waiting.is_empty() {
        wait::until_gone(&waiting, wait::deadline(args.timeout, &waiting)).await?;
    }
    problems.finish()
}

/// The objects `TYPE NAME...`, `TYPE/NAME...` or `TYPE --all|-l` name.
async fn by_arguments<'m>(ctx: &Ctx, args: &DeleteArgs) -> Result<Vec<Victim<'m>>> {
    if args.args.is_empty() {
        return Err(usage(
            "You must provide one or more resources by argument or filename.",
        ));
    }
    let selecting = args.all || args.selector.is_some() || args.field_selector.is_some();
    let mut victims = Vec::new();
    for t in target::resolve(ctx, &args.args).await? {
        if !t.names.is_empty() {
            if selecting {
                return Err(usage(
                    "name cannot be provided when a selector or --all is specified",
                ));
            }
            victims.extend(t.names.iter().map(|name| Victim {
                resource: t.resource.resource.clone(),
                namespace: Some(ctx.namespace.clone()).filter(|_| t.resource.resource.namespaced),
                name: name.clone(),
                manifest: None,
            }));
            continue;
        }
        if !selecting {
            return Err(usage(
                "resource(s) were provided, but no name was specified",
            ));
        }
        let lp = ListParams {
            label_selector: args.selector.clone(),
            field_selector: args.field_selector.clone(),
            ..Default::default()
        };
        let api = ctx.api(
            &t.resource.resource,
            ctx.list_namespace(args.all_namespaces),
        );
        let found = list_all(&api, &lp).await?;
        if found.is_empty() {
            eprintln!("No resources found");
        }
        for object in found {
            let meta = &object["metadata"];
            victims.push(Victim {
                resource: t.resource.resource.clone(),
                namespace: meta["namespace"].as_str().map(str::to_string),
                name: meta["name"].as_str().unwrap_or_default().to_string(),
                manifest: None,
            });
        }
    }
    Ok(victims)
}

/// DeleteOptions from the flags, with kubectl's rules: `--now` is a grace
/// period of 1; `--grace-period=0` needs `--force` (else it becomes 1);
/// `--force` alone means 0.
fn delete_params(args: &DeleteArgs) -> Result<DeleteParams> {
    let mut grace = args.grace_period;
    if args.now {
        if grace != -1 {
            return Err(usage(
                "--now and --grace-period cannot be specified together",
            ));
        }
        grace = 1;
    }
    if grace == 0 && !args.force {
        grace = 1;
    }
    if args.force && grace < 0 {
        grace = 0;
    }
    if args.force && grace == 0 {
        eprintln!(
            "Warning: Immediate deletion does not wait for confirmation that the running resource \
             has been terminated. The resource may continue to run on the cluster indefinitely."
        );
    }
    Ok(DeleteParams {
        grace_period_seconds: u32::try_from(grace).ok(),
        propagation_policy: Some(match args.cascade {
            Cascade::Background => PropagationPolicy::Background,
            Cascade::Foreground => PropagationPolicy::Foreground,
            Cascade::Orphan => PropagationPolicy::Orphan,
        }),
        preconditions: None,
        dry_run: args.dry_run == DryRun::Server,
    })
}
