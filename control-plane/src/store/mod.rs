//! The replicated store behind one trait: the embedded openraft group ([`raft`]) or an
//! existing etcd cluster ([`etcd`]); [`choice`] opens the one `--store` names.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::state::{Outcome, Request, State};

pub mod choice;
pub mod etcd;
pub mod memory;
pub mod raft;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How fresh a read must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consistency {
    /// Reflects every write acknowledged before the read started (leader confirms leadership).
    Linearizable,
    /// This node's applied state, possibly behind the leader.
    Stale,
}

/// A committed and applied write.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Applied {
    /// The log index of the write: the store version after it.
    pub version: u64,
    pub outcome: Outcome,
}

/// Why the store could not serve a call. (Business rejections are [`Outcome::Rejected`].)
#[derive(Clone, Debug, thiserror::Error)]
pub enum StoreError {
    /// This node is not the leader; `leader_api` is the leader's API address when known.
    #[error("not the leader (leader: {leader_api:?})")]
    NotLeader {
        leader_id: Option<u64>,
        leader_api: Option<String>,
    },
    /// No leader right now (election in progress, no quorum).
    #[error("no leader available: {0}")]
    Unavailable(String),
    #[error("{0}")]
    Invalid(String),
    #[error("store failure: {0}")]
    Fatal(String),
}

/// A node's addresses: the HTTP API and the Raft RPC endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeAddr {
    pub api: String,
    pub raft: String,
}

/// One member's view in `cluster status`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeStatus {
    pub id: u64,
    pub addr: NodeAddr,
    /// `leader`, `follower`, `learner` (or `candidate`).
    pub role: String,
    /// Last log index known replicated to it (leader's view), if known.
    pub matched: Option<u64>,
    /// Entries it is behind the leader's last log index, if known.
    pub lag: Option<u64>,
}

/// The cluster as the answering node sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterStatus {
    pub node_id: u64,
    pub leader: Option<u64>,
    pub term: u64,
    pub last_log_index: Option<u64>,
    pub last_applied: Option<u64>,
    pub nodes: Vec<NodeStatus>,
    /// Why this node's replication stopped for good (a storage failure): it serves nothing
    /// until restarted. `None` while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

/// The replicated store. Implementations apply requests through [`crate::state::apply`].
pub trait Store: Send + Sync + 'static {
    /// Proposes a write; resolves once it is committed and applied on this node. On a follower
    /// it returns [`StoreError::NotLeader`] (the API forwards to the leader).
    fn write(&self, req: Request) -> BoxFuture<'_, Result<Applied, StoreError>>;
    /// The current state.
    fn read(&self, consistency: Consistency) -> BoxFuture<'_, Result<Arc<State>, StoreError>>;
    fn status(&self) -> BoxFuture<'_, Result<ClusterStatus, StoreError>>;
    /// Adds a node: as a learner first, then as a voter once it has caught up.
    fn add_node(&self, id: u64, addr: NodeAddr)
        -> BoxFuture<'_, Result<ClusterStatus, StoreError>>;
    fn remove_node(&self, id: u64) -> BoxFuture<'_, Result<ClusterStatus, StoreError>>;
    /// The applied version, updated after every apply (for watchers such as distribution).
    fn subscribe(&self) -> watch::Receiver<u64>;
}
