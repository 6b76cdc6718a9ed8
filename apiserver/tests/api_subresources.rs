//! Subresources: status, binding, scale; namespace finalization.

mod common;

use common::*;
use serde_json::json;

const PODS: &str = "/api/v1/namespaces/default/pods";
const DEPLOYS: &str = "/apis/apps/v1/namespaces/default/deployments";

#[tokio::test]
async fn status_and_main_resource_change_separate_halves() {
    let server = start();
    let api = Api::new(&server.url);
    let created = api.post(PODS, &pod("s")).await.ok();
    assert_eq!(
        created["status"]["phase"], "Pending",
        "status is the server's on create"
    );

    // Main resource: status changes are ignored.
    let mut main = created.clone();
    main["status"]["phase"] = json!("Running");
    main["metadata"]["labels"]["extra"] = json!("yes");
    let r = api.put(&format!("{PODS}/s"), &main).await.ok();
    assert_eq!(r["status"]["phase"], "Pending");
    assert_eq!(r["metadata"]["labels"]["extra"], "yes");

    // Status: spec and metadata changes are ignored.
    let mut st = r.clone();
    st["status"]["phase"] = json!("Running");
    st["status"]["podIP"] = json!("10.244.0.5");
    st["spec"]["containers"][0]["image"] = json!("other:1");
    st["metadata"]["labels"]["sneaky"] = json!("1");
    let r = api.put(&format!("{PODS}/s/status"), &st).await.ok();
    assert_eq!(r["status"]["phase"], "Running");
    assert_eq!(r["status"]["podIP"], "10.244.0.5");
    assert_eq!(r["spec"]["containers"][0]["image"], "busybox:1.36");
    assert!(r["metadata"]["labels"].get("sneaky").is_none());

    let r = api
        .patch(
            &format!("{PODS}/s/status"),
            "application/merge-patch+json",
            &json!({"status": {"phase": "Succeeded"}}),
        )
        .await
        .ok();
    assert_eq!(r["status"]["phase"], "Succeeded");
    assert_eq!(
        api.get(&format!("{PODS}/s/status")).await.ok()["status"]["phase"],
        "Succeeded"
    );
}

#[tokio::test]
async fn binding_sets_node_once() {
    let server = start();
    let api = Api::new(&server.url);
    api.post(PODS, &pod("b")).await.ok();
    let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "b"}, "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"}});
    let r = api.post(&format!("{PODS}/b/binding"), &binding).await;
    assert_eq!(r.code, 201, "{}", r.body);
    let p = api.get(&format!("{PODS}/b")).await.ok();
    assert_eq!(p["spec"]["nodeName"], "node-1");
    let cond = p["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "PodScheduled")
        .cloned()
        .unwrap();
    assert_eq!(cond["status"], "True");

    let mut again = binding.clone();
    again["target"]["name"] = json!("node-2");
    let r = api.post(&format!("{PODS}/b/binding"), &again).await;
    assert_eq!((r.code, r.reason()), (409, "Conflict"));
    assert!(
        r.message().contains("already assigned to node \"node-1\""),
        "{}",
        r.message()
    );
    // Spec nodeName cannot be changed through an update either.
    let mut p2 = p.clone();
    p2["spec"]["nodeName"] = json!("node-3");
    assert_eq!(api.put(&format!("{PODS}/b"), &p2).await.code, 422);
}

#[tokio::test]
async fn scale_subresource_reads_and_writes_replicas() {
    let server = start();
    let api = Api::new(&server.url);
    api.post(DEPLOYS, &deployment("web", 3)).await.ok();
    let scale = api.get(&format!("{DEPLOYS}/web/scale")).await.ok();
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["apiVersion"], "autoscaling/v1");
    assert_eq!(scale["spec"]["replicas"], 3);
    assert_eq!(scale["status"]["selector"], "app=web");

    let mut s = scale.clone();
    s["spec"]["replicas"] = json!(5);
    let r = api.put(&format!("{DEPLOYS}/web/scale"), &s).await.ok();
    assert_eq!(r["spec"]["replicas"], 5);
    let d = api.get(&format!("{DEPLOYS}/web")).await.ok();
    assert_eq!(d["spec"]["replicas"], 5);
    assert_eq!(d["metadata"]["generation"], 2);

    let r = api
        .patch(
            &format!("{DEPLOYS}/web/scale"),
            "application/merge-patch+json",
            &json!({"spec": {"replicas": 1}}),
        )
        .await
        .ok();
    assert_eq!(r["spec"]["replicas"], 1);
    // Stale scale → conflict; negative → invalid.
    assert_eq!(api.put(&format!("{DEPLOYS}/web/scale"), &s).await.code, 409);
    let r = api
        .patch(
            &format!("{DEPLOYS}/web/scale"),
            "application/merge-patch+json",
            &json!({"spec": {"replicas": -2}}),
        )
        .await;
    assert_eq!(r.code, 422);
    // ReplicaSets have it too.
    let rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "r"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i:1"}]}}}});
    api.post("/apis/apps/v1/namespaces/default/replicasets", &rs)
        .await
        .ok();
    let s = api
        .get("/apis/apps/v1/namespaces/default/replicasets/r/scale")
        .await
        .ok();
    assert_eq!(s["spec"]["replicas"], 2);
}

#[tokio::test]
async fn namespace_deletion_waits_for_finalize() {
    let server = start();
    let api = Api::new(&server.url);
    api.post(
        "/api/v1/namespaces",
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gone"}}),
    )
    .await
    .ok();
    let r = api.delete("/api/v1/namespaces/gone").await;
    assert_eq!(r.code, 200, "{}", r.body);
    let ns = api.get("/api/v1/namespaces/gone").await.ok();
    assert_eq!(ns["status"]["phase"], "Terminating");
    // No new content in a terminating namespace.
    let r = api
        .post(
            "/api/v1/namespaces/gone/configmaps",
            &configmap("x", json!({})),
        )
        .await;
    assert_eq!(r.code, 403, "{}", r.body);
    // The namespace controller finalizes; then it is gone.
    let mut fin = ns.clone();
    fin["spec"]["finalizers"] = json!([]);
    let r = api.put("/api/v1/namespaces/gone/finalize", &fin).await;
    assert_eq!(r.code, 200, "{}", r.body);
    assert_eq!(api.get("/api/v1/namespaces/gone").await.code, 404);
}
