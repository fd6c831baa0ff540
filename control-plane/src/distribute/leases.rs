//! Session leases on the leader: every edge's reports (relayed by the node it is connected to),
//! one [`Ledger`] per (region, tenant), an allocation round every [`ROUND`], and the grants each
//! edge gets back. All soft state in memory, never written through Raft; a node that stops
//! leading forgets it, and a node that starts leading begins with [`Ledger::taking_over`].
//! See `docs/distribution.md` ("Session leases").
//!
//! Lease time is the node's monotonic clock (through [`Clock::instant`]), never the wall
//! clock: a wall clock stepped forward would otherwise expire grants the edges still hold
//! (and grant the capacity twice), one stepped back would keep expired grants for the jump.

#[cfg(test)]
use std::collections::BTreeMap; // (the tests build reports with it)
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use breakout_policy::wire::{Grant as WireGrant, Grants};

mod edges;
mod frame;
mod gauges;
mod lease_clock;
mod ledgers;
mod limits;

use edges::{read_block, take_report, write_block, EdgeEntry, BLOCK};
pub use gauges::encode_usage;
use gauges::LeaseMetrics;
use lease_clock::LeaseClock;
use ledgers::Ledgers;
use limits::Limits;
use prometheus::Registry;
use serde::{Deserialize, Serialize};

use super::refusals::RefusalTally;
pub use super::registry::RelayedReport;
use super::registry::REPORT_TTL;
use crate::clock::{self, SharedClock};
use crate::quota::{allocate_sorted, EdgeReport, QuotaConfig};
use crate::state::State;

/// How often the leader allocates (and every node relays its edges' reports).
pub const ROUND: Duration = Duration::from_millis(500);

/// Earlier rounds kept per edge to renew from: an edge reports every second, two rounds, and
/// its report reaches the leader up to a round later.
const KEPT_ROUNDS: usize = 4;

/// Frames in a row an edge may be answered from the frame sent before it (its reports naming
/// rounds no longer kept, see `frame::frame`); the next lists every grant. A frame from the
/// frame sent renews nothing for an edge that missed that one, and only a report naming a
/// kept round (or a whole frame) gets it what it lacks: with reports always late, this bounds
/// how long such an edge runs on floors to about a grant's lifetime (10 s at two frames a
/// second), at one whole frame per that many instead of one per report.
const FRAMES_FROM_SENT: u32 = 20;

/// Taken off a grant's lifetime when it is handed out, for the time it still travels (leader →
/// relaying node → edge): the edge's expiry, counted from receipt, stays before the leader's.
pub const TRANSIT_MARGIN: Duration = Duration::from_millis(1000);

/// The grants for one edge, as the leader hands them to the node the edge is connected to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EdgeGrants {
    pub edge_id: String,
    pub grants: Grants,
}

/// The leader's answer to `POST /v1/quota/exchange` ([`LeaseHub::exchange`]): the newest
/// leases of the edges reported about (`grants` on the wire).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExchangeAnswer {
    pub grants: Vec<EdgeGrants>,
    /// Edges whose sparse report the leader could not merge: the node sends their next whole.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub whole: Vec<String>,
    /// The leader merges sparse reports (absent from leaders built before: whole ones only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sparse: bool,
}

/// Usage against limit of one tenant in one region (`GET /v1/sessions`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RegionUsage {
    /// (Shared with the limits table: a round copies no id.)
    pub region: Arc<str>,
    pub tenant: Arc<str>,
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

/// What the leader holds; reset whenever leadership (or the term) changes.
#[derive(Default)]
struct LeaderState {
    term: u64,
    since_ms: u64,
    round: u64,
    edges: HashMap<Arc<str>, EdgeEntry>,
    /// Per (region, tenant) of the limits table: its ledger.
    ledgers: Ledgers,
    grants: HashMap<String, EdgeLeases>,
    /// The rounds before, newest first, at most [`KEPT_ROUNDS`] (an edge reporting it holds
    /// one of those gets only what changed since).
    history: VecDeque<HashMap<String, EdgeLeases>>,
}

