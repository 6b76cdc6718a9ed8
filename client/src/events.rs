//! Recording Events about objects, as client-go's `EventRecorder`: what a
//! controller did (`SuccessfulCreate`) or could not do
//! (`FailedScheduling`), visible in `tugctl describe` and `get events`.
//!
//! Recording never blocks the caller and never fails it: events go into a
//! bounded queue written by a background task, and when the queue is full
//! (the API server is slow or away) events are dropped, as upstream does.
//! A repeat of the same event about the same object within the recorder's
//! memory bumps the existing Event's `count` and `lastTimestamp` instead of
//! writing a new object.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use futures::StreamExt;
use serde_json::json;
use tokio::sync::mpsc;
use tug_api::core::{Event, EventSource, ObjectReference};
use tug_api::meta::{ObjectMeta, Time};
use tug_api::Resource;

use crate::api::Api;
use crate::client::Client;
use crate::params::{Patch, PatchParams, PostParams};

/// `Normal` events: things went as intended.
pub const NORMAL: &str = "Normal";
/// `Warning` events: something is wrong.
pub const WARNING: &str = "Warning";

/// How many events may wait to be written before new ones are dropped.
const QUEUE_CAPACITY: usize = 4096;
/// How many events are written concurrently.
const WRITERS: usize = 4;
/// How many distinct events are remembered for aggregation.
const MEMORY: usize = 4096;

/// What one event says, before it becomes an `Event` object.
#[derive(Debug)]
struct Record {
    involved: ObjectReference,
    type_: &'static str,
    reason: String,
    message: String,
}

impl Record {
    fn aggregation_key(&self) -> String {
        let o = &self.involved;
        format!(
            "{}/{}/{}/{}/{}/{}/{}",
            o.kind, o.namespace, o.name, o.uid, self.type_, self.reason, self.message
        )
    }
}

/// Records Events on behalf of one component (`deployment-controller`,
/// `default-scheduler`, `kubelet`). Clones share the queue.
#[derive(Clone)]
pub struct EventRecorder {
    tx: mpsc::Sender<Record>,
}

/// The Event already written for an aggregation key.
#[derive(Clone)]
struct Written {
    namespace: String,
    name: String,
    count: i32,
}

impl EventRecorder {
    /// A recorder writing through `client` as `component`, reporting
    /// `host` as the source host (may be empty). Starts its writer task,
    /// so it must be created inside a tokio runtime.
    pub fn new(client: Client, component: &str, host: &str) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let writer = Writer {
            client,
            source: EventSource {
                component: component.to_string(),
                host: host.to_string(),
            },
            written: Arc::new(Mutex::new(HashMap::new())),
        };
        tokio::spawn(writer.run(rx));
        EventRecorder { tx }
    }

    /// A `Normal` event about `obj`.
    pub fn normal<K: Resource>(&self, obj: &K, reason: &str, message: impl Into<String>) {
        self.record(reference_to(obj), NORMAL, reason, message);
    }

    /// A `Warning` event about `obj`.
    pub fn warning<K: Resource>(&self, obj: &K, reason: &str, message: impl Into<String>) {
        self.record(reference_to(obj), WARNING, reason, message);
    }

    /// An event of `type_` ([`NORMAL`] or [`WARNING`]) about the object
    /// `involved` points at.
    pub fn record(
        &self,
        involved: ObjectReference,
        type_: &'static str,
        reason: &str,
        message: impl Into<String>,
    ) {
        let record = Record {
            involved,
            type_,
            reason: reason.to_string(),
            message: message.into(),
        };
        if let Err(e) = self.tx.try_send(record) {
            tracing::debug!(error = %e, "event queue full; dropping event");
        }
    }
}

/// An `ObjectReference` to `obj`, as events and endpoints use.
pub fn reference_to<K: Resource>(obj: &K) -> ObjectReference {
    let meta = obj.meta();
    ObjectReference {
        kind: K::KIND.to_string(),
        namespace: meta.namespace.clone(),
        name: meta.name.clone(),
        uid: meta.uid.clone(),
        api_version: K::api_version(),
        resource_version: meta.resource_version.clone(),
        field_path: String::new(),
    }
}

struct Writer {
    client: Client,
    source: EventSource,
    written: Arc<Mutex<HashMap<String, Written>>>,
}

impl Writer {
    async fn run(self, rx: mpsc::Receiver<Record>) {
        let this = &self;
        tokio_stream_from(rx)
            .for_each_concurrent(WRITERS, |record| async move { this.write(record).await })
            .await;
    }

    async fn write(&self, record: Record) {
        let key = record.aggregation_key();
        let previous = self.written.lock().unwrap().get(&key).cloned();
        let now = Time(Utc::now());
        if let Some(prev) = previous {
            let api: Api<Event> = Api::namespaced(self.client.clone(), &prev.namespace);
            let count = prev.count + 1;
            let patch = Patch::Merge(json!({"count": count, "lastTimestamp": now}));
            if api
                .patch(&prev.name, &PatchParams::default(), &patch)
                .await
                .is_ok()
            {
                self.remember(key, Written { count, ..prev });
                return;
            }
        }
        let namespace = if record.involved.namespace.is_empty() {
            "default".to_string()
        } else {
            record.involved.namespace.clone()
        };
        let name = format!(
            "{}.{:x}",
            record.involved.name,
            Utc::now().timestamp_nanos_opt().unwrap_or_default()
        );
        let event = Event {
            metadata: ObjectMeta {
                name: name.clone(),
                namespace: namespace.clone(),
                ..Default::default()
            },
            involved_object: record.involved,
            reason: record.reason,
            message: record.message,
            source: self.source.clone(),
            first_timestamp: Some(now),
            last_timestamp: Some(now),
            count: 1,
            type_: record.type_.to_string(),
            reporting_component: self.source.component.clone(),
            reporting_instance: self.source.host.clone(),
            ..Default::default()
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        match api.create(&PostParams::default(), &event).await {
            Ok(_) => self.remember(
                key,
                Written {
                    namespace,
                    name,
                    count: 1,
                },
            ),
            Err(e) => tracing::debug!(error = %e, "could not record event"),
        }
    }

    fn remember(&self, key: String, written: Written) {
        let mut map = self.written.lock().unwrap();
        if map.len() >= MEMORY && !map.contains_key(&key) {
            // Forgetting only means the next repeat writes a new Event.
            map.clear();
        }
        map.insert(key, written);
    }
}

/// The receiver as a stream (without pulling in tokio-stream's wrapper).
fn tokio_stream_from<T: Send + 'static>(
    mut rx: mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
