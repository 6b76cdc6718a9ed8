//! The OpenAPI documents, as kubectl and client libraries fetch them.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use reqwest::header::{ACCEPT, CACHE_CONTROL, ETAG, IF_NONE_MATCH, LOCATION};
use reqwest::redirect::Policy;
use serde_json::Value;

/// Every served kind, by its upstream definition name and GVK.
const KINDS: &[(&str, &str, &str)] = &[
    ("io.k8s.api.core.v1.Namespace", "", "Namespace"),
    ("io.k8s.api.core.v1.Pod", "", "Pod"),
    ("io.k8s.api.core.v1.Node", "", "Node"),
    ("io.k8s.api.core.v1.Service", "", "Service"),
    ("io.k8s.api.core.v1.Endpoints", "", "Endpoints"),
    ("io.k8s.api.core.v1.Event", "", "Event"),
    ("io.k8s.api.core.v1.ConfigMap", "", "ConfigMap"),
    ("io.k8s.api.core.v1.Secret", "", "Secret"),
    ("io.k8s.api.apps.v1.Deployment", "apps", "Deployment"),
    ("io.k8s.api.apps.v1.ReplicaSet", "apps", "ReplicaSet"),
    (
        "io.k8s.api.coordination.v1.Lease",
        "coordination.k8s.io",
        "Lease",
    ),
];

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

async fn get_json(url: &str) -> Value {
    let r = client().get(url).send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    r.json().await.unwrap()
}

#[tokio::test]
async fn v2_describes_every_served_kind_with_its_gvk() {
    let server = start();
    let doc = get_json(&format!("{}/openapi/v2", server.url)).await;
    assert_eq!(doc["swagger"], "2.0");
    for (name, group, kind) in KINDS {
        let def = &doc["definitions"][*name];
        assert_eq!(
            def["x-kubernetes-group-version-kind"][0],
            serde_json::json!({"group": group, "kind": kind, "version": "v1"}),
            "{name}"
        );
        let list = &doc["definitions"][format!("{name}List")];
        assert_eq!(
            list["x-kubernetes-group-version-kind"][0]["kind"],
            format!("{kind}List")
        );
    }
    // kubectl's client libraries ask for protobuf first; without JSON in
    // the Accept header they get 406, not a document they cannot parse.
    let r = client()
        .get(format!("{}/openapi/v2", server.url))
        .header(
            ACCEPT,
            "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 406);
}

#[tokio::test]
async fn v3_index_urls_resolve_and_cache_by_hash() {
    let server = start();
    let index = get_json(&format!("{}/openapi/v3", server.url)).await;
    let paths = index["paths"].as_object().unwrap();
    let mut names: Vec<&str> = paths.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "api/v1",
            "apis/apps/v1",
            "apis/certificates.k8s.io/v1",
            "apis/coordination.k8s.io/v1",
            "apis/rbac.authorization.k8s.io/v1"
        ]
    );
    let mut seen = Vec::new();
    for (gv, entry) in paths {
        let url = entry["serverRelativeURL"].as_str().unwrap();
        assert!(url.starts_with(&format!("/openapi/v3/{gv}?hash=")), "{url}");
        let r = client()
            .get(format!("{}{url}", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{url}");
        assert_eq!(r.headers()[CACHE_CONTROL], "public, immutable");
        let etag = r.headers()[ETAG].to_str().unwrap().to_string();
        assert_eq!(etag, format!("\"{}\"", url.split("hash=").nth(1).unwrap()));
        let doc: Value = r.json().await.unwrap();
        assert_eq!(doc["openapi"], "3.0.0");
        for (path, item) in doc["paths"].as_object().unwrap() {
            if let Some(patch) = item.get("patch") {
                let has = patch["parameters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["name"] == "fieldValidation");
                assert!(has, "{path} PATCH lacks fieldValidation");
            }
        }
        for (name, _, _) in KINDS {
            if doc["components"]["schemas"].get(*name).is_some() {
                seen.push(*name);
            }
        }
        // The client's copy is current: 304.
        let r = client()
            .get(format!("{}/openapi/v3/{gv}", server.url))
            .header(IF_NONE_MATCH, &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 304);
        // A stale hash is redirected to the current one.
        let r = client()
            .get(format!("{}/openapi/v3/{gv}?hash=0123", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 301);
        assert_eq!(r.headers()[LOCATION], url);
    }
    seen.sort();
    seen.dedup();
    assert_eq!(
        seen.len(),
        KINDS.len(),
        "kinds in the v3 documents: {seen:?}"
    );
    let r = client()
        .get(format!("{}/openapi/v3/apis/nope/v1", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

/// A kubeconfig for `server` in a fresh HOME (so kubectl's discovery and
/// OpenAPI caches start empty).
fn kubectl(server_url: &str, home: &Path, args: &[&str]) -> std::process::Output {
    let config = home.join("kubeconfig");
    std::fs::write(
        &config,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: t\n  cluster: {{server: \"{server_url}\"}}\n\
             contexts:\n- name: t\n  context: {{cluster: t, user: u}}\ncurrent-context: t\n\
             users:\n- name: u\n  user: {{}}\n"
        ),
    )
    .unwrap();
    let kubectl = tug_tests::kubectl::find_kubectl().expect("checked by the caller");
    Command::new(kubectl)
        .args(args)
        .env("KUBECONFIG", &config)
        .env("HOME", home)
        .output()
        .expect("kubectl runs")
}

#[tokio::test]
async fn kubectl_explains_and_validates_on_the_server() {
    if tug_tests::kubectl::kubectl_or_skip("kubectl_explains_and_validates_on_the_server").is_none()
    {
        return;
    }
    let server = start();
    let home = tempfile::tempdir().unwrap();
    let url = server.url.clone();
    let home_path = home.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        kubectl(&url, &home_path, &["explain", "deployment.spec.replicas"])
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("KIND:       Deployment"), "{stdout}");
    assert!(stdout.contains("FIELD: replicas <integer>"), "{stdout}");

    // Default validation: kubectl finds `fieldValidation` on the PATCH in
    // the v3 document and lets the server validate (`Strict`), without
    // falling back to the protobuf-only v2 endpoint.
    let manifest = home.path().join("cm.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: oa-cm\n  namespace: default\ndata:\n  a: b\n",
    )
    .unwrap();
    let url = server.url.clone();
    let home_path = home.path().to_path_buf();
    let manifest_arg = manifest.to_string_lossy().to_string();
    let out = tokio::task::spawn_blocking(move || {
        kubectl(&url, &home_path, &["apply", "-f", &manifest_arg, "-v=6"])
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("configmap/oa-cm created"));
    assert!(stderr.contains("fieldValidation=Strict"), "{stderr}");
    assert!(!stderr.contains("/openapi/v2"), "{stderr}");
}
