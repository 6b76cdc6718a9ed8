//! What the positional arguments of `get`, `delete`, `describe`, `label`,
//! ... name, as kubectl reads them: `TYPE[,TYPE...] [NAME...]` or
//! `TYPE/NAME...`, where TYPE is any name discovery knows (`po`, `pods`,
//! `deploy`, `deployments.apps`) or a category such as `all`.

use tug_client::DiscoveredResource;

use super::context::Ctx;
use super::error::{usage, Result};

/// One resource type and the names asked for (empty: all, or a selector).
#[derive(Clone, Debug)]
pub struct Target {
    pub resource: DiscoveredResource,
    pub names: Vec<String>,
}

/// Resolve `args` into targets, merging `TYPE/NAME` arguments of the same
/// type and keeping the order they came in.
pub async fn resolve(ctx: &Ctx, args: &[String]) -> Result<Vec<Target>> {
    let Some(first) = args.first() else {
        return Err(usage(
            "you must specify the type of resource. Use \"tugctl api-resources\" for a complete list of supported resources",
        ));
    };
    let mut targets: Vec<Target> = Vec::new();
    if args.iter().any(|a| a.contains('/')) {
        for arg in args {
            let Some((kind, name)) = arg.split_once('/') else {
                return Err(usage(format!(
                    "there is no need to specify a resource type as a separate argument when passing \
                     arguments in resource/name form (e.g. 'tugctl get resource/<resource_name>' \
                     instead of 'tugctl get resource resource/<resource_name>'): {arg}"
                )));
            };
            if name.is_empty() {
                return Err(usage(format!(
                    "arguments in resource/name form must have a single resource and name: {arg}"
                )));
            }
            let resource = ctx.resolve(kind).await?;
            match targets.iter_mut().find(|t| t.resource == resource) {
                Some(t) => t.names.push(name.to_string()),
                None => targets.push(Target {
                    resource,
                    names: vec![name.to_string()],
                }),
            }
        }
        return Ok(targets);
    }
    let names: Vec<String> = args[1..].to_vec();
    for kind in first.split(',').filter(|k| !k.is_empty()) {
        for resource in resolve_type(ctx, kind).await? {
            if !targets.iter().any(|t| t.resource == resource) {
                targets.push(Target {
                    resource,
                    names: names.clone(),
                });
            }
        }
    }
    Ok(targets)
}

/// One resource type, or the listable resources of a category (`all`).
async fn resolve_type(ctx: &Ctx, kind: &str) -> Result<Vec<DiscoveredResource>> {
    let discovery = ctx.discovery().await?;
    match discovery.resolve(kind) {
        Ok(r) => Ok(vec![r.clone()]),
        Err(e) => {
            let in_category: Vec<DiscoveredResource> = discovery
                .resources()
                .iter()
                .filter(|r| r.preferred && r.categories.iter().any(|c| c == kind))
                .cloned()
                .collect();
            if in_category.is_empty() {
                Err(e.into())
            } else {
                Ok(in_category)
            }
        }
    }
}

/// Exactly one object: `TYPE NAME` or `TYPE/NAME` (scale, rollout, logs...).
pub async fn resolve_one(ctx: &Ctx, args: &[String]) -> Result<(DiscoveredResource, String)> {
    let targets = resolve(ctx, args).await?;
    match targets.as_slice() {
        [Target { resource, names }] if names.len() == 1 => {
            Ok((resource.clone(), names[0].clone()))
        }
        [Target { names, .. }] if names.is_empty() => {
            Err(usage("a resource name is required: TYPE NAME or TYPE/NAME"))
        }
        _ => Err(usage(
            "exactly one resource is required: TYPE NAME or TYPE/NAME",
        )),
    }
}
