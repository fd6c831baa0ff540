//! Abuse of the management API on a real `breakout-control`: floods of bad tokens (issue #13
//! item 9), one token or one address sending too fast, oversized and over-nested bodies, and
//! where token secrets end up (hashed in the store, never in a listing).

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use breakout_tests::api_conn::ApiConn;
use breakout_tests::control::{Cluster, ControlNode, ADMIN_TOKEN};
use breakout_tests::fleet::tokyo_acme;
use breakout_tests::wait_until;
use serde_json::Value;
use sha2::Digest;

const SOON: Duration = Duration::from_secs(20);

fn ip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, last)
}

/// A one-node cluster with `env`, once it leads.
fn node_with(env: &[(&str, &str)]) -> Cluster {
    let cluster = Cluster {
        nodes: vec![ControlNode::start_with_env(1, false, env)],
    };
    cluster.wait_leader(SOON);
    cluster
}

/// Tenant `acme` (from [`tokyo_acme`]) and `beta`, each with a token: (acme's, beta's).
fn two_tenants(node: &ControlNode) -> (String, String) {
    tokyo_acme(node);
    node.ctl(&[
        "tenant",
        "create",
        "beta",
        "--region",
        "tokyo",
        "--source-cidr",
        "198.51.100.0/24",
        "--session-limit",
        "100",
    ])
    .expect_ok("tenant create beta");
    let token = |t: &str| {
        node.ctl(&["token", "create", t])
            .expect_ok("token create")
            .json()["token"]
            .as_str()
            .expect("token")
            .to_string()
    };
    (token("acme"), token("beta"))
}

