//! Every verb on the main resources, against a real apiserver process.

mod common;

use common::*;
use serde_json::json;

const CM: &str = "/api/v1/namespaces/default/configmaps";

#[tokio::test]
async fn create_get_update_delete_with_optimistic_concurrency() {
    let server = start();
    let api = Api::new(&server.url);

    let created = api.post(CM, &configmap("a", json!({"k": "v"}))).await;
    assert_eq!(created.code, 201, "{}", created.body);
    let rv1 = created.rv();
    assert!(rv1 > 0);
    assert!(!created.body["metadata"]["uid"].as_str().unwrap().is_empty());
    assert!(created.body["metadata"]["creationTimestamp"].is_string());

    let again = api.post(CM, &configmap("a", json!({}))).await;
    assert_eq!((again.code, again.reason()), (409, "AlreadyExists"));
    assert_eq!(again.message(), "configmaps \"a\" already exists");

    let got = api.get(&format!("{CM}/a")).await.ok();
    assert_eq!(got["data"]["k"], "v");
    assert_eq!(got["kind"], "ConfigMap");

    let mut update = got.clone();
    update["data"]["k"] = json!("v2");
    let updated = api.put(&format!("{CM}/a"), &update).await;
    assert_eq!(updated.code, 200, "{}", updated.body);
    assert!(updated.rv() > rv1, "resourceVersion increases");

    // The same body again carries the old resourceVersion: a conflict.
    let stale = api.put(&format!("{CM}/a"), &update).await;
    assert_eq!((stale.code, stale.reason()), (409, "Conflict"));
    assert!(
        stale.message().contains("the object has been modified"),
        "{}",
        stale.message()
    );

    // Without a resourceVersion the update is unconditional.
    let mut blind = update.clone();
    blind["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    blind["data"]["k"] = json!("v3");
    assert_eq!(api.put(&format!("{CM}/a"), &blind).await.code, 200);

    let deleted = api.delete(&format!("{CM}/a")).await;
    assert_eq!(deleted.code, 200, "{}", deleted.body);
    let gone = api.get(&format!("{CM}/a")).await;
    assert_eq!((gone.code, gone.reason()), (404, "NotFound"));
    assert_eq!(gone.body["kind"], "Status");
    assert_eq!(gone.message(), "configmaps \"a\" not found");
    assert_eq!(api.delete(&format!("{CM}/a")).await.code, 404);
}

#[tokio::test]
async fn generate_name_gives_unique_names() {
    let server = start();
    let api = Api::new(&server.url);
    let body =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "web-"}});
    let mut names = std::collections::BTreeSet::new();
    for _ in 0..20 {
        let r = api.post(CM, &body).await.ok();
        let name = r["metadata"]["name"].as_str().unwrap().to_string();
        assert!(name.starts_with("web-") && name.len() == 9, "{name}");
        names.insert(name);
    }
    assert_eq!(names.len(), 20);
}

#[tokio::test]
async fn namespaces_must_exist_and_system_ones_do() {
    let server = start();
    let api = Api::new(&server.url);
    let list = api.get("/api/v1/namespaces").await.ok();
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["metadata"]["name"].as_str().unwrap())
        .collect();
    for ns in ["default", "kube-system", "kube-public"] {
        assert!(names.contains(&ns), "{ns} missing from {names:?}");
    }
    let r = api
        .post(
            "/api/v1/namespaces/nope/configmaps",
            &configmap("a", json!({})),
        )
        .await;
    assert_eq!((r.code, r.reason()), (404, "NotFound"));
    assert_eq!(r.message(), "namespaces \"nope\" not found");

    api.post(
        "/api/v1/namespaces",
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}),
    )
    .await
    .ok();
    let ns = api.get("/api/v1/namespaces/team").await.ok();
    assert_eq!(ns["status"]["phase"], "Active");
    api.post(
        "/api/v1/namespaces/team/configmaps",
        &configmap("a", json!({})),
    )
    .await
    .ok();
    // The same name in two namespaces is two objects.
    api.post(CM, &configmap("a", json!({}))).await.ok();
    // (kube-public/cluster-info is the apiserver's own.)
    let all = api.get("/api/v1/configmaps").await.ok();
    let named_a = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|cm| cm["metadata"]["name"] == "a")
        .count();
    assert_eq!(named_a, 2);
}

