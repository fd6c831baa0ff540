//! The Raft state machine: [`crate::state::apply`] over the log, published through `watch`
//! channels, persisted as snapshots.
//!
//! Durability: `apply` only changes memory. Every snapshot (built here or installed from the
//! leader) is written to redb before openraft may purge the log it covers, and on start the state
//! machine reports the snapshot's last log id as applied, so openraft re-applies the rest of the
//! (durable) log itself. Nothing acknowledged is therefore lost with the process.

use std::io::Cursor;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, RaftSnapshotBuilder};
use prometheus::Histogram;
use redb::{Database, ReadableTable};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::db::{self, Db, DbError, SNAPSHOT};
use super::types::{
    Answers, Entry, LogId, Snapshot, SnapshotMeta, StorageError, StoredMembership, TypeConfig,
};
use crate::state::{Outcome, State};

/// The version of the first request of the entry at log `index`, after a state at `version`.
///
/// While every entry carries one request this is the log index itself, as it always was (the
/// version is the applied index); an entry carrying a batch of `k` requests moves the version
/// by `k`, so every write keeps a version of its own and from then on versions run ahead of
/// log indexes. Both only increase, and every node computes the same numbers from the same
/// log. (`applied_before` is false only for the very first entry of a log, index 0.)
pub(super) fn next_version(version: u64, index: u64, applied_before: bool) -> u64 {
    if applied_before {
        index.max(version + 1)
    } else {
        index.max(version)
    }
}

const SNAPSHOT_META: &str = "meta";
const SNAPSHOT_DATA: &str = "data";

/// The snapshot bytes: the whole state and the membership it was taken with.
#[derive(Serialize)]
struct SnapshotBodyRef<'a> {
    state: &'a State,
    membership: &'a StoredMembership,
}

/// What a node reads back: the membership comes from the snapshot meta.
#[derive(Deserialize)]
struct SnapshotBody {
    state: State,
}

/// Receivers of what the state machine publishes.
pub(super) struct Published {
    pub state: watch::Receiver<Arc<State>>,
    pub version: watch::Receiver<u64>,
    /// The last applied log index (a linearizable read waits for the read index here).
    pub applied: watch::Receiver<Option<u64>>,
}

pub(super) struct StateMachine {
    db: Arc<Db>,
    last_applied: Option<LogId>,
    membership: StoredMembership,
    /// The current state; readers clone the `Arc`. While one is held, `apply` copies the state
    /// on write: its collections are persistent, so that copies the tree nodes the batch
    /// touches, not the whole state (`benches/state_apply.rs`).
    state: watch::Sender<Arc<State>>,
    version: watch::Sender<u64>,
    applied: watch::Sender<Option<u64>>,
    apply_seconds: Histogram,
}

impl StateMachine {
    /// Restores the state machine from the last persisted snapshot (or empty).
    pub(super) fn open(
        db: Arc<Db>,
        apply_seconds: Histogram,
    ) -> Result<(Self, Published), DbError> {
        let (state, last_applied, membership) = match load_snapshot(&db)? {
            None => (State::default(), None, StoredMembership::default()),
            Some((meta, data)) => {
                let body: SnapshotBody = serde_json::from_slice(&data).map_err(DbError::codec(
                    format!("decoding snapshot {}", meta.snapshot_id),
                ))?;
                (body.state, meta.last_log_id, meta.last_membership)
            }
        };
        let (version_tx, version_rx) = watch::channel(state.version);
        let (applied_tx, applied_rx) = watch::channel(last_applied.map(|l| l.index));
        let (state_tx, state_rx) = watch::channel(Arc::new(state));
        let sm = Self {
            db,
            last_applied,
            membership,
            state: state_tx,
            version: version_tx,
            applied: applied_tx,
            apply_seconds,
        };
        Ok((
            sm,
            Published {
                state: state_rx,
                version: version_rx,
                applied: applied_rx,
            },
        ))
    }

