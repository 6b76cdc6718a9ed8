//! The proxy's HTTP endpoints: `/healthz` (kube-proxy's JSON, 200 when the
//! rules are fresh, 503 before the first sync or when syncs are stale)
//! and `/metrics` (Prometheus text).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::metrics::Metrics;

async fn healthz(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    let (healthy, last) = metrics.health();
    let body = serde_json::json!({
        "lastUpdated": last.map(|t| t.to_rfc3339()).unwrap_or_default(),
        "currentTime": chrono::Utc::now().to_rfc3339(),
    });
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
}

async fn metrics_text(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics.render(),
    )
}

/// Serve `/healthz` on `healthz` and `/metrics` on `metrics` until the
/// task is dropped. Binding errors are returned at once.
pub async fn serve(
    healthz_addr: SocketAddr,
    metrics_addr: SocketAddr,
    metrics: Arc<Metrics>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let health = Router::new()
        .route("/healthz", get(healthz))
        .with_state(metrics.clone());
    let metric = Router::new()
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(healthz))
        .with_state(metrics);
    let h = tokio::net::TcpListener::bind(healthz_addr)
        .await
        .with_context(|| format!("binding the healthz address {healthz_addr}"))?;
    let m = tokio::net::TcpListener::bind(metrics_addr)
        .await
        .with_context(|| format!("binding the metrics address {metrics_addr}"))?;
    Ok(tokio::spawn(async move {
        let (a, b) = tokio::join!(axum::serve(h, health), axum::serve(m, metric));
        if let Err(e) = a.and(b) {
            tracing::error!(error = %e, "http server failed");
        }
    }))
}
