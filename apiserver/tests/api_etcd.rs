//! The apiserver over a real etcd: the same API, the production backend,
//! and a restart of the apiserver that loses nothing.

mod common;

use common::*;
use serde_json::json;
use tug_tests::apiserver::{ApiServerProcess, Store};
use tug_tests::etcd::{etcd_available, EtcdProcess};

const CM: &str = "/api/v1/namespaces/default/configmaps";

#[tokio::test]
async fn apiserver_over_etcd_serves_writes_watches_and_restarts() {
    if !etcd_available() {
        eprintln!("SKIPPED: etcd not installed (apt-get install etcd-server)");
        return;
    }
    let etcd = EtcdProcess::start().expect("etcd starts");
    let mut server = ApiServerProcess::start(binary(), Store::Etcd(vec![etcd.endpoint.clone()]))
        .expect("apiserver starts");
    let api = Api::new(&server.url);

    let rv0 = api.get(CM).await.rv();
    let mut w = api
        .watch(&format!("{CM}?watch=true&resourceVersion={rv0}"))
        .await;
    let created = api.post(CM, &configmap("e", json!({"k": "1"}))).await.ok();
    let mut upd = created.clone();
    upd["data"]["k"] = json!("2");
    api.put(&format!("{CM}/e"), &upd).await.ok();
    assert_eq!(
        api.put(&format!("{CM}/e"), &upd).await.code,
        409,
        "stale write conflicts"
    );
    let svc = api
        .post(
            "/api/v1/namespaces/default/services",
            &service("s", "NodePort"),
        )
        .await
        .ok();
    assert!(svc["spec"]["clusterIP"]
        .as_str()
        .unwrap()
        .starts_with("10."));

    let e1 = w.next_change(WAIT).await.unwrap();
    let e2 = w.next_change(WAIT).await.unwrap();
    assert_eq!(
        (e1["type"].as_str(), e2["type"].as_str()),
        (Some("ADDED"), Some("MODIFIED"))
    );

    let before = api.get(CM).await.ok();
    server.restart().expect("restart");
    let api = Api::new(&server.url);
    let after = api.get(CM).await.ok();
    assert_eq!(before["items"], after["items"]);
    // The allocations are still held after the restart.
    let mut dup = service("dup", "ClusterIP");
    dup["spec"]["clusterIP"] = svc["spec"]["clusterIP"].clone();
    assert_eq!(
        api.post("/api/v1/namespaces/default/services", &dup)
            .await
            .code,
        422
    );
    let next = api.post(CM, &configmap("f", json!({}))).await.rv();
    assert!(
        next > after["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap()
    );
}
