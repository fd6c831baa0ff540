//! The console over a 3-node cluster (issue 17): a follower's operator page shows the whole
//! fleet (the edges connected to another node, the leader's tenants nearest their limits), and
//! the sessions chart keeps its earlier points after the leader is killed (every node samples
//! the leader's usage into its own series, so the new leader has them).

use std::time::Duration;

use breakout_tests::capacity::{edge_for, metric, setup, tunnel, ACTIVE};
use breakout_tests::control::{Cluster, ControlNode, ADMIN_TOKEN};
use breakout_tests::fleet::serves;
use breakout_tests::{wait_until, EchoServer};
use serde_json::Value;

const CONVERGE: Duration = Duration::from_secs(30);

/// `acme`'s points in `node`'s own series (`GET /ui/t/acme/series.json`): (at_ms, sessions).
fn points(node: &ControlNode) -> Vec<(u64, u64)> {
    let (status, body) = node.get(ADMIN_TOKEN, "/ui/t/acme/series.json");
    if status != 200 {
        return Vec::new();
    }
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    v["series"]
        .as_array()
        .and_then(|s| s.iter().find(|r| r["region"] == "tokyo"))
        .and_then(|r| r["points"].as_array())
        .map(|ps| {
            ps.iter()
                .map(|p| {
                    let at = p["at_ms"].as_u64().unwrap_or(0);
                    (at, p["sessions"].as_u64().unwrap_or(0))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[test]
fn a_followers_operator_page_shows_the_fleet_and_the_chart_survives_a_leader_kill() {
    let echo = EchoServer::start();
    let mut cluster = Cluster::start(3);
    let leader = cluster.wait_leader(CONVERGE);
    setup(&cluster.nodes[leader], &["tokyo"], 20);
    let followers: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
    let (via, viewer) = (followers[0], followers[1]);
    let edge = edge_for(&echo, &[&cluster.nodes[via]], "tokyo", "tk-1");
    wait_until(CONVERGE, "the edge serves acme", || serves(&edge, "acme"));
    let mut held = None;
    wait_until(
        CONVERGE,
        "a tunnel is open (once the edge has a grant)",
        || {
            if held.is_none() {
                held = tunnel(&edge, &echo);
            }
            held.is_some() && metric(&edge, ACTIVE) == 1
        },
    );

    // The operator page of a follower the edge is not connected to: the edge and the leader's
    // usage (acme, 1 of 20).
    let viewer_node = &cluster.nodes[viewer];
    let mut page = String::new();
    wait_until(
        CONVERGE,
        "the follower's page shows the edge and acme's usage",
        || {
            page = viewer_node.console_page(ADMIN_TOKEN, "/ui/op");
            page.contains("tk-1") && page.contains("href=\"/ui/t/acme\"") && page.contains("1 / 20")
        },
    );

    // Every follower samples the leader's usage: wait until both have a point with the tunnel.
    wait_until(
        Duration::from_secs(60),
        "both followers have sampled the session",
        || {
            followers
                .iter()
                .all(|&f| points(&cluster.nodes[f]).iter().any(|p| p.1 == 1))
        },
    );
    let killed_at = now_ms();
    cluster.nodes[leader].kill9();
    let new_leader = cluster.wait_leader(CONVERGE);
    let elected_at = now_ms();
    assert_ne!(new_leader, leader);
    // The new leader's chart still has the points from before the kill.
    let before: Vec<(u64, u64)> = points(&cluster.nodes[new_leader])
        .into_iter()
        .filter(|p| p.0 < killed_at)
        .collect();
    assert!(
        before.iter().any(|p| p.1 == 1),
        "the new leader keeps the earlier points: {before:?}"
    );
    // And any node's console (asking the leader) draws them: a chart, not "no samples".
    let overview = cluster.nodes[viewer].console_page(ADMIN_TOKEN, "/ui/t/acme");
    assert!(
        overview.contains("<polyline class=\"series\""),
        "{overview}"
    );
    // The new leader goes on sampling after the change.
    wait_until(Duration::from_secs(60), "a point after the change", || {
        points(&cluster.nodes[new_leader])
            .iter()
            .any(|p| p.0 > elected_at)
    });
    drop(held);
}
