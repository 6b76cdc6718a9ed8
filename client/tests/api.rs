//! `Api<K>`, `DynamicApi` and discovery against a real apiserver.

mod common;

use std::time::Duration;

use common::{client, obj, start};
use futures::StreamExt;
use serde_json::{json, Value};
use tug_api::apps::Deployment;
use tug_api::autoscaling::Scale;
use tug_api::core::{ConfigMap, Namespace, Node, Pod};
use tug_client::{
    Api, Client, Config, DeleteParams, Deleted, Discovery, DynamicApi, Error, ListParams, Patch,
    PostParams, WatchEvent,
};

fn configmap(name: &str, value: &str) -> ConfigMap {
    obj(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"app": "test"}},
        "data": {"key": value},
    }))
}

fn pod(name: &str) -> Pod {
    obj(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]},
    }))
}

fn deployment(name: &str, replicas: i32) -> Deployment {
    obj(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}
            }
        }
    }))
}

fn api_status(e: &Error) -> &tug_api::Status {
    e.status()
        .unwrap_or_else(|| panic!("expected a server Status, got {e}"))
}

#[tokio::test]
async fn typed_crud_and_errors() {
    let server = start();
    let cms: Api<ConfigMap> = Api::namespaced(client(&server), "default");
    let pp = PostParams::default();

    let created = cms.create(&pp, &configmap("a", "1")).await.unwrap();
    assert_eq!(created.metadata.namespace, "default");
    assert!(!created.metadata.resource_version.is_empty());
    assert!(!created.metadata.uid.is_empty());

    // Create of an existing name: 409 AlreadyExists.
    let e = cms.create(&pp, &configmap("a", "2")).await.unwrap_err();
    assert!(e.is_already_exists(), "{e:?}");
    assert_eq!(api_status(&e).code, 409);

    // Get and replace with the current resourceVersion.
    let mut got = cms.get("a").await.unwrap();
    assert_eq!(got.data["key"], "1");
    got.data.insert("key".into(), "2".into());
    let replaced = cms.replace("a", &pp, &got).await.unwrap();
    assert_eq!(replaced.data["key"], "2");
    assert_ne!(
        replaced.metadata.resource_version,
        created.metadata.resource_version
    );

    // Replace with a stale resourceVersion: 409 Conflict.
    let mut stale = got.clone();
    stale.data.insert("key".into(), "3".into());
    let e = cms.replace("a", &pp, &stale).await.unwrap_err();
    assert!(e.is_conflict(), "{e:?}");
    assert_eq!(api_status(&e).reason, "Conflict");
    assert!(
        e.to_string().contains("the object has been modified"),
        "{e}"
    );

    // Dry run stores nothing.
    cms.create(&PostParams::dry_run(), &configmap("dry", "x"))
        .await
        .unwrap();
    assert!(cms.get_opt("dry").await.unwrap().is_none());

    // Patches of all three kinds.
    let p = cms
        .patch("a", &pp, &Patch::Merge(json!({"data": {"m": "merge"}})))
        .await
        .unwrap();
    assert_eq!(p.data["m"], "merge");
    let p = cms
        .patch(
            "a",
            &pp,
            &Patch::Json(json!([{"op": "add", "path": "/data/j", "value": "json"}])),
        )
        .await
        .unwrap();
    assert_eq!(p.data["j"], "json");
    let p = cms
        .patch(
            "a",
            &pp,
            &Patch::Strategic(json!({"metadata": {"labels": {"s": "x"}}})),
        )
        .await
        .unwrap();
    assert_eq!(p.metadata.labels["s"], "x");
    assert_eq!(p.data.len(), 3);

    // List with a label selector, then paged.
    cms.create(&pp, &configmap("b", "1")).await.unwrap();
    let mut other = configmap("c", "1");
    other.metadata.labels.clear();
    cms.create(&pp, &other).await.unwrap();
    let listed = cms
        .list(&ListParams::default().labels("app=test"))
        .await
        .unwrap();
    let names: Vec<_> = listed
        .items
        .iter()
        .map(|c| c.metadata.name.as_str())
        .collect();
    assert_eq!(names, vec!["a", "b"]);
    assert!(!listed.metadata.resource_version.is_empty());
    let page1 = cms.list(&ListParams::default().limit(2)).await.unwrap();
    assert_eq!(page1.items.len(), 2);
    assert!(!page1.metadata.continue_.is_empty());
    let page2 = cms
        .list(
            &ListParams::default()
                .limit(2)
                .continue_token(&page1.metadata.continue_),
        )
        .await
        .unwrap();
    assert!(
        page2.items.iter().any(|c| c.metadata.name == "c"),
        "{page2:?}"
    );

    // Delete returns the object; then 404 NotFound with the server's message.
    match cms.delete("a", &DeleteParams::default()).await.unwrap() {
        Deleted::Object(cm) => assert_eq!(cm.metadata.name, "a"),
        Deleted::Status(s) => panic!("expected the object, got {s:?}"),
    }
    let e = cms.get("a").await.unwrap_err();
    assert!(e.is_not_found(), "{e:?}");
    assert_eq!(api_status(&e).reason, "NotFound");
    assert_eq!(e.to_string(), "configmaps \"a\" not found");
    let e = cms.delete("a", &DeleteParams::default()).await.unwrap_err();
    assert!(e.is_not_found());

    // Delete with a stale precondition: 409.
    let b = cms.get("b").await.unwrap();
    let e = cms
        .delete("b", &DeleteParams::at_resource_version("1"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(409), "{e:?}");
    cms.delete(
        "b",
        &DeleteParams::at_resource_version(&b.metadata.resource_version),
    )
    .await
    .unwrap();

    // delete_collection by label.
    cms.create(&pp, &configmap("d", "1")).await.unwrap();
    let gone = cms
        .delete_collection(
            &DeleteParams::default(),
            &ListParams::default().labels("app=test"),
        )
        .await
        .unwrap();
    let gone = gone.object().expect("a list of the deleted objects");
    assert_eq!(gone.items.len(), 1);
    let left = cms.list(&ListParams::default()).await.unwrap();
    assert_eq!(left.items.len(), 1);
    assert_eq!(left.items[0].metadata.name, "c");
}

#[tokio::test]
async fn invalid_object_carries_field_causes() {
    let server = start();
    let deploys: Api<Deployment> = Api::namespaced(client(&server), "default");
    let e = deploys
        .create(&PostParams::default(), &deployment("bad", -1))
        .await
        .unwrap_err();
    assert!(e.is_invalid(), "{e:?}");
    let status = api_status(&e);
    assert_eq!(status.reason, "Invalid");
    let causes = &status.details.as_ref().expect("details").causes;
    assert!(
        causes.iter().any(|c| c.field == "spec.replicas"),
        "{causes:?}"
    );
    assert!(e.to_string().contains("spec.replicas"), "{e}");
}

#[tokio::test]
async fn status_scale_and_binding_subresources() {
    let server = start();
    let c = client(&server);
    let pods: Api<Pod> = Api::namespaced(c.clone(), "default");
    let pp = PostParams::default();

    pods.create(&pp, &pod("p")).await.unwrap();
    let mut p = pods.get_status("p").await.unwrap();
    p.status.phase = "Running".into();
    p.spec.containers[0].image = "ignored:by-status".into();
    let written = pods.replace_status("p", &pp, &p).await.unwrap();
    assert_eq!(written.status.phase, "Running");
    assert_eq!(
        written.spec.containers[0].image, "busybox:1.36",
        "a status write leaves the spec alone"
    );
    let patched = pods
        .patch_status(
            "p",
            &pp,
            &Patch::Merge(json!({"status": {"message": "hello"}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.status.message, "hello");

    // Binding sets spec.nodeName once; a second binding is a conflict.
    pods.create_binding("p", "node-1").await.unwrap();
    assert_eq!(pods.get("p").await.unwrap().spec.node_name, "node-1");
    let e = pods.create_binding("p", "node-2").await.unwrap_err();
    assert_eq!(e.code(), Some(409), "{e:?}");

    // Scale of a deployment.
    let deploys: Api<Deployment> = Api::namespaced(c, "default");
    deploys.create(&pp, &deployment("web", 2)).await.unwrap();
    let scale = deploys.get_scale("web").await.unwrap();
    assert_eq!(scale.spec.replicas, 2);
    assert_eq!(scale.status.selector, "app=web");
    let mut s: Scale = scale.clone();
    s.spec.replicas = 5;
    let s = deploys.replace_scale("web", &pp, &s).await.unwrap();
    assert_eq!(s.spec.replicas, 5);
    assert_eq!(deploys.get("web").await.unwrap().spec.replicas, Some(5));
    let s = deploys
        .patch_scale("web", &pp, &Patch::Merge(json!({"spec": {"replicas": 1}})))
        .await
        .unwrap();
    assert_eq!(s.spec.replicas, 1);
    assert_eq!(deploys.get("web").await.unwrap().spec.replicas, Some(1));
    let e = deploys.get_scale("missing").await.unwrap_err();
    assert!(e.is_not_found(), "{e:?}");
}

#[tokio::test]
async fn cluster_scoped_kinds() {
    let server = start();
    let c = client(&server);
    let nodes: Api<Node> = Api::all(c.clone());
    nodes
        .create(
            &PostParams::default(),
            &obj(json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})),
        )
        .await
        .unwrap();
    // A namespace on a cluster-scoped kind is ignored, as kubectl ignores -n.
    let via_ns: Api<Node> = Api::namespaced(c.clone(), "whatever");
    assert_eq!(via_ns.get("n1").await.unwrap().metadata.name, "n1");
    let namespaces: Api<Namespace> = Api::all(c);
    let list = namespaces.list(&ListParams::default()).await.unwrap();
    assert!(list.items.iter().any(|n| n.metadata.name == "default"));
}

#[tokio::test]
async fn watch_streams_changes_from_a_list() {
    let server = start();
    let cms: Api<ConfigMap> = Api::namespaced(client(&server), "default");
    let pp = PostParams::default();
    cms.create(&pp, &configmap("before", "0")).await.unwrap();
    let list = cms.list(&ListParams::default()).await.unwrap();
    let mut events = cms
        .watch(&ListParams::default(), &list.metadata.resource_version)
        .await
        .unwrap();
    cms.create(&pp, &configmap("w", "1")).await.unwrap();
    cms.patch("w", &pp, &Patch::Merge(json!({"data": {"key": "2"}})))
        .await
        .unwrap();
    cms.delete("w", &DeleteParams::default()).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let ev = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("an event within 10 s")
            .expect("the stream stays open")
            .expect("no error");
        match ev {
            WatchEvent::Bookmark(_) => continue,
            WatchEvent::Added(cm) | WatchEvent::Modified(cm) | WatchEvent::Deleted(cm)
                if cm.metadata.name == "before" =>
            {
                panic!("an object from before the list's resourceVersion was sent")
            }
            other => seen.push((
                other.type_name(),
                other.object().unwrap().data["key"].clone(),
            )),
        }
    }
    assert_eq!(
        seen,
        vec![
            ("ADDED", "1".to_string()),
            ("MODIFIED", "2".to_string()),
            ("DELETED", "2".to_string())
        ]
    );

    // A label-selected watch without a resourceVersion starts with the
    // current state as ADDED events.
    let mut events = cms
        .watch(&ListParams::default().labels("app=test"), "")
        .await
        .unwrap();
    match events.next().await {
        Some(Ok(WatchEvent::Added(cm))) => assert_eq!(cm.metadata.name, "before"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn discovery_and_dynamic_api() {
    let server = start();
    let c = client(&server);
    let discovery = Discovery::run(&c).await.unwrap();
    let deploy = discovery.resolve("deploy").unwrap();
    assert_eq!(deploy.resource.plural, "deployments");
    assert_eq!(deploy.resource.group, "apps");
    assert!(deploy.subresources.contains(&"scale".to_string()));
    for (name, plural) in [
        ("po", "pods"),
        ("deployments.apps", "deployments"),
        ("no", "nodes"),
        ("svc", "services"),
        ("leases", "leases"),
        ("cm", "configmaps"),
        ("ns", "namespaces"),
        ("ep", "endpoints"),
        ("rs", "replicasets"),
    ] {
        assert_eq!(
            discovery.resolve(name).unwrap().resource.plural,
            plural,
            "{name}"
        );
    }
    assert!(matches!(
        discovery.resolve("frobnicators"),
        Err(Error::UnknownResource(_))
    ));
    let lease = discovery
        .resolve_kind("coordination.k8s.io/v1", "Lease")
        .unwrap();
    assert!(lease.resource.namespaced);

    let dynamic = DynamicApi::namespaced_with(c.clone(), "default", &deploy.resource);
    let created: Value = dynamic
        .create(
            &PostParams::default(),
            &serde_json::to_value(deployment("dyn", 3)).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(created["spec"]["replicas"], 3);
    let got = dynamic.get("dyn").await.unwrap();
    assert_eq!(got["metadata"]["name"], "dyn");
    let list = dynamic.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    let scale = dynamic.get_scale("dyn").await.unwrap();
    assert_eq!(scale.spec.replicas, 3);
    // The typed and the dynamic view agree.
    let typed: Api<Deployment> = Api::namespaced(c, "default");
    assert_eq!(typed.get("dyn").await.unwrap().spec.replicas, Some(3));
    dynamic
        .delete("dyn", &DeleteParams::background())
        .await
        .unwrap();
    assert!(dynamic.get_opt("dyn").await.unwrap().is_none());
}

#[tokio::test]
async fn connection_refused_names_the_server() {
    let port = tug_tests::net::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let c = Client::new(Config::new(&url).unwrap()).unwrap();
    let pods: Api<Pod> = Api::namespaced(c, "default");
    let e = pods.list(&ListParams::default()).await.unwrap_err();
    assert!(matches!(e, Error::Connect { .. }), "{e:?}");
    let text = e.to_string();
    assert!(text.contains(&url), "{text}");
    assert!(text.contains("tugctl cluster up"), "{text}");
    assert!(
        text.contains("tug-apiserver --insecure-port 8080"),
        "{text}"
    );
    assert!(text.to_lowercase().contains("refused"), "{text}");
}
