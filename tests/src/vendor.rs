//! Vendor list sources served from the real fixtures (`tests/fixtures/`) by a local HTTP
//! server, and a control-plane node polling them: what the template tests share.

use std::time::Duration;

use serde_json::{json, Value};

use crate::control::ControlNode;
use crate::fleet::write;
use crate::static_server::{Page, StaticServer};
use crate::wait::wait_for;

pub const M365: &str = include_str!("../fixtures/m365-worldwide-endpoints.json");
pub const GOOG: &str = include_str!("../fixtures/google-goog.json");
pub const CLOUD: &str = include_str!("../fixtures/google-cloud.json");
pub const POLLED: Duration = Duration::from_secs(30);
pub const WRITE: Duration = Duration::from_secs(10);

pub fn version_page(v: &str) -> Page {
    Page::ok(json!({ "instance": "Worldwide", "latest": v }).to_string())
}

/// The vendor files as the vendors serve them, at M365 version `v`.
pub fn sources(v: &str) -> StaticServer {
    let s = StaticServer::start();
    s.put("/version/Worldwide", version_page(v));
    s.put("/endpoints/Worldwide", Page::ok(M365));
    s.put("/goog.json", Page::ok(GOOG));
    s.put("/cloud.json", Page::ok(CLOUD));
    s
}

/// A new M365 version whose answer is `body`.
pub fn publish(s: &StaticServer, v: &str, body: impl Into<Vec<u8>>) {
    s.put("/endpoints/Worldwide", Page::ok(body));
    s.put("/version/Worldwide", version_page(v));
}

/// Region `tokyo` and tenant `acme` (127.0.0.1, default block) in service there.
pub fn acme_in_service(node: &ControlNode) {
    write(node, &["region", "create", "tokyo"], WRITE);
    // Tests of this file run in parallel threads of one process: a directory of its own.
    let dir = crate::tmp::unique_dir("tmpl-acme");
    let file = dir.join("acme.json");
    let acme = r#"{"id": "acme", "region": "tokyo", "source_cidrs": ["127.0.0.1/32"],
        "session_limit": 3, "default_action": "block"}"#;
    std::fs::write(&file, acme).expect("write tenant file");
    write(
        node,
        &["tenant", "create", "--file", &file.display().to_string()],
        WRITE,
    );
    let _ = std::fs::remove_dir_all(&dir);
    crate::fleet::put_in_service(node, "acme", None, WRITE);
}

pub fn node_polling(s: &StaticServer) -> ControlNode {
    node_polling_with(s, &[])
}

/// A node polling `s`, with more environment.
pub fn node_polling_with(s: &StaticServer, more: &[(&str, &str)]) -> ControlNode {
    let m365 = s.url();
    let goog = format!("{}/goog.json", s.url());
    let cloud = format!("{}/cloud.json", s.url());
    let mut env = vec![
        ("BREAKOUT_TEMPLATE_POLL", "true"),
        ("BREAKOUT_TEMPLATE_M365_URL", m365.as_str()),
        ("BREAKOUT_TEMPLATE_GOOG_URL", goog.as_str()),
        ("BREAKOUT_TEMPLATE_CLOUD_URL", cloud.as_str()),
        ("BREAKOUT_TEMPLATE_POLL_INTERVAL", "1"),
    ];
    env.extend_from_slice(more);
    ControlNode::start_with_env(1, false, &env)
}

pub fn versions(node: &ControlNode, item: &str) -> Option<Value> {
    let out = node.ctl(&["template", "versions", item]);
    out.ok().then(|| out.json())
}

/// Waits until `item`'s versions answer satisfies `cond`; returns it.
pub fn wait_versions(
    node: &ControlNode,
    item: &str,
    what: &str,
    cond: impl Fn(&Value) -> bool,
) -> Value {
    wait_for(POLLED, what, || versions(node, item).filter(|v| cond(v)))
}

pub fn live(v: &Value) -> u64 {
    v["live"].as_u64().unwrap_or(u64::MAX)
}

pub fn held(v: &Value) -> Vec<Value> {
    v["quarantine"].as_array().cloned().unwrap_or_default()
}

/// M365 with set 1 carrying one more URL.
pub fn m365_with_new_host() -> String {
    let mut sets: Vec<Value> = serde_json::from_str(M365).expect("fixture");
    sets[0]["urls"]
        .as_array_mut()
        .expect("urls")
        .push(json!("new.outlook.example"));
    serde_json::to_string(&sets).expect("json")
}
