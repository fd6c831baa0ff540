//! The openraft type configuration of the control plane and short names for its generic types.

use std::io::Cursor;

use serde::{Deserialize, Serialize};

use crate::state::{Outcome, Request};
use crate::store::NodeAddr;

openraft::declare_raft_types!(
    /// Log payloads are [`Payload`]s (one request, or a group-committed batch), apply results
    /// [`Answers`]; nodes carry their API and Raft addresses; snapshots are in-memory JSON
    /// buffers.
    pub TypeConfig:
        D = Payload,
        R = Answers,
        NodeId = u64,
        Node = NodeAddr,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// What one log entry carries. A single request is stored exactly as before batching existed
/// (the request's own JSON), so logs written by older builds read back unchanged; several
/// requests that waited together become one entry `{"batch": [...]}` (group commit: one
/// append, one fsync, one replication round for all of them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
// Nearly every entry is `One`: boxing it would add an allocation per write to save a move.
#[allow(clippy::large_enum_variant)]
pub enum Payload {
    Batch(Batch),
    One(Request),
}

/// Requests applied in order, each at its own version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    pub batch: Vec<Request>,
}

impl Payload {
    /// The requests, in the order they are applied.
    pub fn requests(&self) -> &[Request] {
        match self {
            Payload::Batch(b) => &b.batch,
            Payload::One(r) => std::slice::from_ref(r),
        }
    }
}

impl std::fmt::Display for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} request(s)", self.requests().len())
    }
}

/// The answer to each request of an entry: the version it was applied at, and its outcome.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Answers(pub Vec<(u64, Outcome)>);

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Command;

    fn request(name: &str) -> Request {
        serde_json::from_value(serde_json::json!({
            "actor": "admin", "at_ms": 1,
            "command": { "op": "create_region", "name": name }
        }))
        .expect("a request")
    }

    #[test]
    fn a_single_request_is_stored_as_itself_and_a_batch_as_a_list() {
        let one = Payload::One(request("tokyo"));
        let json = serde_json::to_value(&one).expect("encode");
        assert_eq!(
            json,
            serde_json::to_value(request("tokyo")).expect("encode")
        );
        assert_eq!(
            serde_json::from_value::<Payload>(json).expect("decode"),
            one
        );
        let batch = Payload::Batch(Batch {
            batch: vec![request("tokyo"), request("osaka")],
        });
        let json = serde_json::to_value(&batch).expect("encode");
        assert_eq!(json["batch"].as_array().map(Vec::len), Some(2));
        let back: Payload = serde_json::from_value(json).expect("decode");
        assert_eq!(back, batch);
        assert!(matches!(
            back.requests()[1].command,
            Command::CreateRegion(_)
        ));
    }
}
