//! `get -w` / `--watch-only`, and [`Follower`]: a list + watch that
//! outlives dropped connections and apiserver restarts.
//!
//! The follower lists, then watches from the list's resourceVersion. When
//! the stream ends or breaks it watches again from the last
//! resourceVersion it saw, retrying the connection with backoff while the
//! server is away; when the server no longer has that version (410 Gone)
//! it lists again and reports the difference from what it knew as
//! changes, so nothing is missed and nothing is reported twice.

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use futures::stream::BoxStream;
use futures::StreamExt;
use serde_json::Value;
use tug_client::{DynamicApi, Error as ClientError, ListParams, WatchEvent};

use super::context::Ctx;
use super::emit;
use super::error::{usage, CtlError, Result};
use super::get::{list_with_version, with_type};
use super::target::Target;
use crate::cli::GetArgs;
use crate::printers::{OutputFormat, PrintOptions, WatchPrinter};

/// What happened to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeType {
    Added,
    Modified,
    Deleted,
}

/// One change, with the object's new (or, for a delete, last) state.
#[derive(Clone, Debug)]
pub struct Change {
    pub kind: ChangeType,
    pub object: Value,
}

/// Longest wait between two attempts to reach the server.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
const MIN_BACKOFF: Duration = Duration::from_millis(50);

/// A list + watch of the objects `params` select, resilient as the
/// module docs say.
pub struct Follower {
    api: DynamicApi,
    params: ListParams,
    resource_version: String,
    known: HashMap<String, Value>,
    stream: Option<BoxStream<'static, tug_client::Result<WatchEvent<Value>>>>,
    backoff: Duration,
}

impl Follower {
    /// List, and get ready to watch from the list. Returns the follower
    /// and the listed objects.
    pub async fn start(api: DynamicApi, params: ListParams) -> Result<(Follower, Vec<Value>)> {
        let (objects, resource_version) = list_with_version(&api, &params).await?;
        let known = objects.iter().map(|o| (key(o), o.clone())).collect();
        let follower = Follower {
            api,
            params,
            resource_version,
            known,
            stream: None,
            backoff: MIN_BACKOFF,
        };
        Ok((follower, objects))
    }

    /// The next changes (one watch event, or the difference a relist
    /// found). Waits as long as it takes; only errors that retrying
    /// cannot cure (a 403, a resource the server does not serve) end it.
    pub async fn next(&mut self) -> Result<Vec<Change>> {
        loop {
            let Some(stream) = self.stream.as_mut() else {
                match self.api.watch(&self.params, &self.resource_version).await {
                    Ok(s) => self.stream = Some(s),
                    Err(e) if e.is_gone() => {
                        let changes = self.relist().await?;
                        if !changes.is_empty() {
                            return Ok(changes);
                        }
                    }
                    Err(e) if retryable(&e) => self.pause().await,
                    Err(e) => return Err(e.into()),
                }
                continue;
            };
            match stream.next().await {
                Some(Ok(WatchEvent::Bookmark(b))) => self.resource_version = b.resource_version,
                Some(Ok(WatchEvent::Error(status))) => {
                    self.stream = None;
                    let e = ClientError::Api(status);
                    if !retryable(&e) {
                        return Err(e.into());
                    }
                    self.pause().await;
                }
                Some(Ok(event)) => {
                    self.backoff = MIN_BACKOFF;
                    let kind = match &event {
                        WatchEvent::Added(_) => ChangeType::Added,
                        WatchEvent::Deleted(_) => ChangeType::Deleted,
                        _ => ChangeType::Modified,
                    };
                    if let Some(object) = event.object() {
                        let object = with_type(object.clone(), self.api.resource());
                        return Ok(vec![self.record(kind, object)]);
                    }
                }
                Some(Err(e)) if e.is_gone() => {
                    self.stream = None;
                    let changes = self.relist().await?;
                    if !changes.is_empty() {
                        return Ok(changes);
                    }
                }
                // A broken connection, a line that did not decode, or the
                // server closing the watch: watch again from where we are.
                Some(Err(_)) => {
                    self.stream = None;
                    self.pause().await;
                }
                None => self.stream = None,
            }
        }
    }

