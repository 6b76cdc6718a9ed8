//! The single writer: one connection on a dedicated thread applies every
//! write and compaction in order, commits writes in groups (one fsync for
//! all writes queued meanwhile), and publishes each committed change to the
//! watchers only after its commit.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{broadcast, oneshot};

use super::schema::{latest_row, Row, COMPACT_REV_KEY};
use crate::storage::{StorageError, StorageResult, WatchEvent};

/// Most writes committed in one transaction.
const MAX_BATCH: usize = 256;
/// Revisions a compaction scans per statement; writes run between chunks.
const COMPACT_CHUNK: i64 = 10_000;

/// A write request.
pub(super) enum Op {
    Create {
        key: String,
        value: Vec<u8>,
    },
    Update {
        key: String,
        value: Vec<u8>,
        expected: i64,
    },
    Delete {
        key: String,
        expected: Option<i64>,
    },
}

type WriteReply = oneshot::Sender<StorageResult<Arc<WatchEvent>>>;
type CompactReply = oneshot::Sender<StorageResult<()>>;

enum Command {
    Write(Op, WriteReply),
    Compact(i64, CompactReply),
}

/// Revisions the writer publishes for lock-free reads.
#[derive(Debug)]
pub(super) struct Shared {
    /// The last committed revision.
    pub current: AtomicI64,
    /// The compacted revision (0 if never compacted).
    pub compacted: AtomicI64,
}

/// The async side of the writer thread. Dropping it finishes the queued
/// commands and joins the thread, which closes the connection.
pub(super) struct WriterHandle {
    tx: mpsc::Sender<Command>,
    thread: Option<JoinHandle<()>>,
}

fn stopped() -> StorageError {
    StorageError::Backend("sqlite writer has stopped".into())
}

impl WriterHandle {
    /// Starts the writer thread on `conn`.
    pub fn spawn(
        conn: Connection,
        events: broadcast::Sender<Arc<WatchEvent>>,
        shared: Arc<Shared>,
    ) -> StorageResult<WriterHandle> {
        let (tx, rx) = mpsc::channel();
        let writer = Writer {
            conn,
            events,
            shared,
        };
        let thread = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| StorageError::Backend(format!("spawning sqlite writer: {e}")))?;
        Ok(WriterHandle {
            tx,
            thread: Some(thread),
        })
    }

    /// Applies one write; the result is the committed change.
    pub async fn write(&self, op: Op) -> StorageResult<Arc<WatchEvent>> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Write(op, reply))
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }

    /// Compacts the log at `revision` (see `Storage::compact`).
    pub async fn compact(&self, revision: i64) -> StorageResult<()> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Compact(revision, reply))
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }
}

impl Drop for WriterHandle {
    fn drop(&mut self) {
        // Closing the channel lets the thread drain its queue and exit.
        self.tx = mpsc::channel().0;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A compaction in progress: rows with id in `[next, target)` still to scan.
struct Compaction {
    target: i64,
    next: i64,
    reply: CompactReply,
}

struct Writer {
    conn: Connection,
    events: broadcast::Sender<Arc<WatchEvent>>,
    shared: Arc<Shared>,
}

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<Command>) {
        let mut queued: VecDeque<(i64, CompactReply)> = VecDeque::new();
        let mut active: Option<Compaction> = None;
        loop {
            let mut writes = Vec::new();
            let mut next = if active.is_none() && queued.is_empty() {
                match rx.recv() {
                    Ok(cmd) => Some(cmd),
                    Err(_) => return,
                }
            } else {
                rx.try_recv().ok()
            };
            while let Some(cmd) = next {
                match cmd {
                    Command::Write(op, reply) => writes.push((op, reply)),
                    Command::Compact(rev, reply) => queued.push_back((rev, reply)),
                }
                next = if writes.len() < MAX_BATCH {
                    rx.try_recv().ok()
                } else {
                    None
                };
            }
            if !writes.is_empty() {
                self.commit_batch(writes);
            }
            if active.is_none() {
                if let Some((target, reply)) = queued.pop_front() {
                    active = self.start_compaction(target, reply);
                }
            }
            if let Some(compaction) = active.take() {
                active = self.compact_chunk(compaction);
            }
        }
    }

    /// Applies `writes` in one transaction, then publishes and replies.
    /// A database error fails every write of the batch (none is committed).
    fn commit_batch(&mut self, writes: Vec<(Op, WriteReply)>) {
        let (ops, replies): (Vec<Op>, Vec<WriteReply>) = writes.into_iter().unzip();
        match apply_batch(&mut self.conn, ops) {
            Ok(results) => {
                let mut outcomes = Vec::with_capacity(results.len());
                for result in results {
                    outcomes.push(result.map(|row| {
                        self.shared.current.store(row.id, Ordering::SeqCst);
                        let event = Arc::new(row.into_event());
                        // No receivers is fine: nobody is watching.
                        let _ = self.events.send(event.clone());
                        event
                    }));
                }
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(outcome);
                }
            }
            Err(e) => {
                let err = StorageError::from(e);
                for reply in replies {
                    let _ = reply.send(Err(err.clone()));
                }
            }
        }
    }

    /// Validates a compaction and records its revision (from then on reads
    /// below it fail); the rows are deleted chunk by chunk afterwards.
    fn start_compaction(&mut self, target: i64, reply: CompactReply) -> Option<Compaction> {
        if target > self.shared.current.load(Ordering::SeqCst) {
            let _ = reply.send(Err(StorageError::FutureRevision(target)));
            return None;
        }
        if target <= self.shared.compacted.load(Ordering::SeqCst) {
            let _ = reply.send(Ok(()));
            return None;
        }
        match record_compaction(&self.conn, target) {
            Ok(first) => {
                self.shared.compacted.store(target, Ordering::SeqCst);
                Some(Compaction {
                    target,
                    next: first,
                    reply,
                })
            }
            Err(e) => {
                let _ = reply.send(Err(e.into()));
                None
            }
        }
    }

    /// Deletes one chunk of history; `None` when the compaction is finished.
    /// Rows a failed chunk leaves behind are only garbage: the next
    /// compaction scans from the oldest row again.
    fn compact_chunk(&mut self, mut c: Compaction) -> Option<Compaction> {
        let end = c.target.min(c.next.saturating_add(COMPACT_CHUNK));
        if c.next < end {
            if let Err(e) = delete_history(&self.conn, c.next, end, c.target) {
                let _ = c.reply.send(Err(e.into()));
                return None;
            }
        }
        c.next = end;
        if end >= c.target {
            let _ = c.reply.send(Ok(()));
            return None;
        }
        Some(c)
    }
}

