//! The three-way patches of client-side `kubectl apply`. Inputs: the
//! configuration applied last time (the `last-applied-configuration`
//! annotation; `None` on first apply), the manifest being applied now, and
//! the live object. The patch carries
//!
//! - every change from live to manifest, without deletions — fields the
//!   manifest does not mention are left to whoever set them (controllers,
//!   defaulting, status);
//! - every deletion from last-applied to manifest — a field the user
//!   applied before and has now removed from the manifest is removed live.
//!
//! The patch never conflicts with the live object: kubectl applies with
//! `--overwrite` by default, and so does this.

use serde_json::{Map, Value};

use super::diff::{diff_maps, DiffOptions};
use super::merge::{create_merge_patch, json_type, merge_patch};
use super::schema::PatchSchema;
use super::strategic::{merge_map, MergeOptions};
use super::{malformed, PatchError};

/// `strategicpatch.CreateThreeWayMergePatch` (with overwrite): the
/// strategic merge patch that turns `current` into `modified` while
/// removing what was removed between `original` and `modified`. Keyed
/// lists yield per-element patches, `$patch: delete` elements and
/// `$setElementOrder`; `$retainKeys` is emitted where the schema says so.
pub fn create_three_way_merge_patch(
    original: Option<&Value>,
    modified: &Value,
    current: &Value,
    schema: &PatchSchema,
) -> Result<Value, PatchError> {
    let empty = Map::new();
    let original = object(original, &empty, "original")?;
    let modified = object(Some(modified), &empty, "modified")?;
    let current = object(Some(current), &empty, "current")?;

    let delta = diff_maps(
        current,
        modified,
        schema,
        DiffOptions {
            ignore_deletions: true,
            set_element_order: true,
            ..DiffOptions::default()
        },
    )?;
    let deletions = diff_maps(
        original,
        modified,
        schema,
        DiffOptions {
            ignore_changes_and_additions: true,
            set_element_order: true,
            ..DiffOptions::default()
        },
    )?;
    let patch = merge_map(deletions, delta, schema, MergeOptions::PATCHES)?;
    Ok(Value::Object(patch.unwrap_or_default()))
}

/// `jsonmergepatch.CreateThreeWayJSONMergePatch`: the same idea as
/// [`create_three_way_merge_patch`] as a plain JSON merge patch, for kinds
/// without a strategic schema (lists are always replaced whole).
pub fn create_three_way_json_merge_patch(
    original: Option<&Value>,
    modified: &Value,
    current: &Value,
) -> Result<Value, PatchError> {
    let empty = Map::new();
    let original = Value::Object(object(original, &empty, "original")?.clone());
    let modified_map = object(Some(modified), &empty, "modified")?;
    let current = object(Some(current), &empty, "current")?;
    let modified = Value::Object(modified_map.clone());

    let changes = create_merge_patch(&Value::Object(current.clone()), &modified);
    let deletions = create_merge_patch(&original, &modified);
    let mut patch = Value::Object(filter_nulls(as_obj(&deletions), true));
    merge_patch(
        &mut patch,
        &Value::Object(filter_nulls(as_obj(&changes), false)),
    );
    Ok(patch)
}

fn as_obj(v: &Value) -> &Map<String, Value> {
    v.as_object()
        .expect("merge patch of two objects is an object")
}

/// `keepOrDeleteNullInObj`: keep only the nulls (deletions) or only the
/// rest (additions and changes). Maps left empty by the filter are dropped;
/// an explicitly empty map is a value.
fn filter_nulls(m: &Map<String, Value>, keep_nulls: bool) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in m {
        let kept = match v {
            Value::Null => keep_nulls.then_some(Value::Null),
            // An explicitly empty map is a value, not an empty patch.
            Value::Object(sub) if sub.is_empty() => (!keep_nulls).then(|| v.clone()),
            Value::Object(sub) => {
                let filtered = filter_nulls(sub, keep_nulls);
                (!filtered.is_empty()).then_some(Value::Object(filtered))
            }
            _ => (!keep_nulls).then(|| v.clone()),
        };
        if let Some(v) = kept {
            out.insert(k.clone(), v);
        }
    }
    out
}

