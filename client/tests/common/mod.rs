//! Shared helpers for the client's integration tests: a real
//! `tug-apiserver` process and a client for it.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use tug_client::{Client, Config};
use tug_tests::apiserver::{ApiServerProcess, Store};

/// The built `tug-apiserver`, next to this test binary in the target dir.
pub fn apiserver_binary() -> PathBuf {
    tug_tests::bins::workspace_binary("tug-apiserver")
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

/// Poll a plain condition until it holds or `timeout` passes.
pub async fn eventually(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    tug_tests::net::eventually(timeout, || std::future::ready(cond())).await
}

pub const WAIT: Duration = Duration::from_secs(20);
