//! `pods/{name}/log` against a real apiserver process: the apiserver finds
//! the pod's node, asks that node's kubelet (here a small HTTPS server of
//! the test on 127.0.0.1 that requires a client certificate of the
//! cluster CA, as kubelets do, serving `/containerLogs/...` and streaming the
//! lines the test writes, as they are written) and streams its answer
//! back — through `Api::<Pod>::logs`/`log_stream` and `tugctl logs`.
//! Plus the errors: no container named where several exist, an unknown
//! container, an unscheduled pod, and a kubelet's own error passed on.
//!
//! Needs the built `tugctl`: `cargo build -p tug-ctl`.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::StreamExt;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tug_api::core::{Node, Pod};
use tug_client::{Api, Client, Config, LogParams, Patch, PatchParams, PostParams};
use tug_tests::bins::workspace_binary;
use tug_tests::net::eventually;

const WAIT: Duration = Duration::from_secs(20);

/// The test's kubelet: what it was asked, and the follow stream the test
/// feeds.
#[derive(Default)]
struct Kubelet {
    /// Every request: path and query.
    requests: Mutex<Vec<(String, BTreeMap<String, String>)>>,
    /// The sender of the open follow stream.
    follow: Mutex<Option<mpsc::Sender<Result<bytes::Bytes, std::io::Error>>>>,
}

async fn container_logs(
    State(k): State<Arc<Kubelet>>,
    Path((ns, pod, container)): Path<(String, String, String)>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    k.requests
        .lock()
        .unwrap()
        .push((format!("{ns}/{pod}/{container}"), query.clone()));
    if query.get("previous").map(String::as_str) == Some("true") {
        let status = json!({
            "kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 400,
            "reason": "BadRequest",
            "message": format!("previous terminated container \"{container}\" in pod \"{pod}\" not found"),
        });
        return (
            http::StatusCode::BAD_REQUEST,
            [(http::header::CONTENT_TYPE, "application/json")],
            status.to_string(),
        )
            .into_response();
    }
    if query.get("follow").map(String::as_str) == Some("true") {
        let (tx, rx) = mpsc::channel(8);
        *k.follow.lock().unwrap() = Some(tx);
        return Body::from_stream(ReceiverStream::new(rx)).into_response();
    }
    format!("line 1 of {ns}/{pod}/{container}\nline 2 of {ns}/{pod}/{container}\n").into_response()
}

/// Serve the test kubelet over HTTPS on a free loopback port, admitting
/// only clients with a certificate of `client_ca_pem`.
async fn start_kubelet(client_ca_pem: &str) -> (Arc<Kubelet>, u16, tokio::task::JoinHandle<()>) {
    let k = Arc::new(Kubelet::default());
    let app = Router::new()
        .route("/containerLogs/{ns}/{pod}/{container}", get(container_logs))
        .with_state(k.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let serving = tug_api::pki::self_signed_serving(
        "kubelet",
        &[],
        &["127.0.0.1".parse().unwrap()],
        Duration::from_secs(3600),
    )
    .unwrap();
    let tls = tug_api::pki::server_tls_config(
        &serving.cert_pem,
        &serving.key_pem,
        Some(client_ca_pem),
        tug_api::pki::ClientAuth::Required,
    )
    .unwrap();
    let task = tokio::spawn(async move {
        tug_apiserver::tls::serve(
            listener,
            Some(Arc::new(tls)),
            app,
            tug_apiserver::tls::ServeLimits::default(),
            std::future::pending(),
        )
        .await
        .unwrap();
    });
    (k, port, task)
}

fn pod(name: &str, node: &str, containers: &[&str]) -> Pod {
    let containers: Vec<_> = containers
        .iter()
        .map(|c| json!({"name": c, "image": "busybox"}))
        .collect();
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"nodeName": node, "containers": containers}
    }))
    .unwrap()
}

