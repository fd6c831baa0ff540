//! The control plane on a real etcd (`--store etcd`, issue 15): the singleton moves when its
//! holder dies, a follower cut off across an etcd restart and a compaction reloads and catches
//! up, a hand-edited bad key is reported and skipped. (The main e2e suites run on etcd too with
//! `BREAKOUT_TEST_STORE=etcd`; `.ci/etcd.sh` does that.)

use std::time::{Duration, Instant};

use breakout_tests::control::ControlNode;
use breakout_tests::etcd::EtcdBackend;
use breakout_tests::metrics::sum;
use breakout_tests::{wait_for, wait_until};

fn leader_seen_by(node: &ControlNode) -> Option<u64> {
    let (status, body) = node.get(breakout_tests::control::ADMIN_TOKEN, "/v1/cluster/status");
    if status != 200 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    v.get("leader")?.as_u64()
}

fn regions(node: &ControlNode) -> Vec<String> {
    let out = node.ctl(&["region", "list"]);
    if !out.ok() {
        return Vec::new();
    }
    let mut names: Vec<String> = out.json()["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r.get("name")?.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn metric(node: &ControlNode, name: &str, labels: &[(&str, &str)]) -> f64 {
    let (_, text) = node.scrape();
    sum(&text, name, labels)
}

fn pair() -> (EtcdBackend, ControlNode, ControlNode) {
    let etcd = EtcdBackend::fresh();
    let a = ControlNode::start_with_store(1, false, &[], Some(etcd.clone()));
    wait_until(Duration::from_secs(10), "node 1 is elected", || {
        leader_seen_by(&a) == Some(1)
    });
    let b = ControlNode::start_with_store(2, false, &[], Some(etcd.clone()));
    wait_until(
        Duration::from_secs(10),
        "node 2 sees node 1 elected",
        || leader_seen_by(&b) == Some(1),
    );
    (etcd, a, b)
}

#[test]
fn the_singleton_moves_when_its_holder_dies_and_writes_go_on() {
    let (_etcd, mut a, b) = pair();
    a.ctl(&["region", "create", "tokyo"])
        .expect_ok("write through node 1");
    wait_until(Duration::from_secs(10), "node 2 follows", || {
        regions(&b) == ["tokyo"]
    });
    a.kill9();
    let killed = Instant::now();
    wait_until(Duration::from_secs(15), "node 2 elected", || {
        leader_seen_by(&b) == Some(2)
    });
    let moved = killed.elapsed();
    eprintln!("the singleton moved {moved:?} after SIGKILL");
    // The session lease is 3 s; the observer looks every 0.5 s.
    assert!(moved < Duration::from_secs(6), "moved only after {moved:?}");
    b.ctl(&["region", "create", "osaka"])
        .expect_ok("write through node 2");
    assert_eq!(regions(&b), ["osaka", "tokyo"]);
    // Membership belongs to etcd: a clear 4xx, naming why.
    let out = b.ctl(&["cluster", "remove-node", "1"]);
    assert!(!out.ok());
    assert!(out.stderr().contains("etcd"), "{}", out.stderr());
}

#[test]
fn a_follower_cut_off_across_an_etcd_restart_and_a_compaction_reloads() {
    let (etcd, a, b) = pair();
    a.ctl(&["region", "create", "tokyo"])
        .expect_ok("first write");
    wait_until(Duration::from_secs(10), "node 2 follows", || {
        regions(&b) == ["tokyo"]
    });
    let pid = b.pid().expect("node 2 runs") as libc::pid_t;
    // SAFETY: signalling a child process this test started.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    etcd.server.restart();
    wait_until(
        Duration::from_secs(20),
        "a write after etcd's restart",
        || a.ctl(&["region", "create", "osaka"]).ok(),
    );
    a.ctl(&["region", "create", "kyoto"])
        .expect_ok("another write");
    etcd.server.compact_now();
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    wait_until(Duration::from_secs(20), "node 2 catches up", || {
        regions(&b) == ["kyoto", "osaka", "tokyo"]
    });
    let reloads = metric(
        &b,
        "breakout_control_etcd_reloads_total",
        &[("reason", "compacted")],
    );
    assert!(reloads >= 1.0, "node 2 did not reload after the compaction");
    assert!(b.stderr().contains("compacted"), "no log line says why");
    // Versions only went up, on both.
    let version = |n: &ControlNode| -> u64 {
        wait_for(Duration::from_secs(5), "cluster status", || {
            let (_, body) = n.get(breakout_tests::control::ADMIN_TOKEN, "/v1/cluster/status");
            let v: serde_json::Value = serde_json::from_str(&body).ok()?;
            v.get("last_applied")?.as_u64()
        })
    };
    assert_eq!(version(&a), version(&b));
}

#[test]
fn a_hand_edited_bad_key_is_reported_and_skipped() {
    let (etcd, mut a, _b) = pair();
    a.ctl(&["region", "create", "tokyo"]).expect_ok("write");
    let key = format!("{}regions/broken", etcd.prefix);
    etcd.server
        .ctl(&["put", &key, "{not json"])
        .expect("etcdctl put");
    wait_until(Duration::from_secs(10), "the bad key is counted", || {
        metric(&a, "breakout_control_etcd_bad_keys_total", &[]) >= 1.0
    });
    assert!(
        a.stderr().contains("regions/broken"),
        "no log line names the key"
    );
    a.ctl(&["region", "create", "osaka"])
        .expect_ok("writes go on");
    // A restart reads it again: still reported, still no crash.
    a.kill9();
    a.restart();
    assert_eq!(regions(&a), ["osaka", "tokyo"]);
    assert!(metric(&a, "breakout_control_etcd_bad_keys_total", &[]) >= 1.0);
}
