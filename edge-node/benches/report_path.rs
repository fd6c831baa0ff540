//! An edge's per-second lease work with `TENANTS` tenants in its region, over `EDGES` edges
//! (so that, as in the fleet simulator, their maps do not fit in cache): apply a grants frame
//! that renews every grant (`Quotas::receive`), then write the next report over the one before
//! last and make it sparse against the last (`Outgoing::next` over `Quotas::with_holdings`
//! and `refill_usage`: what the edge's `Reporter` and the simulator's edges do).
//!
//! `cargo bench -p breakout-edge --bench report_path` runs `ROUNDS` rounds (one per simulated
//! second) and prints the median microseconds per edge and round of each half. Every fifth
//! round changes one tenant's sessions on every edge, so the sparse report lists it.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

use breakout_edge::quota::Quotas;
use breakout_edge::sync::report::Outgoing;
use breakout_policy::wire::{refill_usage, Grant, Grants, Renewal, TenantUsage};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

struct Edge {
    quotas: Quotas,
    out: Outgoing,
    seq: u64,
}

fn main() {
    let edges = env("EDGES", 500);
    let tenants = env("TENANTS", 5_000);
    let rounds = env("ROUNDS", 31);
    let ids: Vec<String> = (0..tenants).map(|k| format!("tenant-{k:06}")).collect();
    let now = Instant::now();
    let first = Grants {
        epoch: 1,
        grants: ids
            .iter()
            .map(|id| {
                let g = Grant {
                    sessions: 10,
                    ttl_ms: 10_000,
                    floor: 1,
                };
                (id.clone(), g)
            })
            .collect(),
        ..Grants::default()
    };
    let mut fleet: Vec<Edge> = (0..edges)
        .map(|_| {
            let quotas = Quotas::default();
            quotas.enforce();
            quotas.receive(&first, now);
            let mut out = Outgoing::default();
            out.sparse = true;
            Edge {
                quotas,
                out,
                seq: 0,
            }
        })
        .collect();
    println!("{edges} edges, {tenants} tenants each, {rounds} rounds");
    let (mut receive_us, mut report_us, mut listed) = (Vec::new(), Vec::new(), 0);
    for round in 0..rounds as u64 {
        let frame = Grants {
            epoch: round + 2,
            grants: BTreeMap::new(),
            renew: Some(Renewal {
                from: round + 1,
                also: Vec::new(),
                ttl_ms: 10_000,
                ends: Vec::new(),
            }),
            sparse_reports: true,
        };
        let t = Instant::now();
        for e in &fleet {
            e.quotas.receive(black_box(&frame), now);
        }
        receive_us.push(t.elapsed().as_secs_f64() * 1e6 / edges as f64);
        let t = Instant::now();
        for (n, e) in fleet.iter_mut().enumerate() {
            e.seq += 1;
            let (quotas, seq) = (&e.quotas, e.seq);
            let sent = e.out.next(|report| {
                let (usage, _) = report.rewrite(seq);
                quotas.with_holdings(now, |holding| {
                    refill_usage(usage, ids.iter().map(String::as_str), |k, id| {
                        let (holding_epoch, holding_sessions) = holding(id);
                        let busy = (k + n).is_multiple_of(10) || (k == n && round % 5 == 0);
                        TenantUsage {
                            active: u32::from(busy).min(holding_sessions),
                            refused: 0,
                            holding_epoch,
                            holding_sessions,
                        }
                    })
                });
                report.grants_epoch = quotas.applied_epoch();
            });
            listed += black_box(sent).tenants.len();
        }
        report_us.push(t.elapsed().as_secs_f64() * 1e6 / edges as f64);
    }
    println!(
        "receive (renew {tenants}) {:.1} us, report (walk, refill, sparsify) {:.1} us per edge and round; \
         {:.1} tenants listed per report",
        median(receive_us),
        median(report_us),
        listed as f64 / (edges * rounds) as f64,
    );
}
