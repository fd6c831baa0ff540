//! The durable Raft log: entries, vote, committed and last-purged log ids in redb.
//!
//! Openraft serialises every call on the store (`&mut self`), and each call here finishes its
//! fsync'd commit before it returns, so writes reach the disk in the order openraft issued them.
//!
//! One fsync per append, none of its own for the committed id: openraft saves the committed id
//! after every commit, and an fsync'd redb commit for it doubled the fsyncs per log entry (the
//! issue-15 profile: two `fdatasync` per entry, the write rate was the fsync rate). The id is
//! kept in memory and written in the next append's commit instead. That is safe because the
//! committed id is only a hint for a restart (openraft: "optionally persisted"): what it names
//! was appended, and so fsync'd, by earlier calls, so the id on disk never runs ahead of the
//! log on disk; a restart applies the log up to it at once and the rest as soon as it hears of
//! a newer commit (a single node: its own first commit as leader). Acknowledged writes are in
//! the log either way (a write is answered only once a majority has fsync'd its entry).

use std::fmt::Debug;
use std::io;
use std::ops::RangeBounds;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{LogState, RaftLogReader};
use redb::ReadableTable;

use super::db::{self, Db, DbError, LOGS, META};
use super::types::{Entry, LogId, StorageError, TypeConfig, Vote};

const VOTE: &str = "vote";
const COMMITTED: &str = "committed";
const LAST_PURGED: &str = "last_purged";

/// The committed log index as last saved by openraft, shared with [`super::RaftStore`] for its
/// metrics (`0` = none yet, otherwise index + 1).
#[derive(Clone, Debug, Default)]
pub(super) struct CommittedIndex(Arc<AtomicU64>);

impl CommittedIndex {
    pub(super) fn get(&self) -> Option<u64> {
        self.0.load(Ordering::Relaxed).checked_sub(1)
    }

    fn set(&self, committed: Option<&LogId>) {
        self.0
            .store(committed.map_or(0, |l| l.index + 1), Ordering::Relaxed);
    }
}

/// The log store; clones share the database (a clone is the log reader of a replication task).
#[derive(Clone)]
pub(super) struct LogStore {
    db: Arc<Db>,
    committed: CommittedIndex,
    /// The committed id openraft saved last and no commit has written yet (`Some`): the next
    /// append writes it along with its entries.
    unwritten_committed: Option<Option<LogId>>,
}

impl LogStore {
    pub(super) fn new(db: Arc<Db>, committed: CommittedIndex) -> Self {
        Self {
            db,
            committed,
            unwritten_committed: None,
        }
    }

    /// True when nothing was ever persisted: no vote, no entry, nothing purged. Only such a node
    /// may be initialised; initialising a node with history would fork or stall the cluster.
    pub(super) fn is_pristine(&self) -> Result<bool, DbError> {
        let vote: Option<Vote> = db::get_json(&self.db, META, VOTE)?;
        let purged: Option<LogId> = db::get_json(&self.db, META, LAST_PURGED)?;
        Ok(vote.is_none() && purged.is_none() && !db::has_logs(&self.db)?)
    }

    fn read_entries<RB: RangeBounds<u64>>(&self, range: RB) -> Result<Vec<Entry>, DbError> {
        let ctx = "reading log entries";
        let txn = self.db.begin_read().map_err(DbError::redb(ctx))?;
        let table = txn.open_table(LOGS).map_err(DbError::redb(ctx))?;
        let mut entries = Vec::new();
        for item in table.range::<u64>(range).map_err(DbError::redb(ctx))? {
            let (key, value) = item.map_err(DbError::redb(ctx))?;
            let index = key.value();
            let entry: Entry = serde_json::from_slice(value.value())
                .map_err(DbError::codec(format!("decoding log entry {index}")))?;
            entries.push(entry);
        }
        Ok(entries)
    }

    fn last_log_id(&self) -> Result<Option<LogId>, DbError> {
        let ctx = "reading the last log entry";
        let txn = self.db.begin_read().map_err(DbError::redb(ctx))?;
        let table = txn.open_table(LOGS).map_err(DbError::redb(ctx))?;
        let Some((key, value)) = table.last().map_err(DbError::redb(ctx))? else {
            return Ok(None);
        };
        /// An entry's id alone: its payload (megabytes for an import part) is skipped over,
        /// not built.
        #[derive(serde::Deserialize)]
        struct IdOnly {
            log_id: LogId,
        }
        let index = key.value();
        let entry: IdOnly = serde_json::from_slice(value.value())
            .map_err(DbError::codec(format!("decoding log entry {index}")))?;
        Ok(Some(entry.log_id))
    }