    /// True when no snapshot was restored.
    pub(super) fn is_pristine(&self) -> bool {
        self.last_applied.is_none()
    }

    /// Publishes the version and then the applied log index (a reader waiting for an index
    /// finds the state already there).
    fn publish(&self, version: u64, applied: Option<LogId>) {
        self.version.send_if_modified(|v| {
            let changed = *v != version;
            *v = version;
            changed
        });
        let index = applied.map(|l| l.index);
        self.applied.send_if_modified(|a| {
            let changed = *a != index;
            *a = index;
            changed
        });
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        Ok((self.last_applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Answers>, StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut answers = Vec::new();
        let mut last_applied = self.last_applied;
        let mut membership = None;
        let hist = &self.apply_seconds;
        // One copy-on-write per batch at most, and readers see the batch as a whole.
        self.state.send_modify(|current| {
            let state = Arc::make_mut(current);
            for entry in entries {
                let index = entry.log_id.index;
                let mut next = next_version(state.version, index, last_applied.is_some());
                let mut answer = Vec::new();
                match &entry.payload {
                    EntryPayload::Normal(payload) => {
                        for req in payload.requests() {
                            let started = Instant::now();
                            let outcome = crate::state::apply(state, next, req);
                            hist.observe(started.elapsed().as_secs_f64());
                            state.version = next;
                            answer.push((next, outcome));
                            next += 1;
                        }
                    }
                    EntryPayload::Blank => {}
                    EntryPayload::Membership(m) => {
                        membership = Some(StoredMembership::new(Some(entry.log_id), m.clone()));
                    }
                }
                if answer.is_empty() {
                    // Every entry moves the version, whatever its payload.
                    state.version = next;
                    answer.push((next, Outcome::Done { version: next }));
                }
                last_applied = Some(entry.log_id);
                answers.push(Answers(answer));
            }
        });
        let version = self.state.borrow().version;
        self.last_applied = last_applied;
        if let Some(m) = membership {
            self.membership = m;
        }
        self.publish(version, last_applied);
        Ok(answers)
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        SnapshotBuilder {
            db: Arc::clone(&self.db),
            state: Arc::clone(&self.state.borrow()),
            last_applied: self.last_applied,
            membership: self.membership.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        let (db, stored) = (Arc::clone(&self.db), meta.clone());
        // Decoding a large state takes seconds: off the async workers, with the write.
        let body = db::blocking("installing a snapshot", move || {
            let body: SnapshotBody = serde_json::from_slice(&data).map_err(DbError::codec(
                format!("decoding received snapshot {}", stored.snapshot_id),
            ))?;
            store_snapshot(&db, &stored, &data)?;
            Ok(body)
        })
        .await
        .map_err(DbError::write_snapshot)?;
        tracing::info!(snapshot = %meta.snapshot_id, version = body.state.version, "installed snapshot");
        let version = body.state.version;
        self.state.send_replace(Arc::new(body.state));
        self.last_applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        self.publish(version, meta.last_log_id);
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, StorageError> {
        let db = Arc::clone(&self.db);
        let snapshot = db::blocking("reading the snapshot", move || load_snapshot(&db))
            .await
            .map_err(DbError::read_snapshot)?;
        Ok(snapshot.map(|(meta, data)| Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        }))
    }
}

/// A consistent view of the state machine, serialised and persisted off the apply path.
pub(super) struct SnapshotBuilder {
    db: Arc<Db>,
    state: Arc<State>,
    last_applied: Option<LogId>,
    membership: StoredMembership,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot, StorageError> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let snapshot_id = match self.last_applied {
            Some(id) => format!("{}-{}-{nanos}", id.leader_id, id.index),
            None => format!("none-{nanos}"),
        };
        let meta = SnapshotMeta {
            last_log_id: self.last_applied,
            last_membership: self.membership.clone(),
            snapshot_id,
        };
        let (db, state, stored) = (Arc::clone(&self.db), Arc::clone(&self.state), meta.clone());
        // openraft runs this on an async task, and encoding a large state takes seconds: done
        // on the runtime's workers it stalled a follower's Raft core past its election timeout
        // (BENCHMARKS.md, "Imports that kept their leader").
        let data = db::blocking("building a snapshot", move || {
            let body = SnapshotBodyRef {
                state: &state,
                membership: &stored.last_membership,
            };
            let data = serde_json::to_vec(&body).map_err(DbError::codec("encoding a snapshot"))?;
            store_snapshot(&db, &stored, &data)?;
            Ok(data)
        })
        .await
        .map_err(DbError::write_snapshot)?;
        tracing::info!(snapshot = %meta.snapshot_id, bytes = data.len(), "built snapshot");
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

fn load_snapshot(db: &Database) -> Result<Option<(SnapshotMeta, Vec<u8>)>, DbError> {
    let Some(meta) = db::get_json::<SnapshotMeta>(db, SNAPSHOT, SNAPSHOT_META)? else {
        return Ok(None);
    };
    let ctx = "reading snapshot data";
    let txn = db.begin_read().map_err(DbError::redb(ctx))?;
    let table = txn.open_table(SNAPSHOT).map_err(DbError::redb(ctx))?;
    match table.get(SNAPSHOT_DATA).map_err(DbError::redb(ctx))? {
        Some(data) => Ok(Some((meta, data.value().to_vec()))),
        None => Err(DbError::Corrupt {
            context: ctx.to_string(),
            message: format!("snapshot {} has metadata but no data", meta.snapshot_id),
        }),
    }
}

/// Durably replaces the stored snapshot, unless the stored one is newer (a snapshot built from
/// an older view may finish after a newer one was installed from the leader). Blocking: call
/// it through [`db::blocking`].
fn store_snapshot(db: &Database, meta: &SnapshotMeta, data: &[u8]) -> Result<(), DbError> {
    let meta_bytes = serde_json::to_vec(meta).map_err(DbError::codec("encoding snapshot meta"))?;
    let ctx = "writing snapshot";
    let txn = db.begin_write().map_err(DbError::redb(ctx))?;
    {
        let mut table = txn.open_table(SNAPSHOT).map_err(DbError::redb(ctx))?;
        let stored = match table.get(SNAPSHOT_META).map_err(DbError::redb(ctx))? {
            Some(v) => Some(
                serde_json::from_slice::<SnapshotMeta>(v.value())
                    .map_err(DbError::codec("decoding stored snapshot meta"))?,
            ),
            None => None,
        };
        if let Some(stored) = stored.filter(|s| s.last_log_id > meta.last_log_id) {
            tracing::debug!(stored = %stored.snapshot_id, "keeping the newer stored snapshot");
            return Ok(());
        }
        table
            .insert(SNAPSHOT_META, meta_bytes.as_slice())
            .map_err(DbError::redb(ctx))?;
        table
            .insert(SNAPSHOT_DATA, data)
            .map_err(DbError::redb(ctx))?;
    }
    txn.commit().map_err(DbError::redb(ctx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_body_round_trips_a_state() {
        let state = State {
            version: 7,
            ..State::default()
        };
        let membership = StoredMembership::default();
        let bytes = serde_json::to_vec(&SnapshotBodyRef {
            state: &state,
            membership: &membership,
        })
        .expect("encode");
        let body: SnapshotBody = serde_json::from_slice(&bytes).expect("decode");
        assert_eq!(body.state, state);
    }

    #[test]
    fn versions_are_log_indexes_until_a_batch_then_run_ahead_and_only_increase() {
        // The first entry of a log (index 0) and single requests after it: version == index.
        assert_eq!(next_version(0, 0, false), 0);
        assert_eq!(next_version(0, 1, true), 1);
        assert_eq!(next_version(1, 2, true), 2);
        // A batch of 3 at index 3 takes versions 3, 4, 5; the next entry (index 4) gets 6.
        assert_eq!(next_version(2, 3, true), 3);
        assert_eq!(next_version(5, 4, true), 6);
    }
}
