//! WATCH: newline-delimited JSON events streamed from the watch cache;
//! each event's object as it is, or as a one-row `Table` when the client
//! asked for Tables (`kubectl get -w`). Streaming lists
//! (`sendInitialEvents=true`, what client-go's reflectors ask for since
//! 1.3x) get the current state as ADDED events, then a BOOKMARK marking
//! their end.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::{BufMut, Bytes, BytesMut};
use futures::stream::{self, StreamExt};
use rand::Rng;
use serde::Deserialize;
use serde_json::Value;
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tug_api::table::TableOptions;
use tug_api::{FieldError, Status};

use crate::error::{ApiError, ApiResult};
use crate::registry::Handler;
use crate::server::ApiServer;
use crate::watch_cache::{CacheEvent, CacheWatch, WatchEnd};

use super::list::{list, Filter};
use super::params::Params;
use super::table;

fn event_line(event_type: &str, object: &[u8]) -> Bytes {
    let mut buf = BytesMut::with_capacity(object.len() + 32);
    buf.put_slice(b"{\"type\":\"");
    buf.put_slice(event_type.as_bytes());
    buf.put_slice(b"\",\"object\":");
    buf.put_slice(object);
    buf.put_slice(b"}\n");
    buf.freeze()
}

/// Writes the events of one watch: objects as they are, or as Tables.
struct Encoder {
    handler: Handler,
    /// Set when the client asked for Tables; the column definitions go
    /// with the first event only, as upstream sends them.
    tables: Option<TableOptions>,
}

impl Encoder {
    /// The line of an event of `event_type` on the stored `object`.
    fn event(&mut self, event_type: &str, object: &[u8]) -> Bytes {
        let Some(options) = self.tables.as_mut() else {
            return event_line(event_type, object);
        };
        let object: Value = serde_json::from_slice(object).unwrap_or_default();
        let row = table::of_object(&self.handler, &object, options);
        options.no_headers = true;
        event_line(event_type, &serde_json::to_vec(&row).unwrap_or_default())
    }

    /// A BOOKMARK at `revision`: an object of the watched kind (or an
    /// empty Table) carrying only the resourceVersion.
    fn bookmark(&self, revision: i64) -> Bytes {
        let object = self.bookmark_object(revision);
        event_line("BOOKMARK", &serde_json::to_vec(&object).unwrap_or_default())
    }

    /// The BOOKMARK that ends a streaming list's initial events: annotated
    /// `k8s.io/initial-events-end: "true"`.
    fn initial_events_end(&self, revision: i64) -> Bytes {
        let mut object = self.bookmark_object(revision);
        object["metadata"]["annotations"] = serde_json::json!({ INITIAL_EVENTS_END: "true" });
        event_line("BOOKMARK", &serde_json::to_vec(&object).unwrap_or_default())
    }

    fn bookmark_object(&self, revision: i64) -> Value {
        match &self.tables {
            Some(options) => table::bookmark(revision, options),
            None => {
                let info = self.handler.info();
                serde_json::json!({
                    "kind": info.kind,
                    "apiVersion": info.api_version(),
                    "metadata": { "resourceVersion": revision.to_string() },
                })
            }
        }
    }
}

fn error_line(status: &Status) -> Bytes {
    event_line("ERROR", &serde_json::to_vec(status).unwrap_or_default())
}

/// What drives a watch response: the next cache event, a bookmark tick, or the end.
enum Step {
    Event(Result<Arc<CacheEvent>, WatchEnd>),
    Tick,
}

/// The next step of a watch: an event, or a bookmark tick when `ticks`
/// is due first. `None` when the events end.
async fn next_step(events: &mut CacheWatch, ticks: Option<&mut Interval>) -> Option<Step> {
    match ticks {
        Some(ticks) => tokio::select! {
            ev = events.next() => ev.map(Step::Event),
            _ = ticks.tick() => Some(Step::Tick),
        },
        None => events.next().await.map(Step::Event),
    }
}

/// The state of one watch response.
struct WatchBody {
    events: CacheWatch,
    ticks: Option<Interval>,
    encoder: Encoder,
    filter: Filter,
    /// The revision of the last event passed on (sent or filtered out).
    last_seen: i64,
    done: bool,
}

