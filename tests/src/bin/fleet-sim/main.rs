//! Fleet simulator (issue 18): a 3-node control plane (release binaries, real processes) and
//! `EDGES` simulated edges in this one process, each a real QUIC session speaking the edge's own
//! protocol code (`breakout_edge::sync::run_node`), over `REGIONS` regions and `TENANTS` tenants.
//! Run through `deploy/bench/fleet.sh`; the last line is the summary
//! `fleet: edges=N tenants=M rule_p99_ms=X template_all_s=Y reconnect_s=Z`.
//!
//! Phases: populate (the state machine in-process, then one store import); every edge connects
//! to the leader first, `CONNECT_WAVE` at a time (so a leader kill moves all of them at once);
//! steady state, once every edge's grants have stopped moving (the leader's CPU and memory,
//! report and lease traffic); `RULE_WRITES`
//! one-tenant rule changes (ack → every edge of the tenant's region applied);
//! `TEMPLATE_WRITES` template changes touching 90% of tenants (rollback between two live
//! versions; ack → every edge applied); a leader kill (all edges reconnect: time until each
//! has a configuration from a new session, the new leader's peak memory).
//!
//! Every call on the control plane's API is tried again through elections, overload and lost
//! connections, for a bounded time ([`retry::Policy`]); writes carry an `Idempotency-Key`, so
//! one that is tried again is applied once ([`api`]).

mod api;
mod changes;
mod diag;
mod fleet;
mod populate;
mod probe;
mod reconnect;
mod retry;
mod sim_edge;
mod stats;
mod steady;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use breakout_tests::control::Cluster;
use serde_json::json;

use self::api::Api;
use self::fleet::Fleet;
use self::populate::Shape;
use self::probe::mib;
use self::retry::Policy;
use self::stats::{median_usize, percentile};

