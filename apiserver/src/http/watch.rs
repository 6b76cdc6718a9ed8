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
    // One state machine per watch: the next line to send, or the end. It
    // ends at once on a cut-off (the client resumes from its last
    // resourceVersion) and right after the 410 line.
    let state = (steps, handler.clone(), filter, after, false);
    let body_stream = stream::unfold(
        state,
        |(mut steps, handler, filter, mut last_seen, done)| async move {
            if done {
                return None;
            }
            loop {
                let line = match steps.next().await? {
                    Step::Tick => bookmark_line(&handler, last_seen),
                    Step::Event(Ok(ev)) => {
                        last_seen = ev.revision;
                        match ev.as_seen_by(&|a| filter.matches(a)) {
                            Some((t, obj)) => event_line(t.as_str(), obj),
                            None => continue,
                        }
                    }
                    Step::Event(Err(WatchEnd::Expired(msg))) => {
                        let line = error_line(&Status::failure(410, "Expired", msg));
                        return Some((line, (steps, handler, filter, last_seen, true)));
                    }
                    Step::Event(Err(WatchEnd::Interrupted(msg))) => {
                        tracing::debug!(reason = %msg, "closing watch");
                        return None;
                    }
                };
                return Some((line, (steps, handler, filter, last_seen, false)));
            }
        },
    );
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
