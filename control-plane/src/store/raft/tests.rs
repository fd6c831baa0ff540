//! The log store and state machine against openraft's own storage test suite.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use openraft::testing::{StoreBuilder, Suite};
use prometheus::{Histogram, HistogramOpts};

use super::db::{self, DbError};
use super::log_store::{CommittedIndex, LogStore};
use super::state_machine::StateMachine;
use super::types::{StorageError, TypeConfig};

/// A fresh data dir per store, removed when the suite drops the store.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Builder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, TempDir> for Builder {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachine), StorageError> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "breakout-raft-suite-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create suite dir");
        let (db, _closed) = db::open(&dir.join("raft.redb")).map_err(DbError::write_logs)?;
        let db = Arc::new(db);
        let hist = Histogram::with_opts(HistogramOpts::new("suite_apply_seconds", "test"))
            .expect("histogram");
        let (sm, _published) =
            StateMachine::open(Arc::clone(&db), hist).map_err(DbError::read_snapshot)?;
        Ok((
            TempDir(dir),
            LogStore::new(db, CommittedIndex::default()),
            sm,
        ))
    }
}

#[test]
fn passes_the_openraft_storage_suite() {
    Suite::test_all(Builder).expect("openraft storage suite");
}