impl WatchBody {
    /// The next line to send, or `None` at the end: at once on a cut-off
    /// (the client resumes from its last resourceVersion), right after the
    /// 410 line.
    async fn next_line(&mut self) -> Option<Bytes> {
        if self.done {
            return None;
        }
        loop {
            match next_step(&mut self.events, self.ticks.as_mut()).await? {
                Step::Tick => {
                    // Everything this watcher gets up to the cache's newest
                    // revision has been passed on: the bookmark says so.
                    let rv = self.events.bookmark_revision().unwrap_or(self.last_seen);
                    self.last_seen = self.last_seen.max(rv);
                    return Some(self.encoder.bookmark(self.last_seen));
                }
                Step::Event(Ok(ev)) => {
                    self.last_seen = ev.revision;
                    if let Some((t, obj)) = ev.as_seen_by(&|a| self.filter.matches(a)) {
                        return Some(self.encoder.event(t.as_str(), obj));
                    }
                }
                Step::Event(Err(WatchEnd::Expired(msg))) => {
                    self.done = true;
                    return Some(error_line(&Status::failure(410, "Expired", msg)));
                }
                Step::Event(Err(WatchEnd::Interrupted(msg))) => {
                    tracing::debug!(reason = %msg, "closing watch");
                    return None;
                }
            }
        }
    }
}

/// The annotation on the bookmark that ends a streaming list's initial events.
const INITIAL_EVENTS_END: &str = "k8s.io/initial-events-end";

/// The streaming-list parameter (`sendInitialEvents`), which [`Params`]
/// leaves to the watch.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WatchListQuery {
    send_initial_events: Option<bool>,
}

/// `sendInitialEvents`, checked as upstream checks it: only with
/// `resourceVersionMatch=NotOlderThan` and, when true, with bookmarks.
fn send_initial_events(params: &Params) -> ApiResult<Option<bool>> {
    let uri: http::Uri = format!("/?{}", params.raw_query)
        .parse()
        .map_err(|_| ApiError::bad_request("malformed query string"))?;
    let query = axum::extract::Query::<WatchListQuery>::try_from_uri(&uri)
        .map_err(|e| ApiError::bad_request(format!("invalid query parameters: {}", e.body_text())))?
        .0;
    let Some(send) = query.send_initial_events else {
        return Ok(None);
    };
    let mut errors = Vec::new();
    if params.resource_version_match.as_deref() != Some("NotOlderThan") {
        errors.push(FieldError::forbidden(
            "resourceVersionMatch",
            "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
        ));
    }
    if send && !params.bookmarks() {
        errors.push(FieldError::forbidden(
            "allowWatchBookmarks",
            "allowWatchBookmarks must be set to true when sendInitialEvents is true",
        ));
    }
    if errors.is_empty() {
        Ok(Some(send))
    } else {
        Err(ApiError::invalid("ListOptions", "meta.k8s.io", "", &errors))
    }
}

/// Serve `?watch=true` on a collection (or one object via a
/// `metadata.name` field selector, as clients do); `tables` when the
/// client asked for Tables.
pub async fn watch(
    server: Arc<ApiServer>,
    handler: Handler,
    namespace: &str,
    params: &Params,
    tables: Option<TableOptions>,
) -> ApiResult<Response> {
    let filter = Filter::from_params(namespace, params)?;
    let mut encoder = Encoder {
        handler: handler.clone(),
        tables,
    };
    let mut initial = Vec::new();
    let send_initial = send_initial_events(params)?;
    let after = match (send_initial, params.revision()?) {
        // A legacy watch from a revision, or a streaming list that does
        // not want the state: the changes after it.
        (None | Some(false), Some(rv)) => rv,
        // No revision and no state wanted: the changes from now on.
        (Some(false), None) => server
            .objects
            .storage()
            .current_revision()
            .await
            .map_err(|e| ApiError::internal(format!("storage: {e}")))?,
        // No resourceVersion (or "0"), or a streaming list: the current
        // state first, as ADDED events (a state at least as new as any
        // revision asked for, as NotOlderThan allows).
        (None, None) | (Some(true), _) => {
            let all = Params::default();
            let listed = list(&server, &handler, &filter, &all).await?;
            for obj in &listed.items {
                initial.push(encoder.event("ADDED", &serde_json::to_vec(obj).unwrap_or_default()));
            }
            if send_initial == Some(true) {
                initial.push(encoder.initial_events_end(listed.revision));
            }
            listed.revision
        }
    };
    let events = server
        .cache(handler.info())
        .watch(after, &filter.fields)
        .await;
    let timeout = match params.timeout_seconds {
        Some(t) if t > 0 => Duration::from_secs(t as u64),
        // Upstream spreads long watches over 30–60 minutes so clients do
        // not all reconnect at once.
        _ => Duration::from_secs(rand::thread_rng().gen_range(1800..3600)),
    };
    let ticks = params.bookmarks().then(|| {
        let interval = server.config.bookmark_interval;
        let mut ticks = tokio::time::interval_at(Instant::now() + interval, interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        ticks
    });
    let body = WatchBody {
        events,
        ticks,
        encoder,
        filter,
        last_seen: after,
        done: false,
    };
    let body_stream = stream::unfold(body, |mut body| async move {
        let line = body.next_line().await?;
        Some((line, body))
    });
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
