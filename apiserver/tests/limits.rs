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
    /// Send `req` with `first` as the start of a body of `length` bytes,
    /// and hold. (The length is declared: without it a GET would be sent
    /// without its body.)
    async fn start(req: reqwest::RequestBuilder, first: &str, length: usize) -> Held {
        let (mut body, rx) = mpsc::channel(4);
        body.send(Ok(Bytes::from(first.to_string())))
            .await
            .expect("queue the first piece");
        let req = req
            .header("Content-Type", "application/json")
            .header("Content-Length", length)
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
        body.len(),
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
        2,
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

/// Bearer tokens of the users of the HTTPS tests (`--token-auth-file`).
const TOKENS: &str = "alice-token,alice,1001\nbob-token,bob,1002\n";

/// An apiserver with the two token users, who may edit `default`.
struct Secure {
    server: tug_tests::apiserver::ApiServerProcess,
    http: reqwest::Client,
    _tokens: tempfile::NamedTempFile,
}

impl Secure {
    async fn start(limit_args: &[&str]) -> Secure {
        let tokens = tempfile::NamedTempFile::new().expect("a token file");
        std::fs::write(tokens.path(), TOKENS).expect("write the token file");
        let path = tokens.path().to_string_lossy().to_string();
        let mut args = vec!["--token-auth-file", path.as_str()];
        args.extend_from_slice(limit_args);
        let server = common::start_with(&args);
        let ca = server.ca_pem().expect("the generated CA");
        let http = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).expect("CA PEM"))
            // One connection per request in flight, so a held request
            // holds exactly its own (h2 would multiplex them).
            .http1_only()
            .build()
            .expect("an HTTPS client");
        let binding = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "edit"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
            "subjects": [
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"},
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bob"},
            ],
        });
        common::Api::new(&server.url)
            .post(
                "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
                &binding,
            )
            .await
            .ok();
        let secure = Secure {
            server,
            http,
            _tokens: tokens,
        };
        // The binding reaches the authorizer through its watch: wait for
        // it, or held requests would be refused (403) instead of held.
        // (Asked with SubjectAccessReviews, which spend none of the users'
        // tokens.)
        let admin = common::Api::new(&secure.server.url);
        for user in ["alice", "bob"] {
            let review = json!({
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SubjectAccessReview",
                "spec": {"user": user, "resourceAttributes": {
                    "namespace": "default", "verb": "create", "resource": "configmaps"}}
            });
            assert!(
                tug_tests::net::eventually(Duration::from_secs(10), || async {
                    let r = admin
                        .post(
                            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                            &review,
                        )
                        .await;
                    r.body["status"]["allowed"] == true
                })
                .await,
                "{user} may create configmaps"
            );
        }
        secure
    }

    fn request(&self, user: &str, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.server.secure_url))
            .bearer_auth(format!("{user}-token"))
    }

    /// Status, `Retry-After` and body of a request without a body.
    async fn call(
        &self,
        user: &str,
        method: reqwest::Method,
        path: &str,
    ) -> (u16, Option<String>, Value) {
        let r = self
            .request(user, method, path)
            .send()
            .await
            .expect("the apiserver answers");
        let code = r.status().as_u16();
        let retry = r
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        (code, retry, r.json().await.unwrap_or(Value::Null))
    }

    async fn list(&self, user: &str) -> (u16, Option<String>, Value) {
        self.call(
            user,
            reqwest::Method::GET,
            "/api/v1/namespaces/default/configmaps",
        )
        .await
    }
}

#[track_caller]
fn assert_too_many(code: u16, retry: Option<String>, body: &Value, retry_after: &str) {
    assert_eq!(code, 429, "{body}");
    assert_eq!(retry.as_deref(), Some(retry_after), "Retry-After");
    assert_eq!(body["reason"], "TooManyRequests");
    assert_eq!(
        body["message"],
        "Too many requests, please try again later."
    );
}

const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";