#[test]
fn a_flood_of_bad_tokens_is_answered_429_and_other_addresses_keep_working() {
    let cluster = node_with(&[]);
    let node = &cluster.nodes[0];
    let (acme, _) = two_tenants(node);
    let mut attacker = ApiConn::new(ip(2), node.api);
    let (mut unauthorized, mut limited, mut retry_after) = (0, 0, None);
    let started = Instant::now();
    for i in 0..2000 {
        let guess = format!("bk_{i:016x}_{}", "0".repeat(64));
        let r = attacker.get("/v1/tenants/acme", Some(&guess));
        match r.status {
            401 => unauthorized += 1,
            429 => {
                limited += 1;
                retry_after = r.header("retry-after").map(str::to_string);
                let v: Value = serde_json::from_slice(&r.body).expect("JSON error");
                assert_eq!(v["error"]["code"], "rate_limited", "{r:?}");
            }
            other => panic!("a bad token got {other}: {r:?}"),
        }
    }
    let secs = started.elapsed().as_secs_f64();
    // Burst 20, then 2 a second.
    let allowed = 20.0 + 2.0 * secs + 2.0;
    assert!(
        f64::from(unauthorized) <= allowed,
        "{unauthorized} guesses were checked in {secs:.1}s (at most {allowed:.0} expected)"
    );
    assert!(limited >= 2000 - allowed as i32, "{limited} answered 429");
    let wait: u64 = retry_after
        .expect("Retry-After on every 429")
        .parse()
        .expect("whole seconds");
    assert!((1..=60).contains(&wait), "Retry-After {wait}");

    // The flooding address is held to its bucket even with a valid token: of quick requests,
    // no more pass than the bucket's refill (2 a second, from less than one token) allows,
    // however slow the machine (the same bound as the flood's above).
    let started = Instant::now();
    let passed = (0..6)
        .filter(|_| attacker.get("/v1/tenants/acme", Some(&acme)).status == 200)
        .count();
    let secs = started.elapsed().as_secs_f64();
    assert!(
        passed as f64 <= 1.0 + 2.0 * secs + 1.0,
        "{passed} of 6 valid requests from the flooding address passed in {secs:.2}s"
    );
    // Another address, and a valid token: unaffected.
    let mut tenant = ApiConn::new(ip(3), node.api);
    assert_eq!(tenant.get("/v1/tenants/acme", Some(&acme)).status, 200);
    wait_until(SOON, "the locked address may authenticate again", || {
        attacker.get("/v1/tenants/acme", Some(&acme)).status == 200
    });

    // The attempts are audited without the tokens.
    let (status, body) = node.get(ADMIN_TOKEN, "/v1/audit/denied");
    assert_eq!(status, 200, "{body}");
    let denied: Value = serde_json::from_str(&body).expect("json");
    let bad: Vec<&Value> = denied["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|a| a["reason"] == "bad_token" && a["source"] == "127.0.0.2")
        .collect();
    assert_eq!(bad.len(), unauthorized as usize, "{body}");
    assert_eq!(bad[0]["route"], "/v1/tenants/{id}");
    assert!(
        !body.contains("bk_0000"),
        "a presented token in the audit: {body}"
    );
    assert!(
        !node.stderr().contains("bk_0000"),
        "a presented token in the log"
    );
    assert!(node.stderr().contains("access_denied"));
}

#[test]
fn one_token_or_one_address_over_its_limit_leaves_the_others_alone() {
    let cluster = node_with(&[
        ("BREAKOUT_API_RATE_PER_TOKEN", "5"),
        ("BREAKOUT_API_RATE_PER_SOURCE", "40"),
    ]);
    let node = &cluster.nodes[0];
    let (acme, beta) = two_tenants(node);

    // acme's token, far over 5/s (burst 10): refused with 429 and Retry-After.
    let mut a = ApiConn::new(ip(4), node.api);
    let answers: Vec<_> = (0..40)
        .map(|_| a.get("/v1/tenants/acme", Some(&acme)))
        .collect();
    let statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert!(limited >= 20, "acme's token was not limited: {statuses:?}");
    assert!(
        statuses.iter().all(|s| matches!(s, 200 | 429)),
        "{statuses:?}"
    );
    // Every refusal says when to come back (asked of the flood's own answers: one request more
    // could find a token refilled, 200 ms at 5 a second, on a loaded machine).
    for r in answers.iter().filter(|r| r.status == 429) {
        assert!(r.header("retry-after").is_some(), "{r:?}");
    }
    // beta's token, used at the same time from another address, has all of its own.
    let mut b = ApiConn::new(ip(5), node.api);
    for _ in 0..10 {
        assert_eq!(b.get("/v1/tenants/beta", Some(&beta)).status, 200);
    }

    // One address over 40/s (burst 80), whatever the token (the operator's is not limited per
    // token): 429; another address is not.
    let mut flood = ApiConn::new(ip(6), node.api);
    let limited = (0..200)
        .filter(|_| flood.get("/v1/regions", Some(ADMIN_TOKEN)).status == 429)
        .count();
    assert!(limited >= 50, "only {limited} of 200 limited");
    let mut calm = ApiConn::new(ip(7), node.api);
    assert_eq!(calm.get("/v1/regions", Some(ADMIN_TOKEN)).status, 200);
    // Health and metrics stay reachable from the flooding address.
    assert_eq!(flood.get("/healthz", None).status, 200);
}

#[test]
fn oversized_and_over_nested_bodies_are_refused_and_token_secrets_are_stored_hashed() {
    let cluster = node_with(&[]);
    let node = &cluster.nodes[0];
    let (acme, _) = two_tenants(node);
    let mut op = ApiConn::new(ip(8), node.api);

    let deep = format!("{}\"x\"{}", "[".repeat(100), "]".repeat(100));
    let r = op
        .send(
            "PUT",
            "/v1/tenants/acme/lists/l1",
            Some(ADMIN_TOKEN),
            Some(&deep),
        )
        .expect("PUT");
    assert_eq!(r.status, 400, "{r:?}");
    assert!(r.body_text().contains("nested deeper"), "{r:?}");

    let huge = format!("[\"{}\"]", "a".repeat(17 * 1024 * 1024));
    let r = op
        .send(
            "PUT",
            "/v1/tenants/acme/lists/l1",
            Some(ADMIN_TOKEN),
            Some(&huge),
        )
        .expect("PUT");
    assert_eq!(r.status, 413, "{r:?}");
    let version = |node: &ControlNode| {
        let (_, body) = node.get(ADMIN_TOKEN, "/v1/tenants/acme");
        serde_json::from_str::<Value>(&body).expect("json")["changed_version"].clone()
    };
    let before = version(node);
    assert_eq!(
        op.get("/v1/tenants/acme/lists/l1", Some(ADMIN_TOKEN))
            .status,
        404
    );
    assert_eq!(version(node), before, "nothing was written");

    // The secret part of the token appears nowhere: not in the listing, not on disk.
    let secret = acme
        .rsplit('_')
        .next()
        .expect("bk_<id>_<secret>")
        .to_string();
    let (status, tokens) = node.get(ADMIN_TOKEN, "/v1/tokens");
    assert_eq!(status, 200);
    assert!(!tokens.contains(&secret), "{tokens}");
    let data = node.data_dir();
    let mut files = 0;
    for path in breakout_tests::tmp::files_under(&data) {
        let bytes = std::fs::read(&path).unwrap_or_default();
        files += 1;
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the token's secret is stored in {}",
            path.display()
        );
    }
    assert!(files > 0, "no files under {}", data.display());
    // What is stored is its SHA-256.
    let hash: String = sha2::Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let stored = breakout_tests::tmp::files_under(&data).iter().any(|p| {
        let bytes = std::fs::read(p).unwrap_or_default();
        bytes.windows(hash.len()).any(|w| w == hash.as_bytes())
    });
    assert!(stored, "the token's hash is not in the store");
}
