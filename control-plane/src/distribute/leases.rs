//! Session leases on the leader: every edge's reports (relayed by the node it is connected to),
//! one [`Ledger`] per (region, tenant), an allocation round every [`ROUND`], and the grants each
//! edge gets back. All soft state in memory, never written through Raft; a node that stops
//! leading forgets it, and a node that starts leading begins with [`Ledger::taking_over`].
//! See `docs/distribution.md` ("Session leases").
//!
//! Lease time is the node's monotonic clock (through [`Clock::instant`]), never the wall
//! clock: a wall clock stepped forward would otherwise expire grants the edges still hold
//! (and grant the capacity twice), one stepped back would keep expired grants for the jump.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use breakout_policy::wire::{Grant as WireGrant, Grants, Report};
use prometheus::{IntCounter, IntGaugeVec, Opts, Registry};
use serde::{Deserialize, Serialize};

use super::refusals::RefusalTally;
pub use super::registry::RelayedReport;
use super::registry::REPORT_TTL;
use crate::clock::{self, SharedClock};
use crate::quota::{allocate, EdgeReport, Ledger, QuotaConfig};
use crate::state::{session_limits_at, State};

/// How often the leader allocates (and every node relays its edges' reports).
pub const ROUND: Duration = Duration::from_millis(500);

/// Taken off a grant's lifetime when it is handed out, for the time it still travels (leader →
/// relaying node → edge): the edge's expiry, counted from receipt, stays before the leader's.
pub const TRANSIT_MARGIN: Duration = Duration::from_millis(1000);

/// The grants for one edge, as the leader hands them to the node the edge is connected to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EdgeGrants {
    pub edge_id: String,
    pub grants: Grants,
}

/// Usage against limit of one tenant in one region (`GET /v1/sessions`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RegionUsage {
    pub region: String,
    pub tenant: String,
    pub limit: u32,
    /// Sessions open on the region's edges (fresh reports).
    pub sessions: u64,
    /// What the edges may admit under grants in force (≤ limit).
    pub granted: u64,
    /// Refusals at the grant in the last reports.
    pub refused: u64,
    /// Edges reporting the tenant.
    pub edges: u32,
}

struct EdgeEntry {
    region: String,
    report: Report,
    at: Instant,
}

/// What the leader holds; reset whenever leadership (or the term) changes.
#[derive(Default)]
struct LeaderState {
    term: u64,
    since_ms: u64,
    round: u64,
    edges: HashMap<String, EdgeEntry>,
    ledgers: HashMap<(String, String), Ledger>,
    grants: HashMap<String, (Instant, Grants)>,
    usage: Vec<RegionUsage>,
}

/// Every region's served tenants and their limits at one store version: what the rounds read,
/// computed once per version (not per round) and outside the leader state's lock.
#[derive(Debug, PartialEq)]
struct Limits {
    version: u64,
    /// (region, [(tenant, limit)]).
    regions: Vec<(String, Vec<(String, u32)>)>,
}

impl Limits {
    fn of(state: &State) -> Limits {
        // The limits the edges were given at this version (same day as `feed`).
        let day = state.policy_day();
        Limits {
            version: state.version,
            regions: state
                .regions
                .keys()
                .map(|r| (r.clone(), session_limits_at(state, r, day)))
                .collect(),
        }
    }
}

/// The node's lease service (active only while the node leads).
pub struct LeaseHub {
    cfg: QuotaConfig,
    clock: Mutex<LeaseClock>,
    state: Mutex<Option<LeaderState>>,
    limits: Mutex<Option<Arc<Limits>>>,
    metrics: LeaseMetrics,
    /// Refusals by reason from the same reports (`super::refusals`), while leading.
    pub refusals: RefusalTally,
}

struct LeaseMetrics {
    sessions: IntGaugeVec,
    limit: IntGaugeVec,
    granted: IntGaugeVec,
    rounds: IntCounter,
}

impl LeaseMetrics {
    fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let vec = |name: &str, help: &str| -> Result<IntGaugeVec, prometheus::Error> {
            let g = IntGaugeVec::new(Opts::new(name, help), &["region", "tenant"])?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let rounds = IntCounter::new(
            "breakout_control_grant_rounds_total",
            "Allocation rounds run by this node as leader",
        )?;
        registry.register(Box::new(rounds.clone()))?;
        Ok(LeaseMetrics {
            sessions: vec(
                "breakout_control_region_sessions",
                "Sessions open on a region's edges per tenant (leader, from reports)",
            )?,
            limit: vec(
                "breakout_control_region_limit",
                "A tenant's session limit in its region (leader)",
            )?,
            granted: vec(
                "breakout_control_region_granted",
                "Sessions the region's edges may admit under grants in force (leader)",
            )?,
            rounds,
        })
    }
}