/// One edge's grants of the last round, as tenant ids shared with [`Limits`] (the wire's map
/// of owned ids is built only when they are handed out).
struct EdgeLeases {
    issued: Instant,
    epoch: u64,
    grants: Vec<(Arc<str>, WireGrant)>,
}

impl EdgeLeases {
    fn issued(&self) -> frame::Issued<'_> {
        frame::Issued {
            epoch: self.epoch,
            grants: &self.grants,
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
    /// Usage against limit from the last round while leading (`None` otherwise). Apart from
    /// `state` so the API, the console and `/metrics` read it without waiting for a round;
    /// set only with `state` held, so it never outlives the leadership it came from.
    usage: Mutex<Option<Arc<Vec<RegionUsage>>>>,
    /// Refusals by reason from the same reports (`super::refusals`), while leading.
    pub refusals: RefusalTally,
}

impl LeaseHub {
    pub fn new(registry: &Registry, cfg: QuotaConfig) -> Result<Arc<Self>, prometheus::Error> {
        Ok(Arc::new(LeaseHub {
            cfg,
            clock: Mutex::new(LeaseClock::new(clock::system())),
            state: Mutex::new(None),
            limits: Mutex::new(None),
            metrics: LeaseMetrics::new(registry)?,
            usage: Mutex::new(None),
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
                });
                self.set_usage(Some(Arc::default()));
            }
            (_, false) => {
                if st.take().is_some() {
                    self.set_usage(None);
                }
            }
        }
    }

    /// Takes reports (from this node's edges or relayed by another node) and answers the newest
    /// grants for those edges, their lifetime shortened by how long ago they were issued and
    /// [`TRANSIT_MARGIN`], and the edges whose sparse report it could not use. `None` when this
    /// node does not lead. `also` names further edges whose grants to answer (their reports
    /// came before).
    pub fn exchange(&self, reports: Vec<RelayedReport>, also: &[String]) -> Option<ExchangeAnswer> {
        // An edge's reports since the node's last relay come one after another: answered once.
        let mut named = std::collections::HashSet::new();
        let edges: Vec<String> = reports
            .iter()
            .map(|r| &r.edge_id)
            .chain(also)
            .filter(|id| named.insert(id.as_str()))
            .cloned()
            .collect();
        let whole = self.record(reports)?;
        Some(ExchangeAnswer {
            grants: self.answer(&edges)?,
            whole,
            sparse: true,
        })
    }

    /// Takes reports (the first half of [`LeaseHub::exchange`]): a whole one replaces what the
    /// edge reported before, a sparse one is merged into it. Answers the edges whose sparse
    /// report was not based on what is held here (a new leader, a report lost on the way):
    /// their node sends the next whole. `None` when not leading.
    pub fn record(&self, reports: Vec<RelayedReport>) -> Option<Vec<String>> {
        let (now, _) = self.now();
        let wall_ms = self.wall_ms();
        let mut guard = self.lock();
        let st = guard.as_mut()?;
        let mut whole = Vec::new();
        let [whole_n, sparse_n, unmerged_n] =
            ["whole", "sparse", "unmerged"].map(|k| self.metrics.reports.with_label_values(&[k]));
        self.refusals.with(|tally| {
            for r in reports {
                let at = now
                    .checked_sub(Duration::from_millis(r.age_ms))
                    .unwrap_or(now);
                let kind = if r.report.base.is_some() {
                    &sparse_n
                } else {
                    &whole_n
                };
                let Some(e) = take_report(&mut st.edges, &r.edge_id, r.region, r.report, at) else {
                    unmerged_n.inc();
                    whole.push(r.edge_id);
                    continue;
                };
                kind.inc();
                let (seq, refusals) = (e.report.seq(), e.report.refusals());
                tally.observe_one(&r.edge_id, &e.region, r.age_ms, seq, refusals, wall_ms);
            }
            tally.prune(wall_ms);
        });
        Some(whole)
    }

