//! Steady state: the leader's CPU and memory while every edge reports and renews its leases,
//! and the report and grant traffic.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use breakout_tests::control::ControlNode;

use crate::diag;
use crate::fleet::Fleet;
use crate::probe::{self, mib};

/// The leader's load over the window, and the traffic in bytes per second.
pub struct Steady {
    /// Cores.
    pub cpu: f64,
    /// The simulator's own CPU over the window, cores.
    pub sim_cpu: f64,
    /// Peak resident memory, bytes.
    pub rss: u64,
    pub report_bps: f64,
    pub grant_bps: f64,
    /// The share of the leader's grants frames that listed every grant.
    pub whole_frames: f64,
    /// Allocation rounds a second, and what one took on average (seconds).
    pub rounds_ps: f64,
    pub round_s: f64,
    /// How long the grants took to settle before the window (`None`: they never did).
    pub settle_s: Option<f64>,
}

/// Measures the leader (`leader`, pid `leader_pid`) over `window`, once the fleet's grants
/// have settled after the connect (waiting at most `settle`): a window that starts while the
/// last edges' first grants are still being cut measures the connect's tail (22 MiB/s of
/// grants at 1,000 × 100,000 in one run, 1.25 in the next).
pub fn measure(
    fleet: &Fleet,
    leader: &ControlNode,
    leader_pid: u32,
    window: Duration,
    settle: Duration,
) -> Steady {
    let started = Instant::now();
    let settled = fleet.wait_grants_still(settle);
    let waited = started.elapsed().as_secs_f64();
    match settled {
        Ok(()) => {
            println!("settle: every edge had a grants frame that changed nothing in {waited:.1} s")
        }
        Err(n) => println!(
            "settle: {n} edges' grants still changing in every frame after {waited:.0} s; \
             measuring anyway"
        ),
    }
    // The leader's counters are read when each scrape starts; the scrapes themselves take
    // seconds at 100,000 tenants (a gauge per region and tenant), so the counters' window is
    // the time between the two starts, not `window`.
    let scraped = Instant::now();
    let before = diag::lease_counters(leader);
    fleet.traffic.measuring.store(true, Ordering::Relaxed);
    // The simulator's own share: where it nears a core, its edges report late and the leader's
    // figures measure the simulator.
    let sim = probe::CpuSince::start(std::process::id());
    let (cpu, rss) = probe::measure(leader_pid, window);
    let sim_cpu = sim.cores();
    fleet.traffic.measuring.store(false, Ordering::Relaxed);
    let counted_s = scraped.elapsed().as_secs_f64();
    let after = diag::lease_counters(leader);
    let [report, sent, whole] = [0, 1, 2].map(|i| after.frames[i] - before.frames[i]);
    let rounds = after.rounds - before.rounds;
    let rounds_ps = rounds / counted_s;
    let round_s = (after.round_seconds - before.round_seconds) / rounds.max(1.0);
    let share = |n: f64| 100.0 * n / (report + sent + whole).max(1.0);
    let per_s = |n: &AtomicU64| n.load(Ordering::Relaxed) as f64 / window.as_secs_f64();
    let report_bps = per_s(&fleet.traffic.report_bytes);
    let reports_ps = per_s(&fleet.traffic.reports);
    let grant_bps = per_s(&fleet.traffic.grant_bytes);
    let grants_ps = per_s(&fleet.traffic.grant_frames);
    println!(
        "steady ({}s): leader CPU {cpu:.2} cores, RSS {:.0} MiB; reports {reports_ps:.0}/s \
         = {:.2} MiB/s; grants {grants_ps:.0} frames/s = {:.2} MiB/s (made from the report \
         {:.0}%, from the frame before {:.0}%, whole {:.0}%; the leader answered {:.0}/s); \
         rounds {rounds_ps:.2}/s of {:.0} ms each (the leader's counters over {counted_s:.1} s); \
         simulator CPU {sim_cpu:.2} cores",
        window.as_secs(),
        mib(rss),
        mib(report_bps as u64),
        mib(grant_bps as u64),
        share(report),
        share(sent),
        share(whole),
        (report + sent + whole) / counted_s,
        round_s * 1e3
    );
    Steady {
        cpu,
        sim_cpu,
        rss,
        report_bps,
        grant_bps,
        whole_frames: share(whole) / 100.0,
        rounds_ps,
        round_s,
        settle_s: settled.is_ok().then_some(waited),
    }
}
