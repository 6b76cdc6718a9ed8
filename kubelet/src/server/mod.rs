//! The kubelet's HTTPS server (`--address`, `--port` 10250): `/healthz`,
//! `/pods` (the pods bound to this node) and
//! `/containerLogs/{ns}/{pod}/{container}` (what the apiserver's
//! `pods/log` proxies to). Only clients with a certificate of the
//! cluster CA get in ([`tls`]), and only those allowed ([`authz`]): the
//! apiserver and admins (`system:masters`), or whom RBAC lets `get
//! nodes/proxy` of this node.

pub mod authz;
pub mod cri_log;
pub mod error;
pub mod logs;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio_stream::wrappers::ReceiverStream;
use tug_api::core::Pod;
use tug_client::{Api, ListParams};

use self::error::ServerError;
use self::logs::LogQuery;
use crate::node::NodeCtx;

/// Chunks of a log stream in flight between the file reader and the
/// connection.
const STREAM_BUFFER: usize = 16;

/// Listen on `addr`; a port in use or an address not ours fails here, so
/// the kubelet reports it before it starts anything else.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("the kubelet server cannot listen on {addr}"))
}

/// The routes of the server for node `ctx`, behind the authorization
/// middleware.
pub fn router(ctx: Arc<NodeCtx>) -> Router {
    let cache = Arc::new(authz::DecisionCache::default());
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/pods", get(pods))
        .route("/pods/", get(pods))
        .route(
            "/containerLogs/{namespace}/{pod}/{container}",
            get(container_logs),
        )
        .layer(axum::middleware::from_fn_with_state(
            (ctx.clone(), cache),
            authz::authorize,
        ))
        .with_state(ctx)
}

/// Serve node `ctx` on `listener` over TLS with `tls` (see
/// [`tls::server_config`]) until the future is dropped.
pub async fn serve(
    listener: TcpListener,
    ctx: Arc<NodeCtx>,
    tls: Arc<rustls::ServerConfig>,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, node = %ctx.config.name, "the kubelet server listens (HTTPS)");
    }
    tls::serve(listener, router(ctx), tls).await
}

/// `GET /pods`: a `PodList` of the pods bound to this node.
async fn pods(State(ctx): State<Arc<NodeCtx>>) -> Response {
    let api: Api<Pod> = Api::all(ctx.client.clone());
    let params = ListParams {
        field_selector: Some(format!("spec.nodeName={}", ctx.config.name)),
        ..Default::default()
    };
    match api.list(&params).await {
        Ok(mut list) => {
            list.kind = "PodList".into();
            list.api_version = "v1".into();
            (
                [(http::header::CONTENT_TYPE, "application/json")],
                serde_json::to_vec(&list).unwrap_or_default(),
            )
                .into_response()
        }
        Err(e) => {
            ServerError::unavailable(format!("cannot list the node's pods: {e}")).into_response()
        }
    }
}

/// `GET /containerLogs/{ns}/{pod}/{container}`: the container's log as
/// text, streamed.
async fn container_logs(
    State(ctx): State<Arc<NodeCtx>>,
    Path((namespace, pod, container)): Path<(String, String, String)>,
    query: Result<Query<LogQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let query = match query {
        Ok(Query(q)) => q,
        Err(e) => return ServerError::bad_request(e.body_text()).into_response(),
    };
    let (opts, previous) = match (query.options((ctx.clock)()), query.previous()) {
        (Ok(o), Ok(p)) => (o, p),
        (Err(e), _) | (_, Err(e)) => return e.into_response(),
    };
    let (target, path) = match logs::resolve(&ctx, &namespace, &pod, &container, previous).await {
        Ok(found) => found,
        Err(e) => return e.into_response(),
    };
    let (tx, rx) = tokio::sync::mpsc::channel(STREAM_BUFFER);
    tokio::spawn(logs::stream(ctx, target, path, opts, tx));
    (
        [(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        Body::from_stream(ReceiverStream::new(rx)),
    )
        .into_response()
}