    /// Removes the entries in `range` and, when purging, records `purged` in the same commit.
    async fn remove(
        &self,
        what: &'static str,
        range: impl RangeBounds<u64> + Send + 'static,
        purged: Option<LogId>,
    ) -> Result<(), DbError> {
        let purged = match purged {
            Some(id) => Some(
                serde_json::to_vec(&id).map_err(DbError::codec("encoding the last purged id"))?,
            ),
            None => None,
        };
        let db = Arc::clone(&self.db);
        db::blocking(what, move || {
            let txn = db.begin_write().map_err(DbError::redb(what))?;
            {
                let mut logs = txn.open_table(LOGS).map_err(DbError::redb(what))?;
                logs.retain_in::<u64, _>(range, |_, _| false)
                    .map_err(DbError::redb(what))?;
                if let Some(bytes) = purged {
                    let mut meta = txn.open_table(META).map_err(DbError::redb(what))?;
                    meta.insert(LAST_PURGED, bytes.as_slice())
                        .map_err(DbError::redb(what))?;
                }
            }
            txn.commit().map_err(DbError::redb(what))
        })
        .await
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        self.read_entries(range).map_err(DbError::read_logs)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged_log_id: Option<LogId> =
            db::get_json(&self.db, META, LAST_PURGED).map_err(DbError::read_logs)?;
        let last_log_id = self
            .last_log_id()
            .map_err(DbError::read_logs)?
            .or(last_purged_log_id);
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        db::put_meta(&self.db, VOTE, vote)
            .await
            .map_err(DbError::write_vote)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        db::get_json(&self.db, META, VOTE).map_err(DbError::read_vote)
    }

    /// Kept for the next append's commit (see the module doc): no write, no fsync here.
    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        self.committed.set(committed.as_ref());
        self.unwritten_committed = Some(committed);
        Ok(())
    }

    /// The id saved last: on a restart the one the last append wrote, else the one in memory.
    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        let committed = match self.unwritten_committed {
            Some(c) => c,
            None => {
                let stored: Option<Option<LogId>> =
                    db::get_json(&self.db, META, COMMITTED).map_err(DbError::read_logs)?;
                stored.flatten()
            }
        };
        self.committed.set(committed.as_ref());
        Ok(committed)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        // Encoded with the write, off the async workers: an import part is MiBs of JSON.
        let entries: Vec<Entry> = entries.into_iter().collect();
        // Every entry the committed id names was appended by an earlier call, already durable.
        let committed = match self.unwritten_committed.take() {
            Some(c) => Some(
                serde_json::to_vec(&c)
                    .map_err(DbError::codec("encoding the committed id"))
                    .map_err(DbError::write_logs)?,
            ),
            None => None,
        };
        let db = Arc::clone(&self.db);
        let ctx = "appending log entries";
        let res = db::blocking(ctx, move || {
            let mut rows = Vec::with_capacity(entries.len());
            for entry in &entries {
                let index = entry.log_id.index;
                let bytes = serde_json::to_vec(entry)
                    .map_err(DbError::codec(format!("encoding log entry {index}")))?;
                rows.push((index, bytes));
            }
            let txn = db.begin_write().map_err(DbError::redb(ctx))?;
            {
                let mut table = txn.open_table(LOGS).map_err(DbError::redb(ctx))?;
                for (index, bytes) in &rows {
                    table
                        .insert(index, bytes.as_slice())
                        .map_err(DbError::redb(ctx))?;
                }
                if let Some(bytes) = committed {
                    let mut meta = txn.open_table(META).map_err(DbError::redb(ctx))?;
                    meta.insert(COMMITTED, bytes.as_slice())
                        .map_err(DbError::redb(ctx))?;
                }
            }
            txn.commit().map_err(DbError::redb(ctx))
        })
        .await;
        // The commit above was fsync'd (Durability::Immediate): only now may openraft count these
        // entries as on disk, e.g. towards a quorum.
        match res {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(io::Error::other(e.to_string())));
                Err(e.write_logs())
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        tracing::debug!(%log_id, "truncating the raft log from here on");
        self.remove("truncating the log", log_id.index.., None)
            .await
            .map_err(DbError::write_logs)
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        tracing::debug!(%log_id, "purging the raft log up to here");
        self.remove("purging the log", ..=log_id.index, Some(log_id))
            .await
            .map_err(DbError::write_logs)
    }
}
