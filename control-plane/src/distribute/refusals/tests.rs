use breakout_policy::outcome::Reason;
use breakout_policy::wire::Report;

use super::*;

fn report(edge: &str, region: &str, seq: u64, counts: &[(&str, Reason, u64)]) -> RelayedReport {
    let mut refusals: BTreeMap<String, RefusalCounts> = BTreeMap::new();
    for (tenant, reason, n) in counts {
        refusals
            .entry(tenant.to_string())
            .or_default()
            .add(*reason, *n);
    }
    RelayedReport {
        edge_id: edge.into(),
        region: region.into(),
        age_ms: 0,
        report: Report {
            seq,
            refusals,
            ..Report::default()
        },
    }
}

const T0: u64 = 1_000 * BUCKET;

#[test]
fn sums_edges_per_region_and_keeps_tenants_apart() {
    let mut t = Tally::default();
    t.observe(
        &[
            report("e1", "tokyo", 1, &[("acme", Reason::BlockedByRule, 2)]),
            report("e2", "tokyo", 1, &[("acme", Reason::BlockedByRule, 3)]),
            report("e3", "osaka", 1, &[("acme", Reason::DnsError, 1)]),
            report("e3b", "osaka", 1, &[("other", Reason::SessionLimit, 9)]),
        ],
        T0,
    );
    let acme = t.of_tenant("acme", T0 + 1);
    assert_eq!(acme.len(), 2);
    let osaka = &acme[0];
    let tokyo = &acme[1];
    assert_eq!((tokyo.region.as_str(), tokyo.edges), ("tokyo", 2));
    assert_eq!(tokyo.since_edge_start.get(Reason::BlockedByRule), 5);
    assert_eq!(
        tokyo.last_hour.get(Reason::BlockedByRule),
        5,
        "new edges: all new"
    );
    assert_eq!(osaka.since_edge_start.get(Reason::DnsError), 1);
    assert_eq!(osaka.since_edge_start.get(Reason::SessionLimit), 0);
    assert!(t.of_tenant("nobody", T0).is_empty());
}

#[test]
fn recent_counts_are_differences_and_survive_a_restart_of_the_edge() {
    let mut t = Tally::default();
    t.observe(
        &[report("e1", "tokyo", 5, &[("a", Reason::BlockedByRule, 2)])],
        T0,
    );
    // The same report relayed again counts nothing.
    t.observe(
        &[report("e1", "tokyo", 5, &[("a", Reason::BlockedByRule, 2)])],
        T0 + 500,
    );
    t.observe(
        &[report("e1", "tokyo", 6, &[("a", Reason::BlockedByRule, 7)])],
        T0 + 1_000,
    );
    let r = &t.of_tenant("a", T0 + 1_000)[0];
    assert_eq!(
        (
            r.since_edge_start.get(Reason::BlockedByRule),
            r.last_hour.get(Reason::BlockedByRule)
        ),
        (7, 7)
    );
    // Restarted: seq back to 1, counts from zero again.
    t.observe(
        &[report("e1", "tokyo", 1, &[("a", Reason::BlockedByRule, 1)])],
        T0 + 2_000,
    );
    let r = &t.of_tenant("a", T0 + 2_000)[0];
    assert_eq!(r.since_edge_start.get(Reason::BlockedByRule), 1);
    assert_eq!(r.last_hour.get(Reason::BlockedByRule), 8);
}

#[test]
fn an_edge_first_seen_late_counts_only_what_comes_after() {
    let mut t = Tally::default();
    // A new leader sees an edge that has been up for a while: its counts are the old leader's.
    t.observe(
        &[report("e1", "tokyo", 500, &[("a", Reason::DnsError, 40)])],
        T0,
    );
    t.observe(
        &[report("e1", "tokyo", 501, &[("a", Reason::DnsError, 42)])],
        T0 + 1_000,
    );
    let r = &t.of_tenant("a", T0 + 1_000)[0];
    assert_eq!(r.since_edge_start.get(Reason::DnsError), 42);
    assert_eq!(r.last_hour.get(Reason::DnsError), 2);
}

#[test]
fn old_buckets_leave_the_window_and_silent_edges_the_sum() {
    let mut t = Tally::default();
    t.observe(
        &[report("e1", "tokyo", 1, &[("a", Reason::ProxyLoop, 1)])],
        T0,
    );
    t.observe(
        &[report("e2", "tokyo", 1, &[("a", Reason::ProxyLoop, 1)])],
        T0 + 2 * 3_600_000,
    );
    let r = &t.of_tenant("a", T0 + 2 * 3_600_000)[0];
    assert_eq!(r.edges, 1, "e1 has not reported for two hours");
    assert_eq!(r.last_hour.get(Reason::ProxyLoop), 1);
    assert_eq!(r.last_3_hours.get(Reason::ProxyLoop), 2);
    assert_eq!(r.buckets.len(), 2);
    t.observe(&[], T0 + WINDOW + 2 * BUCKET);
    let r = &t.of_tenant("a", T0 + WINDOW + 2 * BUCKET)[0];
    assert_eq!(r.last_3_hours.get(Reason::ProxyLoop), 1);
    assert_eq!(r.buckets.len(), 1);
}

#[test]
fn keys_are_bounded() {
    let mut t = Tally::default();
    let reports: Vec<RelayedReport> = (0..MAX_KEYS + 10)
        .map(|i| {
            report(
                &format!("e{i}"),
                &format!("r{i}"),
                1,
                &[("a", Reason::DnsError, 1)],
            )
        })
        .collect();
    t.observe(&reports, T0);
    assert_eq!(t.recent.len(), MAX_KEYS);
}
