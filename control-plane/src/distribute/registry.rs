//! The edges connected to this node: soft state in memory, never written through Raft. An entry
//! lives as long as its connection, then stays listed as disconnected (with when it was last
//! heard from) for [`GONE_KEEP`], so that `edge list` says how long an edge has been cut off; a
//! report counts for [`REPORT_TTL`] after it arrived.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use breakout_policy::wire::sparse::{self, Merged};
use breakout_policy::wire::{Grants, Report, TenantUsage};
use tokio::sync::watch;

use serde::{Deserialize, Serialize};

/// How long a report stays meaningful (edges report about every second).
pub const REPORT_TTL: Duration = Duration::from_secs(5);

/// One edge's report as a node relays it to the leader.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RelayedReport {
    pub edge_id: String,
    pub region: String,
    /// How long ago the relaying node received it.
    pub age_ms: u64,
    pub report: Report,
}

/// What a node sends the leader each round ([`EdgeRegistry::relay`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Relay {
    /// Reports the leader has not had.
    pub reports: Vec<RelayedReport>,
    /// Every edge here with a fresh report, those of `reports` included.
    pub edges: Vec<String>,
}

/// Longest nack reason kept.
const MAX_REASON: usize = 1024;

/// How long a disconnected edge stays listed.
pub const GONE_KEEP: Duration = Duration::from_secs(24 * 3600);

/// Disconnected edges kept at most (the oldest go first).
const GONE_MAX: usize = 10_000;

/// An edge as `GET /v1/edges` shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EdgeView {
    pub edge_id: String,
    pub region: String,
    /// The edge's address as this node sees it.
    pub address: String,
    /// The control-plane node it is connected to.
    pub control_node: u64,
    pub connected_since_ms: u64,
    /// False once its connection to this node ended (it may be connected to another node).
    #[serde(default = "yes")]
    pub connected: bool,
    /// When this node last received a frame from it (reports come every second).
    #[serde(default)]
    pub last_seen_ms: Option<u64>,
    /// The version it last acknowledged.
    pub applied_version: Option<u64>,
    /// The newest store version whose region content it serves.
    pub synced_through: Option<u64>,
    /// Store versions it is behind (set by the API from the store version).
    #[serde(default)]
    pub lag: Option<u64>,
    pub last_nack: Option<NackView>,
    pub last_report_ms: Option<u64>,
    /// Sessions open on the edge, from a report younger than [`REPORT_TTL`].
    pub sessions: Option<u64>,
    #[serde(default)]
    pub tenants: BTreeMap<String, TenantUsage>,
}

/// A refused snapshot, shown until a newer version is applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NackView {
    pub version: u64,
    pub reason: String,
    pub at_ms: u64,
}

fn yes() -> bool {
    true
}

struct Entry {
    serial: u64,
    last_seen_ms: u64,
    /// When the connection ended (monotonic, for pruning), if it did.
    gone: Option<Instant>,
    region: String,
    address: SocketAddr,
    since_ms: u64,
    applied: Option<u64>,
    synced_through: Option<u64>,
    nack: Option<NackView>,
    report: Option<(Instant, u64, Merged)>,
    /// Whether `report` went to the leader already (each report is relayed once).
    relayed: bool,
    /// What goes to the leader next: the reports since the last relay, sparse, each based on
    /// the one before and the first on what the leader holds (see [`Chain`]).
    chain: Chain,
    /// Grants for the edge; its session writes each new value to it.
    grants: watch::Sender<Option<Grants>>,
}

/// The sparse reports a node relays as they came (the edge's own, or one made from a whole
/// report against the report before it), so that relaying copies no whole report: at fleet
/// scale a node copied each of its edges' whole reports (thousands of tenants) every second to
/// make the sparse one, and that copy was the largest single cost of the leader's steady state
/// (BENCHMARKS.md). (Merging each report into the node's own copy still walks it.)
#[derive(Default)]
struct Chain {
    /// The seq of the last report relayed from here, which the leader holds (unless it asks
    /// for a whole one: [`EdgeRegistry::want_whole`]); `None`: the next relay is whole.
    leader_seq: Option<u64>,
    /// Reports since, in order, with when each arrived.
    unrelayed: Vec<(Instant, Report)>,
}

/// Sparse reports kept for the leader at most: past it (the leader unreachable for seconds)
/// the next relay is one whole report instead.
const MAX_UNRELAYED: usize = 8;

impl Chain {
    /// The seq the next report must be based on to join the chain.
    fn head(&self) -> Option<u64> {
        self.unrelayed
            .last()
            .map(|(_, r)| r.seq)
            .or(self.leader_seq)
    }

    /// The next relay is whole.
    fn restart(&mut self) {
        self.leader_seq = None;
        self.unrelayed.clear();
    }

    /// `sparse` (based on [`Chain::head`]) arrived at `at`.
    fn push(&mut self, at: Instant, sparse: Report) {
        if self.unrelayed.len() < MAX_UNRELAYED {
            self.unrelayed.push((at, sparse));
        } else {
            self.restart();
        }
    }
}

