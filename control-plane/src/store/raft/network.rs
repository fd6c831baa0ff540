//! Raft RPCs to peers: JSON over HTTP (`POST /raft/{append,vote,snapshot}` on the peer's Raft
//! address), authenticated with the cluster token. The server side is [`super::server`].
//!
//! Transport failures are reported as `Unreachable`, so openraft backs off instead of retrying
//! in a tight loop, except timeouts (`Network`: a slow peer is retried at the next heartbeat);
//! errors the peer's Raft returned are passed on as `RemoteError`.
//!
//! Appends that carry entries run on a task of their own with a deadline that grows with their
//! size ([`append`]): openraft 0.9 gives every append RPC only the heartbeat interval, which a
//! multi-MiB entry cannot meet.

mod append;

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{
    Infallible, InstallSnapshotError, NetworkError, PayloadTooLarge, RPCError, RaftError,
    RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use self::append::{append_timeout, entries_hint, AppendKey, PendingAppend};
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
    #[error("raft rpc to node {target}: encoding the request: {source}")]
    Encode {
        target: NodeId,
        source: serde_json::Error,
    },
    /// Sent as fewer entries instead ([`append::entries_hint`]).
    #[error("raft rpc to node {target}: an append of {bytes} bytes, {entries_hint} entries fit")]
    TooLarge {
        target: NodeId,
        bytes: usize,
        entries_hint: u64,
    },
    #[error("raft rpc to node {target}: the sending task failed: {source}")]
    Task {
        target: NodeId,
        source: tokio::task::JoinError,
    },
}

impl TransportError {
    /// The request went out but no answer came in time (or no connection was made in time).
    fn is_timeout(&self) -> bool {
        matches!(self, TransportError::Http { source, .. } if source.is_timeout())
    }
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
            sender: Sender {
                http: self.http.clone(),
                token: Arc::from(self.token.as_str()),
                node_id: self.node_id,
                clock: Arc::clone(&self.clock),
                target,
                base: Arc::from(base_url(&node.raft)),
            },
            node: node.clone(),
            pending: None,
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
    sender: Sender,
    node: NodeAddr,
    /// The last append with entries, still running or finished unseen (see [`append`]).
    pending: Option<PendingAppend>,
}

/// What an RPC needs once detached from the [`PeerClient`] that started it.
#[derive(Clone)]
struct Sender {
    http: reqwest::Client,
    token: Arc<str>,
    node_id: NodeId,
    clock: Arc<ClusterClock>,
    target: NodeId,
    base: Arc<str>,
}

/// A peer's answer to one RPC, or why there is none.
pub(super) type RpcResult<Resp, E> = Result<Result<Resp, RaftError<NodeId, E>>, TransportError>;

impl Sender {
    /// Posts `req` and decodes the peer's `Result<Resp, RaftError<E>>`.
    async fn post<Req, Resp, E>(
        &self,
        path: &str,
        req: &Req,
        timeout: Duration,
    ) -> RpcResult<Resp, E>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: Error + DeserializeOwned,
    {
        let body = self.encode(req)?;
        self.post_body(path, body, timeout).await
    }

    /// `req` as the JSON body of an RPC to this peer.
    fn encode<Req: Serialize>(&self, req: &Req) -> Result<Vec<u8>, TransportError> {
        serde_json::to_vec(req).map_err(|source| TransportError::Encode {
            target: self.target,
            source,
        })
    }

    /// Posts an encoded request and decodes the peer's `Result<Resp, RaftError<E>>`.
    async fn post_body<Resp, E>(
        &self,
        path: &str,
        body: Vec<u8>,
        timeout: Duration,
    ) -> RpcResult<Resp, E>
    where
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
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
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
}

