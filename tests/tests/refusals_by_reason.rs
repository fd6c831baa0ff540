//! Refusals by reason end to end (issue 17): a real edge fed by a control plane refuses a
//! tenant's requests for two different reasons (a blocklisted host; a destination the guard
//! refuses), through curl; the edge's session report carries the counts, the leader tallies
//! them, and the API (`GET /v1/tenants/{id}/refusals`), `breakoutctl refusals` and the tenant's
//! console page show both for that tenant only (another tenant of the region sees zero).

use std::process::Command;
use std::time::Duration;

use breakout_tests::capacity::setup;
use breakout_tests::control::{Cluster, ControlNode, ADMIN_TOKEN};
use breakout_tests::fleet::{put_in_service, serves, synced, write};
use breakout_tests::{wait_until, Curl, Edge, EdgeConfig};
use serde_json::{json, Value};

const CONVERGE: Duration = Duration::from_secs(30);
const WRITE: Duration = Duration::from_secs(20);

/// The counts of `reason` in `window` for the tenant's `region` in an answer of the route.
fn count(answer: &Value, region: &str, window: &str, reason: &str) -> u64 {
    answer["regions"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["region"] == region))
        .and_then(|r| r[window][reason].as_u64())
        .unwrap_or(0)
}

fn refusals(node: &ControlNode, token: &str, tenant: &str) -> (u16, Value) {
    let (status, body) = node.get(token, &format!("/v1/tenants/{tenant}/refusals"));
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

#[test]
fn refusals_by_reason_reach_the_api_cli_and_console_for_that_tenant_only() {
    let cluster = Cluster::start(1);
    let node = &cluster.nodes[0];
    setup(node, &["tokyo"], 20);
    write(
        node,
        &[
            "tenant",
            "create",
            "other",
            "--region",
            "tokyo",
            "--source-cidr",
            "127.0.0.2/32",
            "--session-limit",
            "20",
            "--default-action",
            "direct",
        ],
        WRITE,
    );
    put_in_service(node, "other", Some(20), WRITE);
    write(
        node,
        &["list", "set", "acme", "blocklist", "blocked.test"],
        WRITE,
    );
    let rules = json!([{ "name": "access-control", "action": "block", "lists": ["blocklist"] }]);
    let (status, answer) = node.send(
        ADMIN_TOKEN,
        "PUT",
        "/v1/tenants/acme/rules",
        &rules.to_string(),
    );
    assert_eq!(status, 200, "rules: {answer}");
    let acme_token = node
        .ctl(&["token", "create", "acme"])
        .expect_ok("token create")
        .json()["token"]
        .as_str()
        .expect("token")
        .to_string();

    // The guard refuses loopback here: origin.test resolves to 127.0.0.1.
    let mut settings = EdgeConfig::default().host("origin.test", "127.0.0.1");
    settings.allow_private_destinations = false;
    let edge = Edge::start_synced(
        &settings.to_settings_toml(),
        &synced(&[node], "tokyo", "tk-1"),
    );
    wait_until(CONVERGE, "the edge serves acme and other", || {
        serves(&edge, "acme") && serves(&edge, "other")
    });
    let get = |url: &str| {
        Curl::new(url)
            .proxy(&edge.proxy_url())
            .interface("127.0.0.1")
            .run()
            .transfers
            .first()
            .map_or(0, |t| t.status)
    };
    wait_until(CONVERGE, "the blocklist reaches the edge", || {
        get("http://blocked.test/") == 403
    });
    assert_eq!(get("http://blocked.test/again"), 403);
    assert_eq!(
        get("http://origin.test/"),
        403,
        "the guard refuses loopback"
    );

    // The API (the tenant's own token) shows both reasons, in the last hour and since the
    // edge started.
    let deadline = std::time::Instant::now() + CONVERGE;
    let seen = loop {
        let (status, seen) = refusals(node, &acme_token, "acme");
        if status == 200
            && count(&seen, "tokyo", "since_edge_start", "blocked_by_rule") >= 2
            && count(
                &seen,
                "tokyo",
                "since_edge_start",
                "destination_ip_prohibited",
            ) >= 1
            && count(&seen, "tokyo", "last_hour", "destination_ip_prohibited") >= 1
        {
            break seen;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the leader has both reasons for acme: {status} {seen}\nedge: {}",
            edge.metrics()
                .lines()
                .filter(|l| l.contains("refusals_total"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        count(&seen, "tokyo", "last_hour", "blocked_by_rule") >= 1,
        "{seen}"
    );
    assert_eq!(seen["tenant"], "acme");

    // Another tenant of the same region and edge sees zero; acme's token cannot read it.
    let (status, other) = refusals(node, ADMIN_TOKEN, "other");
    assert_eq!(status, 200, "{other}");
    let regions = other["regions"].as_array().expect("regions");
    assert_eq!(regions.len(), 1, "{other}");
    assert_eq!(regions[0]["region"], "tokyo");
    for window in ["since_edge_start", "last_hour", "last_3_hours"] {
        assert_eq!(regions[0][window], json!({}), "{other}");
    }
    let (status, _) = refusals(node, &acme_token, "other");
    assert_eq!(status, 404, "a tenant token never reads another tenant");

    // breakoutctl: JSON (the API's answer) and the table.
    let cli = node.ctl(&["refusals", "acme"]).expect_ok("refusals").json();
    assert!(count(&cli, "tokyo", "since_edge_start", "blocked_by_rule") >= 2);
    let table = Command::new(breakout_tests::binaries::ctl_bin())
        .args(["--server", &node.api_url(), "--token", ADMIN_TOKEN])
        .args(["-o", "table", "refusals", "acme"])
        .output()
        .expect("breakoutctl");
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("blocked_by_rule") && table.contains("destination_ip_prohibited"),
        "{table}"
    );

    // The tenant's console page, by reason; the other tenant's page lists none.
    let page = node.console_page(&acme_token, "/ui/t/acme");
    for reason in ["blocked_by_rule", "destination_ip_prohibited"] {
        assert!(
            page.contains(&format!("data-reason=\"{reason}\"")),
            "{reason} on the console page:\n{page}"
        );
    }
    let other_page = node.console_page(ADMIN_TOKEN, "/ui/t/other");
    assert!(other_page.contains("id=\"refusals\""), "{other_page}");
    assert!(!other_page.contains("data-reason="), "{other_page}");
}
