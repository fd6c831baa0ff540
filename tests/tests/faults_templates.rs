//! Vendor list sources that fail or lie, against a real control plane polling them from a local
//! HTTP server (the real fixtures, `tests/src/vendor.rs`): malformed, truncated and sharply
//! shrunk answers are quarantined; 500s, 429 with `Retry-After` and answers that never come
//! fail the poll. In every case the last good version stays live, and a
//! good answer afterwards becomes the next version.

use std::time::Duration;

use breakout_tests::control::ControlNode;
use breakout_tests::faultcluster::report;
use breakout_tests::static_server::{Page, StaticServer};
use breakout_tests::vendor::{
    held, live, m365_with_new_host, node_polling, node_polling_with, publish, sources, versions,
    wait_versions, M365, POLLED,
};
use breakout_tests::wait::{poll_until, wait_until};
use serde_json::{json, Value};

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

    // Phase: a list shrunk by 90% is held too; the operator approves it, then rolls back.
    let sets: Vec<Value> = serde_json::from_str(M365).expect("fixture");
    publish(
        &src,
        "2025050100",
        serde_json::to_string(&sets[..sets.len() / 10]).expect("json"),
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

/// Requests for `path` the source has seen so far.
fn asked(src: &StaticServer, path: &str) -> usize {
    src.seen().iter().filter(|t| t.starts_with(path)).count()
}

/// Waits until `path` has been requested more than `before` times.
fn asked_again(src: &StaticServer, path: &str, before: usize, what: &str) {
    wait_until(POLLED, what, || asked(src, path) > before);
}

fn sync(node: &ControlNode) {
    node.ctl(&["template", "sync"]).expect_ok("template sync");
}

/// The poll failure the leader logged last mentions `needle`.
fn logged(node: &ControlNode, needle: &str) -> bool {
    node.stderr()
        .lines()
        .any(|l| l.contains("template poll failed") && l.contains(needle))
}

#[test]
fn failing_refusing_and_hanging_sources_keep_the_last_good_list_live() {
    let src = sources("2025010100");
    // A vendor request may take 2 s here (60 s by default).
    let node = node_polling_with(&src, &[("BREAKOUT_TEMPLATE_FETCH_TIMEOUT", "2")]);
    wait_versions(&node, "microsoft365", "the first M365 fetch", |v| {
        live(v) == 0
    });
    let steady = |what: &str| {
        let v = versions(&node, "microsoft365").expect("versions");
        assert_eq!(live(&v), 0, "{what}: {v}");
        assert_eq!(v["items"].as_array().map(Vec::len), Some(1), "{what}: {v}");
        assert!(held(&v).is_empty(), "{what}: nothing to quarantine: {v}");
    };

    // 500 on the endpoints of a new version: the poll fails, nothing changes.
    src.put("/endpoints/Worldwide", Page::status(500, &[]));
    src.put(
        "/version/Worldwide",
        breakout_tests::vendor::version_page("2025020100"),
    );
    wait_until(POLLED, "the 500 is logged", || logged(&node, "status 500"));
    steady("after a 500");

    // 429 with Retry-After on the version check: the poller waits that long, even though its
    // interval is 1 s (it would otherwise ask again within a second or two).
    src.put(
        "/version/Worldwide",
        Page::status(429, &[("retry-after", "600")]),
    );
    sync(&node);
    wait_until(POLLED, "the 429 is logged", || logged(&node, "429"));
    let after_429 = asked(&src, "/version/");
    let quiet = !poll_until(Duration::from_secs(6), || {
        asked(&src, "/version/") > after_429
    });
    assert!(quiet, "the poller asked again before Retry-After");
    steady("after a 429");

    // An answer that never comes (longer than the fetch timeout): the poll fails in bounded time.
    src.put(
        "/version/Worldwide",
        breakout_tests::vendor::version_page("2025030100"),
    );
    src.put(
        "/endpoints/Worldwide",
        Page::ok(m365_with_new_host()).after(Duration::from_secs(30)),
    );
    let failures = |node: &ControlNode| {
        node.stderr()
            .lines()
            .filter(|l| l.contains("template poll failed") && l.contains("/endpoints/"))
            .count()
    };
    let before = failures(&node);
    let started = std::time::Instant::now();
    sync(&node);
    wait_until(POLLED, "the hung fetch fails", || failures(&node) > before);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    steady("after a timeout");

    // The vendor is fine again: the next version goes live.
    publish(&src, "2025040100", m365_with_new_host());
    let before = asked(&src, "/endpoints/");
    sync(&node);
    asked_again(&src, "/endpoints/", before, "the endpoints fetched again");
    let v = wait_versions(
        &node,
        "microsoft365",
        "the recovered source's version",
        |v| live(v) == 1,
    );
    assert_eq!(v["items"][1]["source_version"], "2025040100", "{v}");
    report(
        "template-sources",
        json!({ "faults": ["500", "429 Retry-After", "timeout", "malformed", "truncated", "shrunk 90%"],
                "last_good_kept": true }),
    );
}
