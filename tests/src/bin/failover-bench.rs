//! Capacity across a leader kill (issue 13, item 1), with real processes: a 3-node control
//! plane, two edges of one region, a tenant limit of 40, clients coming and going beyond it,
//! and the leader SIGKILLed as the demand moves from one edge to the other
//! ([`breakout_tests::capacity::leader_kill_under_load`]). For each placement of the edges,
//! `RUNS` runs (default 5); per run and as medians: the time from the kill until the edges'
//! limits sum to the limit again, the lowest sum, and the session-seconds of the limit not
//! granted after the kill against the same load shift without a kill.
//!
//! Run through `deploy/bench/failover.sh` (release binaries).

use breakout_tests::capacity::{leader_kill_under_load, FailoverFigures, Placement, LEASE};

const LIMIT: u32 = 40;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn main() {
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    println!(
        "limit {LIMIT}, 2 edges, lease {} s, {runs} runs per placement, window {} s after the kill",
        LEASE.as_secs(),
        (LEASE * 2).as_secs()
    );
    for placement in [Placement::Followers, Placement::OneOnLeader] {
        let mut all: Vec<FailoverFigures> = Vec::new();
        println!("\n{placement:?}:");
        println!("| run | to full (s) | worst dip (s) | lowest sum | lost after kill (session-s) | lost, same shift without kill | peak sessions |");
        println!("|---:|---:|---:|---:|---:|---:|---:|");
        for run in 1..=runs {
            let f = leader_kill_under_load(LIMIT, LEASE * 2, placement);
            let to_full = f.to_full.map_or("not within the window".to_string(), |d| {
                format!("{:.2}", d.as_secs_f64())
            });
            println!(
                "| {run} | {to_full} | {:.2} | {} | {:.1} | {:.1} | {} |",
                f.worst_dip.as_secs_f64(),
                f.min_limits,
                f.lost,
                f.ordinary_lost,
                f.peak_active
            );
            all.push(f);
        }
        let to_full = median(
            all.iter()
                .map(|f| f.to_full.unwrap_or(LEASE * 2).as_secs_f64())
                .collect(),
        );
        let lowest = median(all.iter().map(|f| f.min_limits as f64).collect());
        let lost = median(all.iter().map(|f| f.lost).collect());
        let ordinary = median(all.iter().map(|f| f.ordinary_lost).collect());
        println!(
            "median: to full {to_full:.2} s ({:.2} of the lease), lowest sum {lowest}, \
             lost {lost:.1} session-s after the kill vs {ordinary:.1} for the same shift without one",
            to_full / LEASE.as_secs_f64()
        );
    }
}
