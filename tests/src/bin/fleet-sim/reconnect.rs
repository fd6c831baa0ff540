//! A full fleet reconnect: every edge is on the leader; kill it, then time until each edge has
//! a configuration from a new session, with the new leader's peak memory.

use std::time::{Duration, Instant};

use anyhow::Result;
use breakout_tests::control::Cluster;

use crate::api;
use crate::diag::{self, Starts};
use crate::fleet::Fleet;
use crate::probe::{self, mib};
use crate::retry::Policy;

/// What the reconnect came to.
pub struct Reconnect {
    /// Seconds until every edge was back (NaN if some never were).
    pub seconds: f64,
    /// Edges not back within the limit.
    pub pending: usize,
    /// Session starts on the survivors since the kill.
    pub starts: Starts,
}

/// Kills the leader (`order[0]`, indices into the cluster) and waits up to `converge` for
/// every edge; `steady_rss` is the old leader's steady memory, printed beside the new one's.
pub fn run(
    cluster: &mut Cluster,
    fleet: &Fleet,
    order: &[usize],
    converge: Duration,
    steady_rss: u64,
) -> Result<Reconnect> {
    let leader = order[0];
    let edges_n = fleet.edges.len();
    let mut reconnect_s = f64::NAN;
    let mut reconnect_pending = 0;
    let sessions: Vec<u64> = fleet
        .edges
        .iter()
        .map(|e| e.sessions.load(std::sync::atomic::Ordering::Acquire))
        .collect();
    let others: Vec<u32> = order[1..]
        .iter()
        .filter_map(|&i| cluster.nodes[i].pid())
        .collect();
    let steady_others: Vec<u64> = others.iter().map(|&p| probe::rss(p)).collect();
    let starts_before = diag::session_starts(cluster, &order[1..]);
    let t = Instant::now();
    cluster.nodes[leader].kill9();
    let mut peaks = steady_others.clone();
    let until = Instant::now() + converge;
    loop {
        for (peak, pid) in peaks.iter_mut().zip(&others) {
            *peak = (*peak).max(probe::rss(*pid));
        }
        let pending = fleet
            .edges
            .iter()
            .zip(&sessions)
            .filter(|(e, &s)| !e.back_after_kill(s, t.elapsed()))
            .count();
        if pending == 0 {
            break;
        }
        if Instant::now() > until {
            reconnect_pending = pending;
            println!(
                "reconnect: {pending} edges did not reconnect in {converge:?}: {}",
                diag::describe_pending(&fleet.edges, &sessions, t.elapsed(), 20)
            );
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if reconnect_pending == 0 {
        reconnect_s = t.elapsed().as_secs_f64();
    }
    let moved = diag::moved(&fleet.edges, &sessions);
    if moved == 0 && edges_n > 0 {
        // Every edge counted as back without a new session: none was on the killed node (an
        // edge moves to the next node of its list when an attempt fails), so nothing was timed.
        reconnect_s = f64::NAN;
        println!(
            "reconnect: no edge started a new session after the kill (none was on node {}): \
             not measured",
            cluster.nodes[leader].id
        );
    }
    let starts = diag::session_starts(cluster, &order[1..]).since(starts_before);
    let new_leader = api::leader(cluster, Policy::default())?;
    let after = cluster.nodes[new_leader].pid().map_or(0, probe::rss);
    let idx = order[1..]
        .iter()
        .position(|&i| i == new_leader)
        .unwrap_or(0);
    println!(
        "reconnect after killing the leader: {} of {edges_n} edges connected and configured \
         ({moved} on a new session) in {:.1} s; new leader (node {}) RSS before {:.0} MiB, peak {:.0} MiB, \
         after {:.0} MiB (old leader's steady RSS {:.0} MiB); other node peak {:.0} MiB; \
         sessions started with a snapshot {}, with an empty update {}",
        edges_n - reconnect_pending,
        t.elapsed().as_secs_f64(),
        cluster.nodes[new_leader].id,
        mib(steady_others.get(idx).copied().unwrap_or(0)),
        mib(peaks.get(idx).copied().unwrap_or(0)),
        mib(after),
        mib(steady_rss),
        mib(peaks.get(1 - idx.min(1)).copied().unwrap_or(0)),
        starts.snapshot,
        starts.empty_update
    );
    Ok(Reconnect {
        seconds: reconnect_s,
        pending: reconnect_pending,
        starts,
    })
}
