//! Distribution from the control plane to edges over QUIC, with real processes: a change reaches
//! exactly the edges of its region; edges keep serving through control-plane failures and come
//! back to whichever node survives; a snapshot an edge cannot honour leaves it on its last good
//! configuration; an edge is not ready before its first snapshot; edges serve a tenant only
//! while its contracts put it in service (art. 6-1).

use std::net::Ipv4Addr;
use std::time::Duration;

use breakout_tests::control::{Cluster, ControlNode};
use breakout_tests::fleet::{
    applied, edge_list, edge_view, is_ready, new_tenant, put_in_service, serves, start_edge,
    synced, write,
};
use breakout_tests::raw::RawConn;
use breakout_tests::{wait_until, Curl, Edge, Origin};
use serde_json::Value;

const CONVERGE: Duration = Duration::from_secs(30);
const WRITE: Duration = Duration::from_secs(20);

fn create_regions(node: &ControlNode, names: &[&str]) {
    for name in names {
        node.ctl(&["region", "create", name])
            .expect_ok("region create");
    }
}

/// Tenant `id` in `region` for clients on `cidr`, everything direct, in service with its
/// contracts and capped at 10 sessions; the last write's version.
fn create_tenant(node: &ControlNode, id: &str, region: &str, cidr: &str) -> u64 {
    new_tenant(node, id, region, cidr, WRITE);
    put_in_service(node, id, Some(10), WRITE)
}

/// A plain request to the origin through `edge`: the status.
fn fetch(edge: &Edge, origin: &Origin) -> u16 {
    let url = format!("http://origin.test:{}/hello", origin.port());
    Curl::new(&url).proxy(&edge.proxy_url()).run().status()
}

/// Waits until a request through `edge` succeeds: a tenant new to the edge is admitted once its
/// first session grant arrives from the leader (see docs/distribution.md).
fn fetch_ok(edge: &Edge, origin: &Origin) {
    let ok = breakout_tests::wait::poll_until(CONVERGE, || fetch(edge, origin) == 200);
    assert!(
        ok,
        "no request through the edge succeeds: {}",
        edge.metrics()
    );
}

fn u64_of(v: &Value, key: &str) -> Option<u64> {
    v.get(key).and_then(Value::as_u64)
}

#[test]
fn a_tenant_reaches_every_edge_of_its_region_and_no_other() {
    let origin = Origin::start();
    let cluster = Cluster::start(1);
    let node = &cluster.nodes[0];
    create_regions(node, &["tokyo", "osaka"]);
    let tokyo = [
        start_edge(&[node], "tokyo", "tk-1"),
        start_edge(&[node], "tokyo", "tk-2"),
    ];
    let osaka = start_edge(&[node], "osaka", "os-1");

    // Phase: a tenant of tokyo appears on both tokyo edges.
    let version = create_tenant(node, "acme", "tokyo", "127.0.0.1/32");
    for edge in &tokyo {
        // Served from the cloud-bypass write on; current once the cap (the last write) is in.
        wait_until(CONVERGE, "a tokyo edge serves acme", || {
            serves(edge, "acme") && applied(edge) >= version
        });
        fetch_ok(edge, &origin);
    }

    // Phase: the osaka edge is current through that version, and still has no such tenant.
    wait_until(CONVERGE, "osaka's edge is current", || {
        edge_view(node, "os-1").is_some_and(|e| u64_of(&e, "synced_through") >= Some(version))
    });
    assert!(!serves(&osaka, "acme"), "acme leaked into osaka");
    assert_eq!(
        fetch(&osaka, &origin),
        403,
        "acme's source belongs to a tokyo tenant: osaka says so"
    );

    // Phase: `edge list` shows all three with their regions, none lagging.
    let out = node.ctl(&["edge", "list"]).expect_ok("edge list").json();
    let rows: Vec<(String, String, Option<u64>)> = out["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            (s("edge_id"), s("region"), u64_of(e, "lag"))
        })
        .collect();
    let want = [("os-1", "osaka"), ("tk-1", "tokyo"), ("tk-2", "tokyo")];
    assert_eq!(rows.len(), 3, "{out}");
    for ((id, region, lag), (want_id, want_region)) in rows.iter().zip(want) {
        assert_eq!((id.as_str(), region.as_str()), (want_id, want_region));
        assert_eq!(*lag, Some(0), "{out}");
    }
    let only = node
        .ctl(&["edge", "list", "--region", "tokyo"])
        .expect_ok("--region")
        .json();
    let ids: Vec<&str> = only["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["edge_id"].as_str())
        .collect();
    assert_eq!(ids, ["tk-1", "tk-2"]);

    // Phase: an open (keep-alive) session shows up in tk-1's reports.
    let mut conn = RawConn::connect_from(Ipv4Addr::LOCALHOST, tokyo[0].proxy()).expect("connect");
    let host = format!("origin.test:{}", origin.port());
    let req = format!("GET http://{host}/ HTTP/1.1\r\nHost: {host}\r\n\r\n");
    conn.send(req.as_bytes()).expect("send");
    let resp = conn.read_response("GET").expect("response");
    assert_eq!(resp.status, 200, "{resp:?}\n{}", tokyo[0].metrics());
    wait_until(CONVERGE, "tk-1 reports one session of acme", || {
        edge_view(node, "tk-1").is_some_and(|e| {
            u64_of(&e, "sessions") == Some(1) && e["tenants"]["acme"]["active"] == 1
        })
    });
}

