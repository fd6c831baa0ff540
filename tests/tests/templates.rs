//! Vendor list templates end to end: a real control plane whose poller reads the vendor files
//! (the real fixtures) from a local HTTP server; versions, quarantine, approve and rollback
//! through `breakoutctl`; a tenant's subscription reaching an edge.

use std::time::Duration;

use breakout_tests::control::{ControlNode, ADMIN_TOKEN};
use breakout_tests::fleet::{applied, serves, start_edge, write};
use breakout_tests::smtp_sink::SmtpSink;
use breakout_tests::static_server::{Page, StaticServer};
use breakout_tests::wait::{wait_for, wait_until};
use serde_json::{json, Value};

const M365: &str = include_str!("../fixtures/m365-worldwide-endpoints.json");
const GOOG: &str = include_str!("../fixtures/google-goog.json");
const CLOUD: &str = include_str!("../fixtures/google-cloud.json");
const POLLED: Duration = Duration::from_secs(30);
const WRITE: Duration = Duration::from_secs(10);

fn version_page(v: &str) -> Page {
    Page::ok(json!({ "instance": "Worldwide", "latest": v }).to_string())
}

/// The vendor files as the vendors serve them, at M365 version `v`.
fn sources(v: &str) -> StaticServer {
    let s = StaticServer::start();
    s.put("/version/Worldwide", version_page(v));
    s.put("/endpoints/Worldwide", Page::ok(M365));
    s.put("/goog.json", Page::ok(GOOG));
    s.put("/cloud.json", Page::ok(CLOUD));
    s
}

/// A new M365 version whose answer is `body`.
fn publish(s: &StaticServer, v: &str, body: impl Into<Vec<u8>>) {
    s.put("/endpoints/Worldwide", Page::ok(body));
    s.put("/version/Worldwide", version_page(v));
}

/// Region `tokyo` and tenant `acme` (127.0.0.1, default block) in service there.
fn acme_in_service(node: &ControlNode) {
    write(node, &["region", "create", "tokyo"], WRITE);
    // Tests of this file run in parallel threads of one process: a directory of its own.
    let dir = breakout_tests::tmp::unique_dir("tmpl-acme");
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
    breakout_tests::fleet::put_in_service(node, "acme", None, WRITE);
}

fn node_polling(s: &StaticServer) -> ControlNode {
    node_polling_with(s, &[])
}

