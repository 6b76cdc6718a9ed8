//! Shared helpers for the client's integration tests: a real
//! `tug-apiserver` process and a client for it.

#![allow(dead_code)]

pub mod proxy;

use std::path::PathBuf;
use std::time::Duration;

use tug_client::{Client, Config};
use tug_tests::apiserver::{ApiServerProcess, Store};

/// The built `tug-apiserver`, next to this test binary in the target dir.
pub fn apiserver_binary() -> PathBuf {
    let candidates = [
        // target/debug/deps/<test> → target/debug/tug-apiserver
        std::env::current_exe()
            .ok()
            .and_then(|p| p.parent()?.parent().map(|d| d.join("tug-apiserver"))),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug/tug-apiserver")),
    ];
    for c in candidates.into_iter().flatten() {
        if c.exists() {
            return c;
        }
    }
    panic!("tug-apiserver binary not found in the target directory: run cargo build -p tug-apiserver first");
}

pub fn start() -> ApiServerProcess {
    ApiServerProcess::start(&apiserver_binary(), Store::Embedded).expect("apiserver starts")
}

pub fn start_with(args: &[&str]) -> ApiServerProcess {
    ApiServerProcess::start_with_args(&apiserver_binary(), Store::Embedded, args)
        .expect("apiserver starts")
}

pub fn client(server: &ApiServerProcess) -> Client {
    Client::new(Config::new(&server.url).expect("config")).expect("client")
}

/// Decode a typed object from JSON (test fixtures).
pub fn obj<K: serde::de::DeserializeOwned>(v: serde_json::Value) -> K {
    serde_json::from_value(v).expect("fixture decodes")
}

/// Poll `cond` every 10 ms until it holds or `timeout` passes.
pub async fn eventually(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub const WAIT: Duration = Duration::from_secs(20);
