//! Vendor list templates end to end: a real control plane whose poller reads the vendor files
//! (the real fixtures) from a local HTTP server; a tenant's subscription reaching an edge;
//! snapshots when the vendors cannot be reached; change mails. What a failing or misbehaving
//! vendor does to a template (quarantine, approve, rollback, 429, 500s, timeouts) is in the
//! reliability suite, `faults_templates.rs`.

use breakout_tests::control::{ControlNode, ADMIN_TOKEN};
use breakout_tests::fleet::{applied, serves, start_edge, write};
use breakout_tests::smtp_sink::SmtpSink;
use breakout_tests::static_server::StaticServer;
use breakout_tests::vendor::{
    acme_in_service, live, m365_with_new_host, node_polling, node_polling_with, publish, sources,
    wait_versions, POLLED, WRITE,
};
use breakout_tests::wait::{wait_for, wait_until};
use serde_json::{json, Value};

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
