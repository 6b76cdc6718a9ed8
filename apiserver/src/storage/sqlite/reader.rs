//! Reads: a small pool of read-only connections used from blocking tasks,
//! and the queries behind get, list, count and watch replay. In WAL mode
//! readers never wait for the writer; a multi-statement read runs in one
//! transaction so it sees one snapshot.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::Semaphore;

use super::schema::{self, latest_row, Row, ROW_COLUMNS};
use crate::storage::keys::{list_start, prefix_end};
use crate::storage::{KeyValue, ListOptions, ListResult, StorageError, StorageResult};

/// At most `size` read-only connections, opened on demand and reused (each
/// keeps its prepared statements); callers beyond that wait their turn.
pub(super) struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

impl ReadPool {
    pub fn new(path: &Path, size: usize) -> ReadPool {
        ReadPool {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(size.max(1))),
        }
    }

    /// Runs `f` on a pooled connection in a blocking task.
    pub async fn run<T, F>(self: &Arc<Self>, f: F) -> StorageResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StorageResult<T> + Send + 'static,
    {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StorageError::Backend("sqlite read pool closed".into()))?;
        let pool = self.clone();
        tokio::task::spawn_blocking(move || {
            // Held until the connection is back in the pool, even if the
            // caller gave up waiting.
            let _permit = permit;
            pool.with_connection(f)
        })
        .await
        .map_err(|e| StorageError::Backend(format!("sqlite read task failed: {e}")))?
    }

    fn with_connection<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> StorageResult<T>,
    ) -> StorageResult<T> {
        let idle = self.lock().pop();
        let mut conn = match idle {
            Some(conn) => conn,
            None => schema::open_reader(&self.path)?,
        };
        let result = f(&mut conn);
        self.lock().push(conn);
        result
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        // A panic while holding the lock cannot leave the Vec inconsistent.
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The `[lo, hi)` byte range of keys under `prefix` (keys are UTF-8, which
/// never contains 0xff, so `0xff` bounds an unbounded range).
pub(super) fn prefix_range(prefix: &str) -> (Vec<u8>, Vec<u8>) {
    let hi = prefix_end(prefix.as_bytes()).unwrap_or_else(|| vec![0xff]);
    (prefix.as_bytes().to_vec(), hi)
}

/// The current value of `key`.
pub(super) fn get(conn: &Connection, key: &str) -> StorageResult<KeyValue> {
    match latest_row(conn, key)? {
        Some(row) if !row.deleted => Ok(row.into_kv()),
        _ => Err(StorageError::NotFound(key.to_owned())),
    }
}

/// Live keys under `prefix` at a revision, in key order.
pub(super) fn list(
    conn: &mut Connection,
    prefix: &str,
    opts: &ListOptions,
) -> StorageResult<ListResult> {
    let tx = conn.transaction()?;
    let head = schema::head_revision(&tx)?;
    let revision = match opts.revision.filter(|r| *r > 0) {
        None => head,
        Some(r) if r > head => return Err(StorageError::FutureRevision(r)),
        Some(r) => {
            let compacted = schema::compacted_revision(&tx)?;
            if r < compacted {
                return Err(StorageError::Compacted {
                    requested: r,
                    compacted,
                });
            }
            r
        }
    };
    let lo = list_start(prefix, opts.start_after.as_deref());
    let (_, hi) = prefix_range(prefix);
    // One more than asked for tells whether there are more.
    let limit = if opts.limit == 0 {
        -1
    } else {
        i64::try_from(opts.limit).unwrap_or(i64::MAX - 1) + 1
    };
    let mut items = tx
        .prepare_cached(&format!(
            "SELECT {ROW_COLUMNS} FROM kine AS k \
             WHERE k.name >= ?1 AND k.name < ?2 AND k.id <= ?3 AND k.deleted = 0 \
             AND k.id = (SELECT MAX(k2.id) FROM kine AS k2 WHERE k2.name = k.name AND k2.id <= ?3) \
             ORDER BY k.name LIMIT ?4"
        ))?
        .query_map(rusqlite::params![lo, hi, revision, limit], Row::from_sql)?
        .map(|row| row.map(Row::into_kv))
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let more = opts.limit > 0 && items.len() > opts.limit;
    items.truncate(if opts.limit > 0 {
        opts.limit
    } else {
        items.len()
    });
    Ok(ListResult {
        items,
        revision,
        more,
    })
}

/// Number of live keys under `prefix`.
pub(super) fn count(conn: &Connection, prefix: &str) -> StorageResult<i64> {
    let (lo, hi) = prefix_range(prefix);
    Ok(conn
        .prepare_cached(
            "SELECT COUNT(*) FROM kine AS k \
             WHERE k.name >= ?1 AND k.name < ?2 AND k.deleted = 0 \
             AND k.id = (SELECT MAX(k2.id) FROM kine AS k2 WHERE k2.name = k.name)",
        )?
        .query_row(rusqlite::params![lo, hi], |r| r.get(0))?)
}

/// One batch of a watch replay.
pub(super) struct History {
    /// Rows in `(after, head]` under the prefix, in revision order.
    pub rows: Vec<Row>,
    /// The revision the replay runs up to.
    pub head: i64,
}

/// Up to `limit` rows under `[lo, hi)` with `after < id <= head` (`head`
/// defaults to the latest revision), failing with `Compacted` if history
/// after `after` is no longer complete.
pub(super) fn history(
    conn: &mut Connection,
    (lo, hi): (&[u8], &[u8]),
    after: i64,
    head: Option<i64>,
    limit: usize,
) -> StorageResult<History> {
    let tx = conn.transaction()?;
    let compacted = schema::compacted_revision(&tx)?;
    if after < compacted - 1 {
        return Err(StorageError::Compacted {
            requested: after + 1,
            compacted,
        });
    }
    let head = match head {
        Some(head) => head,
        None => schema::head_revision(&tx)?,
    };
    let rows = tx
        .prepare_cached(&format!(
            "SELECT {ROW_COLUMNS} FROM kine \
             WHERE id > ?1 AND id <= ?2 AND name >= ?3 AND name < ?4 ORDER BY id LIMIT ?5"
        ))?
        .query_map(
            rusqlite::params![
                after,
                head,
                lo,
                hi,
                i64::try_from(limit).unwrap_or(i64::MAX)
            ],
            Row::from_sql,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(History { rows, head })
}