/// Edges by id. A reconnecting edge replaces its entry; the old connection's handle then no
/// longer touches it.
pub struct EdgeRegistry {
    node_id: u64,
    edges: Mutex<HashMap<String, Entry>>,
    serial: AtomicU64,
}

impl EdgeRegistry {
    pub fn new(node_id: u64) -> Arc<Self> {
        Arc::new(EdgeRegistry {
            node_id,
            edges: Mutex::new(HashMap::new()),
            serial: AtomicU64::new(0),
        })
    }

    /// Registers a connection; dropping the handle removes it.
    pub fn connect(
        self: &Arc<Self>,
        edge_id: &str,
        region: &str,
        address: SocketAddr,
        now_ms: u64,
    ) -> EdgeHandle {
        let serial = self.serial.fetch_add(1, Ordering::Relaxed);
        let entry = Entry {
            serial,
            last_seen_ms: now_ms,
            gone: None,
            region: region.to_string(),
            address,
            since_ms: now_ms,
            applied: None,
            synced_through: None,
            nack: None,
            report: None,
            relayed: false,
            chain: Chain::default(),
            grants: watch::Sender::new(None),
        };
        let mut edges = self.lock();
        prune(&mut edges, Instant::now());
        edges.insert(edge_id.to_string(), entry);
        drop(edges);
        EdgeHandle {
            registry: Arc::clone(self),
            edge_id: edge_id.to_string(),
            serial,
        }
    }

    /// Every edge connected, or disconnected less than [`GONE_KEEP`] ago, by region then id.
    pub fn list(&self, now: Instant) -> Vec<EdgeView> {
        let mut edges = self.lock();
        prune(&mut edges, now);
        let mut views: Vec<EdgeView> = edges
            .iter()
            .map(|(id, e)| {
                let fresh = e
                    .report
                    .as_ref()
                    .filter(|(at, _, _)| now.saturating_duration_since(*at) <= REPORT_TTL);
                EdgeView {
                    edge_id: id.clone(),
                    region: e.region.clone(),
                    address: e.address.to_string(),
                    control_node: self.node_id,
                    connected_since_ms: e.since_ms,
                    connected: e.gone.is_none(),
                    last_seen_ms: Some(e.last_seen_ms),
                    applied_version: e.applied,
                    synced_through: e.synced_through,
                    lag: None,
                    last_nack: e.nack.clone(),
                    last_report_ms: e.report.as_ref().map(|(_, ms, _)| *ms),
                    sessions: fresh
                        .map(|(_, _, r)| r.tenants().map(|(_, u)| u64::from(u.active)).sum()),
                    tenants: fresh
                        .map(|(_, _, r)| r.tenants().map(|(id, u)| (id.clone(), u)).collect())
                        .unwrap_or_default(),
                }
            })
            .collect();
        views.sort_by(|a, b| (&a.region, &a.edge_id).cmp(&(&b.region, &b.edge_id)));
        views
    }

    /// For the leader: the reports of the edges connected here that it has not had yet (each
    /// goes once: it keeps them for [`REPORT_TTL`]), and every edge with a fresh report (whose
    /// grants to ask for). With `sparse`, an edge's reports since the last relay go as they came,
    /// sparse, in order (however many the edge sent between: the leader's view never depends on
    /// the pump keeping pace with the edges); otherwise, or when the leader's copy is not known
    /// here, the newest goes whole.
    pub fn relay(&self, now: Instant, sparse: bool) -> Relay {
        let mut relay = Relay::default();
        for (id, e) in self.lock().iter_mut().filter(|(_, e)| e.gone.is_none()) {
            let Some((at, _, report)) = e.report.as_ref() else {
                continue;
            };
            if now.saturating_duration_since(*at) > REPORT_TTL {
                continue;
            }
            relay.edges.push(id.clone());
            if std::mem::replace(&mut e.relayed, true) {
                continue;
            }
            let age = |at: Instant| now.saturating_duration_since(at).as_millis() as u64;
            let relayed = |age_ms, report| RelayedReport {
                edge_id: id.clone(),
                region: e.region.clone(),
                age_ms,
                report,
            };
            let chain = &mut e.chain;
            // (Reports join the chain only once the leader's seq is known: `reported`.)
            if sparse && !chain.unrelayed.is_empty() {
                chain.leader_seq = chain.head();
                for (at, r) in chain.unrelayed.drain(..) {
                    relay.reports.push(relayed(age(at), r));
                }
            } else {
                chain.unrelayed.clear();
                chain.leader_seq = Some(report.seq());
                relay.reports.push(relayed(age(*at), report.to_report()));
            }
        }
        relay
    }

