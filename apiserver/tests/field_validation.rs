//! `fieldValidation=Strict|Warn|Ignore` on create, update and every patch
//! type: unknown and duplicate fields named by path, refused (400),
//! warned about (`Warning: 299 - "…"`) or dropped silently.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};

const DEPLOYS: &str = "/apis/apps/v1/namespaces/default/deployments";
const JSON: &str = "application/json";
const UA: &str = "field-validation-test/1.0";

/// A Deployment body with one duplicate key (`spec.replicas`) and two
/// unknown fields (`spec.foo`, a typo in the container).
fn bad_deploy_json(name: &str) -> String {
    format!(
        r#"{{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {{"name": "{name}"}},
        "spec": {{"replicas": 1, "replicas": 2, "foo": "bar",
          "selector": {{"matchLabels": {{"app": "web"}}}},
          "template": {{"metadata": {{"labels": {{"app": "web"}}}},
            "spec": {{"containers": [{{"name": "web", "image": "nginx", "imagee": "typo"}}]}}}}}}}}"#
    )
}

const EXPECTED: [&str; 3] = [
    r#"duplicate field "spec.replicas""#,
    r#"unknown field "spec.foo""#,
    r#"unknown field "spec.template.spec.containers[0].imagee""#,
];

fn warning(text: &str) -> String {
    format!("299 - \"{}\"", text.replace('"', "\\\""))
}

#[tokio::test]
async fn create_strict_refuses_naming_every_field() {
    let server = start();
    let api = Api::new(&server.url);
    let r = api
        .request(
            Method::POST,
            &format!("{DEPLOYS}?fieldValidation=Strict"),
            JSON,
            &bad_deploy_json("strict"),
            UA,
        )
        .await;
    assert_eq!(
        (r.resp.code, r.resp.reason()),
        (400, "BadRequest"),
        "{:?}",
        r.resp
    );
    assert_eq!(
        r.resp.message(),
        format!(
            "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: {}",
            EXPECTED.join(", ")
        )
    );
    assert_eq!(api.get(&format!("{DEPLOYS}/strict")).await.code, 404);
}

#[tokio::test]
async fn create_warn_is_the_default_and_ignore_is_silent() {
    let server = start();
    let api = Api::new(&server.url);
    let want: Vec<String> = EXPECTED.iter().map(|e| warning(e)).collect();
    for (query, name, warned) in [
        ("?fieldValidation=Warn", "warn", true),
        ("", "default", true),
        ("?fieldValidation=Ignore", "ignore", false),
    ] {
        let r = api
            .request(
                Method::POST,
                &format!("{DEPLOYS}{query}"),
                JSON,
                &bad_deploy_json(name),
                UA,
            )
            .await;
        assert_eq!(r.resp.code, 201, "{query}: {:?}", r.resp);
        let expected = if warned { want.clone() } else { Vec::new() };
        assert_eq!(r.warnings, expected, "{query}");
        let stored = api.get(&format!("{DEPLOYS}/{name}")).await.ok();
        assert_eq!(stored["spec"]["replicas"], 2, "the last duplicate wins");
        assert!(stored["spec"].get("foo").is_none());
        assert!(stored["spec"]["template"]["spec"]["containers"][0]
            .get("imagee")
            .is_none());
    }
}

#[tokio::test]
async fn yaml_bodies_are_checked_too() {
    let server = start();
    let api = Api::new(&server.url);
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\n  name: y\ndata:\n  a: b\nbogus: 1\n";
    let r = api
        .request(
            Method::POST,
            "/api/v1/namespaces/default/configmaps?fieldValidation=Strict",
            "application/yaml",
            yaml,
            UA,
        )
        .await;
    assert_eq!(r.resp.code, 400);
    assert!(
        r.resp.message().ends_with(
            r#"strict decoding error: duplicate field "metadata.name", unknown field "bogus""#
        ),
        "{}",
        r.resp.message()
    );
}

