//! Cluster formation without a human (`--bootstrap-peers`, `--node-id-from-hostname`): how a
//! Kubernetes StatefulSet of control-plane pods forms one cluster, survives restarts and
//! rescheduling, and grows from 3 to 5 members. The rules are in [`decide`]; this module asks
//! the peers and carries the decision out. See docs/kubernetes.md, "Cluster formation".

pub mod decide;
pub mod ordinal;

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinSet;

use self::decide::{decide, Me, PeerAnswer, Step};
use crate::store::raft::RaftStore;
use crate::store::ClusterStatus;

/// How long one peer may take to say what it knows.
const ASK_TIMEOUT: Duration = Duration::from_secs(3);
/// Adding a node waits until it caught up (a snapshot transfer for a large state).
const JOIN_TIMEOUT: Duration = Duration::from_secs(90);
/// Between rounds, at most.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// `breakout-control` flags for forming a cluster by itself.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct FormationArgs {
    /// Take the node id from the host name's ordinal suffix, as a StatefulSet names its pods:
    /// `breakout-control-0` is node 1, `-1` node 2… Replaces --node-id.
    #[arg(long)]
    pub node_id_from_hostname: bool,
    /// Form or join a cluster by itself: the API addresses (`host:port`, comma-separated) of the
    /// cluster's members, this node's own included, e.g. the StatefulSet pods' names under its
    /// headless Service. Node 1 initialises a cluster only when its storage is empty and every
    /// other peer answers that it belongs to none; the others join (learner, then voter). A node
    /// with data never initialises. Implies --join.
    #[arg(long, value_delimiter = ',', value_name = "HOST:PORT,…")]
    pub bootstrap_peers: Vec<String>,
}

impl FormationArgs {
    /// The node id: from the host name with `--node-id-from-hostname`, else `given`.
    pub fn node_id(&self, given: u64) -> Result<u64, String> {
        if !self.node_id_from_hostname {
            return Ok(given);
        }
        ordinal::node_id(&ordinal::hostname()?)
    }

    pub fn enabled(&self) -> bool {
        !self.bootstrap_peers.is_empty()
    }
}

/// One node's formation task.
pub struct Formation {
    pub store: Arc<RaftStore>,
    /// This node's advertised API address (what the leader probes; skipped among the peers).
    pub api_addr: String,
    pub peers: Vec<String>,
    /// The operator token (cluster membership is an operator route).
    pub token: String,
    pub client: reqwest::Client,
}

impl Formation {
    /// Runs until this node is a voter (`Ok`), `stop` turns true (`Ok`), or the node must not
    /// take part (`Err`, the reason).
    pub async fn run(self, mut stop: watch::Receiver<bool>) -> Result<(), String> {
        let me_id = self.store.node_id();
        let mut said = String::new();
        let mut backoff = Duration::from_millis(300);
        loop {
            let answers = self.ask_peers().await;
            let summary = self.store.metrics();
            let me = Me {
                id: me_id,
                pristine: self.store.is_pristine(),
                leads: summary.is_leader,
                may_initialize: me_id == 1,
            };
            let step = decide(me, &answers);
            match &step {
                Step::Member => {
                    self.store.open_rpcs();
                    tracing::info!(node_id = me_id, "cluster formation: a voting member");
                    return Ok(());
                }
                Step::Fatal(why) => return Err(why.clone()),
                Step::Initialize => {
                    tracing::info!(node_id = me_id, "cluster formation: initialising");
                    self.store.open_rpcs();
                    if let Err(e) = self.store.initialize_alone().await {
                        tracing::warn!(error = %e, "cluster formation: initialising failed");
                    }
                }
                Step::Join { via } => {
                    self.store.open_rpcs();
                    self.join(via).await
                }
                Step::Wait(why) => {
                    if *why != said {
                        tracing::info!(node_id = me_id, reason = %why, "cluster formation: waiting");
                        said.clone_from(why);
                    }
                }
            }
            let pause = backoff.mul_f64(0.75 + rand::random::<f64>() / 2.0);
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return Ok(()),
                _ = tokio::time::sleep(pause) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
            if matches!(step, Step::Initialize | Step::Join { .. }) {
                backoff = Duration::from_millis(300);
            }
        }
    }

    /// Every peer's `GET /v1/cluster/status`, in the order given.
    async fn ask_peers(&self) -> Vec<PeerAnswer> {
        let mut asks = JoinSet::new();
        let peers = self.peers.iter().filter(|p| **p != self.api_addr);
        for (i, peer) in peers.enumerate() {
            let req = self
                .client
                .get(format!("http://{peer}/v1/cluster/status"))
                .bearer_auth(&self.token)
                .timeout(ASK_TIMEOUT);
            let addr = peer.clone();
            asks.spawn(async move {
                let status = match req.send().await {
                    Ok(resp) if resp.status().is_success() => {
                        resp.json::<ClusterStatus>().await.ok()
                    }
                    Ok(resp) => {
                        tracing::debug!(peer = %addr, status = %resp.status(), "peer refused");
                        None
                    }
                    Err(e) => {
                        tracing::debug!(peer = %addr, error = %e, "peer unreachable");
                        None
                    }
                };
                (i, PeerAnswer { addr, status })
            });
        }
        let mut answers: Vec<(usize, PeerAnswer)> = asks.join_all().await;
        answers.sort_by_key(|(i, _)| *i);
        answers.into_iter().map(|(_, a)| a).collect()
    }

    /// Asks the cluster through `via` (which forwards to its leader) to add this node.
    async fn join(&self, via: &str) {
        let id = self.store.node_id();
        tracing::info!(node_id = id, via, "cluster formation: asking to join");
        let resp = self
            .client
            .post(format!("http://{via}/v1/cluster/nodes"))
            .bearer_auth(&self.token)
            .timeout(JOIN_TIMEOUT)
            .json(&json!({ "id": id, "api_addr": self.api_addr }))
            .send()
            .await;
        match resp {
            Ok(r) if r.status().is_success() => {
                tracing::info!(node_id = id, "cluster formation: added as a voter")
            }
            Ok(r) => {
                let status = r.status();
                let body = r.text().await.unwrap_or_default();
                tracing::warn!(node_id = id, via, %status, answer = %body.chars().take(500).collect::<String>(),
                    "cluster formation: joining refused; retrying");
            }
            Err(e) => {
                tracing::warn!(node_id = id, via, error = %e, "cluster formation: joining failed; retrying")
            }
        }
    }
}