#[tokio::test]
async fn label_and_field_selectors_filter_lists() {
    let server = start();
    let api = Api::new(&server.url);
    for (name, app, tier) in [
        ("a", "web", "front"),
        ("b", "web", "back"),
        ("c", "db", "back"),
    ] {
        let mut cm = configmap(name, json!({}));
        cm["metadata"]["labels"] = json!({"app": app, "tier": tier});
        api.post(CM, &cm).await.ok();
    }
    let names = |v: serde_json::Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
            .collect()
    };
    let q = |s: &str| format!("{CM}?labelSelector={}", urlencode(s));
    assert_eq!(names(api.get(&q("app=web")).await.ok()), ["a", "b"]);
    assert_eq!(names(api.get(&q("app=web,tier!=front")).await.ok()), ["b"]);
    assert_eq!(names(api.get(&q("tier in (front,x)")).await.ok()), ["a"]);
    assert_eq!(names(api.get(&q("app notin (web)")).await.ok()), ["c"]);
    assert_eq!(names(api.get(&q("!missing")).await.ok()), ["a", "b", "c"]);
    assert_eq!(names(api.get(&q("tier")).await.ok()), ["a", "b", "c"]);
    let bad = api.get(&q("app in (")).await;
    assert_eq!(bad.code, 400, "{}", bad.body);

    let f = api
        .get(&format!("{CM}?fieldSelector=metadata.name%3Db"))
        .await
        .ok();
    assert_eq!(names(f), ["b"]);
    let f = api
        .get("/api/v1/configmaps?fieldSelector=metadata.namespace%3Ddefault,metadata.name!%3Da")
        .await
        .ok();
    assert_eq!(names(f), ["b", "c"]);
}

