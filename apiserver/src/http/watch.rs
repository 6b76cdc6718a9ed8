//! WATCH: newline-delimited JSON events streamed from the watch cache.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::{BufMut, Bytes, BytesMut};
use futures::stream::{self, StreamExt};
use rand::Rng;
use tug_api::Status;

use crate::error::ApiResult;
use crate::registry::Handler;
use crate::server::ApiServer;
use crate::watch_cache::{CacheEvent, WatchEnd};

use super::list::{list, Filter};
use super::params::Params;

fn event_line(event_type: &str, object: &[u8]) -> Bytes {
    let mut buf = BytesMut::with_capacity(object.len() + 32);
    buf.put_slice(b"{\"type\":\"");
    buf.put_slice(event_type.as_bytes());
    buf.put_slice(b"\",\"object\":");
    buf.put_slice(object);
    buf.put_slice(b"}\n");
    buf.freeze()
}

fn bookmark_line(handler: &Handler, revision: i64) -> Bytes {
    let info = handler.info();
    let object = serde_json::json!({
        "kind": info.kind,
        "apiVersion": info.api_version(),
        "metadata": { "resourceVersion": revision.to_string() },
    });
    event_line("BOOKMARK", &serde_json::to_vec(&object).unwrap_or_default())
}

fn error_line(status: &Status) -> Bytes {
    event_line("ERROR", &serde_json::to_vec(status).unwrap_or_default())
}

/// What drives a watch response: the next cache event, a bookmark tick, or the end.
enum Step {
    Event(Result<Arc<CacheEvent>, WatchEnd>),
    Tick,
}

/// Serve `?watch=true` on a collection (or one object via a
/// `metadata.name` field selector, as clients do).
pub async fn watch(
    server: Arc<ApiServer>,
    handler: Handler,
    namespace: &str,
    params: &Params,
) -> ApiResult<Response> {
    let filter = Filter::from_params(namespace, params)?;
    let mut initial = Vec::new();
    let after = match params.revision()? {
        Some(rv) => rv,
        None => {
            // No resourceVersion (or "0"): the current state first, as ADDED events.
            let all = Params::default();
            let listed = list(&server, &handler, &filter, &all).await?;
            for obj in &listed.items {
                initial.push(event_line(
                    "ADDED",
                    &serde_json::to_vec(obj).unwrap_or_default(),
                ));
            }
            listed.revision
        }
    };
    let cache = server.cache(handler.info());
    let events = cache.watch(after).await;
    let timeout = match params.timeout_seconds {
        Some(t) if t > 0 => Duration::from_secs(t as u64),
        // Upstream spreads long watches over 30–60 minutes so clients do
        // not all reconnect at once.
        _ => Duration::from_secs(rand::thread_rng().gen_range(1800..3600)),
    };
    let bookmarks = params.bookmarks();
    let interval = server.config.bookmark_interval;
    let ticks = stream::unfold((), move |_| async move {
        tokio::time::sleep(interval).await;
        Some((Step::Tick, ()))
    });
    let steps = if bookmarks {
        stream::select(events.map(Step::Event), ticks).boxed()
    } else {
        events.map(Step::Event).boxed()
    };
    let handler_for_lines = handler.clone();
    let body_stream = steps
        .scan((after, false), move |(last_seen, done), step| {
            if *done {
                return futures::future::ready(None);
            }
            let line = match step {
                Step::Tick => Some(bookmark_line(&handler_for_lines, *last_seen)),
                Step::Event(Ok(ev)) => {
                    *last_seen = ev.revision;
                    ev.as_seen_by(&|a| filter.matches(a))
                        .map(|(t, obj)| event_line(t.as_str(), obj))
                }
                Step::Event(Err(WatchEnd::Expired(msg))) => {
                    *done = true;
                    Some(error_line(&Status::failure(410, "Expired", msg)))
                }
                Step::Event(Err(WatchEnd::Interrupted(msg))) => {
                    tracing::debug!(reason = %msg, "closing watch");
                    *done = true;
                    None
                }
            };
            futures::future::ready(Some(line))
        })
        .filter_map(futures::future::ready);
    let body_stream = stream::iter(initial)
        .chain(body_stream)
        .take_until(tokio::time::sleep(timeout))
        .map(Ok::<_, Infallible>);
    Ok((
        [
            (http::header::CONTENT_TYPE, "application/json"),
            (http::header::CACHE_CONTROL, "no-cache, private"),
        ],
        Body::from_stream(body_stream),
    )
        .into_response())
}
