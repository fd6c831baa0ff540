//! [`RaftStore`]: the [`Store`](crate::store::Store) replicated with openraft 0.9 (storage v2).
//!
//! ```text
//!  Store API ──▶ RaftStore ──▶ batch ──▶ openraft::Raft ──▶ LogStore (redb: entries, vote, ...)
//!     ▲              │       (group       │
//!     │ watch        │        commit)     ├──▶ StateMachine (crate::state::apply; snapshots)
//!     └──────────────┘                    └──▶ Network ──HTTP──▶ peers' raft_router
//! ```
//!
//! One redb file per node, `<data_dir>/raft.redb`. See `log_store` and `state_machine` for what
//! is durable when, and `batch` for how concurrent writes share log entries (and so appends
//! and fsyncs).

mod batch;
mod compact;
mod db;
mod log_store;
mod network;
mod server;
mod state_machine;
mod store;
#[cfg(test)]
mod tests;
mod tuning;
mod types;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use openraft::error::{InitializeError, RaftError};
use openraft::ServerState;
use prometheus::{Histogram, HistogramOpts};
use tokio::sync::watch;

pub use self::db::DbError;
use self::log_store::{CommittedIndex, LogStore};
use self::network::Network;
pub use self::network::TransportError;
pub use self::server::raft_router;
use self::state_machine::StateMachine;
pub use self::tuning::RaftTuning;
pub use self::types::{Answers, Batch, Payload, Raft, RaftMetrics, TypeConfig};
use crate::clock::{ClusterClock, SharedClock};
use crate::state::State;
use crate::store::NodeAddr;

/// How to start a node.
#[derive(Clone, Debug)]
pub struct RaftConfig {
    pub node_id: u64,
    /// Holds `raft.redb`; created if missing.
    pub data_dir: PathBuf,
    /// This node's addresses, as other members will reach it.
    pub addr: NodeAddr,
    /// Shared secret of all members: sent and required as `Authorization: Bearer …` on Raft RPCs.
    pub cluster_token: String,
    /// `false`: a node with empty storage initialises a single-node cluster of itself.
    /// `true`: it never initialises and waits for a leader to add it (`add_node`).
    pub join: bool,
    /// A node with empty storage answers Raft RPCs `503` until [`RaftStore::open_rpcs`]: a
    /// member that lost its data must not be reached by the leader before it is known not to
    /// be one (the leader's openraft panics on a follower whose log went backwards, and the
    /// node could vote twice in a term). Cluster formation opens them (`crate::formation`).
    pub hold_rpcs_while_pristine: bool,
    /// This node's own clock; Raft RPCs carry its readings so every node keeps the cluster's
    /// time ([`RaftStore::cluster_clock`]).
    pub clock: SharedClock,
}

/// A summary of this node's Raft metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaftSummary {
    pub node_id: u64,
    pub term: u64,
    pub leader: Option<u64>,
    pub is_leader: bool,
    pub last_log_index: Option<u64>,
    /// The committed index as last saved by this node.
    pub committed_index: Option<u64>,
    pub applied_index: Option<u64>,
    /// Last log index included in this node's snapshot, and the last purged one.
    pub snapshot_index: Option<u64>,
    pub purged_index: Option<u64>,
}

/// A control-plane node: openraft over a redb log, serving [`crate::store::Store`].
pub struct RaftStore {
    raft: Raft,
    node_id: u64,
    /// This node's advertised addresses (what it initialises a cluster with).
    addr: NodeAddr,
    cluster_token: String,
    state: watch::Receiver<Arc<State>>,
    version: watch::Receiver<u64>,
    /// The last applied log index.
    applied: watch::Receiver<Option<u64>>,
    /// Writes to group-commit (`batch`).
    writes: tokio::sync::mpsc::UnboundedSender<batch::Waiting>,
    committed: CommittedIndex,
    apply_seconds: Histogram,
    /// Turns `true` once openraft's tasks have dropped the storage and the file is closed.
    closed: watch::Receiver<bool>,
    /// Whether the Raft listener serves RPCs (see [`RaftConfig::hold_rpcs_while_pristine`]).
    rpcs_open: AtomicBool,
    /// Peers' clock readings from Raft RPCs, and this node's own clock.
    cluster_clock: Arc<ClusterClock>,
}

