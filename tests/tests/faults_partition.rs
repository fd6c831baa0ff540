//! Partitions of a real three-node control plane (fault relays between the nodes, see
//! `tests/src/faultnet.rs`) under a register workload of three clients, one per node, checked
//! afterwards (`tests/src/history.rs`): every history linearizable per key, every acknowledged
//! write in every node's audit log at its version, the nodes' logs identical wherever they
//! overlap (never two leaders committing), the same final value of every key on every node.
//!
//! One round: the leader isolated (a minority of one), a follower isolated, slow and reordering
//! links with one link dropping one way; each healed. `FAULT_MINUTES=N` repeats rounds for N
//! minutes (docs/reliability.md).

use std::time::{Duration, Instant};

use breakout_tests::control::ADMIN_TOKEN;
use breakout_tests::faultcluster::{
    another_round, local_values, register_tenant, report, value_of, FaultCluster, Workload,
};
use breakout_tests::faultnet::Fault;
use breakout_tests::history::{check_audits, check_linearizable, Kind, Outcome};
use breakout_tests::wait::poll_until;
use serde_json::json;

const ELECT: Duration = Duration::from_secs(30);
const CONVERGE: Duration = Duration::from_secs(60);

/// Waits until a write acknowledged through node `via` was invoked after `since` (the side that
/// should make progress does).
fn progress(w: &Workload, client: u64, since: Duration, what: &str) {
    let ok = poll_until(ELECT, || {
        w.history.ops().iter().any(|o| {
            o.client == client && o.invoked > since && matches!(o.outcome, Outcome::Written { .. })
        })
    });
    assert!(ok, "{what}: no write acknowledged through client {client}");
}

/// No write invoked through `client` between `from` and `to` was acknowledged.
fn none_acknowledged(w: &Workload, client: u64, from: Duration, to: Duration, what: &str) {
    let acked: Vec<_> = w
        .history
        .ops()
        .into_iter()
        .filter(|o| o.client == client && o.invoked > from && o.invoked < to)
        .filter(|o| matches!(o.kind, Kind::Write(_)))
        .filter(|o| matches!(o.outcome, Outcome::Written { .. }))
        .collect();
    assert!(
        acked.is_empty(),
        "{what}: acknowledged on the minority side: {acked:?}"
    );
}

fn elapsed(w: &Workload) -> Duration {
    w.history.now()
}

/// Waits until a write through `client` invoked after `since` has ended (whatever its outcome):
/// the side under test was really tried.
fn tried(w: &Workload, client: u64, since: Duration, what: &str) {
    let ok = poll_until(ELECT, || {
        w.history
            .ops()
            .iter()
            .any(|o| o.client == client && o.invoked > since && matches!(o.kind, Kind::Write(_)))
    });
    assert!(ok, "{what}: no write through client {client} ended");
}

#[test]
fn partitions_lose_no_acknowledged_write_and_keep_one_linearizable_history() {
    let fc = FaultCluster::start(3);
    register_tenant(fc.node(1));
    let ids = fc.ids();
    let w = Workload::start(&[(1, fc.node(1)), (2, fc.node(2)), (3, fc.node(3))]);
    let started = Instant::now();
    let mut rounds = 0;
    while another_round(started, rounds) {
        rounds += 1;
        let leader = fc.wait_agreed_leader(&ids, ELECT);
        progress(&w, leader, elapsed(&w), "before the faults");

        // The leader alone on one side: the majority elects another and goes on; nothing is
        // acknowledged on the leader's side.
        let rest: Vec<u64> = ids.iter().copied().filter(|i| *i != leader).collect();
        let cut = elapsed(&w);
        fc.net.between(&[leader], &rest, Fault::Drop);
        let new_leader = fc.wait_agreed_leader(&rest, ELECT);
        assert_ne!(new_leader, leader);
        progress(
            &w,
            rest[0],
            elapsed(&w),
            "the majority after the leader's isolation",
        );
        tried(&w, leader, cut, "the isolated leader");
        none_acknowledged(&w, leader, cut, elapsed(&w), "the isolated leader");
        fc.net.heal();
        fc.wait_agreed_leader(&ids, ELECT);
        w.next_generation();

        // A follower alone: writes through it (forwarded) fail, the others go on.
        let leader = fc.wait_agreed_leader(&ids, ELECT);
        let follower = *ids.iter().find(|i| **i != leader).expect("a follower");
        let others: Vec<u64> = ids.iter().copied().filter(|i| *i != follower).collect();
        let cut = elapsed(&w);
        fc.net.between(&[follower], &others, Fault::Drop);
        progress(
            &w,
            leader,
            elapsed(&w),
            "the majority with a follower isolated",
        );
        tried(&w, follower, cut, "the isolated follower");
        none_acknowledged(&w, follower, cut, elapsed(&w), "the isolated follower");
        fc.net.heal();
        fc.wait_agreed_leader(&ids, ELECT);
        w.next_generation();

        // Slow links that reorder, one link dropping one way (leader → a follower).
        for &a in &ids {
            for &b in &ids {
                if a != b {
                    fc.net.set(
                        a,
                        b,
                        Fault::Delay {
                            base_ms: 10,
                            jitter_ms: 150,
                        },
                    );
                }
            }
        }
        let leader = fc.wait_agreed_leader(&ids, ELECT);
        let one_way = *ids.iter().find(|i| **i != leader).expect("a follower");
        fc.net.set(leader, one_way, Fault::Drop);
        progress(
            &w,
            leader,
            elapsed(&w),
            "slow, reordering, one-way lossy links",
        );
        fc.net.heal();
        w.next_generation();
    }
    fc.wait_agreed_leader(&ids, ELECT);
    let (history, acked) = w.stop();
    let newest = acked.iter().map(|(v, _)| *v).max().unwrap_or(0);
    fc.wait_applied(newest, CONVERGE);

    let ops = history.ops();
    let summary = check_linearizable(&ops).unwrap_or_else(|e| panic!("{e}"));
    let checked = check_audits(&acked, &fc.audits()).unwrap_or_else(|e| panic!("{e}"));
    // The same final value of every key on every node, and the leader's linearizable reads
    // agree with it.
    let reference = local_values(fc.node(ids[0]));
    for id in &ids[1..] {
        assert_eq!(
            local_values(fc.node(*id)),
            reference,
            "node {id} holds other values"
        );
    }
    let leader = fc.wait_agreed_leader(&ids, ELECT);
    for (key, value) in reference.iter().take(8) {
        let (status, body) = fc
            .node(leader)
            .get(ADMIN_TOKEN, &format!("/v1/tenants/hist/lists/{key}"));
        assert_eq!(status, 200, "{body}");
        assert_eq!(value_of(body.as_bytes()), Some(*value), "{key}");
    }
    assert!(
        summary.acknowledged_writes >= 10 * rounds as usize,
        "{summary:?}"
    );
    report(
        "partitions",
        json!({
            "rounds": rounds,
            "faults_injected": fc.net.injected.load(std::sync::atomic::Ordering::Relaxed),
            "operations_checked": summary.ops,
            "acknowledged_writes": summary.acknowledged_writes,
            "unknown_writes": summary.unknown_writes,
            "reads": summary.reads,
            "keys": summary.keys,
            "write_node_pairs_in_audit": checked,
            "lost": 0,
        }),
    );
}
