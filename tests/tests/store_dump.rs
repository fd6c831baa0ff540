//! `breakoutctl store export` / `store import` (issue 15): a dump moves the whole state from
//! the Raft store to etcd and back, unchanged; a non-empty store refuses an import without
//! `--replace`.

use std::path::Path;
use std::time::Duration;

use breakout_tests::control::{Cluster, ControlNode, ADMIN_TOKEN};
use breakout_tests::etcd::EtcdBackend;
use breakout_tests::tmp::unique_dir;
use serde_json::Value;

fn export(node: &ControlNode, to: &Path) -> Value {
    let out = node.ctl(&["store", "export"]).expect_ok("store export");
    std::fs::write(to, out.stdout()).expect("write the dump");
    serde_json::from_str(&out.stdout()).expect("the dump is JSON")
}

/// The dump's content: what moves (the version, the day and the audit log stay with each
/// store, and so do the kept answers to keyed writes: the import is itself such a write).
fn content(dump: &Value) -> Value {
    let mut state = dump["state"].clone();
    if let Some(o) = state.as_object_mut() {
        for k in ["version", "audit", "day", "idempotency"] {
            o.remove(k);
        }
    }
    state
}

#[test]
fn a_dump_moves_the_state_from_raft_to_etcd_and_back_unchanged() {
    let dir = unique_dir("breakout-dump");
    let raft = ControlNode::start_with_store(1, false, &[], None);
    raft.ctl(&["region", "create", "tokyo"]).expect_ok("region");
    let tenant = dir.join("acme.json");
    std::fs::write(
        &tenant,
        r#"{"id": "acme", "region": "tokyo", "source_cidrs": ["10.7.0.0/16"], "session_limit": 5}"#,
    )
    .expect("tenant file");
    raft.ctl(&["tenant", "create", "--file", &tenant.display().to_string()])
        .expect_ok("tenant");
    raft.ctl(&["token", "create", "acme"]).expect_ok("token");
    let first = dir.join("raft.json");
    let from_raft = export(&raft, &first);
    assert_eq!(from_raft["format"], "breakout-store-dump/1");

    let etcd = ControlNode::start_with_store(2, false, &[], Some(EtcdBackend::fresh()));
    let file = first.display().to_string();
    etcd.ctl(&["store", "import", "--file", &file])
        .expect_ok("import into etcd");
    let from_etcd = export(&etcd, &dir.join("etcd.json"));
    assert_eq!(content(&from_etcd), content(&from_raft));

    // A store with content refuses a dump unless told to replace it.
    let again = etcd.ctl(&["store", "import", "--file", &file]);
    assert!(
        !again.ok(),
        "a non-empty store took an import without --replace"
    );
    assert!(again.stderr().contains("--replace"), "{}", again.stderr());

    let back = ControlNode::start_with_store(3, false, &[], None);
    let file = dir.join("etcd.json").display().to_string();
    back.ctl(&["store", "import", "--file", &file])
        .expect_ok("import into raft");
    let round_trip = export(&back, &dir.join("back.json"));
    assert_eq!(content(&round_trip), content(&from_raft));
    // The tenant serves on the new store as on the old one.
    let tenants = back.ctl(&["tenant", "list"]).expect_ok("tenant list");
    assert!(tenants.stdout().contains("acme"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// An import sent to a follower is made on the leader, and a dump larger than the other routes'
/// 16 MiB body limit is taken (the route's own limit is 512 MiB): before, the follower forwarded
/// an empty body and the leader answered that it was not a store dump.
#[test]
fn a_large_import_sent_to_a_follower_is_made_on_the_leader() {
    let dir = unique_dir("breakout-dump-forward");
    let source = ControlNode::start_with_store(1, false, &[], None);
    source
        .ctl(&["region", "create", "osaka"])
        .expect_ok("region");
    let dump = source
        .ctl(&["store", "export"])
        .expect_ok("store export")
        .stdout();
    // Trailing whitespace is valid JSON: 17 MiB of it puts the body past 16 MiB.
    let file = dir.join("large.json");
    std::fs::write(&file, format!("{dump}{}", " ".repeat(17 << 20))).expect("write the dump");

    let cluster = Cluster::start(2);
    let leader = cluster.wait_leader(Duration::from_secs(30));
    let follower = &cluster.nodes[1 - leader];
    let (status, body) = follower.send(
        ADMIN_TOKEN,
        "POST",
        "/v1/store/import",
        &format!("@{}", file.display()),
    );
    assert_eq!(status, 200, "{body}");
    let regions = cluster.nodes[leader]
        .ctl(&["region", "list"])
        .expect_ok("region list")
        .stdout();
    assert!(regions.contains("osaka"), "{regions}");
}