#[test]
fn edges_keep_serving_without_the_control_plane_and_come_back_to_any_node() {
    let origin = Origin::start();
    let mut cluster = Cluster::start(3);
    let n = &cluster.nodes;
    create_regions(&n[0], &["tokyo"]);
    let edges = [
        start_edge(&[&n[0], &n[1], &n[2]], "tokyo", "tk-1"),
        start_edge(&[&n[1], &n[2], &n[0]], "tokyo", "tk-2"),
    ];
    let v1 = create_tenant(&n[0], "acme", "tokyo", "127.0.0.1/32");
    for edge in &edges {
        wait_until(CONVERGE, "edges apply the tenant", || applied(edge) >= v1);
        // A session grant (and with it the floor the edge keeps without a control plane).
        wait_until(CONVERGE, "edges hold a session grant", || {
            edge.metric("breakout_edge_session_limit", &[("tenant", "acme")]) > Some(0.0)
        });
    }

    // Phase: kill -9 the leader; a write through a survivor reaches both edges, those that
    // were on the dead node included (it served tk-1, tk-2 or both).
    let leader = cluster.wait_leader(CONVERGE);
    let leader_id = cluster.nodes[leader].id;
    cluster.nodes[leader].kill9();
    let survivor = &cluster.nodes[(leader + 1) % 3];
    let v2 = write(survivor, &["tenant", "set-cap", "acme", "7"], WRITE);
    for edge in &edges {
        wait_until(CONVERGE, "edges apply the write after failover", || {
            applied(edge) >= v2
        });
    }
    wait_until(CONVERGE, "no edge is listed on the dead node", || {
        edge_list(survivor).is_some_and(|l| {
            let items = l["items"].as_array().cloned().unwrap_or_default();
            items.len() == 2
                && items
                    .iter()
                    .all(|e| u64_of(e, "control_node") != Some(leader_id))
        })
    });

    // Phase: every node killed: the edges keep serving their last configuration, ready, and
    // the time of their last contact stays where it was (staleness = now - it).
    for node in &mut cluster.nodes {
        node.kill9();
    }
    let mut last_contact = Vec::new();
    for edge in &edges {
        wait_until(
            CONVERGE,
            "the edge notices the control plane is gone",
            || edge.metric("breakout_edge_sync_connected", &[]) == Some(0.0),
        );
        assert!(is_ready(edge));
        assert_eq!(applied(edge), v2);
        fetch_ok(edge, &origin);
        let last = edge.counter(LAST_CONTACT, &[]);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs_f64();
        assert!(
            last > now - 120.0 && last <= now + 1.0,
            "last contact {last}, now {now}"
        );
        last_contact.push(last);
    }

    // Phase: the nodes come back (their versions start behind the edges' until they replay):
    // the edges reconnect, and the next write reaches them.
    for node in &mut cluster.nodes {
        node.restart();
    }
    let v3 = write(
        &cluster.nodes[0],
        &["tenant", "set-cap", "acme", "8"],
        WRITE,
    );
    for edge in &edges {
        wait_until(CONVERGE, "edges apply a write after the restart", || {
            applied(edge) >= v3
        });
        assert_eq!(
            edge.counter(
                "breakout_edge_sync_snapshots_total",
                &[("result", "rejected")]
            ),
            0.0
        );
    }
    for (edge, before) in edges.iter().zip(last_contact) {
        assert!(edge.counter(LAST_CONTACT, &[]) > before, "contact again");
    }
}

