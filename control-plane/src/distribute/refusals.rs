//! Refusals by reason per (region, tenant), from the edges' reports as the leader receives
//! them (`Report::refusals`: each edge's counts since it started). Two views:
//! - **since the edges started**: the sum of the newest counts of the region's edges that
//!   reported within [`FRESH`] (the edges' own counters, so it survives a leader change);
//! - **recent**: what was counted in [`BUCKET`]-long buckets over the last [`WINDOW`], from
//!   the differences between an edge's successive reports. An edge whose `seq` went back
//!   restarted, so its whole count is new; an edge first seen by this leader with a `seq` past
//!   [`NEW_EDGE_SEQ`] was counted by the previous leader, so only what comes after counts.
//!
//! Soft state on the leader, like the leases; memory bounded by [`MAX_KEYS`] (region, tenant)
//! pairs with buckets and the edges seen within [`FORGET`].

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use breakout_policy::outcome::RefusalCounts;
use serde::{Deserialize, Serialize};

#[cfg(test)]
use super::registry::RelayedReport;

/// How long an edge's newest counts stay in "since the edges started".
pub const FRESH: u64 = 60_000;
/// One bucket of the recent counts.
pub const BUCKET: u64 = 5 * 60_000;
/// How far back recent counts go.
pub const WINDOW: u64 = 3 * 3_600_000;
/// Edges forgotten after this long without a report.
pub const FORGET: u64 = 3_600_000;
/// A report `seq` up to this (an edge reports every second) is an edge that just started.
pub const NEW_EDGE_SEQ: u64 = 30;
/// (region, tenant) pairs with recent buckets kept at most.
pub const MAX_KEYS: usize = 20_000;

/// One region's refusals of a tenant (`GET /v1/tenants/{id}/refusals`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RegionRefusals {
    pub region: String,
    /// Edges (reporting now) that counted something for the tenant: their counts are in
    /// `since_edge_start`.
    pub edges: u32,
    /// By reason, since each of those edges started.
    pub since_edge_start: RefusalCounts,
    /// By reason, over the last hour (the leader's count since it leads, at most that).
    pub last_hour: RefusalCounts,
    /// By reason, over the last three hours (the same).
    pub last_3_hours: RefusalCounts,
    /// The recent counts per bucket, oldest first (`at_ms`: the bucket's start).
    pub buckets: Vec<Bucket>,
}

/// What was counted in one [`BUCKET`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    pub at_ms: u64,
    pub counts: RefusalCounts,
}

struct EdgeSeen {
    region: String,
    seq: u64,
    at_ms: u64,
    counts: BTreeMap<String, RefusalCounts>,
}

/// The tally itself (pure: time comes in).
#[derive(Default)]
pub struct Tally {
    edges: HashMap<String, EdgeSeen>,
    recent: HashMap<(String, String), VecDeque<Bucket>>,
    /// When old buckets and silent edges were last dropped (at most once a second: every
    /// node's relay calls `observe` twice a second).
    pruned_ms: u64,
}

impl Tally {
    /// Takes reports received at `now_ms` (a report already seen, same `seq`, changes nothing).
    /// The leader takes them one at a time ([`Tally::observe_one`]), each merged first.
    #[cfg(test)]
    pub fn observe(&mut self, reports: &[RelayedReport], now_ms: u64) {
        for r in reports {
            let report = &r.report;
            let (seq, refusals) = (report.seq, &report.refusals);
            self.observe_one(&r.edge_id, &r.region, r.age_ms, seq, refusals, now_ms);
        }
        self.prune(now_ms);
    }

