//! Cluster routes, forwarding to the leader, readiness and metrics.

use crate::api_common;

use api_common::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn a_write_on_a_follower_is_forwarded_to_the_leader() {
    let leader = TestApi::start_node(1).await;
    let follower = TestApi::start_node(2).await;
    follower.store.set_leader(Some((1, leader.addr.clone())));

    tracing::info!("phase: the follower relays the leader's answer, status and headers");
    let create = follower
        .op(Method::POST, "/v1/regions")
        .json(&json!({ "name": "eu" }));
    let resp = send(create).await;
    assert_eq!(resp.headers()["x-breakout-forwarded"], "1");
    let version = expect_version(resp, 201).await;
    let (_, regions) = status_json(send(leader.op(Method::GET, "/v1/regions")).await).await;
    assert_eq!(regions["items"][0]["name"], "eu");
    assert_eq!(regions["version"], version);

    tracing::info!("phase: errors and If-Match are relayed too");
    let again = follower
        .op(Method::POST, "/v1/regions")
        .json(&json!({ "name": "eu" }));
    expect_error(send(again).await, 409, "conflict").await;
    leader.tenant("acme", "eu", "198.51.100.0/24").await;
    let stale = follower
        .op(Method::DELETE, "/v1/tenants/acme")
        .header("if-match", "\"1\"");
    expect_error(send(stale).await, 412, "precondition_failed").await;

    tracing::info!("phase: linearizable reads are forwarded; stale ones are served locally");
    let resp = send(follower.op(Method::GET, "/v1/tenants/acme")).await;
    assert!(resp.headers().contains_key("etag"));
    assert_eq!(resp.status(), 200);
    let local = send(follower.op(Method::GET, "/v1/tenants/acme?stale=true")).await;
    expect_error(local, 404, "not_found").await;
}

#[tokio::test]
async fn a_request_forwarded_once_is_not_forwarded_again() {
    let leader = TestApi::start_node(1).await;
    let follower = TestApi::start_node(2).await;
    follower.store.set_leader(Some((1, leader.addr.clone())));
    let looped = follower
        .op(Method::POST, "/v1/regions")
        .header("x-breakout-forwarded", "1")
        .json(&json!({ "name": "eu" }));
    let resp = send(looped).await;
    assert_eq!(resp.headers()["retry-after"], "1");
    expect_error(resp, 503, "no_leader").await;
    let (_, regions) = status_json(send(leader.op(Method::GET, "/v1/regions")).await).await;
    assert_eq!(regions["items"], json!([]));
}

#[tokio::test]
async fn without_a_leader_writes_get_503_and_readyz_fails() {
    let api = TestApi::start().await;
    assert_eq!(send(api.anon(Method::GET, "/readyz")).await.status(), 200);
    api.store.set_leader(None);
    let create = api
        .op(Method::POST, "/v1/regions")
        .json(&json!({ "name": "eu" }));
    let resp = send(create).await;
    assert_eq!(resp.headers()["retry-after"], "1");
    expect_error(resp, 503, "no_leader").await;
    expect_error(
        send(api.anon(Method::GET, "/readyz")).await,
        503,
        "no_leader",
    )
    .await;
    assert_eq!(send(api.anon(Method::GET, "/healthz")).await.status(), 200);
}

#[tokio::test]
async fn an_unreachable_leader_is_503() {
    let api = TestApi::start_node(2).await;
    let (_held, gone) = closed_port();
    api.store.set_leader(Some((1, gone.to_string())));
    let create = api
        .op(Method::POST, "/v1/regions")
        .json(&json!({ "name": "eu" }));
    expect_error(send(create).await, 503, "no_leader").await;
}

#[tokio::test]
async fn cluster_self_and_adding_a_node_by_its_api_address() {
    let leader = TestApi::start_node(1).await;
    let joiner = TestApi::start_node(2).await;
    let (status, me) = status_json(send(joiner.anon(Method::GET, "/v1/cluster/self")).await).await;
    assert_eq!(status, 200);
    assert_eq!(
        me,
        json!({ "node_id": 2, "api_addr": joiner.addr, "raft_addr": "raft-of-2:1" })
    );

    tracing::info!("phase: a wrong id is refused after asking the node");
    let wrong = leader
        .op(Method::POST, "/v1/cluster/nodes")
        .json(&json!({ "id": 3, "api_addr": joiner.addr }));
    let msg = expect_error(send(wrong).await, 400, "invalid").await;
    assert!(msg.contains("node 2"), "{msg}");

    tracing::info!("phase: the right id adds it with the raft address it reported");
    let add = leader
        .op(Method::POST, "/v1/cluster/nodes")
        .json(&json!({ "id": 2, "api_addr": joiner.addr }));
    let (status, cluster) = status_json(send(add).await).await;
    assert_eq!(status, 200, "{cluster}");
    let node = cluster["nodes"]
        .as_array()
        .and_then(|n| n.iter().find(|n| n["id"] == 2))
        .cloned();
    assert_eq!(
        node.map(|n| n["addr"]["raft"].clone()),
        Some(json!("raft-of-2:1"))
    );

    let (_, status) = status_json(send(leader.op(Method::GET, "/v1/cluster/status")).await).await;
    assert_eq!(status["leader"], 1);
    let remove = leader.op(Method::DELETE, "/v1/cluster/nodes/2");
    let (code, cluster) = status_json(send(remove).await).await;
    assert_eq!(code, 200, "{cluster}");
    assert_eq!(cluster["nodes"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn metrics_show_raft_gauges_and_requests_by_route_template() {
    let api = TestApi::start().await;
    api.region("eu").await;
    api.tenant("acme", "eu", "198.51.100.0/24").await;
    send(api.op(Method::GET, "/v1/tenants/acme")).await;
    send(api.op(Method::GET, "/v1/tenants/nosuch")).await;

    let text = api.scrape().await;
    let requests = |method: &str, route: &str, status: u16| {
        format!(
            "breakout_control_api_requests_total{{method=\"{method}\",route=\"{route}\",\
             status=\"{status}\"}} 1"
        )
    };
    for line in [
        "breakout_control_raft_term 1".to_string(),
        "breakout_control_raft_leader 1".to_string(),
        "breakout_control_raft_is_leader 1".to_string(),
        "breakout_control_raft_last_log_index 2".to_string(),
        "breakout_control_raft_applied_index 2".to_string(),
        requests("GET", "/v1/tenants/{id}", 200),
        requests("GET", "/v1/tenants/{id}", 404),
        requests("POST", "/v1/regions", 201),
        "breakout_control_edges_connected{region=\"eu\"} 0".to_string(),
        "breakout_template_live_version{item=\"microsoft365\"} 0".to_string(),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    assert!(
        !text.contains("/v1/tenants/acme"),
        "raw paths must not become labels"
    );
    for family in [
        "breakout_control_api_request_duration_seconds_count{method=\"GET\",route=\"/v1/tenants/{id}\"} 2",
        "breakout_build_info{commit=",
        "process_resident_memory_bytes ",
    ] {
        assert!(text.contains(family), "missing {family:?} in\n{text}");
    }
}