const LAST_CONTACT: &str = "breakout_edge_sync_last_contact_timestamp_seconds";

#[test]
fn a_refused_snapshot_leaves_the_edge_on_its_last_good_config() {
    let origin = Origin::start();
    let cluster = Cluster::start(1);
    let node = &cluster.nodes[0];
    create_regions(node, &["tokyo"]);
    let edge = start_edge(&[node], "tokyo", "tk-1");
    let good = create_tenant(node, "acme", "tokyo", "127.0.0.1/32");
    wait_until(CONVERGE, "the edge applies acme", || applied(&edge) >= good);

    // Phase: a tenant the control plane accepts but this edge cannot honour: its egress address
    // is not one of the edge's. Once its contracts put it in service, the whole snapshot is
    // refused.
    let file = std::env::temp_dir().join(format!("gamma-{}.json", std::process::id()));
    let gamma = r#"{"id": "gamma", "region": "tokyo", "source_cidrs": ["10.7.0.0/16"],
        "session_limit": 3, "egress_address": "192.0.2.55"}"#;
    std::fs::write(&file, gamma).expect("write tenant file");
    let file_arg = file.display().to_string();
    write(node, &["tenant", "create", "--file", &file_arg], WRITE);
    let _ = std::fs::remove_file(&file);
    write(
        node,
        &[
            "tenant",
            "attributes",
            "gamma",
            "--private-backbone",
            "true",
        ],
        WRITE,
    );
    let template = [
        "contract",
        "add",
        "gamma",
        "list-template",
        "--item",
        "microsoft365",
    ];
    let good = write(node, &template, WRITE);
    wait_until(CONVERGE, "the edge applies gamma out of service", || {
        applied(&edge) >= good
    });
    let bypass = [
        "contract",
        "add",
        "gamma",
        "cloud-bypass",
        "--capacity",
        "20000",
    ];
    let bad = write(node, &bypass, WRITE);
    let view = breakout_tests::wait_for(CONVERGE, "the cluster shows the nack", || {
        edge_view(node, "tk-1").filter(|e| u64_of(&e["last_nack"], "version") == Some(bad))
    });
    let reason = view["last_nack"]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("egress_address"), "{view}");
    assert_eq!(u64_of(&view, "applied_version"), Some(good), "{view}");
    assert!(u64_of(&view, "lag") > Some(0), "{view}");

    // Phase: the edge still serves the last good configuration.
    assert_eq!(applied(&edge), good);
    assert!(serves(&edge, "acme") && !serves(&edge, "gamma"));
    assert!(is_ready(&edge));
    fetch_ok(&edge, &origin);
    let rejected = [("result", "rejected")];
    assert_eq!(
        edge.counter("breakout_edge_sync_snapshots_total", &rejected),
        1.0
    );

    // Phase: once the bad address is fixed (one of the edge's), the next snapshot applies and
    // the nack clears.
    let (status, body) = node.send(
        breakout_tests::control::ADMIN_TOKEN,
        "PATCH",
        "/v1/tenants/gamma",
        r#"{"egress_address": "127.0.0.1"}"#,
    );
    assert_eq!(status, 200, "{body}");
    let fixed = serde_json::from_str::<Value>(&body).expect("json")["version"]
        .as_u64()
        .expect("a version");
    wait_until(CONVERGE, "the edge applies the fix", || {
        applied(&edge) >= fixed
    });
    wait_until(CONVERGE, "the nack clears", || {
        edge_view(node, "tk-1").is_some_and(|e| e["last_nack"].is_null() && e["lag"] == 0)
    });
}

