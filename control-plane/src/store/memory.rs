//! An in-process [`Store`] over one `State` behind a mutex: no replication, no disk. For API
//! tests (and development) without Raft; it applies requests through [`crate::state::apply`]
//! exactly as the replicated store does, one log index per write, rejected or not.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

use super::{
    Applied, BoxFuture, ClusterStatus, Consistency, NodeAddr, NodeStatus, Store, StoreError,
};
use crate::state::{self, Request, State};

/// A single-process store. By default this node is the leader of a one-node cluster;
/// [`MemoryStore::set_leader`] makes it act as a follower (writes and linearizable reads answer
/// [`StoreError::NotLeader`]) so that forwarding can be tested.
pub struct MemoryStore {
    node_id: u64,
    inner: Mutex<Inner>,
    applied: watch::Sender<u64>,
    /// Set by [`MemoryStore::lose_answer_after`]: writes to answer before the one whose answer
    /// is lost (negative: none).
    lose_answer: AtomicI64,
}

struct Inner {
    state: Arc<State>,
    /// Members and their addresses, this node first.
    nodes: Vec<(u64, NodeAddr)>,
    /// `None`: no leader known; `Some((id, api))`: the leader (this node when `id == node_id`).
    leader: Option<(u64, String)>,
}

impl MemoryStore {
    /// A one-node cluster whose leader is this node.
    pub fn new(node_id: u64, addr: NodeAddr) -> Arc<Self> {
        Self::with_state(node_id, addr, State::default())
    }

    /// Like [`MemoryStore::new`], starting from `state`.
    pub fn with_state(node_id: u64, addr: NodeAddr, state: State) -> Arc<Self> {
        let (applied, _) = watch::channel(state.version);
        let leader = Some((node_id, addr.api.clone()));
        Arc::new(Self {
            node_id,
            inner: Mutex::new(Inner {
                state: Arc::new(state),
                nodes: vec![(node_id, addr)],
                leader,
            }),
            applied,
            lose_answer: AtomicI64::new(-1),
        })
    }

    /// Sets who leads: `None` for no leader, or another node's id and API address.
    pub fn set_leader(&self, leader: Option<(u64, String)>) {
        self.lock().leader = leader;
    }

    /// The state as applied now (for tests).
    pub fn state(&self) -> Arc<State> {
        Arc::clone(&self.lock().state)
    }

    /// The next write is applied but answered as if the leader had been lost before its
    /// answer ([`StoreError::NotLeader`] with no leader known: 503 `no_leader`), as a
    /// replicated store answers a write committed while its leader died (issue 13, item 2).
    pub fn lose_next_answer(&self) {
        self.lose_answer_after(0);
    }

    /// As [`MemoryStore::lose_next_answer`], for the write after the next `writes` (a request
    /// that makes several writes, stopped part-way).
    pub fn lose_answer_after(&self, writes: u32) {
        self.lose_answer.store(i64::from(writes), Ordering::SeqCst);
    }

    // The lock is never held across an await, and `apply` cannot leave the state half-written
    // in a way a later reader could trip over, so a poisoned lock is still usable.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn check_leader(&self, inner: &Inner) -> Result<(), StoreError> {
        match &inner.leader {
            Some((id, _)) if *id == self.node_id => Ok(()),
            Some((id, api)) => Err(StoreError::NotLeader {
                leader_id: Some(*id),
                leader_api: Some(api.clone()),
            }),
            None => Err(StoreError::NotLeader {
                leader_id: None,
                leader_api: None,
            }),
        }
    }

    fn status_of(&self, inner: &Inner) -> ClusterStatus {
        let leader = inner.leader.as_ref().map(|(id, _)| *id);
        let version = inner.state.version;
        ClusterStatus {
            node_id: self.node_id,
            leader,
            term: 1,
            last_log_index: Some(version),
            last_applied: Some(version),
            nodes: inner
                .nodes
                .iter()
                .map(|(id, addr)| NodeStatus {
                    id: *id,
                    addr: addr.clone(),
                    role: if Some(*id) == leader {
                        "leader"
                    } else {
                        "follower"
                    }
                    .to_string(),
                    matched: Some(version),
                    lag: Some(0),
                })
                .collect(),
            stopped: None,
        }
    }
}

impl Store for MemoryStore {
    fn write(&self, req: Request) -> BoxFuture<'_, Result<Applied, StoreError>> {
        Box::pin(async move {
            let mut inner = self.lock();
            self.check_leader(&inner)?;
            let index = inner.state.version + 1;
            let state = Arc::make_mut(&mut inner.state);
            let outcome = state::apply(state, index, &req);
            self.applied.send_replace(index);
            if self.lose_answer.fetch_sub(1, Ordering::SeqCst) == 0 {
                return Err(StoreError::NotLeader {
                    leader_id: None,
                    leader_api: None,
                });
            }
            Ok(Applied {
                version: index,
                outcome,
            })
        })
    }

    fn read(&self, consistency: Consistency) -> BoxFuture<'_, Result<Arc<State>, StoreError>> {
        Box::pin(async move {
            let inner = self.lock();
            if consistency == Consistency::Linearizable {
                self.check_leader(&inner)?;
            }
            Ok(Arc::clone(&inner.state))
        })
    }

    fn status(&self) -> BoxFuture<'_, Result<ClusterStatus, StoreError>> {
        Box::pin(async move { Ok(self.status_of(&self.lock())) })
    }

    fn add_node(
        &self,
        id: u64,
        addr: NodeAddr,
    ) -> BoxFuture<'_, Result<ClusterStatus, StoreError>> {
        Box::pin(async move {
            let mut inner = self.lock();
            self.check_leader(&inner)?;
            match inner.nodes.iter_mut().find(|(n, _)| *n == id) {
                Some((_, a)) => *a = addr,
                None => inner.nodes.push((id, addr)),
            }
            Ok(self.status_of(&inner))
        })
    }

    fn remove_node(&self, id: u64) -> BoxFuture<'_, Result<ClusterStatus, StoreError>> {
        Box::pin(async move {
            let mut inner = self.lock();
            self.check_leader(&inner)?;
            if id == self.node_id {
                return Err(StoreError::Invalid("cannot remove the only node".into()));
            }
            inner.nodes.retain(|(n, _)| *n != id);
            Ok(self.status_of(&inner))
        })
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.applied.subscribe()
    }
}
