//! The leader's lease gauges: per (region, tenant) sessions, limit and granted, and the rounds.

use std::collections::{HashMap, HashSet};

use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
};

use super::RegionUsage;

pub(super) struct LeaseMetrics {
    pub(super) sessions: IntGaugeVec,
    pub(super) limit: IntGaugeVec,
    pub(super) granted: IntGaugeVec,
    pub(super) rounds: IntCounter,
    /// How long each round took (what paces them: `super::super::pump::round_gap`).
    pub(super) round_seconds: Histogram,
    /// Reports the leader took, by kind: whole, sparse (merged), unmerged (not based on the
    /// report held: asked for whole).
    pub(super) reports: IntCounterVec,
    /// Grants frames answered, by what each was made from (`frame::Base`).
    pub(super) frames: IntCounterVec,
}

impl LeaseMetrics {
    pub(super) fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
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
        let round_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "breakout_control_grant_round_seconds",
                "How long the leader's allocation rounds took (rounds are paced to about a \
                 third of a core: a round of d seconds is followed by the next 3d later)",
            )
            .buckets(vec![
                0.001, 0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
        )?;
        registry.register(Box::new(round_seconds.clone()))?;
        let reports = IntCounterVec::new(
            Opts::new(
                "breakout_control_lease_reports_total",
                "Edge reports the leader took: whole, sparse (merged) or unmerged (asked for whole)",
            ),
            &["kind"],
        )?;
        registry.register(Box::new(reports.clone()))?;
        let frames = IntCounterVec::new(
            Opts::new(
                "breakout_control_lease_frames_total",
                "Grants frames the leader answered, by what each was made from: report (the \
                 round the edge reported), sent (the frame before) or whole (every grant listed)",
            ),
            &["base"],
        )?;
        registry.register(Box::new(frames.clone()))?;
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
            round_seconds,
            reports,
            frames,
        })
    }

    /// Sets the gauges that changed since the last round and removes those of tenants no longer
    /// served (resetting and setting every label set each round cost more than the round itself
    /// with 100,000 tenants).
    pub(super) fn publish(&self, old: &[RegionUsage], usage: &[RegionUsage]) {
        let m = self;
        // Rounds list the same pairs in the same order while the limits table stays.
        let same_pairs = old.len() == usage.len()
            && old
                .iter()
                .zip(usage)
                .all(|(o, u)| (&o.region, &o.tenant) == (&u.region, &u.tenant));
        if same_pairs {
            for (was, u) in old.iter().zip(usage) {
                m.set_if_changed(Some(was), u);
            }
            return;
        }
        let before: HashMap<(&str, &str), &RegionUsage> =
            old.iter().map(|u| ((&*u.region, &*u.tenant), u)).collect();
        for u in usage {
            let labels = [&*u.region, &*u.tenant];
            m.set_if_changed(before.get(&(labels[0], labels[1])).copied(), u);
        }
        if old.len() + usage.len() == 0 {
            return;
        }
        let now: HashSet<(&str, &str)> = usage.iter().map(|u| (&*u.region, &*u.tenant)).collect();
        for (labels, _) in before.iter().filter(|(k, _)| !now.contains(*k)) {
            for g in [&m.sessions, &m.limit, &m.granted] {
                let _ = g.remove_label_values(&[labels.0, labels.1]);
            }
        }
    }

    fn set_if_changed(&self, was: Option<&RegionUsage>, u: &RegionUsage) {
        if was.is_some_and(|w| (w.sessions, w.limit, w.granted) == (u.sessions, u.limit, u.granted))
        {
            return;
        }
        let labels = [&*u.region, &*u.tenant];
        self.sessions
            .with_label_values(&labels)
            .set(u.sessions as i64);
        self.limit
            .with_label_values(&labels)
            .set(i64::from(u.limit));
        self.granted
            .with_label_values(&labels)
            .set(u.granted as i64);
    }
}
