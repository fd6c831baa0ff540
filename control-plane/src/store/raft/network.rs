//! Raft RPCs to peers: JSON over HTTP (`POST /raft/{append,vote,snapshot}` on the peer's Raft
//! address), authenticated with the cluster token. The server side is [`super::server`].
//!
//! Transport failures are reported as `Unreachable`, so openraft backs off instead of retrying
//! in a tight loop; errors the peer's Raft returned are passed on as `RemoteError`.

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{InstallSnapshotError, RPCError, RaftError, RemoteError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::types::{NodeId, TypeConfig};
use crate::clock::ClusterClock;
use crate::store::NodeAddr;

/// Connect timeout to a peer: a dead peer should fail well within an election timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// Default request timeout (append entries and votes; openraft applies tighter ones itself).
const RPC_TIMEOUT: Duration = Duration::from_secs(2);
/// A snapshot chunk may be large and its install does I/O on the peer.
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) const APPEND_PATH: &str = "/raft/append";
pub(super) const VOTE_PATH: &str = "/raft/vote";
pub(super) const SNAPSHOT_PATH: &str = "/raft/snapshot";

/// Why an RPC did not get a Raft answer.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("raft rpc to node {target} at {url}: {source}")]
    Http {
        target: NodeId,
        url: String,
        source: reqwest::Error,
    },
    #[error("raft rpc to node {target} at {url}: answered HTTP {status}")]
    Status {
        target: NodeId,
        url: String,
        status: reqwest::StatusCode,
    },
}

/// Creates one [`PeerClient`] per replication target; all share one connection pool.
#[derive(Clone)]
pub(super) struct Network {
    http: reqwest::Client,
    token: String,
    node_id: NodeId,
    clock: Arc<ClusterClock>,
}

/// Headers every Raft RPC and its answer carry: the sender's node id and its own wall clock
/// (milliseconds since the epoch), from which each node keeps the cluster's time
/// ([`ClusterClock`]).
pub(super) const NODE_HEADER: &str = "breakout-node";
pub(super) const WALL_CLOCK_HEADER: &str = "breakout-wall-ms";

/// The (node, wall clock) pair a request or answer carries, if both parse.
pub(super) fn clock_reading(headers: &reqwest::header::HeaderMap) -> Option<(NodeId, u64)> {
    let number = |name: &str| headers.get(name)?.to_str().ok()?.parse().ok();
    Some((number(NODE_HEADER)?, number(WALL_CLOCK_HEADER)?))
}

impl Network {
    pub(super) fn new(
        cluster_token: String,
        node_id: NodeId,
        clock: &Arc<ClusterClock>,
    ) -> Result<Self, reqwest::Error> {
        let http = crate::http_client::builder()
            // Peers are addressed directly; an HTTP(S)_PROXY in the environment must not apply.
            .no_proxy()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(RPC_TIMEOUT)
            .build()?;
        Ok(Self {
            http,
            token: cluster_token,
            node_id,
            clock: Arc::clone(clock),
        })
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &NodeAddr) -> PeerClient {
        PeerClient {
            http: self.http.clone(),
            token: self.token.clone(),
            node_id: self.node_id,
            clock: Arc::clone(&self.clock),
            target,
            node: node.clone(),
            base: base_url(&node.raft),
        }
    }
}

/// `http://` + the address, unless it already names a scheme.
fn base_url(raft_addr: &str) -> String {
    let addr = raft_addr.trim_end_matches('/');
    if addr.starts_with("http://") || addr.starts_with("https://") {
        addr.to_string()
    } else {
        format!("http://{addr}")
    }
}

pub(super) struct PeerClient {
    http: reqwest::Client,
    token: String,
    node_id: NodeId,
    clock: Arc<ClusterClock>,
    target: NodeId,
    node: NodeAddr,
    base: String,
}

impl PeerClient {
    /// Posts `req` and decodes the peer's `Result<Resp, RaftError<E>>`.
    async fn post<Req, Resp, E>(
        &self,
        path: &str,
        req: &Req,
        timeout: Duration,
    ) -> Result<Result<Resp, RaftError<NodeId, E>>, TransportError>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: Error + DeserializeOwned,
    {
        let url = format!("{}{path}", self.base);
        let http_err = |source| TransportError::Http {
            target: self.target,
            url: url.clone(),
            source,
        };
        let resp = self
            .http
            .post(&url)
            .bearer_auth(&self.token)
            .header(NODE_HEADER, self.node_id)
            .header(WALL_CLOCK_HEADER, self.clock.own_ms())
            .timeout(timeout)
            .json(req)
            .send()
            .await
            .map_err(http_err)?;
        if let Some((peer, wall_ms)) = clock_reading(resp.headers()) {
            self.clock.heard(peer, wall_ms);
        }
        let status = resp.status();
        if !status.is_success() {
            return Err(TransportError::Status {
                target: self.target,
                url,
                status,
            });
        }
        resp.json().await.map_err(http_err)
    }

    // The error type is the one `RaftNetwork` prescribes; boxing it here would only move the cost.
    #[allow(clippy::result_large_err)]
    fn rpc_result<Resp, E: Error>(
        &self,
        res: Result<Result<Resp, RaftError<NodeId, E>>, TransportError>,
    ) -> Result<Resp, RPCError<NodeId, NodeAddr, RaftError<NodeId, E>>> {
        match res {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(raft_err)) => Err(RPCError::RemoteError(RemoteError::new_with_node(
                self.target,
                self.node.clone(),
                raft_err,
            ))),
            Err(e) => {
                if matches!(e, TransportError::Status { status, .. } if status == reqwest::StatusCode::UNAUTHORIZED)
                {
                    // A token mismatch never heals by itself: make it visible.
                    tracing::warn!(error = %e, "raft peer refused the cluster token");
                } else {
                    tracing::debug!(error = %e, "raft peer unreachable");
                }
                Err(RPCError::Unreachable(Unreachable::new(&e)))
            }
        }
    }
}

/// Never longer than openraft's own deadline for the call, never longer than `cap`.
fn ttl(option: &RPCOption, cap: Duration) -> Duration {
    option.hard_ttl().min(cap).max(Duration::from_millis(1))
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, NodeAddr, RaftError<NodeId>>> {
        let res = self
            .post(APPEND_PATH, &rpc, ttl(&option, RPC_TIMEOUT))
            .await;
        self.rpc_result(res)
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, NodeAddr, RaftError<NodeId, InstallSnapshotError>>,
    > {
        let res = self
            .post(SNAPSHOT_PATH, &rpc, ttl(&option, SNAPSHOT_TIMEOUT))
            .await;
        self.rpc_result(res)
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, NodeAddr, RaftError<NodeId>>> {
        let res = self.post(VOTE_PATH, &rpc, ttl(&option, RPC_TIMEOUT)).await;
        self.rpc_result(res)
    }
}