// Multi-threaded: the held requests' tasks must make progress while the
// test polls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_in_flight_limit_requests_get_429_and_pools_are_separate() {
    let s = Secure::start(&[
        "--max-requests-inflight",
        "2",
        "--max-mutating-requests-inflight",
        "1",
        "--client-qps",
        "0",
    ])
    .await;
    // Two lists held in flight: their bodies are not all sent yet.
    let get = || s.request("alice", reqwest::Method::GET, CONFIGMAPS);
    let held_a = Held::start(get(), "", 2).await;
    let held_b = Held::start(get(), "", 2).await;
    assert!(
        tug_tests::net::eventually(Duration::from_secs(10), || async {
            s.list("bob").await.0 == 429
        })
        .await,
        "the read-only pool fills up"
    );
    let (code, retry, body) = s.list("bob").await;
    assert_too_many(code, retry, &body, "1");
    // A watch is long-running: it does not count, and is not refused.
    let watch = s
        .request(
            "bob",
            reqwest::Method::GET,
            &format!("{CONFIGMAPS}?watch=true"),
        )
        .send()
        .await
        .expect("watch");
    assert_eq!(watch.status(), 200);
    // Writes have their own pool.
    let created = s
        .request("bob", reqwest::Method::POST, CONFIGMAPS)
        .json(&common::configmap("while-reads-are-full", json!({})))
        .send()
        .await
        .expect("create");
    assert_eq!(created.status(), 201);
    // The admin (system:masters, on the loopback port) is always served.
    assert_eq!(
        common::Api::new(&s.server.url).get(CONFIGMAPS).await.code,
        200
    );
    // Finishing the held requests frees their slots.
    assert_eq!(held_a.finish("{}").await.0, 200);
    assert!(
        tug_tests::net::eventually(Duration::from_secs(10), || async {
            s.list("bob").await.0 == 200
        })
        .await,
        "a freed slot serves the next read"
    );
    drop(held_b);
}

#[tokio::test]
async fn each_user_has_a_token_bucket() {
    let s = Secure::start(&[
        "--client-qps",
        "0.2",
        "--client-burst",
        "3",
        "--rate-limit-exempt-users",
        "bob",
    ])
    .await;
    for i in 0..3 {
        assert_eq!(s.list("alice").await.0, 200, "request {i} of the burst");
    }
    let (code, retry, body) = s.list("alice").await;
    // One token per 5 s at 0.2 qps: Retry-After rounds up the wait.
    assert_too_many(code, retry, &body, "5");
    assert_eq!(
        body["details"]["retryAfterSeconds"], 5,
        "the Status carries it too"
    );
    // bob is exempt; the admin is in system:masters.
    for _ in 0..10 {
        assert_eq!(s.list("bob").await.0, 200);
        assert_eq!(
            common::Api::new(&s.server.url).get(CONFIGMAPS).await.code,
            200
        );
    }
}

#[tokio::test]
async fn each_user_may_hold_only_so_many_watches() {
    let s = Secure::start(&["--max-watches-per-user", "2", "--client-qps", "0"]).await;
    let watch = |user: &'static str| {
        s.request(user, reqwest::Method::GET, &format!("{CONFIGMAPS}?watch=1"))
            .send()
    };
    let first = watch("alice").await.expect("watch");
    let second = watch("alice").await.expect("watch");
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (200, 200)
    );
    let refused = watch("alice").await.expect("watch");
    let retry = refused
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap_or("").to_string());
    let code = refused.status().as_u16();
    assert_too_many(
        code,
        retry,
        &refused.json().await.unwrap_or(Value::Null),
        "1",
    );
    assert_eq!(
        watch("bob").await.expect("watch").status(),
        200,
        "bob counts his own"
    );
    // Closing a watch frees its slot: the server notices the closed
    // connection when it next writes to it, so give it an event to send.
    drop(first);
    common::Api::new(&s.server.url)
        .post(
            CONFIGMAPS,
            &common::configmap("wake-the-watches", json!({})),
        )
        .await
        .ok();
    assert!(
        tug_tests::net::eventually(Duration::from_secs(10), || async {
            watch("alice").await.is_ok_and(|r| r.status() == 200)
        })
        .await,
        "a closed watch frees its slot"
    );
    drop(second);
}
