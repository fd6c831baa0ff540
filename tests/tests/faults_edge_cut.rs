//! An edge cut off from every control-plane node (UDP fault relays on its QUIC links), then
//! healed: it keeps serving and enforcing its last grant, then its floor; it says how stale it
//! is (its metric and log), and so does the control plane (`edge list`: not connected, last
//! seen); another edge of the region is unaffected; after healing the region's capacity comes
//! back to the edge.
//!
//! The cut lasts 40 s (past the edge's 30 s warning and the 10 s grant lifetime); with
//! `FAULT_MINUTES=N` it lasts N minutes.

use std::net::Ipv4Addr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use breakout_tests::control::{dev_ca, Cluster, ADMIN_TOKEN};
use breakout_tests::edge::Synced;
use breakout_tests::faultcluster::{fault_budget, report};
use breakout_tests::faultnet::{Fault, Net};
use breakout_tests::fleet::{edge_view, put_in_service, serves, settings, start_edge, write};
use breakout_tests::raw::RawConn;
use breakout_tests::wait::{poll_until, wait_until};
use breakout_tests::{Edge, Origin};
use serde_json::json;

const CONVERGE: Duration = Duration::from_secs(30);
const LIMIT: u32 = 10;
/// The cut-off edge, as the fault rules name it.
const EDGE_A: u64 = 100;

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn limit(edge: &Edge) -> f64 {
    edge.metric("breakout_edge_session_limit", &[("tenant", "acme")])
        .unwrap_or(0.0)
}

/// Opens keep-alive sessions through `edge` until `n` are held or one is refused; the held ones.
fn hold(edge: &Edge, origin: &Origin, n: usize) -> Vec<RawConn> {
    let host = format!("origin.test:{}", origin.port());
    let req = format!("GET http://{host}/ HTTP/1.1\r\nHost: {host}\r\n\r\n");
    let mut held = Vec::new();
    while held.len() < n {
        let Ok(mut c) = RawConn::connect_from(Ipv4Addr::LOCALHOST, edge.proxy()) else {
            break;
        };
        let ok =
            c.send(req.as_bytes()).is_ok() && c.read_response("GET").is_ok_and(|r| r.status == 200);
        if !ok {
            break;
        }
        held.push(c);
    }
    held
}

#[test]
fn an_edge_cut_off_keeps_serving_within_its_grant_says_how_stale_and_gets_capacity_back() {
    let origin = Origin::start();
    let cluster = Cluster::start(3);
    let nodes: Vec<_> = cluster.nodes.iter().collect();
    write(nodes[0], &["region", "create", "tokyo"], CONVERGE);
    write(
        nodes[0],
        &[
            "tenant",
            "create",
            "acme",
            "--region",
            "tokyo",
            "--source-cidr",
            "127.0.0.1/32",
            "--session-limit",
            "10",
            "--default-action",
            "direct",
        ],
        CONVERGE,
    );
    put_in_service(nodes[0], "acme", Some(LIMIT), CONVERGE);

    // Edge A reaches every node through its own relays; edge B directly.
    let net = Net::new();
    let relays: Vec<_> = cluster
        .nodes
        .iter()
        .map(|n| net.udp_relay(EDGE_A, n.id, n.edge))
        .collect();
    let a = Edge::start_synced(
        &settings(),
        &Synced {
            control_plane: relays.iter().map(|r| r.addr).collect(),
            region: "tokyo".into(),
            node_id: "tk-a".into(),
            ca_file: dev_ca().ca(),
            token: ADMIN_TOKEN.into(),
        },
    );
    let b = start_edge(&nodes, "tokyo", "tk-b");
    for edge in [&a, &b] {
        wait_until(CONVERGE, "both edges serve acme with a grant", || {
            serves(edge, "acme") && limit(edge) > 0.0
        });
    }
    let floor = f64::from(LIMIT) / 2.0;

    // The cut.
    let ids: Vec<u64> = cluster.nodes.iter().map(|n| n.id).collect();
    net.between(&[EDGE_A], &ids, Fault::Cut);
    let cut_at = unix_now();
    wait_until(CONVERGE, "edge A notices", || {
        a.metric("breakout_edge_sync_connected", &[]) == Some(0.0)
    });
    let cut_for = fault_budget().unwrap_or(Duration::from_secs(40));
    let mut checked = 0u32;
    let until = std::time::Instant::now() + cut_for;
    while std::time::Instant::now() < until {
        // Serving, within what it holds: its grant, then (after the grant's 10 s) its floor.
        let before = limit(&a);
        let held = hold(&a, &origin, LIMIT as usize + 2);
        let after = limit(&a);
        assert!(
            after >= 1.0 && before <= f64::from(LIMIT),
            "A's local limit {before}, {after}"
        );
        // Exactly its local limit (the grant may expire to the floor in between).
        let n = held.len() as f64;
        assert!(
            n >= before.min(after) && n <= before.max(after),
            "A held {n} of {before}/{after}"
        );
        drop(held);
        let last = a
            .metric("breakout_edge_sync_last_contact_timestamp_seconds", &[])
            .expect("the last-contact gauge");
        assert!(
            last > 0.0 && last <= cut_at + 1.0,
            "contact after the cut? {last} vs {cut_at}"
        );
        // B is unaffected.
        assert_eq!(hold(&b, &origin, 1).len(), 1, "edge B refuses");
        checked += 1;
        poll_until(Duration::from_secs(5), || {
            std::time::Instant::now() >= until
        });
    }
    // After the grant expired: the floor (limit / edges the leader knew).
    wait_until(CONVERGE, "A falls back to its floor", || limit(&a) == floor);
    assert!(
        a.stderr().contains("cut off from the control plane for"),
        "no staleness warning in A's log"
    );
    // The control plane's side: A is listed as gone since about the cut.
    let view = breakout_tests::wait::wait_for(CONVERGE, "A listed as disconnected", || {
        edge_view(nodes[0], "tk-a").filter(|e| e["connected"] == false)
    });
    let seen = view["last_seen_ms"].as_u64().expect("last_seen_ms") as f64 / 1000.0;
    assert!(
        (cut_at - 3.0..=cut_at + 1.0).contains(&seen),
        "last seen {seen}, cut at {cut_at}"
    );
    let listed = nodes[0]
        .ctl(&["edge", "list"])
        .expect_ok("edge list")
        .json();
    assert!(
        listed["items"].as_array().is_some_and(|i| i.len() == 2),
        "{listed}"
    );
    assert_eq!(
        edge_view(nodes[0], "tk-b").map(|e| e["connected"].clone()),
        Some(json!(true))
    );

    // Healed: A is back, fresh, and the region's capacity comes back to it (all but B's idle
    // headroom of one session).
    net.heal();
    wait_until(CONVERGE, "A reconnects", || {
        a.metric("breakout_edge_sync_connected", &[]) == Some(1.0)
            && edge_view(nodes[0], "tk-a").is_some_and(|e| e["connected"] == true)
    });
    let want = LIMIT as usize - 1;
    let mut held = Vec::new();
    let back = poll_until(CONVERGE, || {
        held.extend(hold(&a, &origin, want - held.len()));
        held.len() >= want
    });
    assert!(back, "A holds {} of {want} after healing", held.len());
    let last = a
        .metric("breakout_edge_sync_last_contact_timestamp_seconds", &[])
        .expect("gauge");
    assert!(unix_now() - last < 5.0, "contact is fresh again");
    report(
        "edge-cut",
        json!({
            "cut_seconds": cut_for.as_secs(),
            "checks_while_cut": checked,
            "floor": floor,
            "capacity_back_to": held.len(),
        }),
    );
}
