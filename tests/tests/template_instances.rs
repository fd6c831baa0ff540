//! Microsoft 365 instances end to end (issue 13, item 3): a control plane polling Worldwide and
//! China from a local HTTP server (both at the same version string), each instance fetched once
//! and again only when its own version changes; a tenant subscribed to China's Exchange gets
//! China's hosts only; a subscription to a group that does not exist is refused with the valid
//! ones.

use std::time::Duration;

use breakout_tests::capacity::setup;
use breakout_tests::control::{ControlNode, ADMIN_TOKEN};
use breakout_tests::static_server::{Page, StaticServer};
use breakout_tests::wait::{wait_for, wait_until};
use serde_json::{json, Value};

const M365: &str = include_str!("../fixtures/m365-worldwide-endpoints.json");
const GOOG: &str = include_str!("../fixtures/google-goog.json");
const CLOUD: &str = include_str!("../fixtures/google-cloud.json");
const POLLED: Duration = Duration::from_secs(30);

fn version_page(instance: &str, v: &str) -> Page {
    Page::ok(json!({ "instance": instance, "latest": v }).to_string())
}

/// China's answer: the fixture with its `.com` hosts under `.cn`.
fn china() -> String {
    M365.replace(".com\"", ".cn\"")
}

fn endpoint_fetches(src: &StaticServer, instance: &str) -> usize {
    let path = format!("/endpoints/{instance}?");
    src.seen().iter().filter(|t| t.starts_with(&path)).count()
}

fn live_source_version(node: &ControlNode) -> Option<String> {
    let out = node.ctl(&["template", "list"]);
    if !out.ok() {
        return None;
    }
    let list = out.json();
    let items = list["items"].as_array()?;
    let m365 = items.iter().find(|i| i["item"] == "microsoft365")?;
    m365["live"]["source_version"].as_str().map(str::to_string)
}

/// `template.record` audit entries for `microsoft365`.
fn records(node: &ControlNode) -> usize {
    let (status, body) = node.get(ADMIN_TOKEN, "/v1/audit?limit=1000");
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    v["items"].as_array().map_or(0, |items| {
        items
            .iter()
            .filter(|e| e["action"] == "template.record" && e["target"] == "template/microsoft365")
            .count()
    })
}

#[test]
fn instances_are_fetched_versioned_and_subscribed_to_apart() {
    let src = StaticServer::start();
    for instance in ["Worldwide", "China"] {
        src.put(
            &format!("/version/{instance}"),
            version_page(instance, "2025010100"),
        );
    }
    src.put("/endpoints/Worldwide", Page::ok(M365));
    src.put("/endpoints/China", Page::ok(china()));
    src.put("/goog.json", Page::ok(GOOG));
    src.put("/cloud.json", Page::ok(CLOUD));
    let base = src.url();
    let (goog, cloud) = (format!("{base}/goog.json"), format!("{base}/cloud.json"));
    let env = [
        ("BREAKOUT_TEMPLATE_POLL", "true"),
        ("BREAKOUT_TEMPLATE_M365_URL", base.as_str()),
        ("BREAKOUT_TEMPLATE_M365_INSTANCES", "Worldwide,China"),
        ("BREAKOUT_TEMPLATE_GOOG_URL", goog.as_str()),
        ("BREAKOUT_TEMPLATE_CLOUD_URL", cloud.as_str()),
        ("BREAKOUT_TEMPLATE_POLL_INTERVAL", "1"),
    ];
    let node = ControlNode::start_with_env(1, false, &env);

    // Phase: both instances recorded, each at its own version (the same string).
    wait_until(POLLED, "both instances in the live version", || {
        live_source_version(&node).as_deref() == Some("China=2025010100;Worldwide=2025010100")
    });
    wait_until(POLLED, "the versions are checked again", || {
        src.seen()
            .iter()
            .filter(|t| t.starts_with("/version/China"))
            .count()
            >= 3
    });
    assert_eq!(endpoint_fetches(&src, "Worldwide"), 1);
    assert_eq!(
        endpoint_fetches(&src, "China"),
        1,
        "fetched once, though its version string is Worldwide's"
    );

    // Phase: a new Worldwide version is fetched and recorded alone.
    let before = records(&node);
    let mut sets: Vec<Value> = serde_json::from_str(M365).expect("fixture");
    sets[0]["urls"]
        .as_array_mut()
        .expect("urls")
        .push(json!("new.outlook.example"));
    src.put(
        "/endpoints/Worldwide",
        Page::ok(serde_json::to_string(&sets).expect("json")),
    );
    src.put(
        "/version/Worldwide",
        version_page("Worldwide", "2025020100"),
    );
    wait_until(POLLED, "the new Worldwide version is live", || {
        live_source_version(&node).as_deref() == Some("China=2025010100;Worldwide=2025020100")
    });
    wait_until(POLLED, "China's version is checked again since", || {
        src.seen()
            .iter()
            .filter(|t| t.starts_with("/version/China"))
            .count()
            >= 6
    });
    assert_eq!(
        endpoint_fetches(&src, "China"),
        1,
        "unchanged China is not downloaded again"
    );
    assert_eq!(endpoint_fetches(&src, "Worldwide"), 2);
    assert_eq!(records(&node), before + 1, "one record: Worldwide's");

    // Phase: a tenant takes China's Exchange sets only; an unknown group is refused.
    setup(&node, &["tokyo"], 10);
    let subscribe = |extra: &[&str]| {
        let mut args = vec![
            "template",
            "subscribe",
            "acme",
            "microsoft365",
            "--action",
            "direct",
        ];
        args.extend_from_slice(extra);
        node.ctl(&args)
    };
    subscribe(&["--instance", "China", "--group", "Exchange"]).expect_ok("subscribe");
    let compiled = wait_for(POLLED, "the compiled subscription", || {
        let (status, body) = node.get(ADMIN_TOKEN, "/v1/tenants/acme/templates/microsoft365");
        (status == 200)
            .then(|| serde_json::from_str::<Value>(&body).ok())
            .flatten()
    });
    let entries: Vec<String> = compiled["lists"]["template-microsoft365"]["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e.as_str().map(str::to_string))
        .collect();
    assert!(
        entries.contains(&"outlook.office365.cn".to_string()),
        "{entries:?}"
    );
    assert!(
        !entries.iter().any(|e| e.ends_with(".com")),
        "a Worldwide host: {entries:?}"
    );
    let refused = subscribe(&["--group", "m365-China"]);
    assert!(!refused.ok(), "{}", refused.stdout());
    assert!(
        refused.stderr().contains(
            "has no group \"m365-China\"; its groups: Common, Exchange, SharePoint, Skype"
        ),
        "{}",
        refused.stderr()
    );
}