/// A node polling `s`, with more environment.
fn node_polling_with(s: &StaticServer, more: &[(&str, &str)]) -> ControlNode {
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

fn versions(node: &ControlNode, item: &str) -> Option<Value> {
    let out = node.ctl(&["template", "versions", item]);
    out.ok().then(|| out.json())
}

/// Waits until `item`'s versions answer satisfies `cond`; returns it.
fn wait_versions(
    node: &ControlNode,
    item: &str,
    what: &str,
    cond: impl Fn(&Value) -> bool,
) -> Value {
    wait_for(POLLED, what, || versions(node, item).filter(|v| cond(v)))
}

fn live(v: &Value) -> u64 {
    v["live"].as_u64().unwrap_or(u64::MAX)
}

fn held(v: &Value) -> Vec<Value> {
    v["quarantine"].as_array().cloned().unwrap_or_default()
}

/// M365 with set 1 carrying one more URL.
fn m365_with_new_host() -> String {
    let mut sets: Vec<Value> = serde_json::from_str(M365).expect("fixture");
    sets[0]["urls"]
        .as_array_mut()
        .expect("urls")
        .push(json!("new.outlook.example"));
    serde_json::to_string(&sets).expect("json")
}

#[test]
fn fetches_version_changes_and_a_guard_that_keeps_the_last_good_list() {
    let src = sources("2025010100");
    let node = node_polling(&src);

    // Phase: the first fetch makes version 0 of every template.
    let v = wait_versions(&node, "microsoft365", "the first M365 fetch", |v| {
        live(v) == 0
    });
    assert_eq!(v["items"][0]["source_version"], "2025010100", "{v}");
    wait_versions(&node, "google-workspace", "the first Google fetch", |v| {
        live(v) == 0
    });
    wait_versions(
        &node,
        "azure-expressroute",
        "the ExpressRoute template",
        |v| live(v) == 0,
    );
    let list = node
        .ctl(&["template", "list"])
        .expect_ok("template list")
        .json();
    assert_eq!(list["items"].as_array().map(Vec::len), Some(3), "{list}");
    // Every request carries the installation's one ClientRequestId; endpoints fetched once.
    let seen = src.seen();
    let ids: std::collections::BTreeSet<&str> = seen
        .iter()
        .filter(|t| t.starts_with("/version/") || t.starts_with("/endpoints/"))
        .filter_map(|t| t.split("ClientRequestId=").nth(1))
        .collect();
    assert_eq!(ids.len(), 1, "{seen:?}");
    wait_until(POLLED, "the version is checked again", || {
        src.seen()
            .iter()
            .filter(|t| t.starts_with("/version/"))
            .count()
            >= 3
    });
    let fetched = src
        .seen()
        .iter()
        .filter(|t| t.starts_with("/endpoints/"))
        .count();
    assert_eq!(fetched, 1, "an unchanged version is not fetched again");

    // Phase: a new vendor version with one more host is version 1, with its diff.
    publish(&src, "2025020100", m365_with_new_host());
    wait_versions(&node, "microsoft365", "version 1", |v| live(v) == 1);
    let diff = node
        .ctl(&["template", "diff", "microsoft365", "--from", "0"])
        .expect_ok("template diff")
        .json();
    assert_eq!(
        diff["diff"]["sets"][0]["added_hosts"],
        json!(["new.outlook.example"]),
        "{diff}"
    );

    // Phase: a corrupted and a truncated answer are quarantined; version 1 stays live.
    publish(&src, "2025030100", "{\"this is\": not json");
    wait_versions(&node, "microsoft365", "the corrupted answer held", |v| {
        held(v).len() == 1
    });
    publish(&src, "2025040100", &M365[..M365.len() / 2]);
    let v = wait_versions(&node, "microsoft365", "the truncated answer held", |v| {
        held(v).len() == 2
    });
    assert_eq!(live(&v), 1, "{v}");
    for q in held(&v) {
        assert!(
            q["reason"]
                .as_str()
                .is_some_and(|r| r.starts_with("unparsable")),
            "{q}"
        );
    }
    let audit = node.ctl(&["audit"]).expect_ok("audit").stdout();
    assert!(audit.contains("template.quarantine"), "{audit}");

    // Phase: a sharply shrunk list is held too; the operator approves it, then rolls back.
    let sets: Vec<Value> = serde_json::from_str(M365).expect("fixture");
    publish(
        &src,
        "2025050100",
        serde_json::to_string(&sets[..5]).expect("json"),
    );
    let v = wait_versions(&node, "microsoft365", "the shrunk list held", |v| {
        held(v).len() == 3
    });
    let shrunk = held(&v)[2].clone();
    assert!(
        shrunk["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("shrunk")),
        "{shrunk}"
    );
    let id = shrunk["id"].to_string();
    node.ctl(&["template", "approve", "microsoft365", &id])
        .expect_ok("approve");
    let v = versions(&node, "microsoft365").expect("versions");
    assert_ne!(live(&v), 1, "the approved candidate is live: {v}");
    node.ctl(&["template", "rollback", "microsoft365", "--to", "1"])
        .expect_ok("rollback");
    assert_eq!(live(&versions(&node, "microsoft365").expect("versions")), 1);
    // The poller counts after its write is applied: wait for the count, not for a moment.
    wait_until(POLLED, "three quarantines counted", || {
        let (status, metrics) = node.scrape();
        status == 200
            && metrics.contains("breakout_template_quarantines_total{item=\"microsoft365\"} 3")
    });
}

fn explain(edge: &breakout_tests::Edge, host: &str) -> Value {
    let out = std::process::Command::new("curl")
        .args(["-sS", "--max-time", "5"])
        .arg(format!(
            "http://{}/explain?tenant=acme&host={host}&port=443&resolve=false",
            edge.admin()
        ))
        .output()
        .expect("run curl");
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

#[test]
fn a_subscription_reaches_the_edge_with_shadowed_default_hosts_kept_on_the_default() {
    let src = sources("2025010100");
    let node = node_polling(&src);
    wait_versions(&node, "microsoft365", "the first M365 fetch", |v| {
        live(v) == 0
    });
    acme_in_service(&node);
    let edge = start_edge(&[&node], "tokyo", "tk-1");

    // Phase: Optimize and Allow go direct; the tenant's own entry is added.
    let subscribe = [
        "template",
        "subscribe",
        "acme",
        "microsoft365",
        "--action",
        "direct",
        "--category",
        "Optimize",
        "--category",
        "Allow",
        "--add",
        "intranet.example.com",
    ];
    let v = write(&node, &subscribe, WRITE);
    wait_until(POLLED, "the edge applies the subscription", || {
        applied(&edge) >= v && serves(&edge, "acme")
    });
    let (status, body) = node.get(ADMIN_TOKEN, "/v1/tenants/acme/templates/microsoft365");
    assert_eq!(status, 200, "{body}");
    let compiled: Value = serde_json::from_str(&body).expect("json");
    let entries = &compiled["lists"]["template-microsoft365"]["entries"];
    assert!(
        entries
            .as_array()
            .is_some_and(|a| a.contains(&json!("outlook.office365.com"))),
        "{compiled}"
    );
    let e = explain(&edge, "outlook.office365.com");
    assert_eq!(e["action"], "direct", "{e}");
    assert_eq!(e["rule_label"], "template microsoft365", "{e}");
    assert_eq!(explain(&edge, "intranet.example.com")["action"], "direct");
    // A Default host under the Allow wildcard *.officeapps.live.com keeps the default action.
    let e = explain(&edge, "cdn.odc.officeapps.live.com");
    assert_eq!(e["action"], "block", "{e}");
    assert_eq!(explain(&edge, "x.officeapps.live.com")["action"], "direct");

    // Phase: a template update reaches the edge; the override survives it.
    publish(&src, "2025020100", m365_with_new_host());
    wait_until(POLLED, "the edge gets the new host", || {
        explain(&edge, "new.outlook.example")["action"] == "direct"
    });
    assert_eq!(explain(&edge, "intranet.example.com")["action"], "direct");

    // Phase: pinned to version 0, the new host is gone again; unsubscribed, all is default.
    let v = write(
        &node,
        &["template", "pin", "acme", "microsoft365", "0"],
        WRITE,
    );
    wait_until(POLLED, "the edge applies the pin", || applied(&edge) >= v);
    assert_eq!(explain(&edge, "new.outlook.example")["action"], "block");
    let subs = node
        .ctl(&["template", "subscriptions", "acme"])
        .expect_ok("subscriptions")
        .json();
    assert_eq!(subs["items"][0]["template_version"], 0, "{subs}");
    let v = write(
        &node,
        &["template", "unsubscribe", "acme", "microsoft365"],
        WRITE,
    );
    wait_until(POLLED, "the edge applies the unsubscription", || {
        applied(&edge) >= v
    });
    assert_eq!(explain(&edge, "outlook.office365.com")["action"], "block");
}

#[test]
fn unreachable_sources_start_from_the_shipped_snapshots() {
    // A server that answers 404 to everything stands in for a network without the vendors.
    let nothing = StaticServer::start();
    let node = node_polling(&nothing);
    let v = wait_versions(&node, "microsoft365", "the M365 snapshot", |v| live(v) == 0);
    assert_eq!(v["items"][0]["source_version"], "snapshot", "{v}");
    wait_versions(
        &node,
        "azure-expressroute",
        "the ExpressRoute snapshot",
        |v| live(v) == 0,
    );
    let g = wait_versions(&node, "google-workspace", "the Google snapshot", |v| {
        live(v) == 0
    });
    let version = g["items"][0]["source_version"].as_str().unwrap_or_default();
    assert!(version.contains("+hosts:"), "{g}");
    assert!(nothing
        .seen()
        .iter()
        .any(|t| t.starts_with("/version/Worldwide?ClientRequestId=")));
}

#[test]
fn a_template_change_is_mailed_once_to_the_subscribed_tenants_contact() {
    let src = sources("2025010100");
    let sink = SmtpSink::start();
    let relay = sink.addr();
    let node = node_polling_with(&src, &[("BREAKOUT_SMTP_RELAY", relay.as_str())]);
    wait_versions(&node, "microsoft365", "the first M365 fetch", |v| {
        live(v) == 0
    });
    acme_in_service(&node);
    let subscribe = [
        "template",
        "subscribe",
        "acme",
        "microsoft365",
        "--action",
        "direct",
    ];
    write(&node, &subscribe, WRITE);
    let set_contact = [
        "tenant",
        "set-contact",
        "acme",
        "noc@acme.example",
        "--business-days",
        "false",
    ];
    write(&node, &set_contact, WRITE);
    // The first version was no change: recorded without mail before the next one is published.
    wait_until(POLLED, "the first version is recorded as told", || {
        audit_has(
            &node,
            "template.notified",
            "template/microsoft365/version/0",
        )
    });

    publish(&src, "2025020100", m365_with_new_host());
    let mails = wait_for(POLLED, "the change mail", || {
        Some(sink.mails()).filter(|m| !m.is_empty())
    });
    assert_eq!(mails[0].to, "noc@acme.example");
    let body = &mails[0].body;
    assert!(body.contains("バージョン 0 → 1"), "{body}");
    assert!(body.contains("version 0 -> 1"), "{body}");
    assert!(body.contains("+ new.outlook.example"), "{body}");
    assert!(
        body.find("バージョン") < body.find("version 0"),
        "Japanese first: {body}"
    );
    wait_until(POLLED, "the mail is recorded as told", || {
        audit_has(
            &node,
            "template.notified",
            "template/microsoft365/version/1",
        )
    });
    assert_eq!(sink.mails().len(), 1, "one mail per change and contact");
}

/// Whether the audit log holds a successful `action` on `target`.
fn audit_has(node: &ControlNode, action: &str, target: &str) -> bool {
    let (status, body) = node.get(ADMIN_TOKEN, "/v1/audit?limit=1000");
    status == 200
        && serde_json::from_str::<Value>(&body).is_ok_and(|v| {
            v["items"].as_array().is_some_and(|items| {
                items
                    .iter()
                    .any(|e| e["action"] == action && e["target"] == target && e["result"] == "ok")
            })
        })
}
