//! Bad input: each a 4xx Status naming the problem, never a 500, nothing written.

mod common;

use common::*;
use reqwest::Method;
use serde_json::json;

const CM: &str = "/api/v1/namespaces/default/configmaps";
const DEPLOYS: &str = "/apis/apps/v1/namespaces/default/deployments";

async fn nothing_written(api: &Api) {
    let list = api.get(CM).await.ok();
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        0,
        "nothing half-written"
    );
}

#[tokio::test]
async fn malformed_bodies_are_400() {
    let server = start();
    let api = Api::new(&server.url);
    let r = api
        .raw(Method::POST, CM, "application/json", b"{not json".to_vec())
        .await;
    assert_eq!(
        (r.code, r.reason(), r.body["kind"].as_str()),
        (400, "BadRequest", Some("Status"))
    );
    assert!(r.message().contains("not valid JSON"), "{}", r.message());
    let r = api
        .raw(
            Method::POST,
            CM,
            "application/yaml",
            b"a: [unclosed".to_vec(),
        )
        .await;
    assert_eq!(r.code, 400);
    let r = api
        .raw(Method::POST, CM, "application/json", b"[1,2]".to_vec())
        .await;
    assert_eq!(r.code, 400);
    let r = api
        .raw(Method::POST, CM, "application/json", Vec::new())
        .await;
    assert_eq!(r.code, 400);
    let r = api
        .raw(Method::POST, CM, "application/json", vec![0xff, 0xfe, b'{'])
        .await;
    assert_eq!(r.code, 400);
    let r = api
        .raw(
            Method::POST,
            CM,
            "application/vnd.kubernetes.protobuf",
            b"x".to_vec(),
        )
        .await;
    assert_eq!(r.code, 415);
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let r = api
        .raw(Method::POST, CM, "application/json", deep.into_bytes())
        .await;
    assert_eq!(r.code, 400);
    nothing_written(&api).await;
}

