use super::*;

const CFG: QuotaConfig = QuotaConfig {
    ttl_ms: 3_000,
    idle_share: 0.01,
    busy_share: 0.10,
};

fn report(active: u32, refused: u32, holding: Option<(u64, u32)>) -> EdgeReport {
    let (holding_epoch, holding_sessions) = holding.unwrap_or((0, 0));
    EdgeReport {
        active,
        refused,
        holding_epoch,
        holding_sessions,
    }
}

/// A tiny deterministic generator, so the property runs are repeatable.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u32) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % u64::from(n.max(1))) as u32
    }
}

/// Simulates edges that adopt grants one tick after issue (acknowledging them in the next
/// report), sessions that come and go within their edge's grant, and edges that drop off and
/// come back. After every allocation, what the edges may be admitting under grants in force
/// must fit the limit.
#[test]
fn live_grants_never_exceed_the_limit() {
    for seed in 1..40u64 {
        let mut rng = Lcg(seed);
        let limit = 50 + rng.next(500);
        let mut ledger = Ledger::default();
        let edges = ["a", "b", "c", "d"];
        // Per edge: (grant sessions held, epoch held, active, connected, grant expiry).
        let mut state: BTreeMap<&str, (u32, u64, u32, bool, u64)> =
            edges.iter().map(|e| (*e, (0, 0, 0, true, 0))).collect();
        let mut pending: Vec<(&str, u64, Grant)> = Vec::new();
        for tick in 1..300u64 {
            let now = tick * 1_000;
            // Deliver last tick's grants to connected edges.
            for (e, epoch, g) in pending.drain(..) {
                let s = state.get_mut(e).expect("edge");
                if s.3 {
                    *s = (g.sessions, epoch, s.2, s.3, now + CFG.ttl_ms);
                }
            }
            for e in edges {
                let s = state.get_mut(e).expect("edge");
                let allowed = if now < s.4 { s.0 } else { 0 };
                let hot = e == "a" && tick % 50 < 25;
                let arrivals = if hot { rng.next(limit) } else { rng.next(5) };
                s.2 = (s.2 + arrivals).min(allowed.max(s.2));
                s.2 = s.2.saturating_sub(rng.next(s.2 / 3 + 1));
                if rng.next(40) == 0 {
                    s.3 = !s.3;
                }
            }
            let reports: BTreeMap<String, EdgeReport> = state
                .iter()
                .filter(|(_, s)| s.3)
                .map(|(e, s)| (e.to_string(), report(s.2, 0, Some((s.1, s.0)))))
                .collect();
            let grants = allocate(limit, &mut ledger, &reports, now, tick, &CFG);
            let in_force: u64 = state
                .iter()
                .map(|(e, s)| {
                    let new = grants.get(*e).map_or(0, |g| g.sessions);
                    let old = if now < s.4 { s.0 } else { 0 };
                    u64::from(old.max(new))
                })
                .sum();
            assert!(
                in_force <= u64::from(limit),
                "seed {seed} tick {tick}: {in_force} in force > limit {limit}"
            );
            assert!(ledger.committed(&reports, now) <= u64::from(limit));
            pending.extend(grants.into_iter().map(|(e, g)| {
                let e: &str = edges.iter().find(|x| **x == e).copied().unwrap_or("a");
                (e, tick, g)
            }));
        }
    }
}

#[test]
fn a_single_busy_edge_reaches_95_percent_of_the_limit() {
    let limit = 1_000;
    let mut ledger = Ledger::default();
    let mut held: BTreeMap<&str, (u64, u32)> = BTreeMap::new();
    let mut active_a = 0u32;
    for tick in 1..60u64 {
        let mut reports = BTreeMap::new();
        for e in ["a", "b", "c", "d"] {
            let h = held.get(e).copied();
            let (active, refused) = if e == "a" {
                active_a = h.map_or(0, |h| h.1);
                (active_a, 100)
            } else {
                (0, 0)
            };
            reports.insert(e.to_string(), report(active, refused, h));
        }
        let grants = allocate(limit, &mut ledger, &reports, tick * 1_000, tick, &CFG);
        for (e, g) in grants {
            let key = ["a", "b", "c", "d"]
                .into_iter()
                .find(|x| *x == e)
                .unwrap_or("a");
            held.insert(key, (tick, g.sessions));
        }
    }
    assert!(
        active_a >= 950,
        "busy edge reached only {active_a} of {limit}"
    );
}

#[test]
fn a_leader_that_takes_over_renews_holdings_and_grants_nothing_new() {
    let limit = 100;
    let mut ledger = Ledger::taking_over(0, &CFG);
    let reports: BTreeMap<String, EdgeReport> = [
        ("a".to_string(), report(58, 10, Some((7, 60)))),
        ("b".to_string(), report(0, 0, Some((7, 20)))),
    ]
    .into();
    let grants = allocate(limit, &mut ledger, &reports, 1_000, 8, &CFG);
    assert!(grants["a"].sessions <= 60, "{grants:?}");
    assert!(grants["b"].sessions <= 20, "{grants:?}");
    // Once every grant of the predecessor has expired, the budget opens up again.
    let later = allocate(limit, &mut ledger, &reports, CFG.ttl_ms + 1_000, 9, &CFG);
    assert_eq!(
        later["a"].sessions, 68,
        "its whole demand (58 + 10% headroom): {later:?}"
    );
}

#[test]
fn a_lowered_limit_gives_no_headroom_until_sessions_end() {
    let mut ledger = Ledger::default();
    let reports: BTreeMap<String, EdgeReport> = [
        ("a".to_string(), report(80, 0, None)),
        ("b".to_string(), report(70, 0, None)),
    ]
    .into();
    let first = allocate(200, &mut ledger, &reports, 1_000, 1, &CFG);
    let acked: BTreeMap<String, EdgeReport> = first
        .iter()
        .map(|(e, g)| {
            (
                e.clone(),
                report(reports[e].active, 0, Some((1, g.sessions))),
            )
        })
        .collect();
    let lowered = allocate(100, &mut ledger, &acked, 2_000, 2, &CFG);
    for (e, g) in &lowered {
        assert!(g.sessions <= acked[e].active, "{e}: {g:?}");
    }
}

#[test]
fn floors_of_all_known_edges_fit_the_limit() {
    let mut ledger = Ledger::default();
    let reports: BTreeMap<String, EdgeReport> = ["a", "b", "c"]
        .iter()
        .map(|e| (e.to_string(), report(1, 0, None)))
        .collect();
    let grants = allocate(100, &mut ledger, &reports, 1_000, 1, &CFG);
    let floors: u32 = grants.values().map(|g| g.floor).sum();
    assert!(floors <= 100);
    assert_eq!(grants["a"].floor, 33);
}
