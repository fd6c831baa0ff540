//! Every node, every [`ROUND`]: relay the reports of the edges connected here to the leader and
//! hand the leases it answers to those edges. The leader does the same locally and also runs the
//! allocation round and, when a day changes what edges are given, proposes the day's tick
//! ([`super::day_tick`]). Followers reach the leader over its HTTP API (`POST /v1/quota/exchange`,
//! operator token), so edges may stay connected to any node.

use std::sync::Arc;
use std::time::Duration;

use http::header;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::day_tick;
pub use super::leases::ExchangeAnswer;
use super::leases::{LeaseHub, RelayedReport, ROUND};
use super::registry::{EdgeRegistry, Relay};
use crate::clock::SharedClock;
use crate::http_client::FORWARDED_HEADER;
use crate::store::{Consistency, Store};

/// How long a node waits for the leader's answer to begin (the leader's own work included).
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long the answer's body may then take. After a leader change every edge of the node gets
/// a whole frame, 5,000 grants an edge at 100,000 tenants: tens of MiB for a node's edges.
/// Within one second for the whole exchange, that answer never arrived and the node's edges
/// kept their floors.
const EXCHANGE_BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// The body of `POST /v1/quota/exchange`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    /// Reports the leader has not had.
    pub reports: Vec<RelayedReport>,
    /// Further edges whose newest grants the node asks for (their reports went before).
    /// Absent from nodes built before it, which send every fresh report every round.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edges: Vec<String>,
}

/// What the pump needs.
pub struct Pump {
    pub hub: Arc<LeaseHub>,
    pub store: Arc<dyn Store>,
    pub registry: Arc<EdgeRegistry>,
    pub node_id: u64,
    pub client: reqwest::Client,
    /// The operator token, to call the leader's API.
    pub token: String,
    pub clock: SharedClock,
}

impl Pump {
    /// Runs until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(ROUND);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The leader that said it merges sparse reports (sent whole to any other).
        let mut sparse_leader = None;
        loop {
            tokio::select! {
                _ = async { stop.wait_for(|s| *s).await.is_ok() } => return,
                _ = tick.tick() => self.once(&mut sparse_leader).await,
            }
        }
    }

    async fn once(&self, sparse_leader: &mut Option<u64>) {
        let Ok(status) = self.store.status().await else {
            return;
        };
        let leading = status.leader == Some(self.node_id);
        self.hub.set_leading(leading, status.term);
        let sparse = leading || status.leader.is_some() && *sparse_leader == status.leader;
        // Off the async workers too: a whole report (a new session, a leader that asked for
        // one) copies thousands of tenants at fleet scale, and the node's sessions run on them.
        let (registry, now) = (Arc::clone(&self.registry), self.clock.instant());
        let Ok(Relay { reports, edges }) =
            tokio::task::spawn_blocking(move || registry.relay(now, sparse)).await
        else {
            return;
        };
        let grants = if leading {
            let state = self.store.read(Consistency::Stale).await.ok();
            let hub = Arc::clone(&self.hub);
            // The reports count in this round; the grants it makes go back to their edges.
            // Off the async workers: the round is CPU work over every (tenant, edge) pair, a
            // tenth of a second and more at fleet scale, and those workers carry Raft's
            // heartbeats (a leader starving them loses its term).
            let done = tokio::task::spawn_blocking(move || {
                let whole = hub.record(reports);
                if let Some(state) = state {
                    hub.round(&state);
                }
                (whole, hub.answer(&edges))
            })
            .await;
            // A day on which the contracts give edges something else gets its own version.
            if let Err(e) = day_tick::tick_if_due(&*self.store, self.clock.now_ms()).await {
                tracing::debug!(error = %e, "proposing the day's tick");
            }
            match done {
                Ok((whole, grants)) => {
                    if let Some(whole) = whole {
                        self.registry.want_whole(whole.iter().map(String::as_str));
                    }
                    grants.unwrap_or_default()
                }
                Err(e) => {
                    tracing::error!(error = %e, "the lease round failed");
                    Vec::new()
                }
            }
        } else {
            let leader = status.nodes.iter().find(|n| Some(n.id) == status.leader);
            match leader {
                Some(l) if !edges.is_empty() => {
                    // No answer changes nothing: a sparse report the leader did not get is
                    // named in `whole` after the next one (resending every report of the batch
                    // whole would add load just when the leader is slow to answer).
                    match self.relay(&l.addr.api, reports, edges).await {
                        Some(answer) => {
                            *sparse_leader = answer.sparse.then_some(l.id);
                            self.registry
                                .want_whole(answer.whole.iter().map(String::as_str));
                            answer.grants
                        }
                        None => Vec::new(),
                    }
                }
                _ => Vec::new(),
            }
        };
        for g in grants {
            self.registry.send_leases(&g.edge_id, g.grants);
        }
    }

    async fn relay(
        &self,
        leader_api: &str,
        reports: Vec<RelayedReport>,
        edges: Vec<String>,
    ) -> Option<ExchangeAnswer> {
        // The answer covers the reported edges too; they need not be named twice.
        let named: std::collections::HashSet<&str> =
            reports.iter().map(|r| r.edge_id.as_str()).collect();
        let edges: Vec<String> = edges
            .into_iter()
            .filter(|e| !named.contains(e.as_str()))
            .collect();
        let send = self
            .client
            .post(format!("http://{leader_api}/v1/quota/exchange"))
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
            .header(FORWARDED_HEADER.clone(), "1")
            .json(&Exchange { reports, edges })
            .send();
        let sent = match tokio::time::timeout(EXCHANGE_TIMEOUT, send).await {
            Ok(sent) => sent,
            Err(_) => {
                tracing::debug!("the leader did not answer the exchange in time");
                return None;
            }
        };
        match sent {
            Ok(resp) if resp.status().is_success() => {
                let body =
                    tokio::time::timeout(EXCHANGE_BODY_TIMEOUT, resp.json::<ExchangeAnswer>());
                match body.await {
                    Ok(Ok(a)) => Some(a),
                    Ok(Err(e)) => {
                        let error = error_chain(&e);
                        tracing::warn!(%error, "the leader's grants did not decode");
                        None
                    }
                    Err(_) => {
                        tracing::warn!(
                            timeout_s = EXCHANGE_BODY_TIMEOUT.as_secs(),
                            "the leader's grants did not arrive in time"
                        );
                        None
                    }
                }
            }
            Ok(resp) => {
                tracing::debug!(status = %resp.status(), "the leader refused the reports");
                None
            }
            Err(e) => {
                tracing::debug!(error = %e, "relaying reports to the leader");
                None
            }
        }
    }
}

/// An error with its causes (reqwest's own message hides them: a body cut short reads as
/// "error decoding response body").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}
