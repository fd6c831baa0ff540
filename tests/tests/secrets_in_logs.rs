//! No secret in any log line: a full run (three control-plane nodes and two edges, all logging
//! at `debug`) that handles every kind of secret the service has — the admin token (also the
//! Raft credential and here the edges' token), a tenant token used through a follower, a
//! webhook's signing secret, wrong tokens presented by a guesser — and then a grep of every
//! log the processes wrote (stderr, stdout, access logs) for each of them.

use std::time::Duration;

use breakout_tests::control::{Cluster, ControlNode, ADMIN_TOKEN};
use breakout_tests::fleet::{put_in_service, serves, settings, synced, write};
use breakout_tests::static_server::{Page, StaticServer};
use breakout_tests::wait::wait_until;
use breakout_tests::{Curl, Edge, Origin};

const WAIT: Duration = Duration::from_secs(30);
const HOOK_SECRET: &str = "hook-secret-5f0a9c1e7b3d4a2f";

#[test]
fn a_full_run_at_debug_logs_no_token_or_secret() {
    let debug = [("BREAKOUT_LOG", "debug")];
    let first = ControlNode::start_with_env(1, false, &debug);
    let mut cluster = Cluster { nodes: vec![first] };
    cluster.wait_leader(WAIT);
    for id in 2..=3 {
        let node = ControlNode::start_with_env(id, true, &debug);
        cluster.nodes[0]
            .ctl(&[
                "cluster",
                "add-node",
                &id.to_string(),
                &node.api.to_string(),
            ])
            .expect_ok("add-node");
        cluster.nodes.push(node);
    }
    cluster.wait_voters(3);
    let leader = cluster.wait_leader(WAIT);
    let follower = &cluster.nodes[(leader + 1) % 3];
    let origin = Origin::start();

    write(follower, &["region", "create", "tokyo"], WAIT);
    let create = [
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
    ];
    write(follower, &create, WAIT);
    put_in_service(follower, "acme", Some(5), WAIT);
    write(
        follower,
        &["option", "add", "acme", "list-update-api"],
        WAIT,
    );
    let token = follower
        .ctl(&["token", "create", "acme"])
        .expect_ok("token create")
        .json()["token"]
        .as_str()
        .expect("token")
        .to_string();
    let secret = token
        .rsplit('_')
        .next()
        .expect("bk_<id>_<secret>")
        .to_string();

    // The tenant token through a follower (forwarded to the leader), reads and a list write.
    let (status, body) = follower.get(&token, "/v1/tenants/acme");
    assert_eq!(status, 200, "{body}");
    let (status, body) = follower.send(
        &token,
        "PUT",
        "/v1/tenants/acme/lists/mine",
        "[\"a.example\"]",
    );
    assert_eq!(status, 200, "{body}");
    // A webhook with a signing secret, delivered to a local receiver.
    let receiver = StaticServer::start();
    receiver.put("/hook", Page::ok("{}"));
    let hook = format!(
        r#"{{"url": "{}/hook", "secret": "{HOOK_SECRET}"}}"#,
        receiver.url()
    );
    let (status, body) = follower.send(ADMIN_TOKEN, "POST", "/v1/tenants/acme/webhooks", &hook);
    assert!(matches!(status, 201 | 400 | 403 | 409), "{status}: {body}");
    // Guesses, one of them a real token id with a wrong secret.
    let id = token.split('_').nth(1).expect("id");
    let guesses = [
        format!("bk_{id}_{}", "0".repeat(64)),
        "bk_feedface_guess".to_string(),
    ];
    for g in &guesses {
        assert_eq!(follower.get(g, "/v1/tenants/acme").0, 401);
    }

    // Two edges take the configuration (the edge token is the admin token here) and serve.
    let nodes: Vec<&ControlNode> = cluster.nodes.iter().collect();
    let edges = [debug_edge(&nodes, "tk-1"), debug_edge(&nodes[1..], "tk-2")];
    for edge in &edges {
        wait_until(WAIT, "the edge serves acme", || serves(edge, "acme"));
        let url = format!("http://origin.test:{}/hello", origin.port());
        let ok = breakout_tests::wait::poll_until(WAIT, || {
            Curl::new(&url).proxy(&edge.proxy_url()).run().status() == 200
        });
        assert!(ok, "no request through the edge");
    }

    // Every log of the run.
    let mut logs: Vec<(String, String)> = cluster
        .nodes
        .iter()
        .map(|n| (format!("node {}", n.id), n.stderr()))
        .collect();
    for (i, edge) in edges.iter().enumerate() {
        logs.push((format!("edge {i} stderr"), edge.stderr()));
        let access: Vec<String> = edge
            .access_log_lines()
            .iter()
            .map(|l| l.to_string())
            .collect();
        logs.push((format!("edge {i} access log"), access.join("\n")));
    }
    let lines: usize = logs.iter().map(|(_, l)| l.lines().count()).sum();
    assert!(lines > 200, "a debug run logs plenty: {lines} lines");
    let needles: Vec<(&str, &str)> = vec![
        ("the admin token", ADMIN_TOKEN),
        ("a tenant token", &token),
        ("a tenant token's secret", &secret),
        ("a webhook secret", HOOK_SECRET),
        ("a guessed token", &guesses[0]),
        ("a guessed token", &guesses[1]),
    ];
    for (what, log) in &logs {
        for (name, needle) in &needles {
            assert!(!log.contains(needle), "{name} in the log of {what}");
        }
    }
    breakout_tests::faultcluster::report(
        "secrets-in-logs",
        serde_json::json!({ "log_lines_checked": lines, "secrets": needles.len(), "found": 0 }),
    );
}

/// An edge of region `tokyo` against `nodes`, logging at debug.
fn debug_edge(nodes: &[&ControlNode], id: &str) -> Edge {
    let sync = synced(nodes, "tokyo", id);
    Edge::start_synced_with(&settings(), &sync, &["--log", "debug"])
}
