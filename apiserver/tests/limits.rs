//! Request limits over HTTP against a real `tug-apiserver`: the request
//! timeout (504), the in-flight pools (429 + Retry-After), per-user token
//! buckets and per-user watch counts.
//!
//! Requests are held in flight deterministically by sending their body in
//! pieces: the server reads a request's whole body before serving it, so
//! it keeps the request (and its slot) until the test sends the rest.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::channel::mpsc;
use futures::SinkExt;
use serde_json::{json, Value};

/// A request whose body is still being sent.
struct Held {
    body: mpsc::Sender<Result<Bytes, std::io::Error>>,
    response: tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>,
}

impl Held {
    /// Send `method url` with `first` as the start of its body, and hold.
    async fn start(req: reqwest::RequestBuilder, first: &str) -> Held {
        let (mut body, rx) = mpsc::channel(4);
        body.send(Ok(Bytes::from(first.to_string())))
            .await
            .expect("queue the first piece");
        let req = req
            .header("Content-Type", "application/json")
            .body(reqwest::Body::wrap_stream(rx));
        Held {
            body,
            response: tokio::spawn(req.send()),
        }
    }

    /// Send the rest of the body and read the answer.
    async fn finish(mut self, rest: &str) -> (u16, Value) {
        self.body
            .send(Ok(Bytes::from(rest.to_string())))
            .await
            .expect("send the rest");
        drop(self.body);
        answer(self.response).await
    }

    /// The answer the server gave without waiting for the rest of the body.
    async fn answer_early(self) -> (u16, Value) {
        let r = answer(self.response).await;
        drop(self.body);
        r
    }
}

async fn answer(
    handle: tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>,
) -> (u16, Value) {
    let r = handle
        .await
        .expect("request task")
        .expect("the apiserver answers");
    let code = r.status().as_u16();
    let body = r.json().await.unwrap_or(Value::Null);
    (code, body)
}

fn configmap_json(name: &str) -> String {
    common::configmap(name, json!({"k": "v"})).to_string()
}

#[tokio::test]
async fn a_request_past_the_timeout_gets_504_and_writes_nothing() {
    let server = common::start_with(&["--request-timeout", "1s"]);
    let api = common::Api::new(&server.url);
    let http = reqwest::Client::new();
    let body = configmap_json("slow");
    let head = &body[..body.len() / 2];
    let started = Instant::now();
    let held = Held::start(
        http.post(format!(
            "{}/api/v1/namespaces/default/configmaps",
            server.url
        )),
        head,
    )
    .await;
    let (code, status) = held.answer_early().await;
    assert_eq!(code, 504, "{status}");
    assert_eq!(status["reason"], "Timeout");
    assert_eq!(
        status["message"],
        "Timeout: request did not complete within the allotted timeout"
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_secs(10),
        "answered after {waited:?}"
    );
    assert_eq!(
        api.get("/api/v1/namespaces/default/configmaps/slow")
            .await
            .code,
        404,
        "a timed-out create wrote nothing"
    );
    // The server goes on serving.
    api.post(
        "/api/v1/namespaces/default/configmaps",
        &common::configmap("fast", json!({})),
    )
    .await
    .ok();
}

#[tokio::test]
async fn a_client_may_shorten_the_timeout() {
    let server = common::start();
    let http = reqwest::Client::new();
    let started = Instant::now();
    let held = Held::start(
        http.post(format!(
            "{}/api/v1/namespaces/default/configmaps?timeout=1s",
            server.url
        )),
        "{",
    )
    .await;
    let (code, status) = held.answer_early().await;
    assert_eq!(code, 504, "{status}");
    assert!(started.elapsed() < Duration::from_secs(30));
    let bad = common::Api::new(&server.url)
        .get("/api/v1/namespaces/default/configmaps?timeout=soon")
        .await;
    assert_eq!(bad.code, 400, "{}", bad.body);
}
