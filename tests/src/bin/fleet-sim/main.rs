//! Fleet simulator (issue 18): a 3-node control plane (release binaries, real processes) and
//! `EDGES` simulated edges in this one process, each a real QUIC session speaking the edge's own
//! protocol code (`breakout_edge::sync::run_node`), over `REGIONS` regions and `TENANTS` tenants.
//! Run through `deploy/bench/fleet.sh`; the last line is the summary
//! `fleet: edges=N tenants=M rule_p99_ms=X template_all_s=Y reconnect_s=Z`.
//!
//! Phases: populate (the state machine in-process, then one store import); every edge connects
//! to the leader first (so a leader kill moves all of them at once); steady state (the leader's
//! CPU and memory, report and lease traffic); `RULE_WRITES` one-tenant rule changes (ack → every
//! edge of the tenant's region applied); `TEMPLATE_WRITES` template changes touching 90% of
//! tenants (rollback between two live versions; ack → every edge applied); a leader kill (all
//! edges reconnect: time until each has a configuration from a new session, the new leader's
//! peak memory).

mod diag;
mod populate;
mod probe;
mod sim_edge;

use std::net::Ipv4Addr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use breakout_edge::sync::{self, SyncConfig};
use breakout_tests::api_conn::ApiConn;
use breakout_tests::control::{dev_ca, Cluster, ADMIN_TOKEN};
use serde_json::{json, Value};