    /// The newest grants of `edges` (the second half of [`LeaseHub::exchange`]). `None` when
    /// not leading.
    pub fn answer(&self, edges: &[String]) -> Option<Vec<EdgeGrants>> {
        let (now, _) = self.now();
        let mut guard = self.lock();
        let st = guard.as_mut()?;
        let mut out = Vec::new();
        for edge in edges {
            let Some(leases) = st.grants.get(edge) else {
                continue;
            };
            let age = now.saturating_duration_since(leases.issued) + TRANSIT_MARGIN;
            let left = Duration::from_millis(self.cfg.ttl_ms).saturating_sub(age);
            if left.is_zero() {
                continue;
            }
            let ttl_ms = left.as_millis() as u64;
            let entry = st.edges.get_mut(edge.as_str());
            // Rounds are paced (`super::pump`): ticks between two rounds answer only the edges
            // not given this round's frame yet.
            if entry.as_ref().is_some_and(|e| e.sent == Some(leases.epoch)) {
                continue;
            }
            let (report, sent) = match &entry {
                Some(e) => (
                    Some(&e.report),
                    e.sent.filter(|_| e.from_sent < FRAMES_FROM_SENT),
                ),
                None => (None, None),
            };
            let kept: Vec<frame::Issued<'_>> = std::iter::once(leases)
                .chain(st.history.iter().filter_map(|round| round.get(edge)))
                .map(EdgeLeases::issued)
                .collect();
            let (grants, base) = frame::frame(&leases.issued(), &kept, report, sent, ttl_ms);
            if let Some(e) = entry {
                e.sent = Some(grants.epoch);
                e.from_sent = match base {
                    frame::Base::Sent => e.from_sent + 1,
                    frame::Base::Report | frame::Base::Whole => 0,
                };
            }
            self.metrics.frames.with_label_values(&[base.label()]).inc();
            out.push(EdgeGrants {
                edge_id: edge.clone(),
                grants,
            });
        }
        Some(out)
    }

    /// A grant's lifetime.
    pub fn ttl_ms(&self) -> u64 {
        self.cfg.ttl_ms
    }