    /// Remember a change and pass it on.
    fn record(&mut self, kind: ChangeType, object: Value) -> Change {
        if let Some(rv) = object["metadata"]["resourceVersion"].as_str() {
            self.resource_version = rv.to_string();
        }
        if kind == ChangeType::Deleted {
            self.known.remove(&key(&object));
        } else {
            self.known.insert(key(&object), object.clone());
        }
        Change { kind, object }
    }

    /// List again (after 410 Gone) and report what changed meanwhile.
    async fn relist(&mut self) -> Result<Vec<Change>> {
        let (objects, resource_version) = loop {
            match list_with_version(&self.api, &self.params).await {
                Ok(listed) => break listed,
                Err(CtlError::Client(e)) if retryable(&e) => self.pause().await,
                Err(e) => return Err(e),
            }
        };
        let mut changes = Vec::new();
        let mut seen = HashMap::new();
        for object in objects {
            let k = key(&object);
            let kind = match self.known.get(&k) {
                None => Some(ChangeType::Added),
                Some(old)
                    if old["metadata"]["resourceVersion"]
                        != object["metadata"]["resourceVersion"] =>
                {
                    Some(ChangeType::Modified)
                }
                Some(_) => None,
            };
            if let Some(kind) = kind {
                changes.push(Change {
                    kind,
                    object: object.clone(),
                });
            }
            seen.insert(k, object);
        }
        for (k, object) in self.known.drain() {
            if !seen.contains_key(&k) {
                changes.push(Change {
                    kind: ChangeType::Deleted,
                    object,
                });
            }
        }
        self.known = seen;
        self.resource_version = resource_version;
        Ok(changes)
    }

    /// Wait before the next attempt, a little longer each time.
    async fn pause(&mut self) {
        tokio::time::sleep(self.backoff).await;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }
}

/// Errors that may go away by themselves: the server is down or
/// restarting, overloaded, or failed inside.
fn retryable(e: &ClientError) -> bool {
    e.is_transport()
        || matches!(e, ClientError::Decode { .. })
        || e.code().is_some_and(|c| c >= 500 || c == 429)
}

/// `namespace/name`.
fn key(object: &Value) -> String {
    format!(
        "{}/{}",
        object["metadata"]["namespace"].as_str().unwrap_or_default(),
        object["metadata"]["name"].as_str().unwrap_or_default()
    )
}

/// Run `get -w` / `get --watch-only`: print the list (unless watch-only),
/// then one row per change until interrupted.
pub async fn run(
    ctx: &Ctx,
    args: &GetArgs,
    targets: &[Target],
    format: OutputFormat,
    mut params: ListParams,
) -> Result<()> {
    let [target] = targets else {
        return Err(usage(format!(
            "watch is only supported on individual resources and resource collections, but {} resources were found",
            targets.len()
        )));
    };
    match target.names.as_slice() {
        [] => {}
        [name] => {
            let by_name = format!("metadata.name={name}");
            params.field_selector = Some(match params.field_selector.take() {
                Some(f) if !f.is_empty() => format!("{f},{by_name}"),
                _ => by_name,
            });
        }
        _ => {
            return Err(usage(
                "watch is only supported on individual resources and resource collections",
            ))
        }
    }
    let resource = &target.resource.resource;
    let api = ctx.api(resource, ctx.list_namespace(args.all_namespaces));
    let options = PrintOptions {
        with_namespace: args.all_namespaces && resource.namespaced,
        show_labels: args.show_labels,
        with_kind: false,
        no_headers: args.no_headers,
    };
    let mut printer = WatchPrinter::new(format, options);
    let (mut follower, objects) = Follower::start(api, params).await?;
    if !args.watch_only {
        emit(&printer.print(&objects, Utc::now()).map_err(usage)?);
    }
    loop {
        let changes = follower.next().await?;
        let objects: Vec<Value> = changes.into_iter().map(|c| c.object).collect();
        emit(&printer.print(&objects, Utc::now()).map_err(usage)?);
    }
}
