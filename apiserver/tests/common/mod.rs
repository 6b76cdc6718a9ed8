//! Shared helpers for the API integration tests: a real `tug-apiserver`
//! process and a thin JSON-over-HTTP client.

#![allow(dead_code)]

use std::path::Path;

use serde_json::Value;
use tug_tests::apiserver::{ApiServerProcess, Store};

pub fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_tug-apiserver"))
}

pub fn start() -> ApiServerProcess {
    ApiServerProcess::start(binary(), Store::Embedded).expect("apiserver starts")
}

pub fn start_with(args: &[&str]) -> ApiServerProcess {
    ApiServerProcess::start_with_args(binary(), Store::Embedded, args).expect("apiserver starts")
}

/// A response: status code and JSON body (Null if the body was not JSON).
#[derive(Debug)]
pub struct Resp {
    pub code: u16,
    pub body: Value,
}

impl Resp {
    pub fn reason(&self) -> &str {
        self.body["reason"].as_str().unwrap_or("")
    }
    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or("")
    }
    pub fn rv(&self) -> i64 {
        self.body["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }
    #[track_caller]
    pub fn ok(self) -> Value {
        assert!(
            (200..300).contains(&self.code),
            "expected success, got {}: {}",
            self.code,
            self.body
        );
        self.body
    }
}

/// A response with its `Warning` headers (`299 - "…"`).
#[derive(Debug)]
pub struct Full {
    pub resp: Resp,
    pub warnings: Vec<String>,
}

#[derive(Clone)]
pub struct Api {
    pub base: String,
    http: reqwest::Client,
}

impl Api {
    pub fn new(base: &str) -> Self {
        Api {
            base: base.to_string(),
            http: reqwest::Client::new(),
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        let r = req.send().await.expect("request reaches the apiserver");
        let code = r.status().as_u16();
        let bytes = r.bytes().await.unwrap_or_default();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp { code, body }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.send(self.http.post(format!("{}{path}", self.base)).json(body))
            .await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Resp {
        self.send(self.http.put(format!("{}{path}", self.base)).json(body))
            .await
    }

    pub async fn patch(&self, path: &str, content_type: &str, body: &Value) -> Resp {
        self.send(
            self.http
                .patch(format!("{}{path}", self.base))
                .header("Content-Type", content_type)
                .body(body.to_string()),
        )
        .await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(self.http.delete(format!("{}{path}", self.base)))
            .await
    }

    pub async fn delete_with(&self, path: &str, options: &Value) -> Resp {
        self.send(
            self.http
                .delete(format!("{}{path}", self.base))
                .json(options),
        )
        .await
    }

    pub async fn raw(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Resp {
        self.send(
            self.http
                .request(method, format!("{}{path}", self.base))
                .header("Content-Type", content_type)
                .body(body),
        )
        .await
    }

    /// Any request with a body (empty: none) and its content type, as
    /// `user_agent`; the answer with its `Warning` headers.
    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: &str,
        body: &str,
        user_agent: &str,
    ) -> Full {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("User-Agent", user_agent);
        if !body.is_empty() {
            req = req
                .header("Content-Type", content_type)
                .body(body.to_string());
        }
        let r = req.send().await.expect("request reaches the apiserver");
        let warnings = r
            .headers()
            .get_all("warning")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect();
        let code = r.status().as_u16();
        let bytes = r.bytes().await.unwrap_or_default();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Full {
            resp: Resp { code, body },
            warnings,
        }
    }

    /// Open a watch and return a reader of its events.
    pub async fn watch(&self, path: &str) -> Watch {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("watch request");
        Watch {
            code: r.status().as_u16(),
            response: r,
            buf: Vec::new(),
        }
    }
}

/// A streaming watch response.
pub struct Watch {
    pub code: u16,
    response: reqwest::Response,
    buf: Vec<u8>,
}

impl Watch {
    /// The next event, or None when the stream ends or `timeout` passes.
    pub async fn next(&mut self, timeout: std::time::Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                return serde_json::from_slice(&line).ok();
            }
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Ok(Ok(Some(chunk))) => self.buf.extend_from_slice(&chunk),
                _ => return None,
            }
        }
    }

    /// Next event that is not a BOOKMARK.
    pub async fn next_change(&mut self, timeout: std::time::Duration) -> Option<Value> {
        loop {
            let ev = self.next(timeout).await?;
            if ev["type"] != "BOOKMARK" {
                return Some(ev);
            }
        }
    }
}

pub fn configmap(name: &str, data: Value) -> Value {
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"app": "test"}},
        "data": data,
    })
}

pub fn pod(name: &str) -> Value {
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]},
    })
}

pub fn deployment(name: &str, replicas: i64) -> Value {
    serde_json::json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [
                    {"name": "web", "image": "nginx:1.25", "env": [{"name": "A", "value": "1"}]},
                    {"name": "sidecar", "image": "busybox:1.36"}
                ]}
            }
        }
    })
}

pub fn service(name: &str, svc_type: &str) -> Value {
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"type": svc_type, "selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]},
    })
}

pub const SEC: std::time::Duration = std::time::Duration::from_secs(1);
pub const WAIT: std::time::Duration = std::time::Duration::from_secs(10);
