//! `label` and `annotate`: `KEY=VALUE` sets, `KEY-` removes, and changing
//! a key that already has another value needs `--overwrite`. One merge
//! patch per object, of just the keys that change.

use serde_json::{json, Map, Value};
use tug_client::{ListParams, Patch, PatchParams};

use super::context::Ctx;
use super::emit_line;
use super::error::{usage, Problems, Result};
use super::get::list_all;
use super::target;
use crate::cli::{DryRun, MetadataArgs};

/// Which map of `metadata` a command edits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Labels,
    Annotations,
}

impl Field {
    fn key(self) -> &'static str {
        match self {
            Field::Labels => "labels",
            Field::Annotations => "annotations",
        }
    }

    /// `label`, `annotation`: how messages name one entry.
    fn noun(self) -> &'static str {
        match self {
            Field::Labels => "label",
            Field::Annotations => "annotation",
        }
    }

    /// `labeled`, `annotated`.
    fn done(self) -> &'static str {
        match self {
            Field::Labels => "labeled",
            Field::Annotations => "annotated",
        }
    }
}

/// One requested change: set (`Some`) or remove (`None`).
type Change = (String, Option<String>);

/// Split the arguments into the resource part and the changes.
fn split_args(args: &[String]) -> Result<(Vec<String>, Vec<Change>)> {
    let mut resources = Vec::new();
    let mut changes = Vec::new();
    for arg in args {
        if let Some((k, v)) = arg.split_once('=') {
            if k.is_empty() {
                return Err(usage(format!("invalid key in {arg:?}")));
            }
            changes.push((k.to_string(), Some(v.to_string())));
        } else if let Some(k) = arg
            .strip_suffix('-')
            .filter(|_| !changes.is_empty() || !resources.is_empty())
        {
            changes.push((k.to_string(), None));
        } else if changes.is_empty() {
            resources.push(arg.clone());
        } else {
            return Err(usage(format!(
                "all resources must be specified before the changes: {arg}"
            )));
        }
    }
    if changes.is_empty() {
        return Err(usage("at least one change (KEY=VALUE or KEY-) is required"));
    }
    Ok((resources, changes))
}

/// Run `label` or `annotate`.
pub async fn run(ctx: &Ctx, args: &MetadataArgs, field: Field) -> Result<()> {
    let (resource_args, changes) = split_args(&args.args)?;
    let mut problems = Problems::default();
    for t in target::resolve(ctx, &resource_args).await? {
        let api = ctx.api_here(&t.resource.resource);
        let objects: Vec<Value> = if t.names.is_empty() {
            if !args.all && args.selector.is_none() {
                return Err(usage(
                    "resource(s) were provided, but no name was specified",
                ));
            }
            let lp = ListParams {
                label_selector: args.selector.clone(),
                ..Default::default()
            };
            list_all(&api, &lp).await?
        } else {
            let mut found = Vec::new();
            for name in &t.names {
                match api.get(name).await {
                    Ok(o) => found.push(o),
                    Err(e) if e.is_not_found() => problems.report_error(&e.into()),
                    Err(e) => return Err(e.into()),
                }
            }
            found
        };
        for object in objects {
            let name = object["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let display = format!("{}/{name}", t.resource.resource.kind_group());
            let patch = match patch_for(&object, field, &changes, args.overwrite) {
                Ok(p) => p,
                Err(e) => {
                    problems.report_error(&e);
                    continue;
                }
            };
            if patch.is_empty() {
                emit_line(format!("{display} not {}", field.done()));
                continue;
            }
            if args.dry_run != DryRun::Client {
                let body = Patch::Merge(json!({"metadata": {field.key(): patch}}));
                let pp = PatchParams {
                    dry_run: args.dry_run == DryRun::Server,
                    ..Default::default()
                };
                let object_api = ctx.api(
                    &t.resource.resource,
                    object["metadata"]["namespace"].as_str(),
                );
                object_api.patch(&name, &pp, &body).await?;
            }
            emit_line(format!(
                "{display} {}{}",
                field.done(),
                args.dry_run.suffix()
            ));
        }
    }
    problems.finish()
}

/// The entries of the merge patch for one object: new or changed keys,
/// and `null` for removed ones that exist.
fn patch_for(
    object: &Value,
    field: Field,
    changes: &[Change],
    overwrite: bool,
) -> Result<Map<String, Value>> {
    let current = object["metadata"][field.key()].as_object();
    let existing = |k: &str| current.and_then(|m| m.get(k)).and_then(Value::as_str);
    let mut patch = Map::new();
    for (key, value) in changes {
        match (value, existing(key)) {
            (Some(v), Some(old)) if old == v => {}
            (Some(v), Some(old)) => {
                if !overwrite {
                    return Err(usage(format!(
                        "'{key}' already has a value ({old}), and --overwrite is false"
                    )));
                }
                patch.insert(key.clone(), Value::String(v.clone()));
            }
            (Some(v), None) => {
                patch.insert(key.clone(), Value::String(v.clone()));
            }
            (None, Some(_)) => {
                patch.insert(key.clone(), Value::Null);
            }
            (None, None) => eprintln!("{} \"{key}\" not found.", field.noun()),
        }
    }
    Ok(patch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn arguments_split_into_resources_and_changes() {
        let (r, c) = split_args(&strings(&["pods", "web", "app=x", "tier-"])).unwrap();
        assert_eq!(r, ["pods", "web"]);
        assert_eq!(c, [("app".into(), Some("x".into())), ("tier".into(), None)]);
        let (r, _) = split_args(&strings(&["deploy/web", "a="])).unwrap();
        assert_eq!(r, ["deploy/web"]);
        assert!(split_args(&strings(&["pods", "web"])).is_err());
    }

    #[test]
    fn overwrite_is_needed_to_change_a_value() {
        let object = json!({"metadata": {"labels": {"app": "web"}}});
        let change = [("app".to_string(), Some("db".to_string()))];
        let e = patch_for(&object, Field::Labels, &change, false).unwrap_err();
        assert_eq!(
            e.line().unwrap(),
            "error: 'app' already has a value (web), and --overwrite is false"
        );
        let p = patch_for(&object, Field::Labels, &change, true).unwrap();
        assert_eq!(Value::Object(p), json!({"app": "db"}));
        let same = [("app".to_string(), Some("web".to_string()))];
        assert!(patch_for(&object, Field::Labels, &same, false)
            .unwrap()
            .is_empty());
    }
}
