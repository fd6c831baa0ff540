//! [`Store`] on top of openraft: writes through the log, reads from the published state,
//! membership changes through the leader.

use std::collections::BTreeSet;
use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{
    ChangeMembershipError, CheckIsLeaderError, ClientWriteError, ForwardToLeader, RaftError,
};
use openraft::{ChangeMembers, ServerState};
use tokio::sync::{oneshot, watch};

use super::batch::Waiting;
use super::types::{NodeId, RaftMetrics};
use super::RaftStore;
use crate::state::{Request, State};
use crate::store::{
    Applied, BoxFuture, ClusterStatus, Consistency, NodeAddr, NodeStatus, Store, StoreError,
};

/// How long a write may wait for commit (no quorum means it waits forever otherwise).
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a linearizable read may wait for the leader to confirm its leadership.
const READ_TIMEOUT: Duration = Duration::from_secs(3);
/// How long `add_node` may wait for a learner to catch up, and a membership change to commit.
const MEMBERSHIP_TIMEOUT: Duration = Duration::from_secs(60);

impl RaftStore {
    /// Maps "not the leader" to [`StoreError::NotLeader`] (with the leader's API address when
    /// known) or, with no leader at all, to [`StoreError::Unavailable`].
    fn not_leader(&self, e: &ForwardToLeader<NodeId, NodeAddr>) -> StoreError {
        let Some(leader_id) = e.leader_id else {
            return StoreError::Unavailable("no leader elected".to_string());
        };
        let leader_api = e.leader_node.as_ref().map(|n| n.api.clone()).or_else(|| {
            let metrics = self.raft.metrics();
            let m = metrics.borrow();
            m.membership_config
                .membership()
                .get_node(&leader_id)
                .map(|n| n.api.clone())
        });
        StoreError::NotLeader {
            leader_id: Some(leader_id),
            leader_api,
        }
    }

    fn write_error(&self, e: RaftError<NodeId, ClientWriteError<NodeId, NodeAddr>>) -> StoreError {
        match e {
            RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => self.not_leader(&f),
            RaftError::APIError(ClientWriteError::ChangeMembershipError(c)) => match c {
                ChangeMembershipError::InProgress(p) => {
                    StoreError::Unavailable(format!("membership change in progress: {p}"))
                }
                other => StoreError::Invalid(other.to_string()),
            },
            RaftError::Fatal(f) => StoreError::Fatal(format!("raft stopped: {f}")),
        }
    }

    fn read_error(&self, e: RaftError<NodeId, CheckIsLeaderError<NodeId, NodeAddr>>) -> StoreError {
        match e {
            RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f)) => self.not_leader(&f),
            RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(q)) => {
                StoreError::Unavailable(format!("leadership not confirmed: {q}"))
            }
            RaftError::Fatal(f) => StoreError::Fatal(format!("raft stopped: {f}")),
        }
    }

    /// Refuses membership changes on anything but the leader.
    fn require_leader(&self) -> Result<(), StoreError> {
        let metrics = self.raft.metrics();
        let m = metrics.borrow();
        if m.state == ServerState::Leader {
            return Ok(());
        }
        let f = ForwardToLeader {
            leader_id: m.current_leader,
            leader_node: m
                .current_leader
                .and_then(|id| m.membership_config.membership().get_node(&id).cloned()),
        };
        drop(m);
        Err(self.not_leader(&f))
    }

    /// The current state once it includes log index `index` (versions may run ahead of log
    /// indexes: the applied index is published apart, after the state).
    async fn state_at_least(&self, index: u64) -> Result<Arc<State>, StoreError> {
        let mut rx = self.applied.clone();
        let waited = deadline(READ_TIMEOUT, "applying up to the read index", async {
            rx.wait_for(|a| a.is_some_and(|a| a >= index))
                .await
                .map(|_| ())
                .map_err(|_| StoreError::Fatal("the state machine stopped".to_string()))
        });
        waited.await??;
        Ok(Arc::clone(&self.state.borrow()))
    }

    fn cluster_status(&self) -> ClusterStatus {
        status_of(self.node_id, &self.raft.metrics().borrow())
    }

    /// Commits `change` and answers with a status that already shows it.
    async fn change_membership(
        &self,
        change: ChangeMembers<NodeId, NodeAddr>,
    ) -> Result<ClusterStatus, StoreError> {
        let res = deadline(
            MEMBERSHIP_TIMEOUT,
            "committing the membership change",
            async {
                self.raft
                    .change_membership(change, false)
                    .await
                    .map_err(|e| self.write_error(e))
            },
        );
        let committed = res.await??.log_id.index;
        // Metrics trail the commit slightly; a status without the change would confuse callers.
        let shown = self
            .raft
            .wait(Some(READ_TIMEOUT))
            .metrics(
                |m| {
                    m.membership_config
                        .log_id()
                        .is_some_and(|l| l.index >= committed)
                },
                "membership metrics",
            )
            .await;
        match shown {
            Ok(m) => Ok(status_of(self.node_id, &m)),
            Err(_) => Ok(self.cluster_status()),
        }
    }
}