impl PeerClient {
    // The error type is the one `RaftNetwork` prescribes; boxing it here would only move the cost.
    #[allow(clippy::result_large_err)]
    fn rpc_result<Resp, E: Error>(
        &self,
        res: RpcResult<Resp, E>,
    ) -> Result<Resp, RPCError<NodeId, NodeAddr, RaftError<NodeId, E>>> {
        match res {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(raft_err)) => Err(RPCError::RemoteError(RemoteError::new_with_node(
                self.sender.target,
                self.node.clone(),
                raft_err,
            ))),
            Err(TransportError::TooLarge { entries_hint, .. }) => Err(RPCError::PayloadTooLarge(
                PayloadTooLarge::new_entries_hint(entries_hint),
            )),
            Err(e) => {
                if matches!(e, TransportError::Status { status, .. } if status == reqwest::StatusCode::UNAUTHORIZED)
                {
                    // A token mismatch never heals by itself: make it visible.
                    tracing::warn!(error = %e, "raft peer refused the cluster token");
                } else if e.is_timeout() {
                    // A slow peer, not a lost one: openraft backs off only from `Unreachable`
                    // (500 ms, and again after every failure until a success), which left a
                    // busy follower without heartbeats past its election timeout and cost the
                    // cluster its leader, over and over, during a bulk import.
                    tracing::debug!(error = %e, "raft peer did not answer in time");
                    return Err(RPCError::Network(NetworkError::new(&e)));
                } else {
                    tracing::debug!(error = %e, "raft peer unreachable");
                }
                Err(RPCError::Unreachable(Unreachable::new(&e)))
            }
        }
    }

    /// Sends `rpc` (entries) on a task of its own, or joins the one already carrying them, and
    /// waits for its answer. Cancel-safe: when openraft's deadline drops this future the
    /// request runs on, and the next call for the same entries picks its answer up.
    async fn append_detached(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
    ) -> RpcResult<AppendEntriesResponse<NodeId>, Infallible> {
        let key = AppendKey::of(&rpc);
        if let Some(p) = self.pending.as_mut() {
            if !p.key.covered_by(&key) {
                // Openraft moved on (or back): the old request finishes or times out alone.
                self.pending = None;
            } else if p.task.is_finished() {
                // Answered after openraft stopped waiting: use a success, retry anything else.
                let res = (&mut p.task).await;
                let p = self.pending.take();
                if let (Ok(Ok(Ok(resp))), Some(p)) = (res, p) {
                    return Ok(Ok(p.key.answer_for(&key, resp)));
                }
            }
        }
        let p = match self.pending.take() {
            Some(p) => self.pending.insert(p),
            None => {
                let sender = self.sender.clone();
                let task = tokio::spawn(async move {
                    let (target, entries) = (sender.target, rpc.entries.len());
                    let encoder = sender.clone();
                    // Import parts are MiBs each: encoded off the async workers.
                    let body = tokio::task::spawn_blocking(move || encoder.encode(&rpc))
                        .await
                        .map_err(|source| TransportError::Task { target, source })??;
                    if let Some(entries_hint) = entries_hint(body.len(), entries) {
                        let bytes = body.len();
                        return Err(TransportError::TooLarge {
                            target,
                            bytes,
                            entries_hint,
                        });
                    }
                    let timeout = append_timeout(RPC_TIMEOUT, body.len());
                    sender.post_body(APPEND_PATH, body, timeout).await
                });
                self.pending.insert(PendingAppend { key, task })
            }
        };
        let res = (&mut p.task).await;
        let key_sent = p.key;
        self.pending = None;
        match res {
            Ok(Ok(Ok(resp))) => Ok(Ok(key_sent.answer_for(&key, resp))),
            Ok(other) => other,
            Err(e) => Err(TransportError::Task {
                target: self.sender.target,
                source: e,
            }),
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
        // A heartbeat is small: openraft's deadline, and it leaves a pending append alone.
        let res = if rpc.entries.is_empty() {
            let ttl = ttl(&option, RPC_TIMEOUT);
            self.sender.post(APPEND_PATH, &rpc, ttl).await
        } else {
            self.append_detached(rpc).await
        };
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
        let ttl = ttl(&option, SNAPSHOT_TIMEOUT);
        let res = self.sender.post(SNAPSHOT_PATH, &rpc, ttl).await;
        self.rpc_result(res)
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, NodeAddr, RaftError<NodeId>>> {
        let ttl = ttl(&option, RPC_TIMEOUT);
        let res = self.sender.post(VOTE_PATH, &rpc, ttl).await;
        self.rpc_result(res)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use openraft::error::RPCError;
    use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
    use openraft::raft::VoteRequest;
    use openraft::Vote;

    use super::Network;
    use crate::clock::{system, ClusterClock};
    use crate::store::NodeAddr;

    async fn vote_to(raft: String) -> RPCError<u64, NodeAddr, openraft::error::RaftError<u64>> {
        let mut network =
            Network::new("token".into(), 1, &ClusterClock::new(system())).expect("http client");
        let peer = NodeAddr {
            api: raft.clone(),
            raft,
        };
        let mut client = network.new_client(2, &peer).await;
        let request = VoteRequest::new(Vote::new(1, 1), None);
        client
            .vote(request, RPCOption::new(Duration::from_millis(200)))
            .await
            .expect_err("no answer")
    }

    /// openraft backs off 500 ms from an `Unreachable` peer (and again after each failure
    /// until a success): a peer that is only slow must not be reported so.
    #[tokio::test]
    async fn a_peer_that_answers_late_is_slow_not_unreachable() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        // Accepts and holds the connection, never answering.
        let held = tokio::spawn(async move { listener.accept().await });
        let err = vote_to(addr.to_string()).await;
        assert!(matches!(err, RPCError::Network(_)), "{err:?}");
        held.abort();
    }

    /// Bound and never listening: the port refuses connections, and no other test can take
    /// it while the socket lives.
    fn closed_port() -> (socket2::Socket, std::net::SocketAddr) {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("socket");
        let any = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        socket.bind(&any.into()).expect("bind");
        let addr = socket.local_addr().ok().and_then(|a| a.as_socket());
        (socket, addr.expect("addr"))
    }

    #[tokio::test]
    async fn a_peer_that_refuses_connections_is_unreachable() {
        let (_held, addr) = closed_port();
        let err = vote_to(addr.to_string()).await;
        assert!(matches!(err, RPCError::Unreachable(_)), "{err:?}");
    }
}
