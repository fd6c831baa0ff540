//! A wall clock set wrong on one node of a real three-node control plane (its process reads the
//! time 400 days ahead: `--wall-clock-offset-ms`). Writes carry the time of the node that took
//! them, and the log's policy day never goes back, so before the cluster clock one such node
//! ended every contract due within the year. Now a node stamps writes with the lower median of
//! its own clock and the clocks its Raft peers report (`clock::ClusterClock`).
//!
//! Phase 1: the wrong node is a follower (it hears its leader): its writes carry the true time.
//! Phase 2: the leader is killed; of the two left, whichever leads, the wrong node's writes
//! still carry the true time (two clocks: the earlier one).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use breakout_tests::control::{Cluster, ControlNode};
use breakout_tests::faultcluster::audit_log;
use breakout_tests::fleet::write;
use breakout_tests::wait::wait_for;

const DAY_MS: i64 = 86_400_000;
const OFFSET_MS: i64 = 400 * DAY_MS;
/// How far a stamped time may be from this test's clock (the nodes run on this machine).
const TOLERANCE_MS: u64 = 5 * 60_000;
const CONVERGE: Duration = Duration::from_secs(60);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Creates region `name` through `node` and returns the time its audit event carries.
fn stamped_time_of_a_write(node: &ControlNode, name: &str) -> u64 {
    let version = write(node, &["region", "create", name], CONVERGE);
    // Read where it was written: the node's own view once it has applied the write.
    wait_for(CONVERGE, "the write in the node's audit log", || {
        audit_log(node).get(&version).map(|e| e.3)
    })
}

fn assert_true_time(at_ms: u64, what: &str) {
    let now = now_ms();
    assert!(
        at_ms.abs_diff(now) < TOLERANCE_MS,
        "{what}: stamped {at_ms}, the true time is {now} (the wrong clock reads {})",
        now as i64 + OFFSET_MS
    );
}

#[test]
fn one_node_with_a_clock_a_year_ahead_does_not_move_the_clusters_time() {
    let mut cluster = Cluster {
        nodes: vec![ControlNode::start(1, false)],
    };
    cluster.wait_leader(CONVERGE);
    let wrong = ControlNode::start_with(
        2,
        true,
        &[],
        &[format!("--wall-clock-offset-ms={OFFSET_MS}")],
    );
    let right = ControlNode::start(3, true);
    for node in [wrong, right] {
        let (id, api) = (node.id.to_string(), node.api.to_string());
        cluster.nodes[0]
            .ctl(&["cluster", "add-node", &id, &api])
            .expect_ok("add-node");
        cluster.nodes.push(node);
    }
    cluster.wait_voters(3);
    let log = cluster.nodes[1].stderr();
    assert!(
        log.contains("wall clock is offset"),
        "node 2 runs a wrong clock: {log}"
    );

    // Phase 1: through the follower whose clock is wrong.
    let at = stamped_time_of_a_write(&cluster.nodes[1], "osaka");
    assert_true_time(at, "a write taken by the wrong follower");

    // Phase 2: the leader gone, two clocks left: one right, one wrong.
    cluster.nodes[0].kill9();
    let leader = cluster.wait_leader(CONVERGE);
    assert_ne!(leader, 0, "the killed node cannot lead");
    let at = stamped_time_of_a_write(&cluster.nodes[1], "nagoya");
    assert_true_time(at, "a write taken by the wrong node of two");
}
