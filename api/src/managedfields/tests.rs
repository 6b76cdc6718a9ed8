//! The scenarios a user of server-side apply notices, on plain values.

use serde_json::{json, Value};

use super::*;

const NOW: &str = "2025-01-02T03:04:05Z";

fn lists() -> ListTypes {
    ListTypes::for_kind("apps", "Deployment")
}

fn writer<'a>(manager: &'a str, lists: &'a ListTypes) -> Write<'a> {
    Write {
        manager,
        api_version: "apps/v1",
        subresource: "",
        scope: Scope::WithoutStatus,
        lists,
        now: NOW,
    }
}

fn deploy(replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"replicas": replicas, "template": {"spec": {"containers": [
            {"name": "web", "image": image}]}}}
    })
}

fn owners(m: &ManagedFields, path: &[&str]) -> Vec<String> {
    let p = set::fields(path);
    m.entries
        .iter()
        .filter(|e| e.set.has(&p))
        .map(|e| e.manager.clone())
        .collect()
}

#[test]
fn create_records_an_update_entry_without_identity_or_status() {
    let l = lists();
    let mut m = ManagedFields::default();
    let mut obj = deploy(2, "nginx");
    obj["metadata"]["uid"] = json!("u");
    obj["status"] = json!({"replicas": 0});
    update(&mut m, &json!({}), &obj, &writer("kubectl-create", &l));
    let wire = m.to_value();
    assert_eq!(wire[0]["manager"], "kubectl-create");
    assert_eq!(wire[0]["operation"], "Update");
    assert_eq!(wire[0]["apiVersion"], "apps/v1");
    assert_eq!(wire[0]["time"], NOW);
    assert_eq!(wire[0]["fieldsType"], "FieldsV1");
    let f = &wire[0]["fieldsV1"];
    assert_eq!(f["f:metadata"]["f:labels"], json!({".": {}, "f:app": {}}));
    assert!(f["f:metadata"].get("f:name").is_none());
    assert!(f["f:metadata"].get("f:uid").is_none());
    assert!(f.get("f:status").is_none());
    assert!(f.get("f:apiVersion").is_none());
    assert_eq!(f["f:spec"]["f:replicas"], json!({}));
}

#[test]
fn a_later_writer_takes_the_fields_it_changes() {
    let l = lists();
    let mut m = ManagedFields::default();
    let v1 = deploy(2, "nginx");
    update(&mut m, &json!({}), &v1, &writer("a", &l));
    let v2 = deploy(5, "nginx");
    update(&mut m, &v1, &v2, &writer("b", &l));
    assert_eq!(owners(&m, &["spec", "replicas"]), vec!["b"]);
    assert_eq!(owners(&m, &["metadata", "labels", "app"]), vec!["a"]);
    // Writing the same again changes nothing and keeps the entry's time.
    let before = m.clone();
    let later = Write {
        now: "2030-01-01T00:00:00Z",
        ..writer("b", &l)
    };
    update(&mut m, &v2, &v2, &later);
    assert_eq!(m, before);
}

#[test]
fn apply_owns_its_config_and_removes_what_it_stops_applying() {
    let l = lists();
    let mut m = ManagedFields::default();
    let mut cfg = deploy(2, "nginx");
    cfg["metadata"]["labels"]["tier"] = json!("front");
    let created = apply(&mut m, None, &cfg, &writer("ssa", &l), false).unwrap();
    assert_eq!(created, cfg);
    assert_eq!(m.entries.len(), 1);
    assert_eq!(m.entries[0].operation, Operation::Apply);
    assert!(m.entries[0]
        .set
        .has(&set::fields(&["metadata", "labels", "tier"])));

    // Re-apply without the tier label: it goes, the rest stays.
    let cfg2 = deploy(2, "nginx");
    let merged = apply(&mut m, Some(&created), &cfg2, &writer("ssa", &l), false).unwrap();
    assert_eq!(merged["metadata"]["labels"], json!({"app": "web"}));
    assert!(!m.entries[0]
        .set
        .has(&set::fields(&["metadata", "labels", "tier"])));
}