#[tokio::test]
async fn update_and_every_patch_type_validate() {
    let server = start();
    let api = Api::new(&server.url);
    api.post(DEPLOYS, &deployment("web", 1)).await.ok();
    let path = format!("{DEPLOYS}/web");

    // PUT with an unknown field.
    let mut body = api.get(&path).await.ok();
    body["spec"]["paused"] = json!(true);
    body["spec"]["bogus"] = json!(1);
    let put = |q: &str| format!("{path}?fieldValidation={q}");
    let r = api
        .request(Method::PUT, &put("Strict"), JSON, &body.to_string(), UA)
        .await;
    assert_eq!(r.resp.code, 400, "{:?}", r.resp);
    assert!(r.resp.message().contains(r#"unknown field "spec.bogus""#));
    let r = api
        .request(Method::PUT, &put("Warn"), JSON, &body.to_string(), UA)
        .await;
    assert_eq!(r.resp.code, 200, "{:?}", r.resp);
    assert_eq!(r.warnings, vec![warning(r#"unknown field "spec.bogus""#)]);
    assert_eq!(r.resp.body["spec"]["paused"], true);

    // Each patch type, Strict then Warn.
    let cases: [(&str, String, &str); 3] = [
        (
            "application/merge-patch+json",
            r#"{"spec": {"minReadySeconds": 1, "minReadySeconds": 2, "nope": 1}}"#.into(),
            r#"duplicate field "spec.minReadySeconds", unknown field "spec.nope""#,
        ),
        (
            "application/strategic-merge-patch+json",
            r#"{"spec": {"template": {"spec": {"containers": [{"name": "web", "imagee": "x"}]}}}}"#
                .into(),
            r#"unknown field "spec.template.spec.containers[0].imagee""#,
        ),
        (
            "application/json-patch+json",
            r#"[{"op": "add", "path": "/spec/nope", "value": 1}]"#.into(),
            r#"unknown field "spec.nope""#,
        ),
    ];
    for (ct, doc, said) in &cases {
        let r = api
            .request(Method::PATCH, &put("Strict"), ct, doc, UA)
            .await;
        assert_eq!(r.resp.code, 400, "{ct}: {:?}", r.resp);
        assert!(
            r.resp
                .message()
                .ends_with(&format!("strict decoding error: {said}")),
            "{ct}: {}",
            r.resp.message()
        );
        let r = api.request(Method::PATCH, &put("Warn"), ct, doc, UA).await;
        assert_eq!(r.resp.code, 200, "{ct}: {:?}", r.resp);
        let want: Vec<String> = said.split(", ").map(warning).collect();
        assert_eq!(r.warnings, want, "{ct}");
    }
    let stored = api.get(&path).await.ok();
    assert_eq!(stored["spec"]["minReadySeconds"], 2);
    assert!(stored["spec"].get("nope").is_none());

    // Apply checks its configuration the same way.
    let apply = r#"{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 1, "nope": 1}}"#;
    let r = api
        .request(
            Method::PATCH,
            &format!("{path}?fieldManager=ssa&fieldValidation=Strict"),
            "application/apply-patch+yaml",
            apply,
            UA,
        )
        .await;
    assert_eq!(r.resp.code, 400, "{:?}", r.resp);
    assert!(r.resp.message().contains(r#"unknown field "spec.nope""#));
}

#[tokio::test]
async fn an_unknown_mode_is_refused() {
    let server = start();
    let api = Api::new(&server.url);
    let r = api
        .request(
            Method::POST,
            &format!("{DEPLOYS}?fieldValidation=Loose"),
            JSON,
            &deployment("x", 1).to_string(),
            UA,
        )
        .await;
    assert_eq!(r.resp.code, 400);
    assert!(
        r.resp.message().contains("fieldValidation"),
        "{}",
        r.resp.message()
    );
    let none: Value = api.get(DEPLOYS).await.ok();
    assert_eq!(none["items"].as_array().map(Vec::len), Some(0));
}