impl RaftStore {
    /// Opens the node's storage and starts Raft. A node whose storage has never held a vote, an
    /// entry or a snapshot, started without `join`, initialises a cluster of itself alone;
    /// nothing else is ever initialised.
    pub async fn open_with(cfg: RaftConfig, tuning: RaftTuning) -> anyhow::Result<Arc<RaftStore>> {
        if cfg.cluster_token.is_empty() {
            bail!("the raft cluster token must not be empty");
        }
        let config = Arc::new(tuning.to_config()?);
        std::fs::create_dir_all(&cfg.data_dir)
            .with_context(|| format!("creating data dir {}", cfg.data_dir.display()))?;
        let path = cfg.data_dir.join("raft.redb");
        let (db, closed) = db::blocking("opening", move || db::open(&path))
            .await
            .context("opening raft storage")?;
        let db = Arc::new(db);

        let committed = CommittedIndex::default();
        let log_store = LogStore::new(Arc::clone(&db), committed.clone());
        let apply_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "breakout_control_apply_duration_seconds",
                "Time to apply one replicated request to the control-plane state",
            )
            .buckets(vec![
                1e-6, 1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 0.01, 0.05, 0.1, 0.5,
            ]),
        )
        .context("creating the apply histogram")?;
        let (state_machine, published) = StateMachine::open(Arc::clone(&db), apply_seconds.clone())
            .context("restoring the state machine")?;
        let pristine = log_store.is_pristine().context("inspecting raft storage")?
            && state_machine.is_pristine();
        let cluster_clock = ClusterClock::new(Arc::clone(&cfg.clock));
        let network = Network::new(cfg.cluster_token.clone(), cfg.node_id, &cluster_clock)
            .context("creating the raft client")?;
        let weak_db = Arc::downgrade(&db);
        drop(db);

        let raft = Raft::new(cfg.node_id, config, network, log_store, state_machine)
            .await
            .context("starting raft")?;
        tokio::spawn(compact::run(raft.clone(), weak_db, published.state.clone()));
        let writes = batch::start(raft.clone(), tuning.in_flight.max(1));
        let store = Arc::new(RaftStore {
            writes,
            applied: published.applied,
            raft,
            node_id: cfg.node_id,
            addr: cfg.addr,
            cluster_token: cfg.cluster_token,
            state: published.state,
            version: published.version,
            committed,
            apply_seconds,
            closed,
            rpcs_open: AtomicBool::new(!(pristine && cfg.hold_rpcs_while_pristine)),
            cluster_clock,
        });
        if pristine && !cfg.join {
            store.initialize_alone().await?;
        } else {
            tracing::info!(
                node_id = cfg.node_id,
                pristine,
                join = cfg.join,
                "raft started"
            );
        }
        Ok(store)
    }

    /// Initialises a one-node cluster of this node. Call it only on a node whose storage has
    /// never held anything (re-initialising a node with data loops in elections); openraft
    /// refuses it on a node with a log or a vote, which is logged and not an error.
    pub async fn initialize_alone(&self) -> anyhow::Result<()> {
        let members = BTreeMap::from([(self.node_id, self.addr.clone())]);
        match self.raft.initialize(members).await {
            Ok(()) => {
                tracing::info!(node_id = self.node_id, "initialised a single-node cluster");
                Ok(())
            }
            Err(RaftError::APIError(InitializeError::NotAllowed(e))) => {
                tracing::info!(error = %e, "raft already initialised");
                Ok(())
            }
            Err(e) => Err(e).context("initialising the cluster"),
        }
    }

    /// The cluster's time as this node knows it (see [`ClusterClock`]): the clock to stamp
    /// requests and count contract days with.
    pub fn cluster_clock(&self) -> SharedClock {
        Arc::clone(&self.cluster_clock) as SharedClock
    }

    /// Lets the Raft listener serve RPCs (a no-op unless they were held).
    pub fn open_rpcs(&self) {
        if !self.rpcs_open.swap(true, Ordering::SeqCst) {
            tracing::info!(node_id = self.node_id, "serving raft rpcs");
        }
    }

    pub(crate) fn rpcs_open(&self) -> bool {
        self.rpcs_open.load(Ordering::SeqCst)
    }

    /// Whether this node's storage holds no log entry and no snapshot, i.e. it has never been
    /// part of a cluster (a vote alone does not count: a wiped node may have voted since).
    pub fn is_pristine(&self) -> bool {
        let metrics = self.raft.metrics();
        let m = metrics.borrow();
        m.last_log_index.is_none() && m.snapshot.is_none() && m.purged.is_none()
    }

    /// Stops Raft and waits (up to 10 s) until the storage file is closed, so the same data
    /// dir can be opened again.
    pub async fn shutdown(&self) {
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(error = %e, "raft shutdown");
        }
        let mut closed = self.closed.clone();
        // An error means the signal is gone, which only happens after it fired.
        let waited = tokio::time::timeout(Duration::from_secs(10), closed.wait_for(|c| *c)).await;
        if waited.is_err() {
            tracing::warn!(
                node_id = self.node_id,
                "raft storage still open 10 s after shutdown"
            );
        }
    }

    pub fn node_id(&self) -> u64 {
        self.node_id
    }

    /// The openraft handle, for callers that need more than the [`crate::store::Store`] API.
    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    /// The full openraft metrics of this node.
    pub fn raft_metrics(&self) -> watch::Receiver<RaftMetrics> {
        self.raft.metrics()
    }

    /// Term, leader, log, commit and apply positions of this node.
    pub fn metrics(&self) -> RaftSummary {
        let m = self.raft.metrics().borrow().clone();
        RaftSummary {
            node_id: self.node_id,
            term: m.current_term,
            leader: m.current_leader,
            is_leader: m.state == ServerState::Leader,
            last_log_index: m.last_log_index,
            committed_index: self.committed.get(),
            applied_index: m.last_applied.map(|l| l.index),
            snapshot_index: m.snapshot.map(|l| l.index),
            purged_index: m.purged.map(|l| l.index),
        }
    }

    /// Seconds per applied request (`breakout_control_apply_duration_seconds`); the caller
    /// registers it.
    pub fn apply_histogram(&self) -> Histogram {
        self.apply_seconds.clone()
    }
}
