//! The on-disk layout (a kine-style revision log), connection setup, and
//! the mapping from log rows to [`KeyValue`]s and [`WatchEvent`]s.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::storage::{KeyValue, WatchEvent};

/// One row per write. `id` is the global revision; AUTOINCREMENT never
/// reuses an id, even after compaction deleted the highest rows' neighbours
/// or the process restarted. `create_revision` is 0 on the row that created
/// the key (its own `id` is the create revision); `prev_revision` is the id
/// of the key's previous row (0 for the first). `old_value` is the value the
/// write replaced, so an event's previous value survives compaction.
/// The unique index on `(name, prev_revision)` makes two writes from the same
/// base impossible even if the single-writer discipline were broken.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS kine (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name BLOB NOT NULL,
    created INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    create_revision INTEGER NOT NULL,
    prev_revision INTEGER NOT NULL,
    value BLOB,
    old_value BLOB
);
CREATE UNIQUE INDEX IF NOT EXISTS kine_name_prev_revision ON kine (name, prev_revision);
CREATE INDEX IF NOT EXISTS kine_name_id ON kine (name, id);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
";

/// The `meta` key holding the compacted revision.
pub(super) const COMPACT_REV_KEY: &str = "compact_rev";

/// The columns every row query selects, in [`Row::from_sql`] order.
pub(super) const ROW_COLUMNS: &str = "id, name, created, deleted, \
     CASE WHEN created = 1 THEN id ELSE create_revision END, prev_revision, value, old_value";

/// How long a connection waits for a lock (checkpoints, a second process).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens the single writing connection, creating the schema.
///
/// WAL with `synchronous=FULL`: every commit fsyncs the WAL before the
/// writer acknowledges it, so an acknowledged write survives a crash of the
/// process *and* of the machine (power loss), provided the disk honours
/// fsync. The writer amortises the fsync with group commit.
pub(super) fn open_writer(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

/// Opens a read-only connection (the database must already exist).
pub(super) fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}

/// The latest revision in the log (0 when empty). Compaction never deletes
/// the newest row, so this is the last revision ever issued.
pub(super) fn head_revision(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT COALESCE(MAX(id), 0) FROM kine")?
        .query_row([], |r| r.get(0))
}

/// The compacted revision recorded in `meta` (0 when never compacted).
pub(super) fn compacted_revision(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT COALESCE((SELECT value FROM meta WHERE key = ?1), 0)")?
        .query_row([COMPACT_REV_KEY], |r| r.get(0))
}

/// One row of the log.
#[derive(Clone, Debug)]
pub(super) struct Row {
    pub id: i64,
    pub name: String,
    pub created: bool,
    pub deleted: bool,
    /// Resolved: the row's own id for a creating row.
    pub create_revision: i64,
    pub prev_revision: i64,
    pub value: Vec<u8>,
    pub old_value: Vec<u8>,
}

impl Row {
    /// Reads a row selected with [`ROW_COLUMNS`].
    pub fn from_sql(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
        let name = r.get_ref(1)?.as_blob()?;
        let name = String::from_utf8(name.to_vec()).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Blob, Box::new(e))
        })?;
        Ok(Row {
            id: r.get(0)?,
            name,
            created: r.get(2)?,
            deleted: r.get(3)?,
            create_revision: r.get(4)?,
            prev_revision: r.get(5)?,
            value: r.get::<_, Option<Vec<u8>>>(6)?.unwrap_or_default(),
            old_value: r.get::<_, Option<Vec<u8>>>(7)?.unwrap_or_default(),
        })
    }

    /// The key's value as of this row (meaningless for a tombstone).
    pub fn into_kv(self) -> KeyValue {
        KeyValue {
            key: self.name,
            value: self.value,
            create_revision: self.create_revision,
            mod_revision: self.id,
        }
    }

    /// The change this row records.
    pub fn into_event(self) -> WatchEvent {
        let prev = KeyValue {
            key: self.name.clone(),
            value: self.old_value,
            create_revision: self.create_revision,
            mod_revision: self.prev_revision,
        };
        if self.deleted {
            return WatchEvent::Delete {
                prev,
                revision: self.id,
            };
        }
        let prev = (!self.created).then_some(prev);
        WatchEvent::Put {
            kv: KeyValue {
                key: self.name,
                value: self.value,
                create_revision: self.create_revision,
                mod_revision: self.id,
            },
            prev,
        }
    }
}

/// The newest row of `key` (possibly a tombstone), if any survives.
pub(super) fn latest_row(conn: &Connection, key: &str) -> rusqlite::Result<Option<Row>> {
    use rusqlite::OptionalExtension;
    conn.prepare_cached(&format!(
        "SELECT {ROW_COLUMNS} FROM kine WHERE name = ?1 ORDER BY id DESC LIMIT 1"
    ))?
    .query_row([key.as_bytes()], Row::from_sql)
    .optional()
}
