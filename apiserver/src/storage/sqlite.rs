//! The embedded backend: a kine-style append-only revision log in SQLite.
//!
//! Every write appends one row whose AUTOINCREMENT id is the new global
//! revision (ids are never reused, also across restarts and compactions).
//! One dedicated thread owns the only writing connection and commits the
//! writes queued meanwhile in one transaction; reads use a small pool of
//! read-only connections (WAL: readers never block the writer). Watches
//! replay the log and then follow an in-process broadcast of committed
//! changes; a watcher more than `watch_buffer` events behind fails with
//! "watcher too slow" instead of slowing down writers.
//!
//! **Durability**: WAL with `synchronous=FULL`; a write is acknowledged only
//! after its transaction committed and the WAL was fsynced, so an
//! acknowledged write survives a crash or kill of the process and a crash
//! of the machine (as far as the disk honours fsync).
//!
//! The database must be owned by one process: a second process writing the
//! same file would keep the data consistent (SQLite locks, CAS inside the
//! transaction) but its writes would not reach this process's watchers.

mod reader;
mod schema;
mod watch;
mod writer;

use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::broadcast;

use self::reader::ReadPool;
use self::writer::{Op, Shared, WriterHandle};
use super::{
    KeyValue, ListOptions, ListResult, Storage, StorageError, StorageResult, WatchEvent,
    WatchStream,
};

impl From<rusqlite::Error> for StorageError {
    fn from(e: rusqlite::Error) -> StorageError {
        StorageError::Backend(format!("sqlite: {e}"))
    }
}

/// Tuning knobs of [`SqliteStorage`].
#[derive(Clone, Debug)]
pub struct SqliteOptions {
    /// Read-only connections (reads beyond that many at once queue).
    pub read_connections: usize,
    /// Committed events buffered per watcher; a watcher further behind fails.
    pub watch_buffer: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            read_connections: 4,
            watch_buffer: 8192,
        }
    }
}

/// [`Storage`] on an embedded SQLite file.
pub struct SqliteStorage {
    writer: WriterHandle,
    readers: Arc<ReadPool>,
    events: broadcast::Sender<Arc<WatchEvent>>,
    shared: Arc<Shared>,
}

impl SqliteStorage {
    /// Opens (creating if needed) the database file at `path`.
    pub fn open(path: &Path) -> StorageResult<SqliteStorage> {
        SqliteStorage::open_with(path, SqliteOptions::default())
    }

    /// [`SqliteStorage::open`] with explicit options.
    pub fn open_with(path: &Path, options: SqliteOptions) -> StorageResult<SqliteStorage> {
        let conn = schema::open_writer(path)?;
        let shared = Arc::new(Shared {
            current: AtomicI64::new(schema::head_revision(&conn)?),
            compacted: AtomicI64::new(schema::compacted_revision(&conn)?),
        });
        let (events, _) = broadcast::channel(options.watch_buffer.max(1));
        let writer = WriterHandle::spawn(conn, events.clone(), shared.clone())?;
        Ok(SqliteStorage {
            writer,
            readers: Arc::new(ReadPool::new(path, options.read_connections)),
            events,
            shared,
        })
    }
}

#[async_trait]
impl Storage for SqliteStorage {
    async fn create(&self, key: &str, value: Vec<u8>) -> StorageResult<i64> {
        let key = key.to_owned();
        let event = self.writer.write(Op::Create { key, value }).await?;
        Ok(event.revision())
    }

    async fn get(&self, key: &str) -> StorageResult<KeyValue> {
        let key = key.to_owned();
        self.readers.run(move |conn| reader::get(conn, &key)).await
    }

    async fn update(
        &self,
        key: &str,
        value: Vec<u8>,
        expected_revision: i64,
    ) -> StorageResult<i64> {
        let key = key.to_owned();
        let op = Op::Update {
            key,
            value,
            expected: expected_revision,
        };
        Ok(self.writer.write(op).await?.revision())
    }

    async fn delete(
        &self,
        key: &str,
        expected_revision: Option<i64>,
    ) -> StorageResult<(KeyValue, i64)> {
        let key = key.to_owned();
        let op = Op::Delete {
            key,
            expected: expected_revision,
        };
        match &*self.writer.write(op).await? {
            WatchEvent::Delete { prev, revision } => Ok((prev.clone(), *revision)),
            WatchEvent::Put { .. } => Err(StorageError::Backend(
                "sqlite writer answered a delete with a put".into(),
            )),
        }
    }

    async fn list(&self, prefix: &str, opts: ListOptions) -> StorageResult<ListResult> {
        let prefix = prefix.to_owned();
        self.readers
            .run(move |conn| reader::list(conn, &prefix, &opts))
            .await
    }

    async fn count(&self, prefix: &str) -> StorageResult<i64> {
        let prefix = prefix.to_owned();
        self.readers
            .run(move |conn| reader::count(conn, &prefix))
            .await
    }

    async fn watch(&self, prefix: &str, after_revision: i64) -> StorageResult<WatchStream> {
        // Subscribe before the replay reads its snapshot (see `watch`).
        let events = self.events.subscribe();
        watch::watch(self.readers.clone(), events, prefix, after_revision).await
    }

    async fn current_revision(&self) -> StorageResult<i64> {
        Ok(self.shared.current.load(Ordering::SeqCst))
    }

    async fn compact(&self, revision: i64) -> StorageResult<()> {
        self.writer.compact(revision).await
    }

    async fn compacted_revision(&self) -> StorageResult<i64> {
        Ok(self.shared.compacted.load(Ordering::SeqCst))
    }
}