#[tokio::test]
async fn yaml_bodies_are_accepted() {
    let server = start();
    let api = Api::new(&server.url);
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  a: b\n";
    let r = api
        .raw(
            Method::POST,
            CM,
            "application/yaml",
            yaml.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(r.code, 201, "{}", r.body);
    assert_eq!(r.body["data"]["a"], "b");
}

#[tokio::test]
async fn wrong_kind_or_version_or_name_is_400() {
    let server = start();
    let api = Api::new(&server.url);
    let mut wrong_kind = configmap("a", json!({}));
    wrong_kind["kind"] = json!("Secret");
    let r = api.post(CM, &wrong_kind).await;
    assert_eq!(r.code, 400);
    assert!(r.message().contains("kind"), "{}", r.message());
    let mut wrong_version = configmap("a", json!({}));
    wrong_version["apiVersion"] = json!("apps/v1");
    assert_eq!(api.post(CM, &wrong_version).await.code, 400);

    api.post(CM, &configmap("real", json!({}))).await.ok();
    let other = api
        .put(&format!("{CM}/real"), &configmap("different", json!({})))
        .await;
    assert_eq!(other.code, 400);
    assert!(
        other
            .message()
            .contains("does not match the name on the URL"),
        "{}",
        other.message()
    );

    let mut other_ns = configmap("x", json!({}));
    other_ns["metadata"]["namespace"] = json!("kube-system");
    assert_eq!(api.post(CM, &other_ns).await.code, 400);
}

#[tokio::test]
async fn unknown_fields_are_rejected_by_path() {
    let server = start();
    let api = Api::new(&server.url);
    let mut d = deployment("web", 1);
    d["spec"]["template"]["spec"]["containers"][0]["imagee"] = json!("typo");
    // Unknown fields are refused under fieldValidation=Strict (the default,
    // Warn, drops them with a warning: see field_validation.rs).
    let r = api
        .post(&format!("{DEPLOYS}?fieldValidation=Strict"), &d)
        .await;
    assert_eq!((r.code, r.reason()), (400, "BadRequest"));
    assert!(
        r.message()
            .contains("unknown field \"spec.template.spec.containers[0].imagee\""),
        "{}",
        r.message()
    );
    let mut d = deployment("web", 1);
    d["spec"]["replicas"] = json!("three");
    let r = api.post(DEPLOYS, &d).await;
    assert_eq!(r.code, 400);
    assert!(r.message().contains("spec.replicas"), "{}", r.message());
}

#[tokio::test]
async fn invalid_objects_are_422_with_field_causes() {
    let server = start();
    let api = Api::new(&server.url);
    let mut d = deployment("web", -1);
    d["spec"]["template"]["metadata"]["labels"] = json!({"app": "other"});
    let r = api.post(DEPLOYS, &d).await;
    assert_eq!((r.code, r.reason()), (422, "Invalid"));
    assert!(
        r.message()
            .starts_with("Deployment.apps \"web\" is invalid: "),
        "{}",
        r.message()
    );
    let fields: Vec<&str> = r.body["details"]["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"spec.replicas"), "{fields:?}");
    assert!(
        fields.contains(&"spec.template.metadata.labels"),
        "{fields:?}"
    );

    let r = api.post(CM, &configmap("Bad_Name", json!({}))).await;
    assert_eq!(r.code, 422);
    assert_eq!(r.body["details"]["causes"][0]["field"], "metadata.name");

    let mut p = pod("p");
    p["spec"]["containers"] = json!([{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]);
    let r = api.post("/api/v1/namespaces/default/pods", &p).await;
    assert_eq!(r.code, 422);
    assert_eq!(
        r.body["details"]["causes"][0]["field"],
        "spec.containers[1].name"
    );

    let mut p = pod("p");
    p["spec"]["containers"][0]["ports"] = json!([{"containerPort": 70000}]);
    let r = api.post("/api/v1/namespaces/default/pods", &p).await;
    assert_eq!(r.code, 422);
    assert_eq!(
        r.body["details"]["causes"][0]["field"],
        "spec.containers[0].ports[0].containerPort"
    );

    // Selector is immutable.
    api.post(DEPLOYS, &deployment("imm", 1)).await.ok();
    let mut cur = api.get(&format!("{DEPLOYS}/imm")).await.ok();
    cur["spec"]["selector"]["matchLabels"]["extra"] = json!("x");
    cur["spec"]["template"]["metadata"]["labels"]["extra"] = json!("x");
    let r = api.put(&format!("{DEPLOYS}/imm"), &cur).await;
    assert_eq!(r.code, 422, "{}", r.body);
    assert!(
        r.message().contains("field is immutable"),
        "{}",
        r.message()
    );
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let server = start();
    let api = Api::new(&server.url);
    let big = "x".repeat(4 * 1024 * 1024);
    let r = api.post(CM, &configmap("big", json!({"k": big}))).await;
    assert_eq!(
        (r.code, r.reason()),
        (413, "RequestEntityTooLarge"),
        "{}",
        r.body
    );
    nothing_written(&api).await;
}

#[tokio::test]
async fn unknown_paths_and_methods() {
    let server = start();
    let api = Api::new(&server.url);
    assert_eq!(api.get("/api/v1/widgets").await.code, 404);
    assert_eq!(api.get("/apis/nope/v1/things").await.code, 404);
    assert_eq!(
        api.get("/api/v1/namespaces/default/pods/x/nosuchsub")
            .await
            .code,
        404
    );
    // HTTP clients resolve dot segments themselves; send one raw.
    let port: u16 = server.url.rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(
        tug_tests::net::http_status(port, "/api/v1/namespaces/default/pods/.."),
        Some(400)
    );
    let r = api.post("/api/v1/pods", &pod("x")).await;
    assert_eq!(r.code, 405);
    let r = api.get(&format!("{CM}?limit=abc")).await;
    assert_eq!(r.code, 400);
}
