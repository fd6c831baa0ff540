//! Knobs for finding out why a phase did not converge:
//! - `FLEET_LOG`: a tracing filter (e.g. `breakout_edge=info`) for the simulated edges' own sync
//!   logs, on stderr; every line names its edge (`sync{edge=sim-0042}`).
//! - `FLEET_KEEP_LOGS`: a directory; the control-plane nodes' logs are copied there at the end
//!   (`node-N.log`). `BREAKOUT_TEST_CONTROL_LOG=info` makes the nodes log each edge session.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use breakout_tests::control::Cluster;
use breakout_tests::metrics::sum;

use crate::sim_edge::SimEdge;

/// Starts the simulator's log output if `FLEET_LOG` asks for it.
pub fn init_logs() {
    let Ok(filter) = std::env::var("FLEET_LOG") else {
        return;
    };
    match tracing_subscriber::EnvFilter::try_new(&filter) {
        Ok(filter) => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init(),
        Err(e) => eprintln!("FLEET_LOG={filter:?} ignored: {e}"),
    }
}

/// Copies every node's log into `FLEET_KEEP_LOGS`, if set.
pub fn keep_logs(cluster: &Cluster) {
    let Ok(dir) = std::env::var("FLEET_KEEP_LOGS") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("FLEET_KEEP_LOGS: {}: {e}", dir.display());
        return;
    }
    for node in &cluster.nodes {
        let path = dir.join(format!("node-{}.log", node.id));
        if let Err(e) = std::fs::write(&path, node.stderr()) {
            eprintln!("{}: {e}", path.display());
        }
    }
}

/// The edges still pending `since` a leader kill (at most `limit` of them), each with the
/// sessions it started since (`sessions` holds the counts at the kill), whether one is up and
/// delivered a configuration, and the version it serves.
pub fn describe_pending(
    edges: &[Arc<SimEdge>],
    sessions: &[u64],
    since: Duration,
    limit: usize,
) -> String {
    edges
        .iter()
        .zip(sessions)
        .filter(|(e, &s)| !e.back_after_kill(s, since))
        .take(limit)
        .map(|(e, &s)| {
            format!(
                "sim-{:04} (new sessions {}, up {}, configured {}, version {})",
                e.id,
                e.sessions.load(Ordering::Acquire).saturating_sub(s),
                e.up.load(Ordering::Acquire),
                e.configured.load(Ordering::Acquire),
                e.version.load(Ordering::Acquire)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// How many edges started a session since the kill (`sessions` holds the counts at the kill).
pub fn moved(edges: &[Arc<SimEdge>], sessions: &[u64]) -> usize {
    edges
        .iter()
        .zip(sessions)
        .filter(|(e, &s)| e.sessions.load(Ordering::Acquire) > s)
        .count()
}

/// Sessions started on the nodes `nodes` (indices into the cluster) with the region's snapshot
/// and with an empty update (`breakout_control_edge_session_starts_total{sent}`), summed over
/// them; a node that does not answer counts nothing.
pub fn session_starts(cluster: &Cluster, nodes: &[usize]) -> Starts {
    const NAME: &str = "breakout_control_edge_session_starts_total";
    let mut starts = Starts::default();
    for node in nodes.iter().filter_map(|&i| cluster.nodes.get(i)) {
        let (status, text) = node.scrape();
        if status == 200 {
            starts.snapshot += sum(&text, NAME, &[("sent", "snapshot")]) as u64;
            starts.empty_update += sum(&text, NAME, &[("sent", "empty_update")]) as u64;
        }
    }
    starts
}

/// Session starts by their first send.
#[derive(Clone, Copy, Debug, Default)]
pub struct Starts {
    pub snapshot: u64,
    pub empty_update: u64,
}

impl Starts {
    /// The starts since `before`.
    pub fn since(self, before: Starts) -> Starts {
        Starts {
            snapshot: self.snapshot.saturating_sub(before.snapshot),
            empty_update: self.empty_update.saturating_sub(before.empty_update),
        }
    }
}
