//! Knobs for finding out why a phase did not converge:
//! - `FLEET_LOG`: a tracing filter (e.g. `breakout_edge=info`) for the simulated edges' own sync
//!   logs, on stderr; every line names its edge (`sync{edge=sim-0042}`).
//! - `FLEET_KEEP_LOGS`: a directory; the control-plane nodes' logs are copied there at the end,
//!   of a failed run too (`node-N.log`). `BREAKOUT_TEST_CONTROL_LOG=info` makes the nodes log
//!   each edge session.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use breakout_tests::control::{Cluster, ControlNode};
use breakout_tests::metrics::sum;

use crate::api;
use crate::retry::{Attempt, Next, Policy};
use crate::sim_edge::{AtKill, SimEdge};

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

/// The cluster, whose nodes' logs are copied into `FLEET_KEEP_LOGS` when it is dropped: at the
/// end of a run that failed too, which is when they are wanted.
pub struct LoggedCluster(pub Cluster);

impl std::ops::Deref for LoggedCluster {
    type Target = Cluster;
    fn deref(&self) -> &Cluster {
        &self.0
    }
}

impl std::ops::DerefMut for LoggedCluster {
    fn deref_mut(&mut self) -> &mut Cluster {
        &mut self.0
    }
}

impl Drop for LoggedCluster {
    fn drop(&mut self) {
        keep_logs(&self.0);
    }
}

/// Copies every node's log into `FLEET_KEEP_LOGS`, if set.
fn keep_logs(cluster: &Cluster) {
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

/// The edges not back after a kill (`at` holds where each stood at it; at most `limit` of
/// them), each with the sessions it started since, its node, whether a session is up and
/// delivered a configuration, and the version it serves.
pub fn describe_pending(edges: &[Arc<SimEdge>], at: &[AtKill], limit: usize) -> String {
    edges
        .iter()
        .zip(at)
        .filter(|(e, &a)| !e.back_after(a))
        .take(limit)
        .map(|(e, a)| {
            let new = e
                .sessions
                .load(Ordering::Acquire)
                .saturating_sub(a.sessions);
            format!("{}, {new} new sessions", e.describe())
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// How many edges up on each node (by its edge address), and how many between sessions.
pub fn by_node(edges: &[Arc<SimEdge>]) -> (BTreeMap<String, usize>, usize) {
    let mut on = BTreeMap::new();
    let mut between = 0;
    for edge in edges {
        match edge.node() {
            Some(node) => *on.entry(node).or_insert(0) += 1,
            None => between += 1,
        }
    }
    (on, between)
}

/// Sessions started on the nodes `nodes` (indices into the cluster) with the region's snapshot
/// and with an empty update (`breakout_control_edge_session_starts_total{sent}`), summed over
/// them; a node that does not answer (after retries) counts nothing.
pub fn session_starts(cluster: &Cluster, nodes: &[usize]) -> Starts {
    const NAME: &str = "breakout_control_edge_session_starts_total";
    let mut starts = Starts::default();
    for node in nodes.iter().filter_map(|&i| cluster.nodes.get(i)) {
        if let Some(text) = scrape(node, Policy::default()) {
            starts.snapshot += sum(&text, NAME, &[("sent", "snapshot")]) as u64;
            starts.empty_update += sum(&text, NAME, &[("sent", "empty_update")]) as u64;
        }
    }
    starts
}

/// Region builds on the nodes `nodes` (indices into the cluster) by plan
/// (`breakout_control_region_build_seconds{plan}`): (count, seconds) from the served cache's
/// parts and whole from the state, summed over them.
#[derive(Clone, Copy, Debug, Default)]
pub struct Builds {
    pub parts: (f64, f64),
    pub whole: (f64, f64),
}

pub fn builds(cluster: &Cluster, nodes: &[usize]) -> Builds {
    const NAME: &str = "breakout_control_region_build_seconds";
    let mut b = Builds::default();
    for node in nodes.iter().filter_map(|&i| cluster.nodes.get(i)) {
        if let Some(text) = scrape(node, Policy::default()) {
            for (plan, slot) in [("parts", &mut b.parts), ("whole", &mut b.whole)] {
                let label = [("plan", plan)];
                slot.0 += sum(&text, &format!("{NAME}_count"), &label);
                slot.1 += sum(&text, &format!("{NAME}_sum"), &label);
            }
        }
    }
    b
}

impl Builds {
    /// The builds since `before`.
    pub fn since(self, before: Builds) -> Builds {
        let minus = |a: (f64, f64), b: (f64, f64)| (a.0 - b.0, a.1 - b.1);
        Builds {
            parts: minus(self.parts, before.parts),
            whole: minus(self.whole, before.whole),
        }
    }

    /// "region builds: N from parts (mean X ms), M whole (mean Y ms)".
    pub fn describe(&self) -> String {
        let mean = |(n, s): (f64, f64)| {
            if n > 0.0 {
                format!("mean {:.1} ms", s * 1000.0 / n)
            } else {
                "none".to_string()
            }
        };
        format!(
            "region builds: {:.0} from parts ({}), {:.0} whole ({})",
            self.parts.0,
            mean(self.parts),
            self.whole.0,
            mean(self.whole)
        )
    }
}

/// What `node` did as leader so far: grants frames answered by what each was made from
/// (`breakout_control_lease_frames_total{base}`: report, sent, whole), and allocation rounds
/// run and the seconds they took.
pub struct LeaseCounters {
    pub frames: [f64; 3],
    pub rounds: f64,
    pub round_seconds: f64,
}

pub fn lease_counters(node: &ControlNode) -> LeaseCounters {
    const NAME: &str = "breakout_control_lease_frames_total";
    let text = scrape(node, Policy::default()).unwrap_or_default();
    LeaseCounters {
        frames: ["report", "sent", "whole"].map(|base| sum(&text, NAME, &[("base", base)])),
        rounds: sum(&text, "breakout_control_grant_rounds_total", &[]),
        round_seconds: sum(&text, "breakout_control_grant_round_seconds_sum", &[]),
    }
}

/// `node`'s metrics, asked again after no answer or a 5xx as [`Policy`] says; `None` (said on
/// stderr) if it never answered 200.
fn scrape(node: &ControlNode, policy: Policy) -> Option<String> {
    let started = Instant::now();
    for n in 0.. {
        let (status, text) = node.scrape();
        let attempt = match status {
            // curl's `000`: nothing answered (refused, reset, or its 10 s limit).
            0 => Attempt::Unanswered(ErrorKind::NotConnected),
            status => Attempt::Answered {
                status,
                retry_after: None,
            },
        };
        match policy.next(attempt, n, started.elapsed(), api::jitter()) {
            Next::Done => return Some(text),
            Next::Retry(wait) => std::thread::sleep(wait),
            Next::Fail | Next::GiveUp => {
                eprintln!(
                    "fleet-sim: node {} /metrics: {status} {} after {} attempts; its session \
                     starts count as none",
                    node.id,
                    text.trim(),
                    n + 1
                );
                return None;
            }
        }
    }
    unreachable!("the loop returns")
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