/// Runs `ops` in one IMMEDIATE transaction. The outer error is a database
/// failure (the transaction is rolled back); inner errors are per-write
/// outcomes such as `Conflict`.
fn apply_batch(conn: &mut Connection, ops: Vec<Op>) -> rusqlite::Result<Vec<StorageResult<Row>>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut results = Vec::with_capacity(ops.len());
    for op in ops {
        results.push(apply_op(&tx, op)?);
    }
    tx.commit()?;
    Ok(results)
}

/// Checks one write against the key's latest row and appends its row.
fn apply_op(conn: &Connection, op: Op) -> rusqlite::Result<StorageResult<Row>> {
    let key = match &op {
        Op::Create { key, .. } | Op::Update { key, .. } | Op::Delete { key, .. } => key,
    };
    let latest = latest_row(conn, key)?;
    let live = latest.as_ref().filter(|row| !row.deleted);
    let expect = |expected: i64, row: &Row| {
        (row.id != expected).then(|| StorageError::Conflict {
            key: key.clone(),
            expected,
            actual: Some(row.id),
        })
    };
    let new = match (&op, live) {
        (Op::Create { key, .. }, Some(_)) => {
            return Ok(Err(StorageError::AlreadyExists(key.clone())))
        }
        (Op::Create { value, .. }, None) => NewRow {
            created: true,
            deleted: false,
            create_revision: 0,
            prev_revision: latest.as_ref().map_or(0, |row| row.id),
            value: Some(value),
            old_value: None,
        },
        (Op::Update { key, .. } | Op::Delete { key, .. }, None) => {
            return Ok(Err(StorageError::NotFound(key.clone())))
        }
        (
            Op::Update {
                value, expected, ..
            },
            Some(row),
        ) => {
            if let Some(conflict) = expect(*expected, row) {
                return Ok(Err(conflict));
            }
            NewRow::replacing(row, false, Some(value))
        }
        (Op::Delete { expected, .. }, Some(row)) => {
            if let Some(conflict) = expected.and_then(|e| expect(e, row)) {
                return Ok(Err(conflict));
            }
            NewRow::replacing(row, true, None)
        }
    };
    let id = new.insert(conn, key)?;
    Ok(Ok(new.into_row(id, key)))
}

/// A row about to be appended.
struct NewRow<'a> {
    created: bool,
    deleted: bool,
    create_revision: i64,
    prev_revision: i64,
    value: Option<&'a [u8]>,
    old_value: Option<&'a [u8]>,
}

impl<'a> NewRow<'a> {
    /// An update (`deleted = false`) or tombstone of the live row `prev`.
    fn replacing(prev: &'a Row, deleted: bool, value: Option<&'a Vec<u8>>) -> NewRow<'a> {
        NewRow {
            created: false,
            deleted,
            create_revision: prev.create_revision,
            prev_revision: prev.id,
            value: value.map(Vec::as_slice),
            old_value: Some(&prev.value),
        }
    }

    fn insert(&self, conn: &Connection, key: &str) -> rusqlite::Result<i64> {
        conn.prepare_cached(
            "INSERT INTO kine (name, created, deleted, create_revision, prev_revision, value, old_value) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(rusqlite::params![
            key.as_bytes(),
            self.created,
            self.deleted,
            self.create_revision,
            self.prev_revision,
            self.value,
            self.old_value,
        ])?;
        Ok(conn.last_insert_rowid())
    }

    fn into_row(self, id: i64, key: &str) -> Row {
        Row {
            id,
            name: key.to_owned(),
            created: self.created,
            deleted: self.deleted,
            create_revision: if self.created {
                id
            } else {
                self.create_revision
            },
            prev_revision: self.prev_revision,
            value: self.value.map(<[u8]>::to_vec).unwrap_or_default(),
            old_value: self.old_value.map(<[u8]>::to_vec).unwrap_or_default(),
        }
    }
}

/// Persists the compacted revision; returns the oldest row id to scan.
fn record_compaction(conn: &Connection, target: i64) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute(rusqlite::params![COMPACT_REV_KEY, target])?;
    conn.prepare_cached("SELECT COALESCE(MIN(id), 0) FROM kine")?
        .query_row([], |r| r.get(0))
}

/// Deletes, among rows with id in `[from, to)`, those no read at a revision
/// `>= target` and no watch from `target - 1` can need: rows superseded by a
/// later row of the same key at or before `target`, and tombstones (a
/// tombstone's event is older than any watch may start). The latest row of
/// every live key, and every row at or after `target`, stays.
fn delete_history(conn: &Connection, from: i64, to: i64, target: i64) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "DELETE FROM kine WHERE id >= ?1 AND id < ?2 AND (deleted = 1 OR id < \
         (SELECT MAX(k2.id) FROM kine AS k2 WHERE k2.name = kine.name AND k2.id <= ?3))",
    )?
    .execute([from, to, target])
}
