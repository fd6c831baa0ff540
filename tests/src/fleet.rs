//! Edges fed by a control plane: starting them against nodes of a [`crate::control::Cluster`],
//! and reading what the cluster (`GET /v1/edges`) and each edge say about its configuration.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::config::EdgeConfig;
use crate::control::{dev_ca, ControlNode, ADMIN_TOKEN};
use crate::edge::{Edge, Synced};

/// Settings for synced edges: names of the test servers resolve to 127.0.0.1, private
/// destinations are allowed (the servers are on loopback), DNS is off (any other name has no
/// address at once: `/explain` of a vendor host answers without waiting on a resolver).
pub fn settings() -> String {
    let mut c = EdgeConfig::default().host("origin.test", "127.0.0.1");
    c.dns_servers = Vec::new();
    c.to_settings_toml()
}

/// How an edge `id` of `region` reaches `nodes` (tried in this order), with the test CA and
/// the default edge token (the admin token).
pub fn synced(nodes: &[&ControlNode], region: &str, id: &str) -> Synced {
    Synced {
        control_plane: nodes.iter().map(|n| n.edge).collect(),
        region: region.into(),
        node_id: id.into(),
        ca_file: dev_ca().ca(),
        token: ADMIN_TOKEN.into(),
    }
}

/// Starts edge `id` of `region` against `nodes`.
pub fn start_edge(nodes: &[&ControlNode], region: &str, id: &str) -> Edge {
    Edge::start_synced(&settings(), &synced(nodes, region, id))
}

/// `/readyz` answers 200.
pub fn is_ready(edge: &Edge) -> bool {
    edge.admin_status("/readyz") == Some(200)
}

/// The edge's serving configuration has `tenant` (`/explain` knows it).
pub fn serves(edge: &Edge, tenant: &str) -> bool {
    edge.admin_status(&format!("/explain?tenant={tenant}&host=origin.test")) == Some(200)
}

/// The version of the edge's serving configuration.
pub fn applied(edge: &Edge) -> u64 {
    edge.metric("breakout_edge_config_version", &[])
        .unwrap_or(0.0) as u64
}

/// `GET /v1/edges` on `node`: the whole answer, if it answered.
pub fn edge_list(node: &ControlNode) -> Option<Value> {
    let (status, body) = node.get(ADMIN_TOKEN, "/v1/edges");
    (status == 200)
        .then(|| serde_json::from_str(&body).ok())
        .flatten()
}

/// Edge `id` as `node`'s `GET /v1/edges` shows it.
pub fn edge_view(node: &ControlNode, id: &str) -> Option<Value> {
    edge_list(node)?
        .get("items")?
        .as_array()?
        .iter()
        .find(|e| e.get("edge_id").and_then(Value::as_str) == Some(id))
        .cloned()
}

/// Runs `breakoutctl ARGS` through `node` until it succeeds (a cluster without a leader refuses
/// writes for a moment); the answer's store version.
pub fn write(node: &ControlNode, args: &[&str], deadline: Duration) -> u64 {
    let until = Instant::now() + deadline;
    loop {
        let out = node.ctl(args);
        if out.ok() {
            return out.json()["version"]
                .as_u64()
                .expect("a write answers its version");
        }
        assert!(
            Instant::now() < until,
            "{args:?} never succeeded: {}",
            out.stderr()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Tenant `id` in `region` for clients on `cidr` (a session limit of 10, `direct` by default),
/// without contracts: the write's version.
pub fn new_tenant(
    node: &ControlNode,
    id: &str,
    region: &str,
    cidr: &str,
    deadline: Duration,
) -> u64 {
    let args = [
        "tenant",
        "create",
        id,
        "--region",
        region,
        "--source-cidr",
        cidr,
        "--session-limit",
        "10",
        "--default-action",
        "direct",
    ];
    write(node, &args, deadline)
}

/// The capacity item (art. 3, plan 1) [`put_in_service`] contracts.
pub const CAPACITY: u32 = 20_000;

/// Gives tenant `id` what edges need to serve it (art. 6-1), through `breakoutctl` on `node`:
/// the private-backbone attribute, a `microsoft365` list-template contract and a plan-1
/// cloud-bypass contract of [`CAPACITY`] sessions for its region; with `cap`, the operator's
/// session cap below it (edges get the smaller). The last write's version.
pub fn put_in_service(node: &ControlNode, id: &str, cap: Option<u32>, deadline: Duration) -> u64 {
    let capacity = CAPACITY.to_string();
    let mut version = 0;
    for args in [
        &["tenant", "attributes", id, "--private-backbone", "true"][..],
        &[
            "contract",
            "add",
            id,
            "list-template",
            "--item",
            "microsoft365",
        ],
        &[
            "contract",
            "add",
            id,
            "cloud-bypass",
            "--capacity",
            &capacity,
        ],
    ] {
        version = write(node, args, deadline);
    }
    if let Some(cap) = cap {
        version = write(node, &["tenant", "set-cap", id, &cap.to_string()], deadline);
    }
    version
}

/// Region `tokyo` and tenant `acme` there (192.0.2.0/24, 100 sessions), through `breakoutctl`.
pub fn tokyo_acme(node: &ControlNode) {
    node.ctl(&["region", "create", "tokyo"])
        .expect_ok("region create");
    node.ctl(&[
        "tenant",
        "create",
        "acme",
        "--region",
        "tokyo",
        "--source-cidr",
        "192.0.2.0/24",
        "--session-limit",
        "100",
    ])
    .expect_ok("tenant create");
}