/// The clock leases are counted on: milliseconds of [`Clock::instant`] since `base`.
struct LeaseClock {
    clock: SharedClock,
    base: Instant,
}

impl LeaseClock {
    fn new(clock: SharedClock) -> Self {
        let base = clock.instant();
        LeaseClock { clock, base }
    }

    /// (monotonic instant, its milliseconds since `base`).
    fn now(&self) -> (Instant, u64) {
        let now = self.clock.instant();
        let ms = now.saturating_duration_since(self.base).as_millis();
        (now, u64::try_from(ms).unwrap_or(u64::MAX))
    }
}

impl LeaseHub {
    pub fn new(registry: &Registry, cfg: QuotaConfig) -> Result<Arc<Self>, prometheus::Error> {
        Ok(Arc::new(LeaseHub {
            cfg,
            clock: Mutex::new(LeaseClock::new(clock::system())),
            state: Mutex::new(None),
            limits: Mutex::new(None),
            metrics: LeaseMetrics::new(registry)?,
            refusals: RefusalTally::default(),
        }))
    }

    /// Counts leases on `clock` from now on (tests and fault tests: a [`crate::clock::ManualClock`]).
    pub fn set_clock(&self, clock: SharedClock) {
        *self.clock.lock().unwrap_or_else(|e| e.into_inner()) = LeaseClock::new(clock);
    }

    /// Wall-clock milliseconds now (what refusal buckets are stamped with).
    pub fn wall_ms(&self) -> u64 {
        self.clock
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clock
            .now_ms()
    }

    /// (monotonic instant, lease milliseconds) now.
    fn now(&self) -> (Instant, u64) {
        self.clock.lock().unwrap_or_else(|e| e.into_inner()).now()
    }

    /// Whether this node leads in `term`: starts (or restarts) the leader state on a change,
    /// drops it when not leading.
    pub fn set_leading(&self, leading: bool, term: u64) {
        let (_, now_ms) = self.now();
        let mut st = self.lock();
        match (&*st, leading) {
            (Some(s), true) if s.term == term => {}
            (_, true) => {
                self.refusals.reset();
                *st = Some(LeaderState {
                    term,
                    since_ms: now_ms,
                    ..LeaderState::default()
                })
            }
            (_, false) => {
                if st.take().is_some() {
                    self.metrics.sessions.reset();
                    self.metrics.limit.reset();
                    self.metrics.granted.reset();
                }
            }
        }
    }

    /// Takes reports (from this node's edges or relayed by another node) and answers the newest
    /// grants for those edges, their lifetime shortened by how long ago they were issued and
    /// [`TRANSIT_MARGIN`]. `None` when this node does not lead.
    pub fn exchange(&self, reports: Vec<RelayedReport>) -> Option<Vec<EdgeGrants>> {
        let (now, _) = self.now();
        let mut guard = self.lock();
        let st = guard.as_mut()?;
        self.refusals.observe(&reports, self.wall_ms());
        let mut out = Vec::new();
        for r in reports {
            let at = now
                .checked_sub(Duration::from_millis(r.age_ms))
                .unwrap_or(now);
            if let Some((issued, grants)) = st.grants.get(&r.edge_id) {
                let age = now.saturating_duration_since(*issued) + TRANSIT_MARGIN;
                let left = Duration::from_millis(self.cfg.ttl_ms).saturating_sub(age);
                if !left.is_zero() {
                    let mut g = grants.clone();
                    for grant in g.grants.values_mut() {
                        grant.ttl_ms = left.as_millis() as u64;
                    }
                    out.push(EdgeGrants {
                        edge_id: r.edge_id.clone(),
                        grants: g,
                    });
                }
            }
            let entry = EdgeEntry {
                region: r.region,
                report: r.report,
                at,
            };
            match st.edges.get(&r.edge_id) {
                Some(old) if old.at > entry.at => {}
                _ => {
                    st.edges.insert(r.edge_id, entry);
                }
            }
        }
        Some(out)
    }

