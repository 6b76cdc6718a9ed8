//! Server-side printing: GET, LIST and WATCH answer with `meta.k8s.io/v1`
//! Tables, with kubectl's columns, when the Accept header asks for them
//! the way kubectl does. Also the streaming list (`sendInitialEvents`)
//! that kubectl's `rollout status` and `wait` open.

mod common;

use common::*;
use serde_json::{json, Value};

/// The Accept header `kubectl get` sends.
const KUBECTL_ACCEPT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

const PODS: &str = "/api/v1/namespaces/default/pods";
const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/default/deployments";
const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";

/// GET `path` with an Accept header: status code and JSON body.
async fn get_as(server_url: &str, path: &str, accept: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(format!("{server_url}{path}"))
        .header("Accept", accept)
        .send()
        .await
        .expect("request reaches the apiserver");
    let code = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (code, body)
}

fn column_names(table: &Value) -> Vec<&str> {
    table["columnDefinitions"]
        .as_array()
        .expect("column definitions")
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn list_answers_a_table_with_kubectls_pod_columns() {
    let server = start();
    let api = Api::new(&server.url);
    api.post(PODS, &pod("web-1")).await.ok();
    api.post(PODS, &pod("web-2")).await.ok();

    let (code, table) = get_as(&server.url, PODS, KUBECTL_ACCEPT).await;
    assert_eq!(code, 200, "{table}");
    assert_eq!(table["kind"], "Table");
    assert_eq!(table["apiVersion"], "meta.k8s.io/v1");
    assert!(table["metadata"]["resourceVersion"].as_str().unwrap() != "");
    assert_eq!(
        column_names(&table),
        [
            "Name",
            "Ready",
            "Status",
            "Restarts",
            "Age",
            "IP",
            "Node",
            "Nominated Node",
            "Readiness Gates"
        ]
    );
    let priorities: Vec<i64> = table["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["priority"].as_i64().unwrap())
        .collect();
    assert_eq!(priorities, [0, 0, 0, 0, 0, 1, 1, 1, 1]);
    let rows = table["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let cells = &rows[0]["cells"];
    assert_eq!(cells[0], "web-1");
    assert_eq!(cells[1], "0/1");
    assert_eq!(cells[2], "Pending");
    assert_eq!(cells[3], "0");
    assert!(
        cells[4].as_str().unwrap().ends_with('s'),
        "age {}",
        cells[4]
    );
    assert_eq!(cells[6], "<none>");
    // The default includeObject=Metadata.
    assert_eq!(rows[0]["object"]["kind"], "PartialObjectMetadata");
    assert_eq!(rows[0]["object"]["metadata"]["name"], "web-1");
    assert!(rows[0]["object"].get("spec").is_none());
}

#[tokio::test]
async fn pages_carry_continue_and_plain_json_is_unchanged() {
    let server = start();
    let api = Api::new(&server.url);
    for name in ["a", "b", "c"] {
        api.post(CONFIGMAPS, &configmap(name, json!({"k": "v", "l": "w"})))
            .await
            .ok();
    }
    let (_, page) = get_as(
        &server.url,
        &format!("{CONFIGMAPS}?limit=2"),
        KUBECTL_ACCEPT,
    )
    .await;
    assert_eq!(column_names(&page), ["Name", "Data", "Age"]);
    assert_eq!(page["rows"].as_array().unwrap().len(), 2);
    assert_eq!(page["rows"][0]["cells"][1], 2, "DATA is an integer cell");
    let token = page["metadata"]["continue"].as_str().expect("continue");
    let (_, rest) = get_as(
        &server.url,
        &format!("{CONFIGMAPS}?limit=2&continue={token}"),
        KUBECTL_ACCEPT,
    )
    .await;
    assert_eq!(rest["rows"][0]["cells"][0], "c");

    let (code, plain) = get_as(&server.url, CONFIGMAPS, "application/json").await;
    assert_eq!((code, plain["kind"].as_str()), (200, Some("ConfigMapList")));
}

#[tokio::test]
async fn get_of_one_object_and_include_object() {
    let server = start();
    let api = Api::new(&server.url);
    let created = api.post(DEPLOYMENTS, &deployment("web", 3)).await.ok();
    let path = format!("{DEPLOYMENTS}/web");

    let (code, table) = get_as(&server.url, &path, KUBECTL_ACCEPT).await;
    assert_eq!(code, 200, "{table}");
    assert_eq!(
        column_names(&table),
        [
            "Name",
            "Ready",
            "Up-to-date",
            "Available",
            "Age",
            "Containers",
            "Images",
            "Selector"
        ]
    );
    assert_eq!(
        table["metadata"]["resourceVersion"],
        created["metadata"]["resourceVersion"]
    );
    let cells = &table["rows"][0]["cells"];
    assert_eq!(cells[0], "web");
    assert_eq!(cells[1], "0/3");
    assert_eq!(cells[2], 0);
    assert_eq!(cells[5], "web,sidecar");
    assert_eq!(cells[6], "nginx:1.25,busybox:1.36");
    assert_eq!(cells[7], "app=web");

    let (_, whole) = get_as(
        &server.url,
        &format!("{path}?includeObject=Object"),
        KUBECTL_ACCEPT,
    )
    .await;
    assert_eq!(whole["rows"][0]["object"]["kind"], "Deployment");
    assert_eq!(whole["rows"][0]["object"]["spec"]["replicas"], 3);
    let (_, none) = get_as(
        &server.url,
        &format!("{path}?includeObject=None"),
        KUBECTL_ACCEPT,
    )
    .await;
    assert!(none["rows"][0].get("object").is_none());
    let (code, bad) = get_as(
        &server.url,
        &format!("{path}?includeObject=All"),
        KUBECTL_ACCEPT,
    )
    .await;
    assert_eq!((code, bad["reason"].as_str()), (400, Some("BadRequest")));

    let (code, missing) = get_as(&server.url, &format!("{DEPLOYMENTS}/nope"), KUBECTL_ACCEPT).await;
    assert_eq!((code, missing["kind"].as_str()), (404, Some("Status")));
}

#[tokio::test]
async fn a_conversion_the_server_lacks_is_not_acceptable() {
    let server = start();
    let (code, status) = get_as(
        &server.url,
        PODS,
        "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io",
    )
    .await;
    assert_eq!(
        (code, status["reason"].as_str()),
        (406, Some("NotAcceptable"))
    );
    // The old Table version is served too.
    let (_, table) = get_as(
        &server.url,
        PODS,
        "application/json;as=Table;v=v1beta1;g=meta.k8s.io",
    )
    .await;
    assert_eq!(table["apiVersion"], "meta.k8s.io/v1beta1");
}

/// Reads newline-delimited watch events from a streaming response.
struct Events {
    response: reqwest::Response,
    buf: Vec<u8>,
}

impl Events {
    async fn open(url: &str) -> Events {
        Events::open_as(url, KUBECTL_ACCEPT).await
    }

    async fn open_as(url: &str, accept: &str) -> Events {
        let response = reqwest::Client::new()
            .get(url)
            .header("Accept", accept)
            .send()
            .await
            .expect("watch request");
        assert_eq!(response.status().as_u16(), 200);
        Events {
            response,
            buf: Vec::new(),
        }
    }

    async fn next(&mut self) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                return serde_json::from_slice(&line).expect("a JSON event");
            }
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Ok(Ok(Some(chunk))) => self.buf.extend_from_slice(&chunk),
                other => panic!("no watch event in time: {other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn watch_events_are_one_row_tables_with_headers_first() {
    let server = start();
    let api = Api::new(&server.url);
    api.post(CONFIGMAPS, &configmap("first", json!({"a": "1"})))
        .await
        .ok();

    // As `kubectl get -w`: no resourceVersion, so the current state first.
    let mut events = Events::open(&format!("{}{CONFIGMAPS}?watch=true", server.url)).await;
    let added = events.next().await;
    assert_eq!(added["type"], "ADDED");
    assert_eq!(added["object"]["kind"], "Table");
    assert_eq!(column_names(&added["object"]), ["Name", "Data", "Age"]);
    assert_eq!(added["object"]["rows"][0]["cells"][0], "first");
    assert_eq!(added["object"]["rows"][0]["cells"][1], 1);

    let mut second = configmap("second", json!({"a": "1", "b": "2"}));
    second["metadata"]["labels"] = json!({"app": "test"});
    api.post(CONFIGMAPS, &second).await.ok();
    let added = events.next().await;
    assert_eq!(added["type"], "ADDED");
    assert_eq!(added["object"]["columnDefinitions"], json!([]));
    assert_eq!(added["object"]["rows"].as_array().unwrap().len(), 1);
    assert_eq!(added["object"]["rows"][0]["cells"][0], "second");
    assert_eq!(added["object"]["rows"][0]["cells"][1], 2);
    assert!(added["object"]["metadata"]["resourceVersion"].is_string());

    api.delete(&format!("{CONFIGMAPS}/first")).await.ok();
    let deleted = events.next().await;
    assert_eq!(deleted["type"], "DELETED");
    assert_eq!(deleted["object"]["rows"][0]["cells"][0], "first");
    assert_eq!(
        deleted["object"]["rows"][0]["object"]["kind"],
        "PartialObjectMetadata"
    );
}

#[tokio::test]
async fn streaming_lists_end_their_initial_events_with_a_bookmark() {
    let server = start();
    let api = Api::new(&server.url);
    api.post(CONFIGMAPS, &configmap("a", json!({"k": "1"})))
        .await
        .ok();
    api.post(CONFIGMAPS, &configmap("b", json!({}))).await.ok();

    // What client-go's reflector sends for `kubectl rollout status`.
    let query = "watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&fieldSelector=metadata.name%3Da";
    let url = format!("{}{CONFIGMAPS}?{query}", server.url);
    let mut events = Events::open_as(&url, "application/json").await;
    let added = events.next().await;
    assert_eq!(added["type"], "ADDED");
    assert_eq!(added["object"]["metadata"]["name"], "a");
    let end = events.next().await;
    assert_eq!(end["type"], "BOOKMARK", "{end}");
    assert_eq!(
        end["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    assert_eq!(end["object"]["kind"], "ConfigMap");
    let end_rv: i64 = end["object"]["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(end_rv > 0);

    let mut changed = api.get(&format!("{CONFIGMAPS}/a")).await.ok();
    changed["data"]["k"] = json!("2");
    api.put(&format!("{CONFIGMAPS}/a"), &changed).await.ok();
    let modified = events.next().await;
    assert_eq!(modified["type"], "MODIFIED");
    assert_eq!(modified["object"]["data"]["k"], "2");

    // sendInitialEvents needs resourceVersionMatch=NotOlderThan.
    let (code, status) = get_as(
        &server.url,
        &format!("{CONFIGMAPS}?watch=true&sendInitialEvents=true&allowWatchBookmarks=true"),
        "application/json",
    )
    .await;
    assert_eq!((code, status["reason"].as_str()), (422, Some("Invalid")));
}