/// The object a document must be; `None` and `null` are the empty object.
fn object<'a>(
    v: Option<&'a Value>,
    empty: &'a Map<String, Value>,
    what: &str,
) -> Result<&'a Map<String, Value>, PatchError> {
    match v {
        None | Some(Value::Null) => Ok(empty),
        Some(Value::Object(m)) => Ok(m),
        Some(other) => Err(malformed(format!(
            "the {what} document must be a JSON object, got {}",
            json_type(other)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::strategic_merge_patch;
    use serde_json::json;

    fn deployment_schema() -> PatchSchema {
        PatchSchema::for_kind("apps", "Deployment")
    }

    fn manifest_v1() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web", "team": "a"},
                         "annotations": {"note": "first"}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [
                            {"name": "web", "image": "nginx:1.25",
                             "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
                            {"name": "log", "image": "busybox", "args": ["tail"]}
                        ],
                        "volumes": [{"name": "data", "emptyDir": {}}]
                    }
                }
            }
        })
    }

    /// What the apiserver and controllers make of an applied manifest:
    /// server-set metadata, defaults, status, a controller's annotation.
    fn live_from(manifest: &Value) -> Value {
        let mut live = manifest.clone();
        live["metadata"]["uid"] = json!("u-1");
        live["metadata"]["resourceVersion"] = json!("7");
        live["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = json!("1");
        live["spec"]["strategy"] = json!({"type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}});
        for c in live["spec"]["template"]["spec"]["containers"]
            .as_array_mut()
            .unwrap()
        {
            c["imagePullPolicy"] = json!("IfNotPresent");
        }
        live["status"] =
            json!({"replicas": 2, "conditions": [{"type": "Available", "status": "True"}]});
        live
    }

    /// The manifest as kubectl sends it: with the last-applied annotation.
    fn with_last_applied(manifest: &Value) -> Value {
        let mut m = manifest.clone();
        m["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] =
            json!(manifest.to_string());
        m
    }

    /// One `kubectl apply` of `manifest` over `live`, `last` being the
    /// previously applied manifest: the patch kubectl computes and the
    /// object the apiserver makes of it.
    fn apply_cycle(last: Option<&Value>, manifest: &Value, live: &Value) -> (Value, Value) {
        let schema = deployment_schema();
        let modified = with_last_applied(manifest);
        let patch = create_three_way_merge_patch(last, &modified, live, &schema).unwrap();
        let next = strategic_merge_patch(live, &patch, &schema).unwrap();
        (patch, next)
    }

    #[test]
    fn apply_cycle_changes_removes_and_keeps_live_only_fields() {
        let v1 = manifest_v1();
        let live = live_from(&with_last_applied(&v1));

        // Re-applying the same manifest changes nothing.
        let (patch, _) = apply_cycle(Some(&v1), &v1, &live);
        assert_eq!(patch, json!({}));

        // v2: new image, env B and the `log` container and the `team` label
        // and the `note` annotation removed, a `metrics` container added.
        let mut v2 = v1.clone();
        v2["metadata"]["labels"] = json!({"app": "web"});
        v2["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("annotations");
        v2["spec"]["template"]["spec"]["containers"] = json!([
            {"name": "web", "image": "nginx:1.27", "env": [{"name": "A", "value": "1"}]},
            {"name": "metrics", "image": "exporter:1"}
        ]);
        let (patch, next) = apply_cycle(Some(&v1), &v2, &live);

        let tpl = &patch["spec"]["template"]["spec"];
        assert_eq!(
            tpl["$setElementOrder/containers"],
            json!([{"name": "web"}, {"name": "metrics"}])
        );
        assert!(tpl["containers"]
            .as_array()
            .unwrap()
            .contains(&json!({"name": "log", "$patch": "delete"})));
        let web_patch = tpl["containers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "web")
            .unwrap();
        assert_eq!(web_patch["env"], json!([{"name": "B", "$patch": "delete"}]));
        assert_eq!(web_patch["$setElementOrder/env"], json!([{"name": "A"}]));
        assert_eq!(patch["metadata"]["labels"], json!({"team": null}));
        assert_eq!(patch["metadata"]["annotations"]["note"], Value::Null);

        let containers = &next["spec"]["template"]["spec"]["containers"];
        assert_eq!(
            containers,
            &json!([
                {"name": "web", "image": "nginx:1.27", "env": [{"name": "A", "value": "1"}],
                 "imagePullPolicy": "IfNotPresent"},
                {"name": "metrics", "image": "exporter:1"}
            ])
        );
        assert_eq!(next["metadata"]["labels"], json!({"app": "web"}));
        // live-only fields survive
        assert_eq!(
            next["metadata"]["annotations"],
            json!({
                "deployment.kubernetes.io/revision": "1",
                "kubectl.kubernetes.io/last-applied-configuration": v2.to_string()
            })
        );
        assert_eq!(next["status"], live["status"]);
        assert_eq!(next["spec"]["strategy"], live["spec"]["strategy"]);
        assert_eq!(next["metadata"]["uid"], "u-1");

        // And applying v2 again is a no-op.
        let (patch, _) = apply_cycle(Some(&v2), &v2, &next);
        assert_eq!(patch, json!({}));
    }

    #[test]
    fn fields_never_applied_are_not_deleted() {
        // First apply over an object created some other way: nothing to delete.
        let v1 = manifest_v1();
        let mut live = live_from(&v1);
        live["metadata"]["labels"]["extra"] = json!("kept");
        let (patch, next) = apply_cycle(None, &v1, &live);
        assert_eq!(
            patch,
            json!({"metadata": {"annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": v1.to_string()
            }}})
        );
        assert_eq!(next["metadata"]["labels"]["extra"], "kept");
    }

    #[test]
    fn list_elements_added_live_survive() {
        let v1 = manifest_v1();
        let mut live = live_from(&with_last_applied(&v1));
        live["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "INJECTED", "value": "by-webhook"}));
        let mut v2 = v1.clone();
        v2["spec"]["template"]["spec"]["containers"][0]["env"] =
            json!([{"name": "A", "value": "9"}]);
        let (_, next) = apply_cycle(Some(&v1), &v2, &live);
        assert_eq!(
            next["spec"]["template"]["spec"]["containers"][0]["env"],
            json!([{"name": "A", "value": "9"}, {"name": "INJECTED", "value": "by-webhook"}])
        );
    }

    #[test]
    fn live_drift_on_applied_fields_is_reverted() {
        let v1 = manifest_v1();
        let mut live = live_from(&with_last_applied(&v1));
        live["spec"]["replicas"] = json!(5);
        live["spec"]["template"]["spec"]["containers"][0]["image"] = json!("hacked");
        let (patch, next) = apply_cycle(Some(&v1), &v1, &live);
        assert_eq!(patch["spec"]["replicas"], 2);
        assert_eq!(next["spec"]["replicas"], 2);
        assert_eq!(
            next["spec"]["template"]["spec"]["containers"][0]["image"],
            "nginx:1.25"
        );
    }

    #[test]
    fn one_of_fields_switch_with_retain_keys() {
        let mut v1 = manifest_v1();
        v1["spec"]["strategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}});
        let mut live = live_from(&with_last_applied(&v1));
        live["spec"]["strategy"] = v1["spec"]["strategy"].clone();

        let mut v2 = v1.clone();
        v2["spec"]["strategy"] = json!({"type": "Recreate"});
        v2["spec"]["template"]["spec"]["volumes"] =
            json!([{"name": "data", "configMap": {"name": "cfg"}}]);
        let (patch, next) = apply_cycle(Some(&v1), &v2, &live);
        assert_eq!(patch["spec"]["strategy"]["$retainKeys"], json!(["type"]));
        assert_eq!(next["spec"]["strategy"], json!({"type": "Recreate"}));
        assert_eq!(
            next["spec"]["template"]["spec"]["volumes"],
            json!([{"name": "data", "configMap": {"name": "cfg"}}])
        );
    }

    #[test]
    fn finalizer_lists_use_parallel_deletion() {
        let schema = PatchSchema::for_kind("", "ConfigMap");
        let v1 = json!({"metadata": {"name": "c", "finalizers": ["a.io/x", "b.io/y"]}});
        let v2 = json!({"metadata": {"name": "c", "finalizers": ["b.io/y", "c.io/z"]}});
        let live =
            json!({"metadata": {"name": "c", "finalizers": ["a.io/x", "b.io/y", "ctrl.io/keep"]}});
        let patch = create_three_way_merge_patch(Some(&v1), &v2, &live, &schema).unwrap();
        assert_eq!(
            patch["metadata"]["$deleteFromPrimitiveList/finalizers"],
            json!(["a.io/x"])
        );
        let next = strategic_merge_patch(&live, &patch, &schema).unwrap();
        let mut got: Vec<&str> = next["metadata"]["finalizers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        got.sort();
        assert_eq!(got, ["b.io/y", "c.io/z", "ctrl.io/keep"]);
    }

    #[test]
    fn rejects_non_objects() {
        let schema = deployment_schema();
        assert!(create_three_way_merge_patch(None, &json!([1]), &json!({}), &schema).is_err());
        assert!(
            create_three_way_json_merge_patch(Some(&json!("x")), &json!({}), &json!({})).is_err()
        );
        assert_eq!(
            create_three_way_merge_patch(Some(&Value::Null), &json!({"a": 1}), &json!({}), &schema)
                .unwrap(),
            json!({"a": 1})
        );
    }

    #[test]
    fn json_merge_variant_for_kinds_without_schema() {
        let last = json!({"spec": {"a": 1, "b": 2, "list": [{"n": 1}]}, "metadata": {"labels": {"x": "1"}}});
        let manifest = json!({"spec": {"a": 3, "list": [{"n": 2}]}, "metadata": {"labels": {}}});
        let live = json!({"spec": {"a": 1, "b": 2, "c": 9, "list": [{"n": 1}]},
                          "metadata": {"labels": {"x": "1", "ctrl": "y"}},
                          "status": {"ok": true}});
        let patch = create_three_way_json_merge_patch(Some(&last), &manifest, &live).unwrap();
        assert_eq!(
            patch,
            json!({"spec": {"b": null, "a": 3, "list": [{"n": 2}]}, "metadata": {"labels": {"x": null}}})
        );
        let mut next = live.clone();
        merge_patch(&mut next, &patch);
        assert_eq!(
            next,
            json!({"spec": {"a": 3, "c": 9, "list": [{"n": 2}]},
                   "metadata": {"labels": {"ctrl": "y"}}, "status": {"ok": true}})
        );
    }
}
