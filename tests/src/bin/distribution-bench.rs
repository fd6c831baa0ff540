//! Distribution benchmark (issue 5), on one machine with real processes: a 3-node control plane
//! and 4 edges (regions `east` and `west`, 2 edges each, spread over the nodes).
//! - Propagation: time from an acknowledged API write to every edge having applied it, p50/p99
//!   over `WRITES` writes (each changes all four edges' configuration).
//! - Quota accuracy: the peak region-wide concurrent sessions of a tenant over its limit under
//!   skewed load on the region's two edges, and the share of the limit one busy edge reaches while
//!   the other is idle.
//!
//! Run through `deploy/bench/distribution.sh` (release binaries).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use breakout_tests::capacity::hammer;
use breakout_tests::control::{dev_ca, Cluster, ControlNode, ADMIN_TOKEN};
use breakout_tests::edge::Synced;
use breakout_tests::fleet::{applied, edge_list, put_in_service, serves, write};
use breakout_tests::{wait_until, EchoServer, Edge, EdgeConfig};

const WRITE: Duration = Duration::from_secs(20);
const CONVERGE: Duration = Duration::from_secs(60);
const ACTIVE: &str = "breakout_edge_sessions_active";
const LIMIT: &str = "breakout_edge_session_limit";
/// (tenant, region, client source) — one tenant per region.
const TENANTS: [(&str, &str, &str); 2] = [
    ("bench-east", "east", "127.0.0.1"),
    ("bench-west", "west", "127.0.0.2"),
];

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One request on a fresh connection to the control-plane API: (status, body).
fn api(addr: SocketAddr, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.set_nodelay(true)?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes())?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    Ok((status, body))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn metric(edge: &Edge, name: &str, tenant: &str) -> u64 {
    edge.metric(name, &[("tenant", tenant)]).unwrap_or(0.0) as u64
}

/// Edge `id` of `region`, trying `nodes` from `first` on (so edges spread over the nodes).
fn start_edge(
    echo: &EchoServer,
    nodes: &[ControlNode],
    first: usize,
    region: &str,
    id: &str,
) -> Edge {
    let settings = EdgeConfig::default()
        .host("origin.test", "127.0.0.1")
        .connect_port(echo.port())
        .to_settings_toml();
    let order = (0..nodes.len()).map(|i| nodes[(first + i) % nodes.len()].edge);
    Edge::start_synced(
        &settings,
        &Synced {
            control_plane: order.collect(),
            region: region.into(),
            node_id: id.into(),
            ca_file: dev_ca().ca(),
            token: ADMIN_TOKEN.into(),
        },
    )
}

/// Writes `writes` source-network changes (alternating tenants: each changes its region's tenant
/// and the other region's `foreign_sources`, so every edge gets a new snapshot); for each, the
/// time from the acknowledgement, and from sending it, until the last edge applied it (ms).
fn propagation(api_addr: SocketAddr, edges: &[Edge], writes: u64) -> (Vec<f64>, Vec<f64>) {
    let (mut from_ack, mut from_send) = (Vec::new(), Vec::new());
    for i in 0..writes {
        let (tenant, _, src) = TENANTS[(i % 2) as usize];
        let extra = format!("10.{}.{}.0/24", 200 + i % 2, (i / 2) % 256);
        let body = format!("[\"{src}/32\", \"{extra}\"]");
        let path = format!("/v1/tenants/{tenant}/source-cidrs");
        let sent = Instant::now();
        let (status, answer) = api(api_addr, "PUT", &path, &body).expect("write");
        let acked = Instant::now();
        assert_eq!(status, 200, "write {i}: {answer}");
        let v: serde_json::Value = serde_json::from_str(&answer).expect("json answer");
        let version = v["version"].as_u64().expect("version");
        let mut pending: Vec<&Edge> = edges.iter().collect();
        while !pending.is_empty() {
            pending.retain(|e| applied(e) < version);
            assert!(
                acked.elapsed() < Duration::from_secs(30),
                "write {i} (version {version}) not applied everywhere in 30 s"
            );
            if !pending.is_empty() {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        let done = Instant::now();
        from_ack.push((done - acked).as_secs_f64() * 1000.0);
        from_send.push((done - sent).as_secs_f64() * 1000.0);
        // Let the edges' acks and reports settle so writes do not overlap.
        std::thread::sleep(Duration::from_millis(20));
    }
    from_ack.sort_by(f64::total_cmp);
    from_send.sort_by(f64::total_cmp);
    (from_ack, from_send)
}

/// Runs `workers` for `secs`, then stops them and waits until the edges hold no session.
fn run_phase(edges: &[Edge], workers: Vec<JoinHandle<()>>, stop: &Arc<AtomicBool>, secs: u64) {
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().expect("worker");
    }
    wait_until(CONVERGE, "the tunnels are closed", || {
        edges.iter().all(|e| metric(e, ACTIVE, TENANTS[0].0) == 0)
    });
}

/// (peak region-wide sessions under skewed load, peak sessions on the one busy edge).
fn quota(edges: Arc<Vec<Edge>>, echo: &EchoServer, limit: u64, secs: u64) -> (u64, u64, u64) {
    let tenant = TENANTS[0].0;
    let region_peak = Arc::new(AtomicU64::new(0));
    let single_peak = Arc::new(AtomicU64::new(0));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (edges, region_peak, single_peak, sampling) = (
            Arc::clone(&edges),
            Arc::clone(&region_peak),
            Arc::clone(&single_peak),
            Arc::clone(&sampling),
        );
        std::thread::spawn(move || {
            let mut samples = 0u64;
            while sampling.load(Ordering::Relaxed) {
                let each: Vec<u64> = edges.iter().map(|e| metric(e, ACTIVE, tenant)).collect();
                region_peak.fetch_max(each.iter().sum(), Ordering::Relaxed);
                single_peak.fetch_max(each[0], Ordering::Relaxed);
                samples += 1;
            }
            samples
        })
    };
    let hold = limit as usize / 4;
    // Skewed: demand 1.5 × limit on the first edge, 0.5 × limit on the second.
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = hammer(&edges[0], echo, 6, hold, &stop);
    workers.extend(hammer(&edges[1], echo, 2, hold, &stop));
    run_phase(&edges, workers, &stop, secs);
    let skewed_peak = region_peak.load(Ordering::Relaxed);
    // One busy edge (demand 2 × limit), the other idle.
    single_peak.store(0, Ordering::Relaxed);
    let stop = Arc::new(AtomicBool::new(false));
    let workers = hammer(&edges[0], echo, 4, limit as usize / 2, &stop);
    run_phase(&edges, workers, &stop, secs);
    sampling.store(false, Ordering::Relaxed);
    let samples = sampler.join().expect("sampler");
    (
        skewed_peak.max(region_peak.load(Ordering::Relaxed)),
        single_peak.load(Ordering::Relaxed),
        samples,
    )
}