#[tokio::test]
async fn pods_select_by_node_and_phase() {
    let server = start();
    let api = Api::new(&server.url);
    let pods = "/api/v1/namespaces/default/pods";
    for (name, node) in [("p1", "n1"), ("p2", "n2"), ("p3", "")] {
        let mut p = pod(name);
        if !node.is_empty() {
            p["spec"]["nodeName"] = json!(node);
        }
        api.post(pods, &p).await.ok();
    }
    let names = |v: serde_json::Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(
            api.get(&format!("{pods}?fieldSelector=spec.nodeName%3Dn1"))
                .await
                .ok()
        ),
        ["p1"]
    );
    assert_eq!(
        names(
            api.get(&format!("{pods}?fieldSelector=spec.nodeName%3D"))
                .await
                .ok()
        ),
        ["p3"]
    );
    assert_eq!(
        names(
            api.get(&format!("{pods}?fieldSelector=status.phase%3DPending"))
                .await
                .ok()
        ),
        ["p1", "p2", "p3"]
    );
    assert_eq!(
        names(
            api.get(&format!("{pods}?fieldSelector=status.phase%3DRunning"))
                .await
                .ok()
        ),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn pagination_returns_every_object_once_from_one_snapshot() {
    let server = start();
    let api = Api::new(&server.url);
    for i in 0..23 {
        api.post(CM, &configmap(&format!("cm-{i:02}"), json!({})))
            .await
            .ok();
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut rvs = std::collections::BTreeSet::new();
    let mut pages = 0;
    loop {
        let path = if token.is_empty() {
            format!("{CM}?limit=5")
        } else {
            format!("{CM}?limit=5&continue={token}")
        };
        let page = api.get(&path).await.ok();
        pages += 1;
        rvs.insert(
            page["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        for i in page["items"].as_array().unwrap() {
            seen.push(i["metadata"]["name"].as_str().unwrap().to_string());
        }
        // Writes between pages must not show up in later pages.
        if pages == 1 {
            api.post(CM, &configmap("zz-late", json!({}))).await.ok();
        }
        match page["metadata"]["continue"].as_str() {
            Some(t) if !t.is_empty() => token = t.to_string(),
            _ => break,
        }
    }
    assert_eq!(pages, 5);
    assert_eq!(seen.len(), 23, "{seen:?}");
    assert!(!seen.contains(&"zz-late".to_string()));
    assert_eq!(rvs.len(), 1, "all pages from one snapshot");
    let bad = api.get(&format!("{CM}?limit=5&continue=garbage")).await;
    assert_eq!(bad.code, 400);
}

#[tokio::test]
async fn patches_merge_json_and_strategic() {
    let server = start();
    let api = Api::new(&server.url);
    let deploys = "/apis/apps/v1/namespaces/default/deployments";
    api.post(deploys, &deployment("web", 2)).await.ok();
    let path = format!("{deploys}/web");

    // Strategic merge: containers merge by name; the sidecar survives.
    let smp = json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.26"}]}}}});
    let r = api
        .patch(&path, "application/strategic-merge-patch+json", &smp)
        .await
        .ok();
    let containers = r["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(containers.len(), 2);
    assert_eq!(containers[0]["image"], "nginx:1.26");
    assert_eq!(containers[0]["env"][0]["name"], "A", "env kept");
    assert_eq!(
        r["metadata"]["generation"], 2,
        "spec change bumps generation"
    );

    // $patch: delete removes one env entry by key.
    let del = json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "env": [{"name": "A", "$patch": "delete"}]}]}}}});
    let r = api
        .patch(&path, "application/strategic-merge-patch+json", &del)
        .await
        .ok();
    assert!(r["spec"]["template"]["spec"]["containers"][0]
        .get("env")
        .is_none_or(|e| e.as_array().unwrap().is_empty()));

    // Merge patch: lists are replaced whole.
    let merge = json!({"metadata": {"labels": {"x": "y"}}, "spec": {"replicas": 5}});
    let r = api
        .patch(&path, "application/merge-patch+json", &merge)
        .await
        .ok();
    assert_eq!(r["spec"]["replicas"], 5);
    assert_eq!(r["metadata"]["labels"]["x"], "y");
    let gen = r["metadata"]["generation"].as_i64().unwrap();

    // Label-only change: no generation bump.
    let r = api
        .patch(
            &path,
            "application/merge-patch+json",
            &json!({"metadata": {"labels": {"z": "1"}}}),
        )
        .await
        .ok();
    assert_eq!(r["metadata"]["generation"].as_i64().unwrap(), gen);

    // JSON patch, with a failing test op → 4xx and nothing written.
    let jp = json!([{"op": "replace", "path": "/spec/replicas", "value": 3}]);
    let r = api
        .patch(&path, "application/json-patch+json", &jp)
        .await
        .ok();
    assert_eq!(r["spec"]["replicas"], 3);
    let failing = json!([{"op": "test", "path": "/spec/replicas", "value": 99}, {"op": "replace", "path": "/spec/replicas", "value": 7}]);
    let r = api
        .patch(&path, "application/json-patch+json", &failing)
        .await;
    assert!((400..500).contains(&r.code), "{}", r.body);
    assert_eq!(api.get(&path).await.ok()["spec"]["replicas"], 3);

    // A patch that produces an invalid object is rejected with the field.
    let r = api
        .patch(
            &path,
            "application/merge-patch+json",
            &json!({"spec": {"replicas": -1}}),
        )
        .await;
    assert_eq!((r.code, r.reason()), (422, "Invalid"));
    assert_eq!(r.body["details"]["causes"][0]["field"], "spec.replicas");

    // A patch pinning a stale resourceVersion conflicts.
    let r = api
        .patch(
            &path,
            "application/merge-patch+json",
            &json!({"metadata": {"resourceVersion": "1"}, "spec": {"replicas": 4}}),
        )
        .await;
    assert_eq!(r.code, 409);

    let r = api.patch(&path, "text/plain", &json!({})).await;
    assert_eq!(r.code, 415);
}