    /// One allocation round over every (region, tenant) of `state` (does nothing unless
    /// leading).
    pub fn round(&self, state: &State) {
        if self.lock().is_none() {
            return;
        }
        let limits = self.limits(state);
        let (now, now_ms) = self.now();
        let mut guard = self.lock();
        let Some(st) = guard.as_mut() else { return };
        st.edges
            .retain(|_, e| now.saturating_duration_since(e.at) <= REPORT_TTL);
        st.round += 1;
        let epoch = (st.term << 32) | (st.round & 0xFFFF_FFFF);
        // A leader of the first term has no predecessor; a later one may have had one, whose
        // grants live at most one lease period.
        let quiet_until = if st.term > 1 {
            st.since_ms + self.cfg.ttl_ms
        } else {
            0
        };
        let mut per_edge: BTreeMap<String, BTreeMap<String, WireGrant>> = BTreeMap::new();
        let mut usage = Vec::new();
        let mut live = std::collections::HashSet::new();
        // Each region's edges, found once per round rather than once per tenant (a fleet has
        // tens of thousands of tenants and hundreds of edges).
        let mut by_region: HashMap<&str, Vec<(&String, &EdgeEntry)>> = HashMap::new();
        for (id, e) in &st.edges {
            by_region
                .entry(e.region.as_str())
                .or_default()
                .push((id, e));
        }
        let no_edges = Vec::new();
        for (region, tenants) in &limits.regions {
            let edges = by_region.get(region.as_str()).unwrap_or(&no_edges);
            for (tenant, limit) in tenants {
                let key = (region.clone(), tenant.clone());
                let reports: BTreeMap<String, EdgeReport> = edges
                    .iter()
                    .filter_map(|&(id, e)| {
                        let u = e.report.tenants.get(tenant)?;
                        Some((
                            id.clone(),
                            EdgeReport {
                                active: u.active,
                                refused: u.refused,
                                holding_epoch: u.holding_epoch,
                                holding_sessions: u.holding_sessions,
                            },
                        ))
                    })
                    .collect();
                let ledger = st.ledgers.entry(key.clone()).or_insert_with(|| {
                    let mut l = Ledger::default();
                    l.quiet_until_ms = quiet_until;
                    l
                });
                let grants = allocate(*limit, ledger, &reports, now_ms, epoch, &self.cfg);
                for (edge, g) in grants {
                    let grant = WireGrant {
                        sessions: g.sessions,
                        ttl_ms: self.cfg.ttl_ms,
                        floor: g.floor,
                    };
                    per_edge
                        .entry(edge)
                        .or_default()
                        .insert(tenant.clone(), grant);
                }
                usage.push(RegionUsage {
                    region: region.clone(),
                    tenant: tenant.clone(),
                    limit: *limit,
                    sessions: reports.values().map(|r| u64::from(r.active)).sum(),
                    granted: ledger.committed(&reports, now_ms),
                    refused: reports.values().map(|r| u64::from(r.refused)).sum(),
                    edges: reports.len() as u32,
                });
                live.insert(key);
            }
        }
        st.ledgers.retain(|k, _| live.contains(k));
        st.grants = per_edge
            .into_iter()
            .map(|(edge, grants)| (edge, (now, Grants { epoch, grants })))
            .collect();
        self.publish(&st.usage, &usage);
        st.usage = usage;
        self.metrics.rounds.inc();
    }

    /// Sets the gauges that changed since the last round and removes those of tenants no longer
    /// served (resetting and setting every label set each round cost more than the round itself
    /// with 100,000 tenants).
    fn publish(&self, old: &[RegionUsage], usage: &[RegionUsage]) {
        let m = &self.metrics;
        let before: HashMap<(&str, &str), &RegionUsage> = old
            .iter()
            .map(|u| ((u.region.as_str(), u.tenant.as_str()), u))
            .collect();
        for u in usage {
            let labels = [u.region.as_str(), u.tenant.as_str()];
            let was = before.get(&(labels[0], labels[1]));
            if was.is_some_and(|w| {
                (w.sessions, w.limit, w.granted) == (u.sessions, u.limit, u.granted)
            }) {
                continue;
            }
            m.sessions.with_label_values(&labels).set(u.sessions as i64);
            m.limit.with_label_values(&labels).set(i64::from(u.limit));
            m.granted.with_label_values(&labels).set(u.granted as i64);
        }
        if old.len() + usage.len() == 0 {
            return;
        }
        let now: std::collections::HashSet<(&str, &str)> = usage
            .iter()
            .map(|u| (u.region.as_str(), u.tenant.as_str()))
            .collect();
        for (labels, _) in before.iter().filter(|(k, _)| !now.contains(*k)) {
            for g in [&m.sessions, &m.limit, &m.granted] {
                let _ = g.remove_label_values(&[labels.0, labels.1]);
            }
        }
    }

    /// The limits at `state`'s version: the table of the last round if the version is the
    /// same, else a new one.
    fn limits(&self, state: &State) -> Arc<Limits> {
        let mut cached = self.limits.lock().unwrap_or_else(|e| e.into_inner());
        match &*cached {
            Some(l) if l.version == state.version => Arc::clone(l),
            _ => {
                let l = Arc::new(Limits::of(state));
                *cached = Some(Arc::clone(&l));
                l
            }
        }
    }

    /// Usage against limit from the last round (`None` unless leading).
    pub fn usage(&self) -> Option<Vec<RegionUsage>> {
        self.lock().as_ref().map(|s| s.usage.clone())
    }

    // Never held across an await; every update leaves the state whole.
    fn lock(&self) -> MutexGuard<'_, Option<LeaderState>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests;