    /// One allocation round over every (region, tenant) of `state` (does nothing unless
    /// leading). Answers how long it took (what the rounds are paced by: `super::pump`).
    pub fn round(&self, state: &State) -> Duration {
        let started = Instant::now();
        if self.lock().is_none() {
            return Duration::ZERO;
        }
        let limits = self.limits(state);
        let (now, now_ms) = self.now();
        let mut guard = self.lock();
        let Some(st) = guard.as_mut() else {
            return Duration::ZERO;
        };
        st.edges
            .retain(|_, e| now.saturating_duration_since(e.at) <= REPORT_TTL);
        st.round += 1;
        let round = st.round;
        let epoch = (st.term << 32) | (round & 0xFFFF_FFFF);
        // A leader of the first term has no predecessor; a later one may have had one, whose
        // grants live at most one lease period.
        let quiet_until = if st.term > 1 {
            st.since_ms + self.cfg.ttl_ms
        } else {
            0
        };
        // Each region's edges sorted by id (what `allocate_sorted` reads), found once per round
        // rather than once per tenant (a fleet has thousands of tenants and hundreds of edges).
        let mut by_region: HashMap<&str, Vec<(&Arc<str>, &EdgeEntry)>> = HashMap::new();
        for (id, e) in &st.edges {
            by_region
                .entry(e.region.as_str())
                .or_default()
                .push((id, e));
        }
        for edges in by_region.values_mut() {
            edges.sort_unstable_by(|a, b| a.0.cmp(b.0));
        }
        let mut usage = Vec::with_capacity(self.usage().map_or(0, |u| u.len()));
        let mut new_grants: HashMap<String, EdgeLeases> = HashMap::new();
        // Reused for every tenant: its reports, the index of each one's edge, its grants.
        let mut reports: Vec<(&Arc<str>, EdgeReport)> = Vec::new();
        let mut edge_of: Vec<usize> = Vec::new();
        let mut grants = Vec::new();
        let no_edges = Vec::new();
        let (mut block, mut out) = (Vec::new(), Vec::new());
        let ledgers = st.ledgers.align(&limits, quiet_until);
        let regions = limits.regions.iter().zip(&limits.ids).zip(ledgers);
        for (((region, tenants), (region_id, tenant_ids)), ledgers) in regions {
            let edges = by_region.get(region.as_str()).unwrap_or(&no_edges);
            // Sized as the edge's grants of the last round (about what it gets now).
            let mut per_edge: Vec<Vec<(Arc<str>, WireGrant)>> = edges
                .iter()
                .map(|&(id, _)| {
                    Vec::with_capacity(st.grants.get(&**id).map_or(0, |l| l.grants.len()))
                })
                .collect();
            // Each edge's report walked beside the tenants, both in id order (no lookups), a
            // block of tenants at a time.
            let mut walks: Vec<_> = edges
                .iter()
                .map(|(_, e)| e.report.tenants().peekable())
                .collect();
            let n = edges.len();
            let blocks = (tenants.chunks(BLOCK))
                .zip(tenant_ids.chunks(BLOCK))
                .zip(ledgers.chunks_mut(BLOCK));
            for ((tenants, tenant_ids), ledgers) in blocks {
                read_block(&mut walks, tenants, &mut block);
                out.clear();
                out.resize(block.len(), None);
                let tenants = tenants.iter().zip(tenant_ids).zip(ledgers);
                for (j, (((_, limit), tenant_id), ledger)) in tenants.enumerate() {
                    reports.clear();
                    edge_of.clear();
                    let row = block[j * n..(j + 1) * n].iter().zip(edges);
                    for (i, (u, (id, _))) in row.enumerate() {
                        let Some(u) = u else {
                            continue;
                        };
                        reports.push((
                            id,
                            EdgeReport {
                                active: u.active,
                                refused: u.refused,
                                holding_epoch: u.holding_epoch,
                                holding_sessions: u.holding_sessions,
                            },
                        ));
                        edge_of.push(i);
                    }
                    let granted = allocate_sorted(
                        *limit,
                        ledger,
                        &reports,
                        now_ms,
                        epoch,
                        &self.cfg,
                        &mut grants,
                    );
                    for (g, i) in grants.iter().zip(&edge_of) {
                        let grant = WireGrant {
                            sessions: g.sessions,
                            ttl_ms: self.cfg.ttl_ms,
                            floor: g.floor,
                        };
                        out[j * n + *i] = Some(grant);
                    }
                    let (mut sessions, mut refused) = (0u64, 0u64);
                    for (_, r) in &reports {
                        sessions += u64::from(r.active);
                        refused += u64::from(r.refused);
                    }
                    usage.push(RegionUsage {
                        region: Arc::clone(region_id),
                        tenant: Arc::clone(tenant_id),
                        limit: *limit,
                        sessions,
                        granted,
                        refused,
                        edges: reports.len() as u32,
                    });
                }
                write_block(&out, tenant_ids, &mut per_edge);
            }
            for ((id, _), grants) in edges.iter().zip(per_edge) {
                if grants.is_empty() {
                    continue;
                }
                new_grants.insert(
                    id.to_string(),
                    EdgeLeases {
                        issued: now,
                        epoch,
                        grants,
                    },
                );
            }
        }
        drop(by_region);
        st.history
            .push_front(std::mem::replace(&mut st.grants, new_grants));
        st.history.truncate(KEPT_ROUNDS);
        self.set_usage(Some(Arc::new(usage)));
        self.metrics.rounds.inc();
        let took = started.elapsed();
        self.metrics.round_seconds.observe(took.as_secs_f64());
        took
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
    pub fn usage(&self) -> Option<Arc<Vec<RegionUsage>>> {
        self.usage.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set_usage(&self, usage: Option<Arc<Vec<RegionUsage>>>) {
        *self.usage.lock().unwrap_or_else(|e| e.into_inner()) = usage;
    }

    // Never held across an await; every update leaves the state whole.
    fn lock(&self) -> MutexGuard<'_, Option<LeaderState>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests;
