//! `metadata.managedFields` on every write and server-side apply
//! (`application/apply-patch+yaml`): create, update, giving up fields,
//! conflicts between managers, force, and dryRun.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};

const DEPLOYS: &str = "/apis/apps/v1/namespaces/default/deployments";
const APPLY: &str = "application/apply-patch+yaml";
const MERGE: &str = "application/merge-patch+json";
const UA: &str = "ssa-test/1.0 (linux/amd64)";

/// The managedFields entry of `manager`.
fn entry<'a>(object: &'a Value, manager: &str, operation: &str) -> &'a Value {
    object["metadata"]["managedFields"]
        .as_array()
        .and_then(|l| {
            l.iter()
                .find(|e| e["manager"] == manager && e["operation"] == operation)
        })
        .unwrap_or_else(|| panic!("no {operation} entry for {manager} in {object}"))
}

fn managers(object: &Value) -> Vec<String> {
    object["metadata"]["managedFields"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|e| {
                    format!(
                        "{}/{}",
                        e["manager"].as_str().unwrap(),
                        e["operation"].as_str().unwrap()
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// An apply configuration for Deployment `web` in YAML, as kubectl sends it.
fn config(replicas: Option<i64>, labels: &[(&str, &str)]) -> String {
    let mut y = String::from("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n");
    if !labels.is_empty() {
        y.push_str("  labels:\n");
        for (k, v) in labels {
            y.push_str(&format!("    {k}: {v}\n"));
        }
    }
    y.push_str("spec:\n");
    if let Some(r) = replicas {
        y.push_str(&format!("  replicas: {r}\n"));
    }
    y.push_str(
        "  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.25\n        ports:\n        - containerPort: 80\n",
    );
    y
}

async fn apply(api: &Api, manager: &str, extra: &str, body: &str) -> Full {
    api.request(
        Method::PATCH,
        &format!("{DEPLOYS}/web?fieldManager={manager}{extra}"),
        APPLY,
        body,
        UA,
    )
    .await
}

/// A merge patch of `{DEPLOYS}/{target}` (`web?fieldManager=…`).
async fn merge(api: &Api, target: &str, body: &str) -> Full {
    api.request(
        Method::PATCH,
        &format!("{DEPLOYS}/{target}"),
        MERGE,
        body,
        UA,
    )
    .await
}

#[tokio::test]
async fn every_write_records_its_manager() {
    let server = start();
    let api = Api::new(&server.url);
    // Create without fieldManager: the User-Agent up to its first '/'.
    let r = api
        .request(
            Method::POST,
            DEPLOYS,
            "application/json",
            &deployment("web", 1).to_string(),
            UA,
        )
        .await;
    assert_eq!(r.resp.code, 201, "{:?}", r.resp);
    let created = r.resp.body;
    let e = entry(&created, "ssa-test", "Update");
    assert_eq!(e["apiVersion"], "apps/v1");
    assert_eq!(e["fieldsType"], "FieldsV1");
    assert!(e["time"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert!(e.get("subresource").is_none());
    let f = &e["fieldsV1"];
    assert_eq!(f["f:spec"]["f:replicas"], json!({}));
    assert_eq!(
        f["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"]["f:env"]
            ["k:{\"name\":\"A\"}"],
        json!({".": {}, "f:name": {}, "f:value": {}})
    );
    assert!(
        f["f:metadata"].get("f:name").is_none(),
        "identity is not tracked"
    );
    assert!(f.get("f:status").is_none(), "status belongs to /status");

    // A PUT by another manager takes only what it changed.
    let mut body = created.clone();
    body["spec"]["replicas"] = json!(3);
    let r = api
        .request(
            Method::PUT,
            &format!("{DEPLOYS}/web?fieldManager=editor"),
            "application/json",
            &body.to_string(),
            UA,
        )
        .await;
    let updated = r.resp.ok();
    assert_eq!(
        entry(&updated, "editor", "Update")["fieldsV1"],
        json!({"f:spec": {"f:replicas": {}}})
    );
    assert!(entry(&updated, "ssa-test", "Update")["fieldsV1"]["f:spec"]
        .get("f:replicas")
        .is_none());

    // A patch by a third; the status subresource records its own entry.
    let r = merge(
        &api,
        "web?fieldManager=labeller",
        r#"{"metadata": {"labels": {"team": "a"}}}"#,
    )
    .await;
    let patched = r.resp.ok();
    assert_eq!(
        entry(&patched, "labeller", "Update")["fieldsV1"],
        json!({"f:metadata": {"f:labels": {".": {}, "f:team": {}}}})
    );
    let r = merge(
        &api,
        "web/status?fieldManager=ctrl",
        r#"{"status": {"observedGeneration": 7}}"#,
    )
    .await;
    let status = r.resp.ok();
    let e = entry(&status, "ctrl", "Update");
    assert_eq!(e["subresource"], "status");
    assert_eq!(
        e["fieldsV1"],
        json!({"f:status": {"f:observedGeneration": {}}})
    );

    // Writing the same object again leaves managedFields (and the
    // resourceVersion) alone.
    let again = merge(
        &api,
        "web?fieldManager=labeller",
        r#"{"metadata": {"labels": {"team": "a"}}}"#,
    )
    .await
    .resp
    .ok();
    assert_eq!(
        again["metadata"]["managedFields"],
        status["metadata"]["managedFields"]
    );
    assert_eq!(
        again["metadata"]["resourceVersion"],
        status["metadata"]["resourceVersion"]
    );
}

#[tokio::test]
async fn apply_creates_updates_and_gives_up_fields() {
    let server = start();
    let api = Api::new(&server.url);
    let r = apply(&api, "ssa", "", &config(Some(2), &[("tier", "front")])).await;
    assert_eq!(r.resp.code, 201, "{:?}", r.resp);
    let created = r.resp.body;
    assert_eq!(managers(&created), vec!["ssa/Apply"]);
    let f = &entry(&created, "ssa", "Apply")["fieldsV1"];
    assert_eq!(f["f:metadata"], json!({"f:labels": {"f:tier": {}}}));
    assert_eq!(
        f["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"]["f:ports"],
        json!({"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}})
    );
    // Defaults are set but owned by no one.
    assert_eq!(created["spec"]["strategy"]["type"], "RollingUpdate");
    assert!(f["f:spec"].get("f:strategy").is_none());

    // Re-apply: a new replica count, and the tier label no longer applied.
    let r = apply(&api, "ssa", "", &config(Some(4), &[])).await;
    let updated = r.resp.ok();
    assert_eq!(updated["spec"]["replicas"], 4);
    assert!(updated["metadata"]
        .get("labels")
        .is_none_or(|l| l.get("tier").is_none()));
    assert!(entry(&updated, "ssa", "Apply")["fieldsV1"]["f:metadata"].is_null());

    // A field someone else also set survives the applier giving it up.
    merge(
        &api,
        "web?fieldManager=other",
        r#"{"spec": {"minReadySeconds": 5}}"#,
    )
    .await
    .resp
    .ok();
    let r = apply(&api, "ssa", "", &config(None, &[])).await;
    let kept = r.resp.ok();
    // The applier owned replicas alone: giving it up removes it (the
    // server defaults it back to 1); minReadySeconds was never its own.
    assert_eq!(kept["spec"]["replicas"], 1);
    assert_eq!(kept["spec"]["minReadySeconds"], 5);

    // fieldManager is required.
    let r = api
        .request(
            Method::PATCH,
            &format!("{DEPLOYS}/web"),
            APPLY,
            &config(Some(1), &[]),
            UA,
        )
        .await;
    assert_eq!(
        (r.resp.code, r.resp.reason()),
        (422, "Invalid"),
        "{:?}",
        r.resp
    );
    assert!(
        r.resp.message().contains("fieldManager: Required value"),
        "{}",
        r.resp.message()
    );
}

#[tokio::test]
async fn conflicts_between_managers_and_force() {
    let server = start();
    let api = Api::new(&server.url);
    // Created the way `kubectl apply` (client-side) does.
    api.request(
        Method::POST,
        &format!("{DEPLOYS}?fieldManager=kubectl-client-side-apply"),
        "application/json",
        &deployment("web", 2).to_string(),
        UA,
    )
    .await
    .resp
    .ok();
    // Same value: shared, no conflict.
    let shared = apply(&api, "ssa", "", &config(Some(2), &[]))
        .await
        .resp
        .ok();
    assert!(entry(&shared, "ssa", "Apply")["fieldsV1"]["f:spec"]["f:replicas"].is_object());
    assert!(
        entry(&shared, "kubectl-client-side-apply", "Update")["fieldsV1"]["f:spec"]["f:replicas"]
            .is_object()
    );

    // A different value: 409 naming the field and its owner.
    let r = apply(&api, "ssa", "", &config(Some(3), &[])).await;
    assert_eq!(
        (r.resp.code, r.resp.reason()),
        (409, "Conflict"),
        "{:?}",
        r.resp
    );
    assert_eq!(
        r.resp.message(),
        "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
    );
    assert_eq!(
        r.resp.body["details"]["causes"],
        json!([{
            "reason": "FieldManagerConflict",
            "message": "conflict with \"kubectl-client-side-apply\" using apps/v1",
            "field": ".spec.replicas"
        }])
    );
    assert_eq!(
        api.get(&format!("{DEPLOYS}/web")).await.ok()["spec"]["replicas"],
        2
    );

    // Forced: the applier takes the field.
    let forced = apply(&api, "ssa", "&force=true", &config(Some(3), &[]))
        .await
        .resp
        .ok();
    assert_eq!(forced["spec"]["replicas"], 3);
    assert!(
        entry(&forced, "kubectl-client-side-apply", "Update")["fieldsV1"]["f:spec"]
            .get("f:replicas")
            .is_none()
    );

    // force is for apply only.
    let r = merge(&api, "web?force=true", r#"{"spec": {"replicas": 1}}"#).await;
    assert_eq!(r.resp.code, 422, "{:?}", r.resp);
}

#[tokio::test]
async fn a_scale_by_another_manager_then_apply() {
    let server = start();
    let api = Api::new(&server.url);
    apply(&api, "ssa", "", &config(Some(2), &[]))
        .await
        .resp
        .ok();
    // `kubectl scale`-like: another manager sets replicas.
    let scaled = merge(
        &api,
        "web?fieldManager=kubectl-scale",
        r#"{"spec": {"replicas": 5}}"#,
    )
    .await
    .resp
    .ok();
    assert_eq!(
        entry(&scaled, "kubectl-scale", "Update")["fieldsV1"],
        json!({"f:spec": {"f:replicas": {}}})
    );
    assert!(entry(&scaled, "ssa", "Apply")["fieldsV1"]["f:spec"]
        .get("f:replicas")
        .is_none());
    // Re-applying the old count conflicts with the scaler...
    let r = apply(&api, "ssa", "", &config(Some(2), &[])).await;
    assert_eq!(r.resp.code, 409);
    assert!(r
        .resp
        .message()
        .contains("\"kubectl-scale\" using apps/v1: .spec.replicas"));
    // ...and leaving replicas out keeps the scaled count.
    let kept = apply(&api, "ssa", "", &config(None, &[])).await.resp.ok();
    assert_eq!(kept["spec"]["replicas"], 5);
}

#[tokio::test]
async fn dry_run_apply_writes_nothing() {
    let server = start();
    let api = Api::new(&server.url);
    let r = apply(&api, "ssa", "&dryRun=All", &config(Some(2), &[])).await;
    assert_eq!(r.resp.code, 201, "{:?}", r.resp);
    assert_eq!(managers(&r.resp.body), vec!["ssa/Apply"]);
    assert_eq!(api.get(&format!("{DEPLOYS}/web")).await.code, 404);

    let live = apply(&api, "ssa", "", &config(Some(2), &[]))
        .await
        .resp
        .ok();
    let r = apply(
        &api,
        "other",
        "&dryRun=All&force=true",
        &config(Some(7), &[]),
    )
    .await;
    let would = r.resp.ok();
    assert_eq!(would["spec"]["replicas"], 7);
    assert!(managers(&would).contains(&"other/Apply".to_string()));
    let stored = api.get(&format!("{DEPLOYS}/web")).await.ok();
    assert_eq!(stored["spec"]["replicas"], 2);
    assert_eq!(
        stored["metadata"]["managedFields"],
        live["metadata"]["managedFields"]
    );
    assert_eq!(
        stored["metadata"]["resourceVersion"],
        live["metadata"]["resourceVersion"]
    );
}

#[tokio::test]
async fn kubectl_scale_through_the_scale_subresource_owns_replicas() {
    let server = start();
    let api = Api::new(&server.url);
    apply(&api, "kubectl", "", &config(Some(2), &[]))
        .await
        .resp
        .ok();
    // What `kubectl scale` sends: a merge patch of the Scale.
    let r = api
        .request(
            Method::PATCH,
            &format!("{DEPLOYS}/web/scale"),
            MERGE,
            r#"{"spec": {"replicas": 4}}"#,
            "kubectl/v1.35.0 (linux/amd64) kubernetes/abc",
        )
        .await;
    assert_eq!(r.resp.code, 200, "{:?}", r.resp);
    let scaled = api.get(&format!("{DEPLOYS}/web")).await.ok();
    let e = entry(&scaled, "kubectl", "Update");
    assert_eq!(e["subresource"], "scale");
    assert_eq!(e["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));
    let r = apply(&api, "kubectl", "", &config(Some(2), &[])).await;
    assert_eq!(r.resp.code, 409, "{:?}", r.resp);
    assert_eq!(
        r.resp.message(),
        "Apply failed with 1 conflict: conflict with \"kubectl\" with subresource \"scale\" using apps/v1: .spec.replicas"
    );
}
