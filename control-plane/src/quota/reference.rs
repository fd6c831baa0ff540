//! The allocation as it was before it read borrowed, sorted reports (maps of owned ids, rebuilt
//! every call) and before its ledger dropped covered grants (every grant kept until it ended or
//! was acknowledged past), kept only to check that [`super::allocate_sorted`] gives the same
//! grants and leaves a ledger that admits the same on randomized inputs.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{split, EdgeReport, Grant, Issued, Ledger, QuotaConfig};

/// The ledger as it was then.
#[derive(Default)]
struct Old {
    issued: BTreeMap<Arc<str>, Vec<Issued>>,
    quiet_until_ms: u64,
    inherited: BTreeMap<Arc<str>, (u64, u32)>,
    first_epoch: Option<u64>,
    floor_over: u32,
}

impl Old {
    /// While quiet: takes note of the predecessor grants edges report holding, each counted as
    /// issued until the edge acknowledges a grant of ours (or the quiet period ends, when every
    /// predecessor grant has expired). The budget: what they add up to, at most `limit`.
    fn inherit(&mut self, reports: &BTreeMap<String, EdgeReport>, epoch: u64, limit: u32) -> u64 {
        let first = *self.first_epoch.get_or_insert(epoch);
        for (edge, r) in reports {
            if r.holding_epoch == 0 || r.holding_epoch >= first {
                continue;
            }
            let newest = self
                .inherited
                .entry(Arc::from(edge.as_str()))
                .or_insert((0, 0));
            if r.holding_epoch >= newest.0 {
                *newest = (r.holding_epoch, r.holding_sessions);
            }
            let grants = self.issued.entry(Arc::from(edge.as_str())).or_default();
            match grants.iter_mut().find(|g| g.epoch == r.holding_epoch) {
                Some(g) => g.sessions = g.sessions.max(r.holding_sessions),
                None => grants.push(Issued {
                    epoch: r.holding_epoch,
                    sessions: r.holding_sessions,
                    expires_ms: self.quiet_until_ms,
                }),
            }
        }
        let reported: u64 = self.inherited.values().map(|(_, s)| u64::from(*s)).sum();
        reported.min(u64::from(limit))
    }

    /// The most sessions `edge` may be admitting under grants in force at `now_ms`.
    fn outstanding(&self, edge: &str, holding_epoch: u64, now_ms: u64) -> u32 {
        self.issued.get(edge).map_or(0, |v| {
            v.iter()
                .filter(|g| g.expires_ms > now_ms && g.epoch >= holding_epoch)
                .map(|g| g.sessions)
                .max()
                .unwrap_or(0)
        })
    }

    /// Sum of what every edge may be admitting at `now_ms` (the invariant: ≤ the limit).
    fn committed(&self, reports: &BTreeMap<String, EdgeReport>, now_ms: u64) -> u64 {
        self.issued
            .keys()
            .map(|e| {
                let holding = reports.get(&**e).map_or(0, |r| r.holding_epoch);
                u64::from(self.outstanding(e, holding, now_ms))
            })
            .sum()
    }

    fn forget_dead(&mut self, reports: &BTreeMap<String, EdgeReport>, now_ms: u64) {
        for (edge, grants) in &mut self.issued {
            let holding = reports.get(&**edge).map_or(0, |r| r.holding_epoch);
            grants.retain(|g| g.expires_ms > now_ms && g.epoch >= holding);
        }
        self.issued.retain(|_, v| !v.is_empty());
    }

    fn record(&mut self, edge: &str, g: Issued) {
        self.issued.entry(Arc::from(edge)).or_default().push(g);
    }
}

/// Computes new grants for the edges in `reports` (the ones connected now). Edges that stopped
/// reporting keep counting with what they may still hold until it expires.
fn allocate(
    limit: u32,
    old: &mut Old,
    reports: &BTreeMap<String, EdgeReport>,
    now_ms: u64,
    epoch: u64,
    cfg: &QuotaConfig,
) -> BTreeMap<String, Grant> {
    let quiet = now_ms < old.quiet_until_ms;
    // While quiet, what the predecessor granted is known only from what edges say they hold.
    let budget = if quiet {
        old.inherit(reports, epoch, limit)
    } else {
        old.inherited.clear();
        u64::from(limit)
    };
    old.forget_dead(reports, now_ms);
    // Grants that cost nothing new: up to what each reporting edge may already hold (while
    // quiet, a predecessor's grant an edge reported holding counts as issued: `inherit`).
    let held: Vec<u32> = reports
        .iter()
        .map(|(e, r)| old.outstanding(e, r.holding_epoch, now_ms))
        .collect();
    let absent: u64 = old
        .issued
        .keys()
        .filter(|e| !reports.contains_key(&***e))
        .map(|e| u64::from(old.outstanding(e, 0, now_ms)))
        .sum();
    // How the budget is split is not what this oracle checks: the shared split.
    let mut sessions = Vec::new();
    split(
        limit,
        budget,
        absent,
        reports.values(),
        &held,
        cfg,
        &mut sessions,
    );
    let grants: BTreeMap<String, u32> = reports.keys().cloned().zip(sessions).collect();
    let edges = old
        .issued
        .keys()
        .filter(|e| !reports.contains_key(&***e))
        .count()
        + reports.len();
    old.floor_over = super::floor::divisor(edges, old.floor_over);
    let floor = limit / old.floor_over;
    grants
        .into_iter()
        .map(|(edge, sessions)| {
            old.record(
                &edge,
                Issued {
                    epoch,
                    sessions,
                    expires_ms: now_ms + cfg.ttl_ms,
                },
            );
            (edge, Grant { sessions, floor })
        })
        .collect()
}