fn main() {
    let writes = env_u64("WRITES", 200);
    let limit = env_u64("LIMIT", 200);
    let secs = env_u64("QUOTA_SECS", 20);
    let echo = EchoServer::start();
    let cluster = Cluster::start(3);
    let leader = cluster.wait_leader(CONVERGE);
    let node = &cluster.nodes[leader];
    for (tenant, region, src) in TENANTS {
        write(node, &["region", "create", region], WRITE);
        let cidr = format!("{src}/32");
        let create = [
            "tenant",
            "create",
            tenant,
            "--region",
            region,
            "--source-cidr",
            &cidr,
            "--session-limit",
            "1000",
            "--default-action",
            "direct",
        ];
        write(node, &create, WRITE);
        put_in_service(node, tenant, Some(limit as u32), WRITE);
    }
    let n = &cluster.nodes;
    let edges = Arc::new(vec![
        start_edge(&echo, n, 0, "east", "east-1"),
        start_edge(&echo, n, 1, "east", "east-2"),
        start_edge(&echo, n, 2, "west", "west-1"),
        start_edge(&echo, n, 0, "west", "west-2"),
    ]);
    for (e, (tenant, _, _)) in edges
        .iter()
        .zip([TENANTS[0], TENANTS[0], TENANTS[1], TENANTS[1]])
    {
        wait_until(CONVERGE, "the edge serves its tenant with a grant", || {
            serves(e, tenant) && metric(e, LIMIT, tenant) > 0
        });
    }
    let placement: Vec<String> = edge_list(node)
        .and_then(|v| v["items"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(|e| {
            format!(
                "{} → node {}",
                e["edge_id"].as_str().unwrap_or("?"),
                e["control_node"]
            )
        })
        .collect();
    println!(
        "setup: 3 control-plane nodes (leader: node {}), 4 edges: {}",
        cluster.nodes[leader].id,
        placement.join(", ")
    );

    let (from_ack, from_send) = propagation(node.api, &edges, writes);
    println!(
        "\npropagation over {writes} writes (every write changes all 4 edges' configuration), ms:"
    );
    println!("| measured from | p50 | p90 | p99 | max |");
    println!("|---|---:|---:|---:|---:|");
    for (what, v) in [
        ("write acknowledged", &from_ack),
        ("write sent", &from_send),
    ] {
        println!(
            "| {what} → last edge applied | {:.1} | {:.1} | {:.1} | {:.1} |",
            percentile(v, 0.5),
            percentile(v, 0.9),
            percentile(v, 0.99),
            v[v.len() - 1]
        );
    }

    let (region_peak, single_peak, samples) = quota(Arc::clone(&edges), &echo, limit, secs);
    println!(
        "\nquota accuracy, tenant {} in region east (limit {limit}, 2 edges, {secs} s per phase, \
         {samples} samples of both edges' open sessions):",
        TENANTS[0].0
    );
    println!(
        "- skewed load (demand 1.5× limit on east-1, 0.5× on east-2) then east-1 alone: peak \
         region-wide sessions {region_peak} = {:.3} of the limit",
        region_peak as f64 / limit as f64
    );
    println!(
        "- one busy edge (east-1, demand 2× limit; east-2 idle): peak {single_peak} sessions = \
         {:.3} of the limit",
        single_peak as f64 / limit as f64
    );
}
