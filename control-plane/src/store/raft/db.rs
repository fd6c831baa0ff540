//! The redb file behind the Raft log and the state-machine snapshot (`<data_dir>/raft.redb`).
//!
//! Every write transaction commits with redb's default `Durability::Immediate`, i.e. the data is
//! fsync'd before `commit()` returns: that is what lets the log store report entries as flushed
//! and the vote as saved.

use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;

use openraft::{AnyError, StorageIOError};
use redb::{Database, ReadableTable, TableDefinition};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::watch;

use super::types::StorageError;

/// Log entries by index, each the JSON of an `openraft::Entry`.
pub(super) const LOGS: TableDefinition<u64, &[u8]> = TableDefinition::new("logs");
/// Log-store metadata: `vote`, `committed`, `last_purged` (JSON each).
pub(super) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// The last snapshot: `meta` (JSON `SnapshotMeta`) and `data` (the snapshot bytes).
pub(super) const SNAPSHOT: TableDefinition<&str, &[u8]> = TableDefinition::new("snapshot");

/// A failure of the Raft storage file, with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("raft storage: {context}: {source}")]
    Redb {
        context: String,
        source: Box<redb::Error>,
    },
    #[error("raft storage: {context}: decoding or encoding failed: {source}")]
    Codec {
        context: String,
        source: serde_json::Error,
    },
    #[error("raft storage: {context}: {message}")]
    Corrupt { context: String, message: String },
    #[error("raft storage: {context}: blocking task failed: {source}")]
    Task {
        context: String,
        source: tokio::task::JoinError,
    },
}

impl DbError {
    /// An adapter for `map_err` on any redb error.
    pub(super) fn redb<E: Into<redb::Error>>(context: impl Into<String>) -> impl FnOnce(E) -> Self {
        let context = context.into();
        move |e| Self::Redb {
            context,
            source: Box::new(e.into()),
        }
    }

    pub(super) fn codec(context: impl Into<String>) -> impl FnOnce(serde_json::Error) -> Self {
        let context = context.into();
        move |source| Self::Codec { context, source }
    }

    /// As openraft's error for a failed log read.
    pub(super) fn read_logs(self) -> StorageError {
        StorageIOError::read_logs(AnyError::new(&self)).into()
    }

    pub(super) fn write_logs(self) -> StorageError {
        StorageIOError::write_logs(AnyError::new(&self)).into()
    }

    pub(super) fn read_vote(self) -> StorageError {
        StorageIOError::read_vote(AnyError::new(&self)).into()
    }

    pub(super) fn write_vote(self) -> StorageError {
        StorageIOError::write_vote(AnyError::new(&self)).into()
    }

    pub(super) fn read_snapshot(self) -> StorageError {
        StorageIOError::read_snapshot(None, AnyError::new(&self)).into()
    }

    pub(super) fn write_snapshot(self) -> StorageError {
        StorageIOError::write_snapshot(None, AnyError::new(&self)).into()
    }
}

/// The open database. Dropping the last handle closes the file (redb flushes its allocator
/// state on drop) and only then reports it closed, so the same file can be reopened at once.
pub(super) struct Db {
    db: Database,
    // Declared after `db`: fields drop in order, so this fires once the file is closed.
    _closed: CloseSignal,
}

struct CloseSignal(watch::Sender<bool>);

impl Drop for CloseSignal {
    fn drop(&mut self) {
        self.0.send_replace(true);
    }
}

impl Deref for Db {
    type Target = Database;

    fn deref(&self) -> &Database {
        &self.db
    }
}

/// Opens (or creates) the file and makes sure every table exists, so readers never meet a
/// missing table. The receiver turns `true` once the returned handle is dropped and the file
/// closed.
pub(super) fn open(path: &Path) -> Result<(Db, watch::Receiver<bool>), DbError> {
    let ctx = || format!("opening {}", path.display());
    let db = Database::create(path).map_err(DbError::redb(ctx()))?;
    let txn = db.begin_write().map_err(DbError::redb(ctx()))?;
    txn.open_table(LOGS).map_err(DbError::redb(ctx()))?;
    txn.open_table(META).map_err(DbError::redb(ctx()))?;
    txn.open_table(SNAPSHOT).map_err(DbError::redb(ctx()))?;
    txn.commit().map_err(DbError::redb(ctx()))?;
    let (tx, rx) = watch::channel(false);
    Ok((
        Db {
            db,
            _closed: CloseSignal(tx),
        },
        rx,
    ))
}

/// Runs blocking storage work (an fsync'ing commit) off the async worker threads.
pub(super) async fn blocking<T, F>(context: &str, f: F) -> Result<T, DbError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, DbError> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(res) => res,
        Err(source) => Err(DbError::Task {
            context: context.to_string(),
            source,
        }),
    }
}

/// Reads and decodes one JSON value of the `META` or `SNAPSHOT` table.
pub(super) fn get_json<T: DeserializeOwned>(
    db: &Database,
    table: TableDefinition<&str, &[u8]>,
    key: &str,
) -> Result<Option<T>, DbError> {
    let ctx = || format!("reading {key}");
    let txn = db.begin_read().map_err(DbError::redb(ctx()))?;
    let table = txn.open_table(table).map_err(DbError::redb(ctx()))?;
    match table.get(key).map_err(DbError::redb(ctx()))? {
        None => Ok(None),
        Some(v) => serde_json::from_slice(v.value())
            .map(Some)
            .map_err(DbError::codec(ctx())),
    }
}

/// Encodes and durably writes one JSON value of the `META` table.
pub(super) async fn put_meta<T: Serialize>(
    db: &Arc<Db>,
    key: &'static str,
    value: &T,
) -> Result<(), DbError> {
    let bytes = serde_json::to_vec(value).map_err(DbError::codec(format!("encoding {key}")))?;
    let db = Arc::clone(db);
    let ctx = format!("writing {key}");
    blocking(&ctx.clone(), move || {
        let txn = db.begin_write().map_err(DbError::redb(ctx.clone()))?;
        {
            let mut table = txn.open_table(META).map_err(DbError::redb(ctx.clone()))?;
            table
                .insert(key, bytes.as_slice())
                .map_err(DbError::redb(ctx.clone()))?;
        }
        txn.commit().map_err(DbError::redb(ctx))
    })
    .await
}

/// Whether any log entry is stored (used to tell a pristine store).
pub(super) fn has_logs(db: &Database) -> Result<bool, DbError> {
    let ctx = "checking for log entries";
    let txn = db.begin_read().map_err(DbError::redb(ctx))?;
    let table = txn.open_table(LOGS).map_err(DbError::redb(ctx))?;
    let last = table.last().map_err(DbError::redb(ctx))?;
    Ok(last.is_some())
}