#[tokio::test]
async fn deletecollection_deletes_selected_objects() {
    let server = start();
    let api = Api::new(&server.url);
    for name in ["a", "b", "c"] {
        let mut cm = configmap(name, json!({}));
        cm["metadata"]["labels"] = json!({"del": if name == "c" { "no" } else { "yes" }});
        api.post(CM, &cm).await.ok();
    }
    api.delete(&format!("{CM}?labelSelector=del%3Dyes"))
        .await
        .ok();
    let left = api.get(CM).await.ok();
    let names: Vec<&str> = left["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["c"]);
}

#[tokio::test]
async fn finalizers_block_deletion_until_removed() {
    let server = start();
    let api = Api::new(&server.url);
    let mut cm = configmap("f", json!({}));
    cm["metadata"]["finalizers"] = json!(["example.com/hold"]);
    api.post(CM, &cm).await.ok();
    let r = api.delete(&format!("{CM}/f")).await;
    assert_eq!(r.code, 200, "{}", r.body);
    assert!(r.body["metadata"]["deletionTimestamp"].is_string());
    let held = api.get(&format!("{CM}/f")).await.ok();
    assert!(held["metadata"]["deletionTimestamp"].is_string());
    // Removing the finalizer completes the deletion.
    let r = api
        .patch(
            &format!("{CM}/f"),
            "application/merge-patch+json",
            &json!({"metadata": {"finalizers": null}}),
        )
        .await;
    assert_eq!(r.code, 200, "{}", r.body);
    assert_eq!(api.get(&format!("{CM}/f")).await.code, 404);
}

#[tokio::test]
async fn pod_deletion_is_graceful_once_scheduled() {
    let server = start();
    let api = Api::new(&server.url);
    let pods = "/api/v1/namespaces/default/pods";
    // Unscheduled: gone at once.
    api.post(pods, &pod("unbound")).await.ok();
    assert_eq!(api.delete(&format!("{pods}/unbound")).await.code, 200);
    assert_eq!(api.get(&format!("{pods}/unbound")).await.code, 404);

    let mut p = pod("bound");
    p["spec"]["nodeName"] = json!("node-1");
    api.post(pods, &p).await.ok();
    let r = api.delete(&format!("{pods}/bound")).await;
    assert_eq!(r.code, 200, "{}", r.body);
    let marked = api.get(&format!("{pods}/bound")).await.ok();
    assert!(marked["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(marked["metadata"]["deletionGracePeriodSeconds"], 30);
    // A shorter grace period shortens it; a longer one does not lengthen it.
    api.delete_with(&format!("{pods}/bound"), &json!({"gracePeriodSeconds": 10}))
        .await;
    assert_eq!(
        api.get(&format!("{pods}/bound")).await.ok()["metadata"]["deletionGracePeriodSeconds"],
        10
    );
    api.delete_with(&format!("{pods}/bound"), &json!({"gracePeriodSeconds": 20}))
        .await;
    assert_eq!(
        api.get(&format!("{pods}/bound")).await.ok()["metadata"]["deletionGracePeriodSeconds"],
        10
    );
    // The kubelet confirms with grace 0.
    assert_eq!(
        api.delete(&format!("{pods}/bound?gracePeriodSeconds=0"))
            .await
            .code,
        200
    );
    assert_eq!(api.get(&format!("{pods}/bound")).await.code, 404);
}

#[tokio::test]
async fn delete_preconditions_are_checked() {
    let server = start();
    let api = Api::new(&server.url);
    let created = api.post(CM, &configmap("p", json!({}))).await.ok();
    let r = api
        .delete_with(
            &format!("{CM}/p"),
            &json!({"preconditions": {"uid": "wrong"}}),
        )
        .await;
    assert_eq!(r.code, 409);
    let uid = created["metadata"]["uid"].clone();
    assert_eq!(
        api.delete_with(&format!("{CM}/p"), &json!({"preconditions": {"uid": uid}}))
            .await
            .code,
        200
    );
}

#[tokio::test]
async fn dry_run_writes_nothing() {
    let server = start();
    let api = Api::new(&server.url);
    let r = api
        .post(&format!("{CM}?dryRun=All"), &configmap("d", json!({})))
        .await;
    assert_eq!(r.code, 201);
    assert_eq!(r.body["metadata"]["name"], "d");
    assert_eq!(api.get(&format!("{CM}/d")).await.code, 404);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
