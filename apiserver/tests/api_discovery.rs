//! Discovery documents and health endpoints.

mod common;

use common::*;

#[tokio::test]
async fn discovery_lists_every_served_resource() {
    let server = start();
    let api = Api::new(&server.url);
    let v = api.get("/version").await.ok();
    assert_eq!(v["major"], "1");
    assert!(v["gitVersion"].as_str().unwrap().starts_with("v1."));
    assert_eq!(api.get("/version/").await.code, 200);
    let core = api.get("/api").await.ok();
    assert_eq!(core["kind"], "APIVersions");
    assert_eq!(core["versions"][0], "v1");

    let groups = api.get("/apis").await.ok();
    let names: Vec<&str> = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "apps",
            "coordination.k8s.io",
            "certificates.k8s.io",
            "rbac.authorization.k8s.io",
            "authorization.k8s.io",
            "authentication.k8s.io"
        ]
    );
    assert_eq!(
        groups["groups"][0]["preferredVersion"]["groupVersion"],
        "apps/v1"
    );
    assert_eq!(api.get("/apis/apps").await.ok()["kind"], "APIGroup");

    let v1 = api.get("/api/v1").await.ok();
    assert_eq!(v1["kind"], "APIResourceList");
    assert_eq!(v1["groupVersion"], "v1");
    let find = |list: &serde_json::Value, name: &str| {
        list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    let pods = find(&v1, "pods");
    assert_eq!(pods["kind"], "Pod");
    assert_eq!(pods["namespaced"], true);
    assert_eq!(pods["shortNames"][0], "po");
    assert!(pods["verbs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v == "watch"));
    assert_eq!(
        find(&v1, "pods/status")["verbs"].as_array().unwrap().len(),
        3
    );
    assert_eq!(find(&v1, "pods/binding")["kind"], "Binding");
    assert_eq!(find(&v1, "nodes")["namespaced"], false);
    for (name, short) in [
        ("services", "svc"),
        ("endpoints", "ep"),
        ("nodes", "no"),
        ("namespaces", "ns"),
        ("configmaps", "cm"),
        ("events", "ev"),
    ] {
        assert_eq!(find(&v1, name)["shortNames"][0], short, "{name}");
    }
    for name in [
        "secrets",
        "namespaces/finalize",
        "namespaces/status",
        "nodes/status",
        "services/status",
    ] {
        find(&v1, name);
    }
    let apps = api.get("/apis/apps/v1").await.ok();
    assert_eq!(find(&apps, "deployments")["shortNames"][0], "deploy");
    assert_eq!(find(&apps, "replicasets")["shortNames"][0], "rs");
    assert_eq!(find(&apps, "deployments/scale")["kind"], "Scale");
    assert_eq!(find(&apps, "deployments/scale")["group"], "autoscaling");
    let coord = api.get("/apis/coordination.k8s.io/v1").await.ok();
    assert_eq!(find(&coord, "leases")["kind"], "Lease");
}

#[tokio::test]
async fn health_endpoints_answer_ok() {
    let server = start();
    let api = Api::new(&server.url);
    for path in ["/healthz", "/readyz", "/livez"] {
        assert_eq!(api.get(path).await.code, 200, "{path}");
    }
}