/// Random reports (edges coming and going, acknowledging some grant they were given or one of
/// a predecessor, refusing, limits changing, a new leader's quiet period): the sorted
/// allocation gives the same grants, and leaves the same ledger, as the one it replaced.
#[test]
fn sorted_allocation_matches_the_map_allocation() {
    use super::{allocate_sorted, find};
    const CFG: QuotaConfig = QuotaConfig {
        ttl_ms: 3_000,
        idle_share: 0.01,
        busy_share: 0.10,
    };
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n.max(1)
    };
    let names = [
        "a",
        "edge-10",
        "edge-2",
        "b",
        "edge-1",
        "zz",
        "c-long-edge-id",
        "d",
    ];
    // The same `Arc` for an edge every tick (as the lease round passes them) in most runs, a new
    // one every tick in the others: ids matched by address and by comparison.
    let interned: BTreeMap<&str, Arc<str>> = names.iter().map(|n| (*n, Arc::from(*n))).collect();
    for run in 0..200u64 {
        let start = 1_000 * next(20);
        let new_ledger = if run % 3 == 0 {
            Ledger::taking_over(start, &CFG)
        } else {
            Ledger::default()
        };
        let mut old = Old {
            quiet_until_ms: new_ledger.quiet_until_ms,
            ..Old::default()
        };
        let mut new = new_ledger;
        let mut limit = 1 + next(300) as u32;
        // What each edge was last given: (epoch, sessions).
        let mut given: BTreeMap<&str, Vec<(u64, u32)>> = BTreeMap::new();
        for tick in 1..60u64 {
            let now = start + tick * (1 + next(1_500));
            let epoch = (7 << 32) | tick;
            if next(10) == 0 {
                limit = 1 + next(300) as u32;
            }
            let mut reports = BTreeMap::new();
            for name in names.iter().take(1 + next(names.len() as u64) as usize) {
                if next(5) == 0 {
                    continue;
                }
                let holding = match given.get(name) {
                    Some(g) if !g.is_empty() && next(4) != 0 => g[next(g.len() as u64) as usize],
                    _ if next(3) == 0 => ((6 << 32) | next(50), next(100) as u32),
                    _ => (0, 0),
                };
                let r = EdgeReport {
                    active: next(u64::from(limit) + 5) as u32,
                    refused: if next(4) == 0 { next(40) as u32 } else { 0 },
                    holding_epoch: holding.0,
                    holding_sessions: holding.1,
                };
                reports.insert(name.to_string(), r);
            }
            let fresh: Vec<Arc<str>> = reports.keys().map(|e| Arc::from(e.as_str())).collect();
            let sorted: Vec<(&Arc<str>, EdgeReport)> = reports
                .iter()
                .zip(&fresh)
                .map(|((e, r), fresh)| {
                    let id = if run % 4 == 1 {
                        fresh
                    } else {
                        &interned[e.as_str()]
                    };
                    (id, r.clone())
                })
                .collect();
            let expected = allocate(limit, &mut old, &reports, now, epoch, &CFG);
            let mut got = Vec::new();
            let committed = allocate_sorted(limit, &mut new, &sorted, now, epoch, &CFG, &mut got);
            let got: BTreeMap<String, Grant> = reports.keys().cloned().zip(got).collect();
            assert_eq!(got, expected, "run {run} tick {tick}");
            assert_eq!(committed, old.committed(&reports, now));
            for (e, g) in &expected {
                let name = names.iter().find(|n| **n == e.as_str()).expect("name");
                given.entry(name).or_default().push((epoch, g.sessions));
            }
            // The same edges, each admitting the same whatever it holds, now and later.
            let keys = |k: &mut dyn Iterator<Item = &Arc<str>>| k.cloned().collect::<Vec<_>>();
            assert_eq!(keys(&mut new.issued.keys()), keys(&mut old.issued.keys()));
            for name in names {
                let mut holdings: Vec<u64> = vec![0, (6 << 32) | 25, epoch + 1];
                holdings.extend(given.get(name).into_iter().flatten().map(|(e, _)| *e));
                for holding in holdings {
                    for later in [0, 1, CFG.ttl_ms / 2, CFG.ttl_ms] {
                        let at = now + later;
                        assert_eq!(
                            new.outstanding(name, holding, at),
                            old.outstanding(name, holding, at),
                            "run {run} tick {tick} {name} holding {holding} at {at}"
                        );
                    }
                }
            }
            assert_eq!(
                (
                    new.quiet_until_ms,
                    new.first_epoch,
                    format!("{:?}", new.inherited)
                ),
                (
                    old.quiet_until_ms,
                    old.first_epoch,
                    format!("{:?}", old.inherited)
                ),
            );
            assert!(find(&sorted, "no-such-edge").is_none());
        }
    }
}
