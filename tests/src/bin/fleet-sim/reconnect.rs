//! A full fleet reconnect: the edges start on the leader; kill it, then time until each edge
//! that was on it has a configuration from a new session (and every other edge is still, or
//! again, connected and configured), with the new leader's peak memory.

use std::time::{Duration, Instant};

use anyhow::Result;
use breakout_tests::control::Cluster;

use crate::api;
use crate::diag::{self, Starts};
use crate::fleet::{self, Fleet};
use crate::probe::{self, mib};
use crate::retry::Policy;
use crate::sim_edge::AtKill;

/// What the reconnect came to.
pub struct Reconnect {
    /// Seconds until every edge was back (NaN if some never were).
    pub seconds: f64,
    /// Edges not back within the limit.
    pub pending: usize,
    /// Edges that had to start a new session (on the killed node, or between sessions).
    pub moved: usize,
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
    let killed = cluster.nodes[leader].edge.to_string();
    let (on, between) = diag::by_node(&fleet.edges);
    let at: Vec<AtKill> = fleet.edges.iter().map(|e| e.at_kill(&killed)).collect();
    let moved = at.iter().filter(|a| a.must_move).count();
    println!(
        "reconnect: killing the leader (node {}, {killed}); edges by node: {on:?}, between \
         sessions {between}; {moved} must start a new session",
        cluster.nodes[leader].id
    );
    let others: Vec<u32> = order[1..]
        .iter()
        .filter_map(|&i| cluster.nodes[i].pid())
        .collect();
    let steady_others: Vec<u64> = others.iter().map(|&p| probe::rss(p)).collect();
    let starts_before = diag::session_starts(cluster, &order[1..]);
    let builds_before = diag::builds(cluster, &order[1..]);
    let t = Instant::now();
    cluster.nodes[leader].kill9();
    let mut peaks = steady_others.clone();
    let until = Instant::now() + converge;
    let back = fleet::poll(
        "their configuration back",
        until,
        Duration::from_millis(50),
        || {
            for (peak, pid) in peaks.iter_mut().zip(&others) {
                *peak = (*peak).max(probe::rss(*pid));
            }
            fleet
                .edges
                .iter()
                .zip(&at)
                .filter(|(e, &a)| !e.back_after(a))
                .count()
        },
        || fleet::describe(fleet.edges.iter(), |e| !e.back_after(at[e.id])),
    );
    // Read before the queries below, which take seconds on a loaded cluster.
    let waited = t.elapsed().as_secs_f64();
    if let Err(pending) = back {
        reconnect_pending = pending;
        println!(
            "reconnect: {pending} edges did not reconnect in {converge:?}: {}",
            diag::describe_pending(&fleet.edges, &at, 20)
        );
    }
    if reconnect_pending == 0 {
        reconnect_s = waited;
    }
    if moved == 0 {
        // Nothing had to move: nothing was timed.
        reconnect_s = f64::NAN;
        println!(
            "reconnect: no edge was on node {} at the kill: not measured",
            cluster.nodes[leader].id
        );
    }
    let starts = diag::session_starts(cluster, &order[1..]).since(starts_before);
    let builds = diag::builds(cluster, &order[1..]).since(builds_before);
    let new_leader = api::leader(cluster, Policy::default())?;
    let after = cluster.nodes[new_leader].pid().map_or(0, probe::rss);
    let idx = order[1..]
        .iter()
        .position(|&i| i == new_leader)
        .unwrap_or(0);
    println!(
        "reconnect after killing the leader: {} of {edges_n} edges connected and configured \
         ({moved} had to start a new session) in {:.1} s; new leader (node {}) RSS before \
         {:.0} MiB, peak {:.0} MiB, after {:.0} MiB (old leader's steady RSS {:.0} MiB); other \
         node peak {:.0} MiB; sessions started with a snapshot {}, with an empty update {}; \
         {}",
        edges_n - reconnect_pending,
        waited,
        cluster.nodes[new_leader].id,
        mib(steady_others.get(idx).copied().unwrap_or(0)),
        mib(peaks.get(idx).copied().unwrap_or(0)),
        mib(after),
        mib(steady_rss),
        mib(peaks.get(1 - idx.min(1)).copied().unwrap_or(0)),
        starts.snapshot,
        starts.empty_update,
        builds.describe()
    );
    Ok(Reconnect {
        seconds: reconnect_s,
        pending: reconnect_pending,
        moved,
        starts,
    })
}
