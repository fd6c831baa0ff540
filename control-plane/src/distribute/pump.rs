//! Every node, every [`ROUND`]: relay the reports of the edges connected here to the leader and
//! hand the leases it answers to those edges. The leader does the same locally and also runs the
//! allocation round (paced: [`round_gap`]) and, when a day changes what edges are given,
//! proposes the day's tick ([`super::day_tick`]). Followers reach the leader over its HTTP API
//! (`POST /v1/quota/exchange`, operator token), so edges may stay connected to any node.

use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// The share of one core the leader's allocation rounds may take. A round walks every pair of
/// tenant and edge (a second and more of one core at 1,000 edges × 100,000 tenants on the
/// machine of BENCHMARKS.md, before its reads were blocked); run back to back, they took the
/// core that Raft, the API and the edges' sessions share, and a new leader's sessions starved
/// behind them. A quarter since the round's reads went in blocks (about 0.7× its time): the
/// rounds of a 1,000-edge fleet come about as often as they did at a third, and the leader stays
/// within half a core.
const ROUND_SHARE: f64 = 1.0 / 4.0;

/// The time from the start of a round that took `cost` to the start of the next: the rounds
/// then take about [`ROUND_SHARE`] of a core. Never more than a quarter of a grant's lifetime
/// `ttl` (grants are renewed long before they run out, whatever the rounds cost). A round
/// cheaper than its share of [`ROUND`] gives [`ROUND`] or less: small fleets keep the tick's
/// pace.
pub fn round_gap(cost: Duration, ttl: Duration) -> Duration {
    cost.div_f64(ROUND_SHARE).min(ttl / 4)
}

/// Whether a round is due at `now`, the next one being allowed `next`: at the first tick at or
/// after it, give or take [`TICK_SLACK`] (rounds run on ticks, [`ROUND`] apart). The nearest
/// tick instead let rounds come up to half a tick early: rounds of 250 ms ran every tick, half a
/// core, where 300 ms ones ran every other (BENCHMARKS.md).
fn due(next: Option<Instant>, now: Instant) -> bool {
    next.is_none_or(|next| now + TICK_SLACK >= next)
}

/// How early a round may run: a tick's work starts a little after the tick (the store's status,
/// the relay), so a gap of whole ticks measured from the round's start ends just after its tick.
const TICK_SLACK: Duration = Duration::from_millis(50);

/// What the pump carries from one tick to the next.
#[derive(Default)]
struct Carried {
    /// The leader that said it merges sparse reports (sent whole to any other).
    sparse_leader: Option<u64>,
    /// While leading: when the next round may run ([`round_gap`]).
    next_round: Option<Instant>,
}

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
        let mut carried = Carried::default();
        loop {
            tokio::select! {
                _ = async { stop.wait_for(|s| *s).await.is_ok() } => return,
                _ = tick.tick() => self.once(&mut carried).await,
            }
        }
    }

    async fn once(&self, carried: &mut Carried) {
        let Carried {
            sparse_leader,
            next_round,
        } = carried;
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
        if !leading {
            *next_round = None;
        }
        let grants = if leading {
            let started = Instant::now();
            let state = if due(*next_round, started) {
                self.store.read(Consistency::Stale).await.ok()
            } else {
                None
            };
            let hub = Arc::clone(&self.hub);
            // The reports count in this round; the grants it makes go back to their edges.
            // Off the async workers: the round is CPU work over every (tenant, edge) pair, a
            // tenth of a second and more at fleet scale, and those workers carry Raft's
            // heartbeats (a leader starving them loses its term).
            // Between rounds the reports are still taken, and an edge not yet answered the last
            // round's grants (a new session) gets them.
            let done = tokio::task::spawn_blocking(move || {
                let whole = hub.record(reports);
                let cost = state.map(|state| hub.round(&state));
                (whole, hub.answer(&edges), cost)
            })
            .await;
            // A day on which the contracts give edges something else gets its own version.
            if let Err(e) = day_tick::tick_if_due(&*self.store, self.clock.now_ms()).await {
                tracing::debug!(error = %e, "proposing the day's tick");
            }
            match done {
                Ok((whole, grants, cost)) => {
                    if let Some(cost) = cost {
                        let ttl = Duration::from_millis(self.hub.ttl_ms());
                        *next_round = Some(started + round_gap(cost, ttl));
                    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(10);

    #[test]
    fn rounds_take_a_quarter_of_a_core_and_renew_within_a_quarter_of_a_lease() {
        let ms = Duration::from_millis;
        // A small fleet's round: the next tick runs the next one.
        let now = Instant::now();
        let next = now + round_gap(ms(40), TTL);
        assert!(due(Some(next), now + ROUND));
        // A round of 0.3 s: the next 1.2 s after its start, at the third tick.
        let next = now + round_gap(ms(300), TTL);
        assert_eq!(next, now + ms(1_200));
        assert!(!due(Some(next), now + 2 * ROUND));
        assert!(due(Some(next), now + 3 * ROUND));
        // A round of 0.18 s: not at the first tick (0.72 s), which would take a third of a core.
        let next = now + round_gap(ms(180), TTL);
        assert!(!due(Some(next), now + ROUND));
        assert!(due(Some(next), now + 2 * ROUND));
        // A gap of whole ticks is due at its tick, though the round started after the tick.
        let next = now + ms(20) + round_gap(ms(250), TTL);
        assert!(due(Some(next), now + 2 * ROUND));
        // However long a round, grants are renewed every 2.5 s at most.
        assert_eq!(round_gap(ms(4_000), TTL), ms(2_500));
        assert!(due(None, now), "the first round of a term runs at once");
    }
}