    /// The leader could not merge these edges' sparse reports, or did not get them: their
    /// reports go whole, the newest at the next [`EdgeRegistry::relay`].
    pub fn want_whole<'a>(&self, edges: impl IntoIterator<Item = &'a str>) {
        let mut all = self.lock();
        for id in edges {
            if let Some(e) = all.get_mut(id) {
                e.chain.restart();
                e.relayed = false;
            }
        }
    }

    /// Hands the leases in `grants` to the session of `edge_id`, if it is connected here.
    pub fn send_leases(&self, edge_id: &str, grants: Grants) {
        if let Some(e) = self.lock().get(edge_id) {
            e.grants.send_replace(Some(grants));
        }
    }

    // Never held across an await; every update leaves an entry whole, so a poisoned lock is
    // still usable.
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.edges.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One connection's entry.
pub struct EdgeHandle {
    registry: Arc<EdgeRegistry>,
    edge_id: String,
    serial: u64,
}

impl EdgeHandle {
    fn update(&self, f: impl FnOnce(&mut Entry)) {
        if let Some(e) = self.registry.lock().get_mut(&self.edge_id) {
            if e.serial == self.serial {
                f(e);
            }
        }
    }

    /// What the edge acknowledged, and through which version its content is current.
    pub fn synced(&self, applied: Option<u64>, synced_through: Option<u64>) {
        self.update(|e| {
            e.applied = applied;
            e.synced_through = synced_through;
            if let (Some(nack), Some(applied)) = (&e.nack, applied) {
                if applied >= nack.version {
                    e.nack = None;
                }
            }
        });
    }

    pub fn nacked(&self, version: u64, reason: &str, at_ms: u64) {
        let reason: String = reason.chars().take(MAX_REASON).collect();
        self.update(|e| {
            e.nack = Some(NackView {
                version,
                reason,
                at_ms,
            })
        });
    }

    /// Grants as they arrive for this connection (`None` if it was replaced).
    pub fn grants(&self) -> Option<watch::Receiver<Option<Grants>>> {
        let edges = self.registry.lock();
        let e = edges.get(&self.edge_id)?;
        (e.serial == self.serial).then(|| e.grants.subscribe())
    }

    /// A report arrived: a whole one replaces the last, a sparse one is merged into it (and
    /// dropped, with the last kept, if it is not based on the last: the edge sends a whole one
    /// at least every `WHOLE_EVERY` reports). Either joins the chain of reports for the leader
    /// (a whole one as a sparse one against the last) if the chain's head is the last.
    pub fn reported(&self, report: Report, at: Instant, at_ms: u64) {
        self.update(|e| {
            let last_seq = e.report.as_ref().map(|(_, _, r)| r.seq());
            let joins = last_seq.is_some() && e.chain.head() == last_seq;
            let merged = match (&mut e.report, report.base) {
                (Some((last_at, last_ms, last)), Some(_)) => {
                    // The sparse report as it came, for the leader (it lists only changes;
                    // kept only if it merges, so based on the chain's head).
                    let kept = joins.then(|| report.clone());
                    last.merge(report).map(|()| {
                        (*last_at, *last_ms) = (at, at_ms);
                        kept
                    })
                }
                (last, None) => {
                    let kept = match last.as_ref() {
                        Some((_, _, prev)) if joins => Some(prev.sparsify(&report)),
                        _ => None,
                    };
                    *last = Some((at, at_ms, Merged::new(report)));
                    Ok(kept)
                }
                (None, Some(base)) => Err(sparse::SparseError::BaseMismatch {
                    seq: report.seq,
                    base,
                    last: 0,
                }),
            };
            match merged {
                Ok(kept) => {
                    e.relayed = false;
                    match kept {
                        Some(sparse) => e.chain.push(at, sparse),
                        None => e.chain.restart(),
                    }
                }
                Err(error) => tracing::debug!(%error, "sparse report dropped"),
            }
        });
    }

    /// A frame arrived from the edge at `at_ms`.
    pub fn seen(&self, at_ms: u64) {
        self.update(|e| e.last_seen_ms = e.last_seen_ms.max(at_ms));
    }
}

impl Drop for EdgeHandle {
    /// The connection ended: the entry stays, marked gone (its report no longer counts).
    fn drop(&mut self) {
        let mut edges = self.registry.lock();
        if let Some(e) = edges.get_mut(&self.edge_id) {
            if e.serial == self.serial {
                e.gone = Some(Instant::now());
                e.report = None;
                e.chain.restart();
            }
        }
    }
}

/// Drops disconnected entries older than [`GONE_KEEP`], and the oldest beyond [`GONE_MAX`].
fn prune(edges: &mut HashMap<String, Entry>, now: Instant) {
    edges.retain(|_, e| {
        e.gone
            .is_none_or(|at| now.saturating_duration_since(at) < GONE_KEEP)
    });
    let gone = edges.values().filter(|e| e.gone.is_some()).count();
    if gone > GONE_MAX {
        let mut by_age: Vec<(Instant, String)> = edges
            .iter()
            .filter_map(|(id, e)| Some((e.gone?, id.clone())))
            .collect();
        by_age.sort();
        for (_, id) in by_age.into_iter().take(gone - GONE_MAX) {
            edges.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests;
