//! One RaftStore node: durability across restarts, no re-initialisation, snapshots.

use crate::raft_support;

use breakout_control::store::raft::RaftTuning;
use breakout_control::store::{Consistency, Store};
use raft_support::*;

/// Where the effective membership was written: re-initialising would write a new one.
fn membership_log_index(node: &TestNode) -> Option<u64> {
    let metrics = node.store.raft_metrics();
    let index = metrics.borrow().membership_config.log_id().map(|l| l.index);
    index
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_node_restart_keeps_acknowledged_writes_and_is_not_reinitialised() {
    init_tracing();
    let dir = data_dir("single-restart", 1);

    tracing::info!("phase: a fresh node initialises itself and accepts writes");
    let node = start_node(1, dir.clone(), false, 0, RaftTuning::default()).await;
    wait_for_leader(&[&node]).await;
    let mut last = 0;
    for i in 0..10 {
        let applied = node.store.write(region(i)).await.expect("write");
        assert!(
            applied.version > last,
            "versions must increase: {} after {last}",
            applied.version
        );
        last = applied.version;
    }
    let membership_before = membership_log_index(&node);
    let state_before = node.stale_state().await;
    assert_eq!(state_before.version, last);

    tracing::info!("phase: restart from the same dir, as if the process had died");
    let node = node.restart(false, RaftTuning::default()).await;
    node.wait_version(last).await;
    wait_for_leader(&[&node]).await;
    let membership_after = membership_log_index(&node);
    assert_eq!(
        membership_after, membership_before,
        "a restarted node must not re-initialise"
    );
    let state_after = node.stale_state().await;
    assert_eq!(
        at_version(&state_after, last),
        *state_before,
        "state changed across restart"
    );

    tracing::info!("phase: writes continue after the restart");
    let applied = node
        .store
        .write(region(100))
        .await
        .expect("write after restart");
    assert!(applied.version > last);
    let read = node
        .store
        .read(Consistency::Linearizable)
        .await
        .expect("linearizable read");
    assert!(read.version >= applied.version);

    node.stop().await;
    cleanup(&[dir]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joining_node_never_initialises_itself() {
    init_tracing();
    let dir = data_dir("join-waits", 7);
    let node = start_node(7, dir.clone(), true, 0, RaftTuning::default()).await;
    let initialised = node
        .store
        .raft()
        .is_initialized()
        .await
        .expect("raft running");
    assert!(
        !initialised,
        "a node started with join must wait to be added"
    );
    assert_eq!(node.store.metrics().leader, None);
    let err = node
        .store
        .write(region(0))
        .await
        .expect_err("no cluster to write to");
    assert!(
        err.to_string().contains("leader"),
        "unexpected error: {err}"
    );
    node.stop().await;
    cleanup(&[dir]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_and_log_compaction_survive_restart() {
    init_tracing();
    let dir = data_dir("single-snapshot", 1);
    let tuning = RaftTuning::default();
    let writes = usize::try_from(tuning.snapshot_every + 150).expect("small");

    tracing::info!(writes, "phase: write past the snapshot threshold");
    let node = start_node(1, dir.clone(), false, 0, tuning.clone()).await;
    wait_for_leader(&[&node]).await;
    let mut last = 0;
    for i in 0..writes {
        last = node.store.write(region(i)).await.expect("write").version;
    }

    tracing::info!("phase: a snapshot is built and the log before it purged");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let m = node.store.metrics();
        if m.snapshot_index.is_some() && m.purged_index.is_some() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no snapshot/purge: {m:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let state_before = node.stale_state().await;

    tracing::info!("phase: restart restores the snapshot and replays the log after it");
    let node = node.restart(false, tuning.clone()).await;
    wait_for_leader(&[&node]).await;
    node.wait_version(last).await;
    let state_after = node.stale_state().await;
    assert_eq!(
        at_version(&state_after, last),
        *state_before,
        "state changed across restart"
    );
    let applied = node
        .store
        .write(region(writes + 1))
        .await
        .expect("write after restart");
    assert!(applied.version > last);

    node.stop().await;
    cleanup(&[dir]);
}
