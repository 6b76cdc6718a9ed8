//! Restarting the apiserver over the embedded store loses nothing.

mod common;

use common::*;
use serde_json::json;

const CM: &str = "/api/v1/namespaces/default/configmaps";

#[tokio::test]
async fn restart_keeps_objects_and_resource_versions_increase() {
    let mut server = start();
    let api = Api::new(&server.url);
    let mut last_rv = 0;
    for i in 0..25 {
        last_rv = api
            .post(
                CM,
                &configmap(&format!("keep-{i}"), json!({"i": i.to_string()})),
            )
            .await
            .rv();
    }
    api.delete(&format!("{CM}/keep-0")).await.ok();
    let before = api.get(CM).await.ok();
    // Kill -9: no graceful shutdown.
    server.restart().expect("restart");
    // A new client: the old one's pooled connections died with the process.
    let api = Api::new(&server.url);
    let after = api.get(CM).await.ok();
    assert_eq!(
        before["items"], after["items"],
        "same objects, same resourceVersions"
    );
    assert_eq!(after["items"].as_array().unwrap().len(), 24);
    let next = api.post(CM, &configmap("new", json!({}))).await.rv();
    assert!(
        next > last_rv,
        "resourceVersions keep increasing ({next} > {last_rv})"
    );
    // A watch resumed from before the restart replays what came after.
    let mut w = api
        .watch(&format!("{CM}?watch=true&resourceVersion={last_rv}"))
        .await;
    let ev = w.next_change(WAIT).await.unwrap();
    assert_eq!(ev["type"], "DELETED");
    assert_eq!(ev["object"]["metadata"]["name"], "keep-0");
    let ev = w.next_change(WAIT).await.unwrap();
    assert_eq!(ev["object"]["metadata"]["name"], "new");
}
