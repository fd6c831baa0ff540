//! The openraft type configuration of the control plane and short names for its generic types.

use std::io::Cursor;

use crate::state::{Outcome, Request};
use crate::store::NodeAddr;

openraft::declare_raft_types!(
    /// Log payloads are [`Request`]s, apply results are [`Outcome`]s, nodes carry their API and
    /// Raft addresses; snapshots are in-memory JSON buffers.
    pub TypeConfig:
        D = Request,
        R = Outcome,
        NodeId = u64,
        Node = NodeAddr,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

pub type NodeId = u64;
pub type Raft = openraft::Raft<TypeConfig>;
pub type RaftMetrics = openraft::RaftMetrics<NodeId, NodeAddr>;
pub type LogId = openraft::LogId<NodeId>;
pub type Vote = openraft::Vote<NodeId>;
pub type Entry = openraft::Entry<TypeConfig>;
pub type StoredMembership = openraft::StoredMembership<NodeId, NodeAddr>;
pub type SnapshotMeta = openraft::SnapshotMeta<NodeId, NodeAddr>;
pub type Snapshot = openraft::Snapshot<TypeConfig>;
pub type StorageError = openraft::StorageError<NodeId>;