use self::populate::Shape;
use self::probe::mib;
use self::sim_edge::{RegionBook, SimEdge, Traffic};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn median_usize(mut v: Vec<usize>) -> usize {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

struct Fleet {
    edges: Vec<Arc<SimEdge>>,
    books: Vec<Arc<RegionBook>>,
    traffic: Arc<Traffic>,
    regions: usize,
}

impl Fleet {
    /// Waits until every edge of the regions `region` picks serves `version` or newer; then
    /// each such edge's time from `from_us` to its apply, in ms. Only regions whose content
    /// changed at `version` may be picked: the others' edges are sent nothing and keep the
    /// version they have (they count as current through it on the control plane).
    fn wait_applied(
        &self,
        region: impl Fn(usize) -> bool,
        version: u64,
        from_us: u64,
        limit: Duration,
    ) -> Result<Vec<f64>> {
        let until = Instant::now() + limit;
        let edges: Vec<&Arc<SimEdge>> = self
            .edges
            .iter()
            .filter(|e| region(e.id % self.regions))
            .collect();
        loop {
            let behind = edges
                .iter()
                .filter(|e| e.version.load(Ordering::Acquire) < version)
                .count();
            if behind == 0 {
                break;
            }
            if Instant::now() > until {
                let why = edges.iter().find_map(|e| {
                    let refused = e.refused.lock().unwrap_or_else(|p| p.into_inner());
                    refused.clone()
                });
                bail!(
                    "{behind} edges never reached version {version} in {limit:?} (a refusal: {})",
                    why.as_deref().unwrap_or("none")
                );
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(edges
            .iter()
            .map(|e| e.applied_us.load(Ordering::Acquire).saturating_sub(from_us) as f64 / 1e3)
            .collect())
    }

    /// Waits until every edge serves a policy with all its region's tenants (`expected`).
    fn wait_loaded(&self, expected: impl Fn(usize) -> usize, limit: Duration) -> Result<()> {
        let until = Instant::now() + limit;
        loop {
            let behind = self
                .edges
                .iter()
                .filter(|e| e.tenants.load(Ordering::Acquire) != expected(e.id % self.regions))
                .count();
            if behind == 0 {
                return Ok(());
            }
            if Instant::now() > until {
                bail!("{behind} edges never got their region's tenants in {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Bytes of the change `(from, to)` as region `r`'s edges got it ((0, to): a snapshot).
    fn size(&self, r: usize, key: (u64, u64)) -> Option<usize> {
        self.books[r]
            .sizes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .copied()
    }

    /// The median over regions of the change that brought each region to `to`.
    fn change_size(&self, to: u64) -> usize {
        let sizes = self.books.iter().filter_map(|b| {
            let s = b.sizes.lock().unwrap_or_else(|e| e.into_inner());
            s.iter().rev().find(|(k, _)| k.1 == to).map(|(_, v)| *v)
        });
        median_usize(sizes.collect())
    }
}

/// One API write; its store version and the instant its answer was read.
fn write(api: &mut ApiConn, method: &str, path: &str, body: &str) -> Result<(u64, Instant)> {
    let r = api
        .send(method, path, Some(ADMIN_TOKEN), Some(body))
        .with_context(|| format!("{method} {path}"))?;
    let at = Instant::now();
    let text = String::from_utf8_lossy(&r.body);
    if r.status >= 300 {
        bail!("{method} {path}: {} {text}", r.status);
    }
    let v: Value = serde_json::from_str(&text)?;
    let version = v["version"].as_u64().context("a version in the answer")?;
    Ok((version, at))
}

/// Imports on the leader (a follower would forward the route without its body), trying again
/// if the leadership moved (elections happen on a loaded machine). A write that timed out with
/// its outcome unknown may still land: then the last tenant appears, and that is success.
fn import(cluster: &Cluster, dump: Vec<u8>, last_tenant: &str, limit: Duration) -> Result<usize> {
    let body = String::from_utf8(dump)?;
    let path = "/v1/store/import?replace=true";
    let probe = format!("/v1/tenants/{last_tenant}");
    let mut last = None;
    for _ in 0..5 {
        let leader = cluster.wait_leader(Duration::from_secs(60));
        let mut api = ApiConn::new(Ipv4Addr::LOCALHOST, cluster.nodes[leader].api);
        match write(&mut api, "POST", path, &body) {
            Ok(_) => return Ok(leader),
            Err(e) => last = Some(e),
        }
        let until = Instant::now() + limit.min(Duration::from_secs(60));
        while Instant::now() < until {
            let leader = cluster.wait_leader(Duration::from_secs(60));
            let mut api = ApiConn::new(Ipv4Addr::LOCALHOST, cluster.nodes[leader].api);
            if api
                .send("GET", &probe, Some(ADMIN_TOKEN), None)
                .is_ok_and(|r| r.status == 200)
            {
                return Ok(leader);
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("no import")))
}

fn main() -> Result<()> {
    let edges_n = env_usize("EDGES", 1000);
    let shape = Shape {
        tenants: env_usize("TENANTS", 100_000),
        regions: env_usize("REGIONS", 20).max(1),
    };
    let rule_writes = env_usize("RULE_WRITES", 30);
    let template_writes = env_usize("TEMPLATE_WRITES", 4);
    let steady = Duration::from_secs(env_usize("STEADY_SECS", 10) as u64);
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

    let mut cluster = Cluster::start(3);
    let t = Instant::now();
    let last_tenant = populate::tenant_id(shape.tenants.saturating_sub(1));
    let leader = import(&cluster, dump, &last_tenant, converge)?;
    println!(
        "import: in {:.1} s (leader: node {})",
        t.elapsed().as_secs_f64(),
        cluster.nodes[leader].id
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let epoch = Instant::now();
    let traffic = Arc::new(Traffic::default());
    let books: Vec<Arc<RegionBook>> = (0..shape.regions).map(|_| Arc::default()).collect();
    let mut order: Vec<usize> = (0..cluster.nodes.len()).collect();
    order.retain(|&i| i != leader);
    order.insert(0, leader);
    let targets: Vec<String> = order
        .iter()
        .map(|&i| cluster.nodes[i].edge.to_string())
        .collect();
    let mut edges = Vec::new();
    let client = {
        let cfg = SyncConfig {
            control_plane: targets.clone(),
            region: populate::region_name(0),
            node_id: "sim".into(),
            ca_file: dev_ca().ca(),
            token: ADMIN_TOKEN.into(),
        };
        sync::prepare(&cfg)?
    };
    let t = Instant::now();
    for k in 0..edges_n {
        let region = k % shape.regions;
        let edge = Arc::new(SimEdge::new(
            k,
            Arc::clone(&books[region]),
            Arc::clone(&traffic),
            epoch,
        ));
        let cfg = SyncConfig {
            control_plane: targets.clone(),
            region: populate::region_name(region),
            node_id: format!("sim-{k:04}"),
            ca_file: dev_ca().ca(),
            token: ADMIN_TOKEN.into(),
        };
        runtime.spawn(sync::run_node(cfg, client.clone(), Arc::clone(&edge)));
        edges.push(edge);
    }
    let fleet = Fleet {
        edges,
        books,
        traffic,
        regions: shape.regions,
    };
    let in_region = |r: usize| (r..shape.tenants).step_by(shape.regions).count();
    fleet.wait_loaded(in_region, converge)?;
    let version = fleet
        .edges
        .iter()
        .map(|e| e.version.load(Ordering::Acquire))
        .min()
        .unwrap_or(0);
    let connect_s = t.elapsed().as_secs_f64();
    let snapshot_sizes: Vec<usize> = (0..shape.regions)
        .filter_map(|r| {
            let edge = fleet.edges.iter().find(|e| e.id % shape.regions == r)?;
            fleet.size(r, (0, edge.version.load(Ordering::Acquire)))
        })
        .collect();
    let snapshot_bytes = median_usize(snapshot_sizes);
    println!(
        "connect: {edges_n} edges applied version {version} in {connect_s:.1} s; a region's \
         snapshot {:.2} MiB (median over regions)",
        mib(snapshot_bytes as u64)
    );

    // Steady state.
    let leader_pid = cluster.nodes[leader].pid().context("the leader's pid")?;
    std::thread::sleep(Duration::from_secs(3));
    fleet.traffic.measuring.store(true, Ordering::Relaxed);
    let (steady_cpu, steady_rss) = probe::measure(leader_pid, steady);
    fleet.traffic.measuring.store(false, Ordering::Relaxed);
    let per_s =
        |n: &std::sync::atomic::AtomicU64| n.load(Ordering::Relaxed) as f64 / steady.as_secs_f64();
    let report_bps = per_s(&fleet.traffic.report_bytes);
    let reports_ps = per_s(&fleet.traffic.reports);
    let grant_bps = per_s(&fleet.traffic.grant_bytes);
    let grants_ps = per_s(&fleet.traffic.grant_frames);
    println!(
        "steady ({}s): leader CPU {steady_cpu:.2} cores, RSS {:.0} MiB; reports {reports_ps:.0}/s \
         = {:.2} MiB/s; grants {grants_ps:.0} frames/s = {:.2} MiB/s",
        steady.as_secs(),
        mib(steady_rss),
        mib(report_bps as u64),
        mib(grant_bps as u64)
    );

    // One tenant's rule change at a time.
    let mut api = ApiConn::new(Ipv4Addr::LOCALHOST, cluster.nodes[leader].api);
    let mut rule_ms = Vec::new();
    let mut rule_edge_ms = Vec::new();
    let mut rule_sizes = Vec::new();
    for w in 0..rule_writes {
        let i = (w * 7919 + 13) % shape.tenants;
        let region = populate::region_of(i, shape.regions);
        let before = fleet.edges[region].version.load(Ordering::Acquire);
        let body = serde_json::to_string(&populate::rules(i, w as u64 + 1))?;
        let path = format!("/v1/tenants/{}/rules", populate::tenant_id(i));
        let (v, acked) = write(&mut api, "PUT", &path, &body)?;
        let from_us = acked.duration_since(epoch).as_micros() as u64;
        let mut per_edge = fleet.wait_applied(|r| r == region, v, from_us, converge)?;
        per_edge.sort_by(f64::total_cmp);
        rule_ms.push(per_edge.last().copied().unwrap_or(0.0));
        rule_edge_ms.extend(per_edge);
        if let Some(s) = fleet.size(region, (before, v)) {
            rule_sizes.push(s);
        }
    }
    rule_ms.sort_by(f64::total_cmp);
    rule_edge_ms.sort_by(f64::total_cmp);
    let rule_update = median_usize(rule_sizes);
    println!(
        "rule change ({} writes, one tenant each; ack → every edge of its region applied): \
         p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; per edge p50 {:.1} p99 {:.1} ms; update {} bytes",
        rule_ms.len(),
        percentile(&rule_ms, 0.5),
        percentile(&rule_ms, 0.99),
        percentile(&rule_ms, 1.0),
        percentile(&rule_edge_ms, 0.5),
        percentile(&rule_edge_ms, 0.99),
        rule_update
    );

    // Template changes touching 90% of tenants: live version 1 → 0 → 1 … They change every
    // region with a subscriber (all of them, unless a region is tiny).
    let touched = |r: usize| populate::region_subscribes(r, shape);
    let touched_edges = fleet
        .edges
        .iter()
        .filter(|e| touched(e.id % shape.regions))
        .count();
    let mut tpl_s = Vec::new();
    let mut tpl_edge_ms = Vec::new();
    let mut tpl_sizes = Vec::new();
    let mut tpl_peak = 0u64;
    for w in 0..template_writes {
        let to = if w % 2 == 0 { 0 } else { 1 };
        let body = json!({ "to": to }).to_string();
        let (v, acked) = write(
            &mut api,
            "POST",
            "/v1/templates/microsoft365/rollback",
            &body,
        )?;
        let from_us = acked.duration_since(epoch).as_micros() as u64;
        let sampler =
            std::thread::spawn(move || probe::measure(leader_pid, Duration::from_secs(1)));
        let mut per_edge = fleet.wait_applied(touched, v, from_us, converge)?;
        tpl_peak = tpl_peak.max(sampler.join().map_or(0, |(_, p)| p));
        per_edge.sort_by(f64::total_cmp);
        tpl_s.push(per_edge.last().copied().unwrap_or(0.0) / 1e3);
        tpl_edge_ms.extend(per_edge);
        tpl_sizes.push(fleet.change_size(v));
    }
    tpl_s.sort_by(f64::total_cmp);
    tpl_edge_ms.sort_by(f64::total_cmp);
    let tpl_update = median_usize(tpl_sizes);
    println!(
        "template change ({} writes, 90% of tenants; ack → all {touched_edges} edges of the \
         regions it changes applied): \
         median {:.2} s, max {:.2} s; per edge p50 {:.0} ms p99 {:.0} ms; change {:.2} MiB \
         per region (median); leader peak RSS {:.0} MiB",
        tpl_s.len(),
        percentile(&tpl_s, 0.5),
        percentile(&tpl_s, 1.0),
        percentile(&tpl_edge_ms, 0.5),
        percentile(&tpl_edge_ms, 0.99),
        mib(tpl_update as u64),
        mib(tpl_peak)
    );

    // A full fleet reconnect: every edge is on the leader; kill it.
    let mut reconnect_s = f64::NAN;
    let mut reconnect_pending = 0;
    let mut starts = diag::Starts::default();
    if reconnect {
        let sessions: Vec<u64> = fleet
            .edges
            .iter()
            .map(|e| e.sessions.load(Ordering::Acquire))
            .collect();
        let others: Vec<u32> = order[1..]
            .iter()
            .filter_map(|&i| cluster.nodes[i].pid())
            .collect();
        let steady_others: Vec<u64> = others.iter().map(|&p| probe::rss(p)).collect();
        let starts_before = diag::session_starts(&cluster, &order[1..]);
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
        starts = diag::session_starts(&cluster, &order[1..]).since(starts_before);
        let new_leader = cluster.wait_leader(Duration::from_secs(30));
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
    }

    let summary = json!({
        "edges": edges_n, "tenants": shape.tenants, "regions": shape.regions,
        "connect_s": connect_s, "snapshot_bytes": snapshot_bytes,
        "leader_cpu": steady_cpu, "leader_rss_mib": mib(steady_rss),
        "report_mib_s": mib(report_bps as u64), "grant_mib_s": mib(grant_bps as u64),
        "rule_p50_ms": percentile(&rule_ms, 0.5), "rule_p99_ms": percentile(&rule_ms, 0.99),
        "rule_update_bytes": rule_update,
        "template_median_s": percentile(&tpl_s, 0.5), "template_all_s": percentile(&tpl_s, 1.0),
        "template_update_bytes": tpl_update, "reconnect_s": reconnect_s,
        "load_start": load_start, "load_end": probe::load_average(),
        "reconnect_pending": reconnect_pending, "reconnect_snapshots": starts.snapshot,
        "reconnect_empty_updates": starts.empty_update,
    });
    println!("fleet-json: {summary}");
    println!(
        "fleet: edges={edges_n} tenants={} rule_p99_ms={:.1} template_all_s={:.2} reconnect_s={:.1}",
        shape.tenants,
        percentile(&rule_ms, 0.99),
        percentile(&tpl_s, 1.0),
        reconnect_s
    );
    runtime.shutdown_background();
    diag::keep_logs(&cluster);
    if reconnect_pending > 0 {
        bail!("{reconnect_pending} edges did not reconnect in {converge:?}");
    }
    Ok(())
}