async fn register_node(client: &Client, name: &str, port: u16) {
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    nodes.create(&PostParams::default(), &node).await.unwrap();
    let status = json!({"status": {
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}
    }});
    nodes
        .patch_status(name, &PatchParams::default(), &Patch::Merge(status))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_logs_come_from_the_nodes_kubelet_and_stream() {
    let server = common::start();
    let client = Client::new(Config::new(&server.url).unwrap()).unwrap();
    let (kubelet, port, kubelet_task) = start_kubelet(&server.ca_pem().unwrap()).await;
    register_node(&client, "node-a", port).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for p in [
        pod("one", "node-a", &["app"]),
        pod("two", "node-a", &["a", "b"]),
        pod("waiting", "", &["app"]),
    ] {
        pods.create(&PostParams::default(), &p).await.unwrap();
    }

    // The only container is the default; the options reach the kubelet.
    let text = pods
        .logs(
            "one",
            &LogParams {
                tail_lines: Some(5),
                timestamps: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        text,
        "line 1 of default/one/app\nline 2 of default/one/app\n"
    );
    {
        let requests = kubelet.requests.lock().unwrap();
        let (path, query) = requests.last().unwrap();
        assert_eq!(path, "default/one/app");
        assert_eq!(query.get("tailLines").map(String::as_str), Some("5"));
        assert_eq!(query.get("timestamps").map(String::as_str), Some("true"));
        assert!(
            !query.contains_key("container"),
            "the container is in the path"
        );
    }
    let named = LogParams {
        container: Some("b".into()),
        ..Default::default()
    };
    assert_eq!(
        pods.logs("two", &named).await.unwrap(),
        "line 1 of default/two/b\nline 2 of default/two/b\n"
    );

    // Errors, worded as upstream.
    let e = pods.logs("two", &LogParams::default()).await.unwrap_err();
    assert_eq!(e.code(), Some(400));
    assert_eq!(
        e.status().unwrap().message,
        "a container name must be specified for pod two, choose one of: [a b]"
    );
    let wrong = LogParams {
        container: Some("c".into()),
        ..Default::default()
    };
    let e = pods.logs("two", &wrong).await.unwrap_err();
    assert_eq!(
        (e.code(), e.status().unwrap().message.as_str()),
        (Some(400), "container c is not valid for pod two")
    );
    let e = pods
        .logs("waiting", &LogParams::default())
        .await
        .unwrap_err();
    assert_eq!(
        (e.code(), e.status().unwrap().message.as_str()),
        (Some(400), "pod waiting does not have a host assigned")
    );
    let e = pods.logs("gone", &LogParams::default()).await.unwrap_err();
    assert!(e.is_not_found());
    let previous = LogParams {
        previous: true,
        ..Default::default()
    };
    let e = pods.logs("one", &previous).await.unwrap_err();
    assert_eq!(
        (e.code(), e.status().unwrap().message.as_str()),
        (
            Some(400),
            "previous terminated container \"app\" in pod \"one\" not found"
        )
    );

    // Follow: each line arrives as the kubelet writes it.
    let follow = LogParams {
        follow: true,
        ..Default::default()
    };
    let mut stream = pods.log_stream("one", &follow).await.unwrap();
    let tx = {
        let k = kubelet.clone();
        assert!(
            eventually(WAIT, || {
                let k = k.clone();
                async move { k.follow.lock().unwrap().is_some() }
            })
            .await,
            "the kubelet was asked to follow"
        );
        let tx = kubelet.follow.lock().unwrap().take().unwrap();
        tx
    };
    for i in 1..=3 {
        let line = format!("live {i}\n");
        tx.send(Ok(line.clone().into())).await.unwrap();
        let mut got = Vec::new();
        while got.len() < line.len() {
            let chunk = tokio::time::timeout(WAIT, stream.next())
                .await
                .expect("the line arrives while the stream stays open")
                .expect("the stream is open")
                .unwrap();
            got.extend_from_slice(&chunk);
        }
        assert_eq!(String::from_utf8(got).unwrap(), line);
    }
    // The client hangs up: the apiserver hangs up on the kubelet.
    drop(stream);
    assert!(
        tokio::time::timeout(WAIT, tx.closed()).await.is_ok(),
        "closing the client closes the kubelet's stream"
    );

    // `tugctl logs` prints the lines.
    let home = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(workspace_binary("tugctl"))
        .env("HOME", home.path())
        .env("KUBECONFIG", home.path().join("no-kubeconfig"))
        .env_remove("RUST_LOG")
        .args(["-s", &server.url, "logs", "two", "-c", "a", "--tail", "2"])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "tugctl logs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "line 1 of default/two/a\nline 2 of default/two/a\n"
    );
    let requests = kubelet.requests.lock().unwrap();
    assert_eq!(
        requests
            .last()
            .unwrap()
            .1
            .get("tailLines")
            .map(String::as_str),
        Some("2")
    );
    drop(requests);
    kubelet_task.abort();
}
