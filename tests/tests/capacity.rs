//! Region-wide capacity with real processes: a tenant's concurrent sessions over all edges of its
//! region never exceed its limit, a single busy edge can still reach nearly all of it, edges cut
//! off from the control plane fall back to their floor, and a tenant's traffic at an edge of
//! another region is refused (art. 5).

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use breakout_tests::capacity::{edge_for, hammer, metric, setup, tunnel, ACTIVE, LIMIT};
use breakout_tests::control::Cluster;
use breakout_tests::fleet::{serves, start_edge};
use breakout_tests::raw::{exchange_from, RawConn};
use breakout_tests::{wait_until, EchoServer, Edge};

const CONVERGE: Duration = Duration::from_secs(30);

/// Opens tunnels through `edge` until one is refused; how many were admitted (then closed).
fn fill(edge: &Edge, echo: &EchoServer) -> usize {
    let mut held = Vec::new();
    while let Some(c) = tunnel(edge, echo) {
        held.push(c);
        assert!(held.len() <= 1000, "no limit at all");
    }
    held.len()
}

#[test]
fn region_wide_sessions_never_exceed_the_limit_and_one_busy_edge_reaches_it() {
    const N: u64 = 40;
    let echo = EchoServer::start();
    let cluster = Cluster::start(1);
    let node = &cluster.nodes[0];
    setup(node, &["tokyo"], N as u32);
    let edges = Arc::new([
        edge_for(&echo, &[node], "tokyo", "tk-1"),
        edge_for(&echo, &[node], "tokyo", "tk-2"),
    ]);
    for e in edges.iter() {
        wait_until(CONVERGE, "the edge serves acme with a grant", || {
            serves(e, "acme") && metric(e, LIMIT) > 0
        });
    }
    // Sample both edges' open sessions continuously: the peak of their sum.
    let peak = Arc::new(AtomicU64::new(0));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (edges, peak, sampling) =
            (Arc::clone(&edges), Arc::clone(&peak), Arc::clone(&sampling));
        std::thread::spawn(move || {
            while sampling.load(Ordering::Relaxed) {
                let sum: u64 = edges.iter().map(|e| metric(e, ACTIVE)).sum();
                peak.fetch_max(sum, Ordering::Relaxed);
            }
        })
    };

    // Phase: both edges hammered (demand 64 > 40) until both refuse and the region is busy.
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = hammer(&edges[0], &echo, 4, 8, &stop);
    workers.extend(hammer(&edges[1], &echo, 4, 8, &stop));
    let refused = |e: &Edge| {
        e.counter(
            "breakout_edge_sessions_refused_total",
            &[("tenant", "acme"), ("reason", "limit")],
        )
    };
    wait_until(
        CONVERGE,
        "both edges refuse and the region nears its limit",
        || {
            refused(&edges[0]) > 0.0
                && refused(&edges[1]) > 0.0
                && edges.iter().map(|e| metric(e, ACTIVE)).sum::<u64>() >= N * 3 / 4
        },
    );
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().expect("worker");
    }

    // Phase: only tk-1 is busy; it reaches at least 95% of the limit.
    let stop = Arc::new(AtomicBool::new(false));
    let workers = hammer(&edges[0], &echo, 4, N as usize, &stop);
    let want = (N * 95).div_ceil(100);
    wait_until(
        Duration::from_secs(60),
        "the busy edge reaches 95% of the limit",
        || metric(&edges[0], ACTIVE) >= want,
    );
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().expect("worker");
    }
    sampling.store(false, Ordering::Relaxed);
    sampler.join().expect("sampler");
    let peak = peak.load(Ordering::Relaxed);
    assert!(peak <= N, "region-wide sessions peaked at {peak} > {N}");
    assert!(peak >= want, "{peak}");
}

#[test]
fn without_the_control_plane_edges_fall_back_to_their_floor() {
    let echo = EchoServer::start();
    let mut cluster = Cluster::start(1);
    setup(&cluster.nodes[0], &["tokyo"], 10);
    let edges = [
        edge_for(&echo, &[&cluster.nodes[0]], "tokyo", "tk-1"),
        edge_for(&echo, &[&cluster.nodes[0]], "tokyo", "tk-2"),
    ];
    for e in &edges {
        wait_until(CONVERGE, "the edge has a grant", || metric(e, LIMIT) > 0);
    }
    cluster.nodes[0].kill9();
    // Grants expire unrenewed; each edge then admits its floor: 10 split over 2 edges.
    wait_until(CONVERGE, "both edges are at their floor", || {
        edges.iter().all(|e| metric(e, LIMIT) == 5)
    });
    let held: Vec<Vec<RawConn>> = edges
        .iter()
        .map(|e| {
            let mut v = Vec::new();
            while let Some(c) = tunnel(e, &echo) {
                v.push(c);
                assert!(v.len() <= 10);
            }
            v
        })
        .collect();
    let counts: Vec<usize> = held.iter().map(Vec::len).collect();
    assert_eq!(counts, [5, 5], "each edge admits exactly its floor");
    drop(held);
    wait_until(CONVERGE, "the closed tunnels are gone", || {
        metric(&edges[0], ACTIVE) == 0
    });
    assert_eq!(fill(&edges[0], &echo), 5, "and keeps serving");
}

#[test]
fn a_tenant_at_an_edge_of_another_region_is_refused_naming_its_region() {
    let cluster = Cluster::start(1);
    let node = &cluster.nodes[0];
    setup(node, &["tokyo", "osaka"], 10);
    let osaka = start_edge(&[node], "osaka", "os-1");
    let raw = "GET http://origin.test/ HTTP/1.1\r\nHost: origin.test\r\n\r\n";
    let resp = breakout_tests::wait_for(CONVERGE, "osaka refuses acme naming tokyo", || {
        let r = exchange_from(Ipv4Addr::LOCALHOST, osaka.proxy(), raw).ok()?;
        let ps = r.header("proxy-status")?.to_string();
        ps.contains("tokyo").then_some((r.status, ps))
    });
    assert_eq!(resp.0, 403);
    assert!(
        resp.1.contains("error=http_request_denied")
            && resp
                .1
                .contains("tenant acme is contracted in region tokyo, not osaka (art. 5)"),
        "{}",
        resp.1
    );
    assert!(!serves(&osaka, "acme"));
    let foreign = [("tenant", ""), ("reason", "foreign_region")];
    assert!(osaka.counter("breakout_edge_sessions_refused_total", &foreign) >= 1.0);
}
