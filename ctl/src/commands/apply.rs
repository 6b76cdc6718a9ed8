//! `apply -f`: client-side apply, as kubectl does it.
//!
//! Each object is sent with the `kubectl.kubernetes.io/last-applied-configuration`
//! annotation holding the manifest as applied. An object that does not
//! exist is created. One that does is patched with the three-way patch
//! from last-applied (what to delete), the manifest (what to set) and the
//! live object (what is there): fields the manifest never mentioned —
//! set by controllers, defaulting or other users — stay; fields removed
//! from the manifest since the last apply are removed. Built-in kinds get
//! a strategic merge patch (lists merged by key, e.g. containers by name);
//! other kinds a JSON merge patch. An empty patch means `unchanged`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use tug_api::patch::{
    create_three_way_json_merge_patch, create_three_way_merge_patch, PatchSchema,
};
use tug_api::selector::Selector;
use tug_client::{ApiResource, Patch, PatchParams, PostParams};

use super::context::Ctx;
use super::emit_line;
use super::error::{usage, Problems, Result};
use super::manifests::{self, Placed};
use super::prune::{self, Applied};
use crate::cli::{ApplyArgs, DryRun};

/// The annotation client-side apply keeps the applied manifest in.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The field manager kubectl's client-side apply names itself as.
const FIELD_MANAGER: &str = "kubectl-client-side-apply";

/// What apply did to one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Configured,
    Unchanged,
}

impl Outcome {
    /// The word kubectl prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Configured => "configured",
            Outcome::Unchanged => "unchanged",
        }
    }
}

/// Run `apply`.
pub async fn run(ctx: &Ctx, args: &ApplyArgs) -> Result<()> {
    if args.prune && args.selector.is_none() && !args.all {
        return Err(usage(
            "all resources selected for prune without explicitly passing --all. To prune all \
             resources, pass the --all flag. If you did not mean to prune all resources, specify \
             a label selector",
        ));
    }
    let selector = match &args.selector {
        Some(s) => Some(Selector::parse(s).map_err(usage)?),
        None => None,
    };
    let mut problems = Problems::default();
    let loaded = manifests::load(&args.files, &mut problems)?;
    let mut applied = Applied::default();
    for m in &loaded {
        if let Some(selector) = &selector {
            if !selector.matches(&labels(&m.object)) {
                continue;
            }
        }
        let placed = match manifests::place(ctx, m, true).await {
            Ok(p) => p,
            Err(e) => {
                manifests::failed(&mut problems, m, e)?;
                continue;
            }
        };
        match apply_one(ctx, &placed, args.dry_run).await {
            Ok(outcome) => {
                emit_line(format!(
                    "{} {}{}",
                    placed.display_name(),
                    outcome.as_str(),
                    args.dry_run.suffix()
                ));
                applied.add(&placed);
            }
            Err(e) => manifests::failed(&mut problems, m, e)?,
        }
    }
    // As kubectl: nothing is pruned when anything failed to apply.
    if args.prune && !problems.any() {
        prune::run(ctx, &applied, args.selector.as_deref(), args.dry_run).await?;
    }
    problems.finish()
}

/// Create or patch one object.
async fn apply_one(ctx: &Ctx, p: &Placed<'_>, dry_run: DryRun) -> Result<Outcome> {
    let api = p.api(ctx);
    let modified = with_last_applied(&p.object);
    let params = PostParams {
        dry_run: dry_run == DryRun::Server,
        field_manager: Some(FIELD_MANAGER.to_string()),
        field_validation: None,
    };
    let Some(live) = api.get_opt(&p.name).await? else {
        if dry_run != DryRun::Client {
            api.create(&params, &modified).await?;
        }
        return Ok(Outcome::Created);
    };
    let original = last_applied(&live);
    if original.is_none() {
        eprintln!(
            "Warning: resource {}/{} is missing the {LAST_APPLIED} annotation which is required by \
             tugctl apply. tugctl apply should only be used on resources created declaratively by \
             either tugctl create --save-config or tugctl apply. The missing annotation will be \
             patched automatically.",
            p.resource.plural, p.name
        );
    }
    let patch = three_way_patch(&p.resource, original.as_ref(), &modified, &live)?;
    if patch.body().as_object().is_some_and(Map::is_empty) {
        return Ok(Outcome::Unchanged);
    }
    if dry_run != DryRun::Client {
        api.patch(&p.name, &params as &PatchParams, &patch).await?;
    }
    Ok(Outcome::Configured)
}

