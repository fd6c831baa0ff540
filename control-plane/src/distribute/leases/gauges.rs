//! The leader's lease metrics: the rounds and frames (registered), and per (region, tenant)
//! sessions, limit and granted, written from the last round's table at each scrape.

use std::fmt::{self, Write as _};
use std::io::Write;

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts, Registry};

use super::RegionUsage;

pub(super) struct LeaseMetrics {
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
        let rounds = IntCounter::new(
            "breakout_control_grant_rounds_total",
            "Allocation rounds run by this node as leader",
        )?;
        registry.register(Box::new(rounds.clone()))?;
        let round_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "breakout_control_grant_round_seconds",
                "How long the leader's allocation rounds took (rounds are paced to about a \
                 quarter of a core: a round of d seconds is followed by the next 4d later)",
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
            rounds,
            round_seconds,
            reports,
            frames,
        })
    }
}

/// The per (region, tenant) gauges: name, help, value.
type UsageGauge = (&'static str, &'static str, fn(&RegionUsage) -> u64);

const USAGE_GAUGES: [UsageGauge; 3] = [
    (
        "breakout_control_region_sessions",
        "Sessions open on a region's edges per tenant (leader, from reports)",
        |u| u.sessions,
    ),
    (
        "breakout_control_region_limit",
        "A tenant's session limit in its region (leader)",
        |u| u64::from(u.limit),
    ),
    (
        "breakout_control_region_granted",
        "Sessions the region's edges may admit under grants in force (leader)",
        |u| u.granted,
    ),
];

/// Appends the per (region, tenant) gauges of `usage` (the last round's table) to `out` in
/// Prometheus's text format. They were registered gauge vectors, set after each round: with
/// 100,000 tenants their 300,000 children cost the leader 0.7–0.9 s of CPU per scrape to
/// gather and encode, and this 26–35 ms (BENCHMARKS.md, "The leader's per-tenant gauges").
pub fn encode_usage(usage: &[RegionUsage], out: &mut Vec<u8>) {
    if usage.is_empty() {
        return;
    }
    // Writing to a `Vec` cannot fail.
    for (name, help, value) in USAGE_GAUGES {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for u in usage {
            let _ = writeln!(
                out,
                "{name}{{region=\"{}\",tenant=\"{}\"}} {}",
                LabelValue(&u.region),
                LabelValue(&u.tenant),
                value(u)
            );
        }
    }
}

/// A label value escaped as the text format requires (`\\`, `\"`, `\n`). Ids are validated
/// long before they get here; this keeps a page parseable whatever they hold.
struct LabelValue<'a>(&'a str);

impl fmt::Display for LabelValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        if !s.contains(['\\', '"', '\n']) {
            return f.write_str(s);
        }
        for c in s.chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                '"' => f.write_str("\\\"")?,
                '\n' => f.write_str("\\n")?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn usage(region: &str, tenant: &str, sessions: u64, limit: u32, granted: u64) -> RegionUsage {
        RegionUsage {
            region: Arc::from(region),
            tenant: Arc::from(tenant),
            limit,
            sessions,
            granted,
            ..RegionUsage::default()
        }
    }

    fn text(usage: &[RegionUsage]) -> String {
        let mut out = Vec::new();
        encode_usage(usage, &mut out);
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn each_pair_has_its_three_gauges_under_one_help_and_type() {
        let page = text(&[
            usage("tokyo", "acme", 95, 100, 98),
            usage("paris", "beta", 0, 50, 10),
        ]);
        let expected = "\
# HELP breakout_control_region_sessions Sessions open on a region's edges per tenant (leader, from reports)
# TYPE breakout_control_region_sessions gauge
breakout_control_region_sessions{region=\"tokyo\",tenant=\"acme\"} 95
breakout_control_region_sessions{region=\"paris\",tenant=\"beta\"} 0
# HELP breakout_control_region_limit A tenant's session limit in its region (leader)
# TYPE breakout_control_region_limit gauge
breakout_control_region_limit{region=\"tokyo\",tenant=\"acme\"} 100
breakout_control_region_limit{region=\"paris\",tenant=\"beta\"} 50
# HELP breakout_control_region_granted Sessions the region's edges may admit under grants in force (leader)
# TYPE breakout_control_region_granted gauge
breakout_control_region_granted{region=\"tokyo\",tenant=\"acme\"} 98
breakout_control_region_granted{region=\"paris\",tenant=\"beta\"} 10
";
        assert_eq!(page, expected);
    }

    #[test]
    fn no_round_yet_writes_nothing() {
        assert_eq!(text(&[]), "");
    }

    #[test]
    fn label_values_are_escaped() {
        let page = text(&[usage("a\"b", "c\\d\ne", 1, 2, 3)]);
        assert!(
            page.contains(
                "breakout_control_region_limit{region=\"a\\\"b\",tenant=\"c\\\\d\\ne\"} 2\n"
            ),
            "{page}"
        );
    }
}
