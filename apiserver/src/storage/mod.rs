//! The storage interface the apiserver writes through, and its two
//! backends: etcd (production, several apiservers may share it) and an
//! embedded SQLite revision log (the zero-dependency default).
//!
//! Keys are opaque byte strings (`/registry/pods/default/web-1`); values
//! are the serialized objects. Every successful write gets a new global
//! revision, strictly increasing; the revision of an object's last write
//! is its `resourceVersion`.

pub mod compactor;
pub mod etcd;
mod keys;
pub mod sqlite;

pub use compactor::spawn_compactor;
pub use etcd::EtcdStorage;
pub use sqlite::{SqliteOptions, SqliteStorage};

use std::pin::Pin;

use async_trait::async_trait;
use futures::Stream;

/// A stored value with its revisions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Vec<u8>,
    /// Revision of the write that created this key (current incarnation).
    pub create_revision: i64,
    /// Revision of the last write to this key (the `resourceVersion`).
    pub mod_revision: i64,
}

/// Result of a list: the items in key order at one revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListResult {
    pub items: Vec<KeyValue>,
    /// The revision the list was read at.
    pub revision: i64,
    /// More keys exist after the last returned one (pagination).
    pub more: bool,
}

/// What a list reads.
#[derive(Clone, Debug, Default)]
pub struct ListOptions {
    /// Read at this revision (must not be compacted); `None` = latest.
    pub revision: Option<i64>,
    /// Start strictly after this key (pagination); `None` = from the prefix start.
    pub start_after: Option<String>,
    /// At most this many items; 0 = no limit.
    pub limit: usize,
}

/// A change observed by a watch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchEvent {
    /// The key was created (`prev` is None) or updated (`prev` is the old value).
    Put {
        kv: KeyValue,
        prev: Option<KeyValue>,
    },
    /// The key was deleted at `revision`; `prev` is the last value.
    Delete { prev: KeyValue, revision: i64 },
}

impl WatchEvent {
    /// The revision this event happened at.
    pub fn revision(&self) -> i64 {
        match self {
            WatchEvent::Put { kv, .. } => kv.mod_revision,
            WatchEvent::Delete { revision, .. } => *revision,
        }
    }

    pub fn key(&self) -> &str {
        match self {
            WatchEvent::Put { kv, .. } => &kv.key,
            WatchEvent::Delete { prev, .. } => &prev.key,
        }
    }
}

/// Errors a storage backend reports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    #[error("key {0} not found")]
    NotFound(String),
    #[error("key {0} already exists")]
    AlreadyExists(String),
    /// A compare-and-swap lost: the key's current mod revision is not the expected one.
    #[error("key {key} has been modified (expected revision {expected}, found {actual:?})")]
    Conflict {
        key: String,
        expected: i64,
        /// The current value, if the key still exists.
        actual: Option<i64>,
    },
    /// The requested revision is older than the compacted history.
    #[error("revision {requested} has been compacted (oldest available {compacted})")]
    Compacted { requested: i64, compacted: i64 },
    /// The requested revision is in the future.
    #[error("revision {0} is newer than the current revision")]
    FutureRevision(i64),
    #[error("storage backend: {0}")]
    Backend(String),
}

pub type StorageResult<T> = Result<T, StorageError>;

/// A stream of watch events in revision order. An `Err(Compacted)` item
/// means history the watch still needed is gone: normally the first item
/// (the start revision was compacted), but also later if a compaction
/// overtakes a watch still replaying a long history. Any error ends the
/// stream (a watcher that falls too far behind gets a `Backend` error).
pub type WatchStream = Pin<Box<dyn Stream<Item = StorageResult<WatchEvent>> + Send>>;

/// The one interface between the apiserver and its backend. Both backends
/// pass the same conformance suite (`tests/storage_conformance.rs`).
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// Create `key`; fails with `AlreadyExists` if it exists. Returns the new revision.
    async fn create(&self, key: &str, value: Vec<u8>) -> StorageResult<i64>;

    /// The current value of `key`.
    async fn get(&self, key: &str) -> StorageResult<KeyValue>;

    /// Replace `key` if its mod revision is `expected_revision`
    /// (`Conflict` otherwise, `NotFound` if it does not exist). Returns the new revision.
    async fn update(&self, key: &str, value: Vec<u8>, expected_revision: i64)
        -> StorageResult<i64>;

    /// Delete `key`, if `expected_revision` is given only when it matches.
    /// Returns the deleted value and the revision of the delete.
    async fn delete(
        &self,
        key: &str,
        expected_revision: Option<i64>,
    ) -> StorageResult<(KeyValue, i64)>;

    /// Keys under `prefix` in key order.
    async fn list(&self, prefix: &str, opts: ListOptions) -> StorageResult<ListResult>;

    /// Number of keys under `prefix` at the latest revision.
    async fn count(&self, prefix: &str) -> StorageResult<i64>;

    /// Every change under `prefix` with revision > `after_revision`, in order,
    /// then live changes as they happen.
    async fn watch(&self, prefix: &str, after_revision: i64) -> StorageResult<WatchStream>;

    /// The latest revision of the store.
    async fn current_revision(&self) -> StorageResult<i64>;

    /// Drop history before `revision`, as etcd does: afterwards a list at a
    /// revision < `revision`, or a watch with `after_revision` < `revision - 1`,
    /// fails with `Compacted`; current values always stay.
    async fn compact(&self, revision: i64) -> StorageResult<()>;

    /// The oldest revision a watch or list may still start from
    /// (the compacted revision); 0 if nothing was compacted.
    async fn compacted_revision(&self) -> StorageResult<i64>;
}