/// The patch that applies `modified` over `live`, removing what
/// `original` (the last-applied configuration) had and `modified` has not.
pub fn three_way_patch(
    resource: &ApiResource,
    original: Option<&Value>,
    modified: &Value,
    live: &Value,
) -> Result<Patch> {
    if is_built_in(&resource.group) {
        let schema = PatchSchema::for_kind(&resource.group, &resource.kind);
        create_three_way_merge_patch(original, modified, live, &schema)
            .map(Patch::Strategic)
            .map_err(usage)
    } else {
        create_three_way_json_merge_patch(original, modified, live)
            .map(Patch::Merge)
            .map_err(usage)
    }
}

/// Groups whose kinds have strategic-merge metadata.
fn is_built_in(group: &str) -> bool {
    matches!(
        group,
        "" | "apps" | "coordination.k8s.io" | "events.k8s.io" | "autoscaling"
    )
}

/// The last-applied configuration stored on a live object, if any.
pub fn last_applied(live: &Value) -> Option<Value> {
    live["metadata"]["annotations"][LAST_APPLIED]
        .as_str()
        .and_then(|s| serde_json::from_str(s).ok())
}

/// `object` with the last-applied annotation set to `object` itself (as
/// kubectl writes it: the object without that annotation, keys sorted,
/// one line ending in a newline).
pub fn with_last_applied(object: &Value) -> Value {
    let mut object = object.clone();
    let Some(meta) = object["metadata"].as_object_mut() else {
        return object;
    };
    let annotations = meta
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    if !annotations.is_object() {
        *annotations = Value::Object(Map::new());
    }
    if let Some(a) = annotations.as_object_mut() {
        a.remove(LAST_APPLIED);
    }
    let text = format!("{}\n", sorted(&object));
    if let Some(a) = object["metadata"]["annotations"].as_object_mut() {
        a.insert(LAST_APPLIED.to_string(), Value::String(text));
    }
    object
}

/// A copy of `v` with every object's keys in sorted order (as Go writes maps).
fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&map[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// `metadata.labels` as a map.
pub fn labels(object: &Value) -> BTreeMap<String, String> {
    object["metadata"]["labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn last_applied_is_the_sorted_object_without_itself() {
        let object = json!({"kind": "ConfigMap", "apiVersion": "v1",
            "metadata": {"name": "a", "namespace": "default",
                         "annotations": {LAST_APPLIED: "old"}},
            "data": {"b": "2", "a": "1"}});
        let out = with_last_applied(&object);
        assert_eq!(
            out["metadata"]["annotations"][LAST_APPLIED],
            "{\"apiVersion\":\"v1\",\"data\":{\"a\":\"1\",\"b\":\"2\"},\"kind\":\"ConfigMap\",\
             \"metadata\":{\"annotations\":{},\"name\":\"a\",\"namespace\":\"default\"}}\n"
        );
        assert_eq!(last_applied(&out).unwrap()["data"]["a"], "1");
    }

    #[test]
    fn unchanged_manifest_gives_an_empty_patch() {
        let resource = ApiResource {
            group: "".into(),
            version: "v1".into(),
            kind: "ConfigMap".into(),
            plural: "configmaps".into(),
            namespaced: true,
        };
        let manifest = with_last_applied(&json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a"}, "data": {"x": "1"}}));
        let mut live = manifest.clone();
        live["metadata"]["uid"] = json!("u");
        live["metadata"]["annotations"]["controller"] = json!("set");
        let original = last_applied(&live);
        let patch = three_way_patch(&resource, original.as_ref(), &manifest, &live).unwrap();
        assert_eq!(patch.body(), &json!({}));
        let mut removed = manifest.clone();
        removed["data"].as_object_mut().unwrap().remove("x");
        let removed = with_last_applied(&removed);
        let patch = three_way_patch(&resource, original.as_ref(), &removed, &live).unwrap();
        assert_eq!(patch.body()["data"], json!({"x": null}));
        assert!(patch.body()["metadata"]["annotations"]
            .get("controller")
            .is_none());
    }
}