#[test]
fn an_edge_is_not_ready_before_its_first_snapshot_nor_with_a_wrong_token() {
    let origin = Origin::start();
    let mut cluster = Cluster::start(1);
    create_regions(&cluster.nodes[0], &["tokyo"]);
    create_tenant(&cluster.nodes[0], "acme", "tokyo", "127.0.0.1/32");
    cluster.nodes[0].kill9();

    // Phase: no control plane: the edge listens but is not ready, and says so to clients.
    let edge = start_edge(&[&cluster.nodes[0]], "tokyo", "tk-1");
    let mut intruder = synced(&[&cluster.nodes[0]], "tokyo", "tk-x");
    intruder.token = "not-the-edge-token".into();
    let intruder = Edge::start_synced(&breakout_tests::fleet::settings(), &intruder);
    assert_eq!(edge.admin_status("/readyz"), Some(503));
    let url = format!("http://origin.test:{}/", origin.port());
    let out = Curl::new(&url).proxy(&edge.proxy_url()).run();
    assert_eq!(out.status(), 503);
    assert_eq!(
        out.proxy_status_error().as_deref(),
        Some("http_request_denied")
    );
    origin.assert_untouched("an edge without configuration forwarded");

    // Phase: the control plane is back: the edge gets ready; the intruder is refused.
    cluster.nodes[0].restart();
    wait_until(CONVERGE, "the edge becomes ready", || is_ready(&edge));
    fetch_ok(&edge, &origin);
    wait_until(CONVERGE, "the intruder is told it is unauthorized", || {
        intruder.stderr().contains("unauthorized")
    });
    assert_eq!(intruder.admin_status("/readyz"), Some(503));
    let list = edge_list(&cluster.nodes[0]).expect("edge list");
    let ids: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["edge_id"].as_str())
        .collect();
    assert_eq!(ids, ["tk-1"]);
}

#[test]
fn a_tenant_is_served_only_once_its_contracts_put_it_in_service() {
    let origin = Origin::start();
    let cluster = Cluster::start(1);
    let node = &cluster.nodes[0];
    create_regions(node, &["tokyo"]);
    let edge = start_edge(&[node], "tokyo", "tk-1");

    // Phase: a tenant without contracts reaches the edge only as a source to refuse, saying why.
    let created = new_tenant(node, "acme", "tokyo", "127.0.0.1/32", WRITE);
    wait_until(CONVERGE, "the edge applies the new tenant", || {
        applied(&edge) >= created
    });
    assert!(!serves(&edge, "acme"), "served without contracts");
    let url = format!("http://origin.test:{}/hello", origin.port());
    let out = Curl::new(&url).proxy(&edge.proxy_url()).run();
    assert_eq!(out.status(), 403);
    let status = out.header("proxy-status").unwrap_or_default().to_string();
    assert!(
        status.contains("error=http_request_denied")
            && status.contains(
                "tenant acme is not in service (art. 6-1: no list-template contract in force"
            ),
        "{status}"
    );
    let refused = [("tenant", ""), ("reason", "not_in_service")];
    assert_eq!(
        edge.counter("breakout_edge_sessions_refused_total", &refused),
        1.0
    );
    origin.assert_untouched("a tenant out of service was forwarded");

    // Phase: a template alone is not enough (art. 6-1 needs a cloud bypass too).
    write(
        node,
        &["tenant", "attributes", "acme", "--private-backbone", "true"],
        WRITE,
    );
    let template = [
        "contract",
        "add",
        "acme",
        "list-template",
        "--item",
        "microsoft365",
    ];
    let half = write(node, &template, WRITE);
    wait_until(CONVERGE, "the edge applies the template", || {
        applied(&edge) >= half
    });
    assert!(!serves(&edge, "acme"));
    let out = Curl::new(&url).proxy(&edge.proxy_url()).run();
    let status = out.header("proxy-status").unwrap_or_default().to_string();
    assert!(
        status.contains("no cloud-bypass or external-integration contract in force"),
        "{status}"
    );

    // Phase: with its cloud bypass, the tenant is served with the item as its limit.
    let bypass = [
        "contract",
        "add",
        "acme",
        "cloud-bypass",
        "--capacity",
        "20000",
    ];
    let served = write(node, &bypass, WRITE);
    wait_until(CONVERGE, "the edge serves acme", || {
        applied(&edge) >= served && serves(&edge, "acme")
    });
    fetch_ok(&edge, &origin);
    let view = node
        .ctl(&["tenant", "get", "acme"])
        .expect_ok("tenant get")
        .json();
    assert_eq!(view["effective"]["session_limit"], 20_000, "{view}");
}