#[test]
fn a_field_another_manager_also_owns_survives_its_removal_from_the_config() {
    let l = lists();
    let mut m = ManagedFields::default();
    let live = apply(&mut m, None, &deploy(2, "nginx"), &writer("ssa", &l), false).unwrap();
    // Someone else sets replicas to the same value: shared ownership.
    update(&mut m, &live, &live, &writer("other", &l));
    let mut other_owned = live.clone();
    other_owned["spec"]["replicas"] = json!(4);
    update(&mut m, &live, &other_owned, &writer("scaler", &l));
    let mut cfg = deploy(2, "nginx");
    cfg["spec"].as_object_mut().unwrap().remove("replicas");
    let merged = apply(&mut m, Some(&other_owned), &cfg, &writer("ssa", &l), false).unwrap();
    assert_eq!(merged["spec"]["replicas"], 4, "kept: the scaler owns it");
}

#[test]
fn changing_a_field_someone_else_owns_conflicts_unless_forced() {
    let l = lists();
    let mut m = ManagedFields::default();
    let live = deploy(2, "nginx");
    update(
        &mut m,
        &json!({}),
        &live,
        &writer("kubectl-client-side-apply", &l),
    );
    let err = apply(
        &mut m.clone(),
        Some(&live),
        &deploy(3, "nginx"),
        &writer("ssa", &l),
        false,
    )
    .unwrap_err();
    assert_eq!(
        err.message(),
        "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
    );
    // The same value is no conflict: ownership is shared.
    let mut shared = m.clone();
    apply(
        &mut shared,
        Some(&live),
        &deploy(2, "nginx"),
        &writer("ssa", &l),
        false,
    )
    .unwrap();
    assert_eq!(owners(&shared, &["spec", "replicas"]).len(), 2);
    // Forced: the applier takes the field.
    let merged = apply(
        &mut m,
        Some(&live),
        &deploy(3, "httpd"),
        &writer("ssa", &l),
        true,
    )
    .unwrap();
    assert_eq!(merged["spec"]["replicas"], 3);
    assert_eq!(owners(&m, &["spec", "replicas"]), vec!["ssa"]);
}

#[test]
fn several_conflicts_are_listed_by_manager() {
    let l = lists();
    let mut m = ManagedFields::default();
    let live = deploy(2, "nginx");
    update(&mut m, &json!({}), &live, &writer("a", &l));
    let err = apply(
        &mut m,
        Some(&live),
        &deploy(3, "httpd"),
        &writer("ssa", &l),
        false,
    )
    .unwrap_err();
    assert_eq!(
        err.message(),
        "Apply failed with 2 conflicts: conflicts with \"a\" using apps/v1:\n\
         - .spec.replicas\n\
         - .spec.template.spec.containers[name=\"web\"].image"
    );
}

#[test]
fn first_apply_to_an_untracked_object_charges_before_first_apply() {
    let l = lists();
    let mut m = ManagedFields::default();
    let live = deploy(2, "nginx");
    let err = apply(
        &mut m,
        Some(&live),
        &deploy(3, "nginx"),
        &writer("ssa", &l),
        false,
    )
    .unwrap_err();
    assert!(
        err.message().contains("\"before-first-apply\""),
        "{}",
        err.message()
    );
}

#[test]
fn status_writes_own_only_status() {
    let l = lists();
    let mut m = ManagedFields::default();
    let old = deploy(2, "nginx");
    let mut new = old.clone();
    new["status"] = json!({"replicas": 2});
    let w = Write {
        subresource: "status",
        scope: Scope::OnlyStatus,
        ..writer("ctrl", &l)
    };
    update(&mut m, &old, &new, &w);
    let wire = m.to_value();
    assert_eq!(wire[0]["subresource"], "status");
    assert_eq!(
        wire[0]["fieldsV1"],
        json!({"f:status": {".": {}, "f:replicas": {}}})
    );
}

#[test]
fn wire_round_trip_keeps_entries() {
    let l = lists();
    let mut m = ManagedFields::default();
    update(&mut m, &json!({}), &deploy(1, "x"), &writer("a", &l));
    let mut obj = deploy(1, "x");
    m.store(&mut obj);
    assert_eq!(ManagedFields::of(&obj).unwrap(), m);
    assert!(ManagedFields::from_list(&json!([{"operation": "Nope"}])).is_err());
}