    /// One edge's whole report, `seq` with its refusal counts (a sparse one merged first: its
    /// counts are the baseline of the next), received `age_ms` before `now_ms`. Call
    /// [`Tally::prune`] after a batch.
    pub fn observe_one(
        &mut self,
        edge_id: &str,
        region: &str,
        age_ms: u64,
        seq: u64,
        refusals: &BTreeMap<String, RefusalCounts>,
        now_ms: u64,
    ) {
        let at_ms = now_ms.saturating_sub(age_ms);
        let prev = self.edges.get(edge_id);
        if prev.is_some_and(|p| p.seq == seq) {
            return;
        }
        // Older counts to subtract, per tenant; `None`: count everything reported.
        let restarted = prev.is_some_and(|p| seq < p.seq);
        let baseline: Option<&BTreeMap<String, RefusalCounts>> = match prev {
            Some(p) if !restarted => Some(&p.counts),
            Some(_) => None,
            None if seq <= NEW_EDGE_SEQ => None,
            None => Some(refusals),
        };
        let mut deltas = Vec::new();
        for (tenant, counts) in refusals {
            let old = baseline.and_then(|b| b.get(tenant));
            let mut d = RefusalCounts::default();
            for (reason, n) in &counts.0 {
                let before = old.map_or(0, |o| o.get(*reason));
                d.add(*reason, n.saturating_sub(before));
            }
            if !d.is_empty() {
                deltas.push((tenant.clone(), d));
            }
        }
        for (tenant, d) in deltas {
            self.add(region, tenant, d, at_ms);
        }
        self.edges.insert(
            edge_id.to_string(),
            EdgeSeen {
                region: region.to_string(),
                seq,
                at_ms,
                counts: refusals.clone(),
            },
        );
    }

    fn add(&mut self, region: &str, tenant: String, d: RefusalCounts, at_ms: u64) {
        let key = (region.to_string(), tenant);
        if !self.recent.contains_key(&key) && self.recent.len() >= MAX_KEYS {
            return;
        }
        let start = at_ms - at_ms % BUCKET;
        let buckets = self.recent.entry(key).or_default();
        match buckets.back_mut() {
            // (A report relayed late lands in the newest bucket rather than out of order.)
            Some(b) if b.at_ms >= start => b.counts.merge(&d),
            _ => buckets.push_back(Bucket {
                at_ms: start,
                counts: d,
            }),
        }
    }

    pub fn prune(&mut self, now_ms: u64) {
        if now_ms < self.pruned_ms.saturating_add(1_000) {
            return;
        }
        self.pruned_ms = now_ms;
        self.edges
            .retain(|_, e| e.at_ms.saturating_add(FORGET) > now_ms);
        for buckets in self.recent.values_mut() {
            while buckets
                .front()
                .is_some_and(|b| b.at_ms.saturating_add(BUCKET + WINDOW) <= now_ms)
            {
                buckets.pop_front();
            }
        }
        self.recent.retain(|_, b| !b.is_empty());
    }

    /// `tenant`'s refusals per region at `now_ms`, by region name.
    pub fn of_tenant(&self, tenant: &str, now_ms: u64) -> Vec<RegionRefusals> {
        let mut out: BTreeMap<String, RegionRefusals> = BTreeMap::new();
        let entry = |out: &mut BTreeMap<String, RegionRefusals>, region: &str| {
            let e = out.entry(region.to_string()).or_default();
            e.region = region.to_string();
        };
        for e in self.edges.values() {
            let Some(c) = e.counts.get(tenant) else {
                continue;
            };
            if e.at_ms.saturating_add(FRESH) <= now_ms {
                continue;
            }
            entry(&mut out, &e.region);
            if let Some(r) = out.get_mut(&e.region) {
                r.edges += 1;
                r.since_edge_start.merge(c);
            }
        }
        for ((region, t), buckets) in &self.recent {
            if t != tenant {
                continue;
            }
            entry(&mut out, region);
            let Some(r) = out.get_mut(region) else {
                continue;
            };
            for b in buckets {
                let end = b.at_ms + BUCKET;
                if end + WINDOW > now_ms {
                    r.last_3_hours.merge(&b.counts);
                }
                if end + 3_600_000 > now_ms {
                    r.last_hour.merge(&b.counts);
                }
            }
            r.buckets = buckets.iter().cloned().collect();
        }
        out.into_values().collect()
    }
}

/// The tally behind a lock (the leader's lease service holds one).
#[derive(Default)]
pub struct RefusalTally(Mutex<Tally>);

impl RefusalTally {
    /// Runs `f` on the tally (several [`Tally::observe_one`] under one lock).
    pub fn with<T>(&self, f: impl FnOnce(&mut Tally) -> T) -> T {
        f(&mut self.lock())
    }

    pub fn of_tenant(&self, tenant: &str, now_ms: u64) -> Vec<RegionRefusals> {
        self.lock().of_tenant(tenant, now_ms)
    }

    /// Forgets everything (a node that starts leading counts from its own reports).
    pub fn reset(&self) {
        *self.lock() = Tally::default();
    }

    // Never held across an await; every update leaves the tally whole.
    fn lock(&self) -> MutexGuard<'_, Tally> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests;
