//! The edges connected to this node: soft state in memory, never written through Raft. An entry
//! lives as long as its connection, then stays listed as disconnected (with when it was last
//! heard from) for [`GONE_KEEP`], so that `edge list` says how long an edge has been cut off; a
//! report counts for [`REPORT_TTL`] after it arrived.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use breakout_policy::wire::{sparse, Grants, Report, TenantUsage};
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
    report: Option<(Instant, u64, Report)>,
    /// Whether `report` went to the leader already (each report is relayed once).
    relayed: bool,
    /// The whole report as last relayed from here: what the leader holds, unless it asks for a
    /// whole one ([`EdgeRegistry::want_whole`]); the next relay is sparse against it.
    leader_has: Option<Arc<Report>>,
    /// Grants for the edge; its session writes each new value to it.
    grants: watch::Sender<Option<Grants>>,
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
            leader_has: None,
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
                        .map(|(_, _, r)| r.tenants.values().map(|u| u64::from(u.active)).sum()),
                    tenants: fresh.map(|(_, _, r)| r.tenants.clone()).unwrap_or_default(),
                }
            })
            .collect();
        views.sort_by(|a, b| (&a.region, &a.edge_id).cmp(&(&b.region, &b.edge_id)));
        views
    }

    /// For the leader: the reports of the edges connected here that it has not had yet (each
    /// goes once: it keeps them for [`REPORT_TTL`]), and every edge with a fresh report (whose
    /// grants to ask for). With `sparse`, a report goes sparse against the last one relayed
    /// from here (however many the edge sent between: the leader's view never depends on the
    /// pump keeping pace with the edges); otherwise whole.
    pub fn relay(&self, now: Instant, sparse: bool) -> Relay {
        let mut relay = Relay::default();
        // (index in `relay.reports`, what the leader has, the report): made sparse once the
        // lock is released (thousands of tenants an edge at fleet scale; sessions wait on the
        // lock). The report is copied once, for what the leader will have; a sparse one is made
        // from that copy, a whole one (rare) is a second copy.
        let mut against = Vec::new();
        for (id, e) in self.lock().iter_mut().filter(|(_, e)| e.gone.is_none()) {
            let Some((at, _, report)) = e.report.as_ref() else {
                continue;
            };
            let age = now.saturating_duration_since(*at);
            if age > REPORT_TTL {
                continue;
            }
            relay.edges.push(id.clone());
            if !std::mem::replace(&mut e.relayed, true) {
                let now_has = Arc::new(report.clone());
                let has = e.leader_has.replace(Arc::clone(&now_has));
                against.push((relay.reports.len(), has.filter(|_| sparse), now_has));
                relay.reports.push(RelayedReport {
                    edge_id: id.clone(),
                    region: e.region.clone(),
                    age_ms: age.as_millis() as u64,
                    report: Report::default(),
                });
            }
        }
        for (i, has, now_has) in against {
            relay.reports[i].report = match has {
                Some(has) => sparse::sparsify(&has, &now_has),
                None => Report::clone(&now_has),
            };
        }
        relay
    }

    /// The leader could not merge these edges' sparse reports, or did not get them: their
    /// reports go whole, the newest at the next [`EdgeRegistry::relay`].
    pub fn want_whole<'a>(&self, edges: impl IntoIterator<Item = &'a str>) {
        let mut all = self.lock();
        for id in edges {
            if let Some(e) = all.get_mut(id) {
                e.leader_has = None;
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
    /// at least every `WHOLE_EVERY` reports).
    pub fn reported(&self, report: Report, at: Instant, at_ms: u64) {
        self.update(|e| {
            let merged = match (&mut e.report, report.base) {
                (Some((last_at, last_ms, last)), Some(_)) => {
                    sparse::merge_into(last, report).map(|()| (*last_at, *last_ms) = (at, at_ms))
                }
                (_, None) => {
                    e.report = Some((at, at_ms, report));
                    Ok(())
                }
                (None, Some(base)) => Err(sparse::SparseError::BaseMismatch {
                    seq: report.seq,
                    base,
                    last: 0,
                }),
            };
            match merged {
                Ok(()) => e.relayed = false,
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
