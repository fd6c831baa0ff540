//! The control plane on a real 3-member etcd cluster (issue 15) losing the member it talks to:
//! writes keep being acknowledged, a read sees every acknowledged write, the edge keeps its
//! configuration and keeps getting new versions; the member, restarted, catches up.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use breakout_tests::control::{ControlNode, ADMIN_TOKEN};
use breakout_tests::etcd::{connected_ports, EtcdBackend, EtcdServer};
use breakout_tests::fleet::{applied, is_ready, put_in_service, serves, start_edge, tokyo_acme};
use breakout_tests::{wait_for, wait_until};
use serde_json::Value;

/// Writes acknowledged before and after the kill.
const WRITES: usize = 15;
/// How long writes may fail while the client moves to another member.
const MOVE: Duration = Duration::from_secs(15);

/// Creates region `name`: its version if the write was acknowledged.
fn create_region(node: &ControlNode, name: &str) -> Option<u64> {
    let body = format!(r#"{{"name":"{name}"}}"#);
    let (status, answer) = node.send(ADMIN_TOKEN, "POST", "/v1/regions", &body);
    if status != 201 {
        eprintln!("region {name}: {status} {answer}");
        return None;
    }
    serde_json::from_str::<Value>(&answer).ok()?["version"].as_u64()
}

/// Changes tenant acme (so tokyo's edges get a new config): the version, once acknowledged.
fn touch_acme(node: &ControlNode, n: usize) -> u64 {
    wait_for(MOVE, "a write to acme acknowledged", || {
        let body = format!(r#"["host{n}.example"]"#);
        let (status, answer) = node.send(ADMIN_TOKEN, "PUT", "/v1/tenants/acme/lists/probe", &body);
        (status == 200)
            .then(|| serde_json::from_str::<Value>(&answer).ok()?["version"].as_u64())
            .flatten()
    })
}

/// A linearizable read of every region name.
fn regions(node: &ControlNode) -> Option<BTreeSet<String>> {
    let (status, body) = node.get(ADMIN_TOKEN, "/v1/regions");
    if status != 200 {
        return None;
    }
    let v: Value = serde_json::from_str(&body).ok()?;
    Some(
        v["items"]
            .as_array()?
            .iter()
            .filter_map(|r| r["name"].as_str().map(String::from))
            .collect(),
    )
}

/// Writes regions `{tag}-0`, `{tag}-1`, … until `WRITES` are acknowledged, allowing `MOVE`
/// for the first: the acknowledged names and the highest version.
fn write_batch(node: &ControlNode, tag: &str, acked: &mut BTreeSet<String>) -> u64 {
    let started = Instant::now();
    let mut version = 0;
    let mut done = 0;
    let mut i = 0;
    while done < WRITES {
        assert!(
            started.elapsed() < MOVE + Duration::from_secs(20),
            "only {done} of {WRITES} writes of {tag} acknowledged"
        );
        let name = format!("{tag}-{i}");
        i += 1;
        if let Some(v) = create_region(node, &name) {
            if done == 0 {
                eprintln!(
                    "{tag}: first acknowledged write after {:?}",
                    started.elapsed()
                );
                assert!(
                    started.elapsed() < MOVE,
                    "no write acknowledged for {MOVE:?}"
                );
            }
            assert!(v > version, "versions go up");
            version = v;
            acked.insert(name);
            done += 1;
        }
    }
    version
}

#[test]
fn a_three_member_etcd_loses_the_member_in_use_and_keeps_every_acknowledged_write() {
    let members = EtcdServer::cluster(3);
    let backend = EtcdBackend::on_members(members.clone());
    let node = ControlNode::start_with_store(1, false, &[], Some(backend.clone()));
    tokyo_acme(&node);
    put_in_service(&node, "acme", Some(10), Duration::from_secs(20));
    let edge = start_edge(&[&node], "tokyo", "tk-1");
    wait_until(Duration::from_secs(30), "the edge serves acme", || {
        is_ready(&edge) && serves(&edge, "acme")
    });

    let mut acked = BTreeSet::new();
    let before = write_batch(&node, "before", &mut acked);

    // The member the control plane talks to (it may hold connections to several: then the
    // etcd leader among them, the harder case).
    let pid = node.pid().expect("the control plane runs");
    let ports = connected_ports(pid);
    let in_use: Vec<usize> = (0..members.len())
        .filter(|&i| ports.contains(&members[i].client_port()))
        .collect();
    assert!(!in_use.is_empty(), "no connection to any member: {ports:?}");
    let leader = in_use
        .iter()
        .copied()
        .find(|&i| members[i].status().is_some_and(|s| s.is_leader()));
    let victim = leader.unwrap_or(in_use[0]);
    eprintln!(
        "connected to members {in_use:?}; killing member {victim} (etcd leader: {})",
        leader.is_some()
    );
    members[victim].kill9();

    let after = write_batch(&node, "after", &mut acked);
    assert!(after > before);
    let seen = wait_for(Duration::from_secs(10), "a linearizable read", || {
        regions(&node)
    });
    let lost: Vec<&String> = acked.difference(&seen).collect();
    assert!(
        lost.is_empty(),
        "acknowledged writes not read back: {lost:?}"
    );
    // Other regions' writes do not reach tokyo's edge; a change of its tenant does.
    let changed = touch_acme(&node, 1);
    wait_until(Duration::from_secs(20), "the edge gets the change", || {
        applied(&edge) >= changed
    });
    assert!(
        is_ready(&edge) && serves(&edge, "acme"),
        "the edge lost acme"
    );

    // The member comes back and catches up with the others.
    members[victim].restart();
    write_batch(&node, "restarted", &mut acked);
    let last = touch_acme(&node, 2);
    let other = (victim + 1) % members.len();
    let newest = acked
        .iter()
        .find(|n| n.starts_with("restarted-"))
        .expect("an acknowledged write after the restart");
    let key = format!("{}regions/{newest}", backend.prefix);
    wait_until(
        Duration::from_secs(20),
        "the restarted member catches up",
        || {
            let (Some(mine), Some(theirs)) = (members[victim].status(), members[other].status())
            else {
                return false;
            };
            let local =
                members[victim].ctl(&["get", "--consistency=s", "--print-value-only", &key]);
            mine.revision == theirs.revision && local.is_some_and(|v| !v.trim().is_empty())
        },
    );
    wait_until(Duration::from_secs(20), "the edge follows", || {
        applied(&edge) >= last
    });
}