/// jemalloc, as the control plane: this one process stands in for a thousand edges, each
/// decoding its own copy of a region's snapshot while it arrives, and glibc's malloc kept the
/// freed copies' pages (BENCHMARKS.md, section "Edges stuck for ever by flow control; the
/// simulator's memory per edge").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> Result<()> {
    let edges_n = env_usize("EDGES", 1000);
    let shape = Shape {
        tenants: env_usize("TENANTS", 100_000),
        regions: env_usize("REGIONS", 20).max(1),
    };
    let rule_writes = env_usize("RULE_WRITES", 30);
    let template_writes = env_usize("TEMPLATE_WRITES", 4);
    let steady_window = Duration::from_secs(env_usize("STEADY_SECS", 10) as u64);
    let converge = Duration::from_secs(env_usize("CONVERGE_SECS", 600) as u64);
    let reconnect = env_usize("RECONNECT", 1) == 1;

    diag::init_logs();
    let load_start = probe::load_average();
    let t = Instant::now();
    let state = populate::build(shape)?;
    let dump = populate::dump(&state)?;
    drop(state);
    println!(
        "populate: {} tenants in {} regions, {} edges; state built by apply in {:.1} s, dump {:.1} MiB",
        shape.tenants,
        shape.regions,
        edges_n,
        t.elapsed().as_secs_f64(),
        mib(dump.len() as u64)
    );

    let mut cluster = diag::LoggedCluster(Cluster::start(3));
    let t = Instant::now();
    // A large dump can take long to commit on a loaded machine: its attempts have as long as
    // the edges have to converge, not the usual minute.
    let policy = Policy::default();
    let import_policy = Policy {
        budget: converge.max(policy.budget),
        ..policy
    };
    let leader = {
        let mut api = Api::on_leader(&cluster, import_policy)?;
        api::import(&mut api, dump)?;
        api.node()
    };
    println!(
        "import: in {:.1} s (leader: node {})",
        t.elapsed().as_secs_f64(),
        cluster.nodes[leader].id
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let epoch = Instant::now();
    let mut order: Vec<usize> = (0..cluster.nodes.len()).collect();
    order.retain(|&i| i != leader);
    order.insert(0, leader);
    // 0: all at once (what the figures before this knob were measured with).
    let wave = match env_usize("CONNECT_WAVE", 0) {
        0 => edges_n,
        n => n,
    };
    let fleet = Fleet::start(
        &runtime,
        &cluster,
        &order,
        shape,
        (edges_n, wave),
        epoch,
        converge,
    )?;
    let in_region = |r: usize| (r..shape.tenants).step_by(shape.regions).count();
    fleet.wait_loaded(in_region, converge)?;
    let version = fleet
        .edges
        .iter()
        .map(|e| e.version.load(Ordering::Acquire))
        .min()
        .unwrap_or(0);
    let connect_s = fleet.started.elapsed().as_secs_f64();
    let snapshot_sizes: Vec<usize> = (0..shape.regions)
        .filter_map(|r| {
            let edge = fleet.edges.iter().find(|e| e.id % shape.regions == r)?;
            fleet.size(r, (0, edge.version.load(Ordering::Acquire)))
        })
        .collect();
    let snapshot_bytes = median_usize(snapshot_sizes);
    let sim_rss = probe::rss(std::process::id());
    let (on, between) = diag::by_node(&fleet.edges);
    println!(
        "connect: {edges_n} edges applied version {version} in {connect_s:.1} s; a region's \
         snapshot {:.2} MiB (median over regions); simulator RSS {:.0} MiB; edges by node \
         {on:?}, between sessions {between}",
        mib(snapshot_bytes as u64),
        mib(sim_rss)
    );

    let leader_pid = cluster.nodes[leader].pid().context("the leader's pid")?;
    let settle = converge.min(Duration::from_secs(120));
    let leader_node = &cluster.nodes[leader];
    let steady = steady::measure(&fleet, leader_node, leader_pid, steady_window, settle);

    let (rules, templates) = {
        let mut api = Api::on_leader(&cluster, policy)?;
        let builds_before = diag::builds(&cluster, &order);
        let rules = changes::rules(&fleet, &mut api, shape, rule_writes, epoch, converge)?;
        let builds = diag::builds(&cluster, &order).since(builds_before);
        println!("rule change, {}", builds.describe());
        let templates = changes::templates(
            &fleet,
            &mut api,
            shape,
            template_writes,
            epoch,
            converge,
            leader_pid,
        )?;
        (rules, templates)
    };

    let mut moved = reconnect::Reconnect {
        seconds: f64::NAN,
        pending: 0,
        moved: 0,
        starts: diag::Starts::default(),
    };
    if reconnect {
        moved = reconnect::run(&mut cluster, &fleet, &order, converge, steady.rss)?;
    }

    let (rule_ms, tpl_s) = (&rules.all, &templates.all);
    let summary = json!({
        "edges": edges_n, "tenants": shape.tenants, "regions": shape.regions,
        "connect_s": connect_s, "snapshot_bytes": snapshot_bytes, "sim_rss_mib": mib(sim_rss),
        "leader_cpu": steady.cpu, "sim_cpu": steady.sim_cpu, "leader_rss_mib": mib(steady.rss),
        "report_mib_s": mib(steady.report_bps as u64), "grant_mib_s": mib(steady.grant_bps as u64),
        "whole_frames": steady.whole_frames, "rounds_per_s": steady.rounds_ps,
        "round_ms": steady.round_s * 1e3, "settle_s": steady.settle_s,
        "rule_p50_ms": percentile(rule_ms, 0.5), "rule_p99_ms": percentile(rule_ms, 0.99),
        "rule_update_bytes": rules.update_bytes, "rule_untimed": rules.untimed,
        "template_median_s": percentile(tpl_s, 0.5), "template_all_s": percentile(tpl_s, 1.0),
        "template_update_bytes": templates.update_bytes, "template_untimed": templates.untimed,
        "reconnect_s": moved.seconds,
        "load_start": load_start, "load_end": probe::load_average(),
        "reconnect_pending": moved.pending, "reconnect_moved": moved.moved,
        "reconnect_snapshots": moved.starts.snapshot,
        "reconnect_empty_updates": moved.starts.empty_update,
    });
    println!("fleet-json: {summary}");
    println!(
        "fleet: edges={edges_n} tenants={} rule_p99_ms={:.1} template_all_s={:.2} reconnect_s={:.1}",
        shape.tenants,
        percentile(rule_ms, 0.99),
        percentile(tpl_s, 1.0),
        moved.seconds
    );
    runtime.shutdown_background();
    if moved.pending > 0 {
        bail!("{} edges did not reconnect in {converge:?}", moved.pending);
    }
    Ok(())
}
