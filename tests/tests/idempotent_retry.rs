//! Issue 13, item 2, with real processes: a write acknowledged through a follower, then retried
//! with its `Idempotency-Key` after the leader was SIGKILLed (as a client does whose answer
//! was lost), gets the original answer from the new leader instead of 409 "already exists".
//! (`breakoutctl`'s keys and retries: control-plane/tests/cli_retry.rs.)

use std::process::Command;
use std::time::Duration;

use breakout_tests::control::{Cluster, ControlNode, ADMIN_TOKEN};
use breakout_tests::wait_for;

const CONVERGE: Duration = Duration::from_secs(30);

/// What one POST got: status, body and its `Idempotent-Replayed` header.
struct Answer {
    status: u16,
    body: serde_json::Value,
    replayed: bool,
}

/// `POST path` with `body` on `node`, with `key` as its `Idempotency-Key` if given.
fn post(node: &ControlNode, path: &str, body: &str, key: Option<&str>) -> Answer {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "10", "-o", "-"])
        .args(["-w", "\n%header{idempotent-replayed}\n%{http_code}"])
        .args(["-X", "POST", "--data-binary", body])
        .args(["-H", "Content-Type: application/json"])
        .args(["-H", &format!("Authorization: Bearer {ADMIN_TOKEN}")]);
    if let Some(key) = key {
        cmd.args(["-H", &format!("Idempotency-Key: {key}")]);
    }
    let out = cmd
        .arg(format!("{}{path}", node.api_url()))
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("all_proxy")
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut parts = text.rsplitn(3, '\n');
    let status = parts
        .next()
        .and_then(|c| c.trim().parse().ok())
        .unwrap_or(0);
    let replayed = parts.next().map(str::trim) == Some("true");
    let body = serde_json::from_str(parts.next().unwrap_or("")).unwrap_or_default();
    Answer {
        status,
        body,
        replayed,
    }
}

#[test]
fn a_write_retried_with_its_key_after_a_leader_kill_gets_the_original_answer() {
    let mut cluster = Cluster::start(3);
    let leader = cluster.wait_leader(CONVERGE);
    let follower = (leader + 1) % 3;
    cluster.nodes[follower]
        .ctl(&["region", "create", "tokyo"])
        .expect_ok("region create");
    let tenant = r#"{"id": "acme", "region": "tokyo", "source_cidrs": ["10.1.0.0/24"],
        "session_limit": 10, "default_action": "block"}"#;
    let key = "e2e-4b1d6a8e-acme";

    let first = post(&cluster.nodes[follower], "/v1/tenants", tenant, Some(key));
    assert_eq!(first.status, 201, "{}", first.body);
    assert!(!first.replayed);
    let version = first.body["version"].as_u64().expect("version");

    // The client's answer is lost as the leader dies; it retries on a survivor until a new
    // leader answers.
    cluster.nodes[leader].kill9();
    let retry = wait_for(CONVERGE, "the retry answered by a new leader", || {
        let got = post(&cluster.nodes[follower], "/v1/tenants", tenant, Some(key));
        (got.status != 503 && got.status != 0).then_some(got)
    });
    assert_eq!(
        retry.status, 201,
        "the retry of an applied write must get the original answer, not: {}",
        retry.body
    );
    assert!(retry.replayed, "Idempotent-Replayed: true");
    assert_eq!(retry.body["version"].as_u64(), Some(version));
    assert_eq!(retry.body["tenant"]["id"], "acme");
    assert_ne!(cluster.wait_leader(CONVERGE), leader);

    // Without the key the same retry is what the defect showed: 409.
    let bare = post(&cluster.nodes[follower], "/v1/tenants", tenant, None);
    assert_eq!(bare.status, 409, "{}", bare.body);
}