/// Runs `fut` with a timeout; a timeout is [`StoreError::Unavailable`] naming `what`.
async fn deadline<T>(
    limit: Duration,
    what: impl Display,
    fut: impl Future<Output = T>,
) -> Result<T, StoreError> {
    tokio::time::timeout(limit, fut).await.map_err(|_| {
        StoreError::Unavailable(format!("{what} timed out after {} ms", limit.as_millis()))
    })
}

/// `cluster status` from one node's metrics. Replication progress is only known on the leader.
fn status_of(node_id: NodeId, m: &RaftMetrics) -> ClusterStatus {
    let membership = m.membership_config.membership();
    let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
    let last = m.last_log_index;
    let nodes = membership
        .nodes()
        .map(|(&id, addr)| {
            let role = if Some(id) == m.current_leader {
                "leader"
            } else if id == node_id && m.state == ServerState::Candidate {
                "candidate"
            } else if voters.contains(&id) {
                "follower"
            } else {
                "learner"
            };
            let matched = match &m.replication {
                Some(_) if id == node_id => last,
                Some(repl) => repl.get(&id).and_then(|l| l.map(|l| l.index)),
                None => None,
            };
            let lag = match (&m.replication, last) {
                (Some(_), Some(last)) => Some(last.saturating_sub(matched.unwrap_or(0))),
                _ => None,
            };
            NodeStatus {
                id,
                addr: addr.clone(),
                role: role.to_string(),
                matched,
                lag,
            }
        })
        .collect();
    ClusterStatus {
        node_id,
        leader: m.current_leader,
        term: m.current_term,
        last_log_index: m.last_log_index,
        last_applied: m.last_applied.map(|l| l.index),
        nodes,
        stopped: m.running_state.as_ref().err().map(ToString::to_string),
    }
}

impl Store for RaftStore {
    fn write(&self, req: Request) -> BoxFuture<'_, Result<Applied, StoreError>> {
        Box::pin(async move {
            // Group commit (`batch`): the write may share its log entry with others.
            let (reply, answer) = oneshot::channel();
            self.writes
                .send(Waiting { req, reply })
                .map_err(|_| StoreError::Fatal("the raft write path stopped".to_string()))?;
            // A timed-out write may still commit later: the caller must treat it as unknown.
            let res = deadline(WRITE_TIMEOUT, "write (its outcome is unknown)", answer);
            match res.await? {
                Ok(Ok((version, outcome))) => Ok(Applied { version, outcome }),
                Ok(Err(e)) => Err(self.write_error(e)),
                Err(_) => Err(StoreError::Unavailable(
                    "the write was dropped (its outcome is unknown)".to_string(),
                )),
            }
        })
    }

    fn read(&self, consistency: Consistency) -> BoxFuture<'_, Result<Arc<State>, StoreError>> {
        Box::pin(async move {
            match consistency {
                Consistency::Stale => Ok(Arc::clone(&self.state.borrow())),
                Consistency::Linearizable => {
                    let confirmed = deadline(READ_TIMEOUT, "confirming leadership", async {
                        self.raft.ensure_linearizable().await
                    });
                    let read_log_id = confirmed.await?.map_err(|e| self.read_error(e))?;
                    self.state_at_least(read_log_id.map_or(0, |l| l.index))
                        .await
                }
            }
        })
    }

    fn status(&self) -> BoxFuture<'_, Result<ClusterStatus, StoreError>> {
        Box::pin(async move { Ok(self.cluster_status()) })
    }

    fn add_node(
        &self,
        id: u64,
        addr: NodeAddr,
    ) -> BoxFuture<'_, Result<ClusterStatus, StoreError>> {
        Box::pin(async move {
            self.require_leader()?;
            tracing::info!(id, ?addr, "adding node as a learner");
            let added = deadline(
                MEMBERSHIP_TIMEOUT,
                format!("node {id} catching up"),
                async {
                    self.raft
                        .add_learner(id, addr, true)
                        .await
                        .map_err(|e| self.write_error(e))
                },
            );
            added.await??;
            tracing::info!(id, "node caught up; promoting to voter");
            self.change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])))
                .await
        })
    }

    fn remove_node(&self, id: u64) -> BoxFuture<'_, Result<ClusterStatus, StoreError>> {
        Box::pin(async move {
            self.require_leader()?;
            let (is_voter, is_member) = {
                let metrics = self.raft.metrics();
                let m = metrics.borrow();
                let membership = m.membership_config.membership();
                (
                    membership.voter_ids().any(|v| v == id),
                    membership.get_node(&id).is_some(),
                )
            };
            let ids = BTreeSet::from([id]);
            let change = if is_voter {
                // With `retain = false` the removed voter is dropped entirely, not kept as learner.
                ChangeMembers::RemoveVoters(ids)
            } else if is_member {
                ChangeMembers::RemoveNodes(ids)
            } else {
                return Err(StoreError::Invalid(format!(
                    "node {id} is not a cluster member"
                )));
            };
            tracing::info!(id, is_voter, "removing node");
            self.change_membership(change).await
        })
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.clone()
    }
}
