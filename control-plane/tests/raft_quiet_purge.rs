//! A Raft log that ends past its byte budget after large writes, but smaller than the last
//! snapshot, is snapshotted and purged once it stops growing (`store/raft/compact.rs`, the
//! quiet rule). Before that rule the log kept such a tail for good: the fleet simulator's import
//! left its last ≈ 30 MiB in every node's log, and a new leader re-sent it to its followers
//! while the edges reconnected (BENCHMARKS.md, "A log that does not keep an import's entries").

use crate::raft_support;

use breakout_control::state::{Command, CreateRegion, Request};
use breakout_control::store::raft::RaftTuning;
use breakout_control::store::Store;
use raft_support::*;
use tokio::time::{Duration, Instant};

/// Bytes of each large write: the size of an import's parts.
const PART: usize = 2 * 1024 * 1024;

/// The snapshot's writes (≈ 32 MiB) and then the log's (≈ 20 MiB): past the 16 MiB budget,
/// and smaller than the snapshot, so only the quiet rule can compact it.
const BEFORE: usize = 16;
const AFTER: usize = 10;

/// How long the node may take: the quiet period (10 s), a compaction tick (2 s), a snapshot of
/// ≈ 52 MiB in a debug build on a loaded machine.
const QUIET_PATIENCE: Duration = Duration::from_secs(90);

fn part(i: usize) -> Request {
    Request {
        actor: "raft-test".to_string(),
        at_ms: 1_700_000_000_000,
        command: Command::CreateRegion(CreateRegion {
            name: format!("part-{i}"),
            description: Some("x".repeat(PART)),
        }),
    }
}

/// Waits until `done` holds for the node's Raft metrics, or fails naming `what`.
async fn wait_for(
    node: &TestNode,
    what: &str,
    patience: Duration,
    done: impl Fn(&Summary) -> bool,
) {
    let deadline = Instant::now() + patience;
    loop {
        let m = node.store.metrics();
        if done(&m) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within {patience:?}: {m:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

type Summary = breakout_control::store::raft::RaftSummary;

/// Asks for a snapshot until one covers `index`. The node's own compaction task snapshots
/// during the large writes too (they pass the log's byte budget), and openraft drops a
/// trigger that arrives while a snapshot is being built: that one may stop short of `index`.
async fn snapshot_through(node: &TestNode, index: u64) {
    const ASK_AGAIN: Duration = Duration::from_secs(1);
    let deadline = Instant::now() + PATIENCE;
    let mut asked: Option<Instant> = None;
    loop {
        let m = node.store.metrics();
        if m.snapshot_index >= Some(index) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "a snapshot through {index}: not within {PATIENCE:?}: {m:?}"
        );
        if asked.is_none_or(|at| at.elapsed() >= ASK_AGAIN) {
            node.store
                .raft()
                .trigger()
                .snapshot()
                .await
                .expect("snapshot");
            asked = Some(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_log_that_stopped_growing_is_purged_even_below_the_snapshot() {
    init_tracing();
    let dir = data_dir("quiet-purge", 1);
    let node = start_node(1, dir.clone(), false, 0, RaftTuning::default()).await;
    wait_for_leader(&[&node]).await;

    tracing::info!("phase: a large state, snapshotted and purged");
    for i in 0..BEFORE {
        node.store.write(part(i)).await.expect("large write");
    }
    let applied = node.store.metrics().applied_index.expect("applied");
    snapshot_through(&node, applied).await;
    let covered = node.store.metrics().snapshot_index.expect("snapshot index");
    node.store
        .raft()
        .trigger()
        .purge_log(covered)
        .await
        .expect("purge");
    wait_for(&node, "the purge", PATIENCE, |m| {
        m.purged_index >= Some(covered)
    })
    .await;

    tracing::info!("phase: a burst of large writes, then nothing");
    for i in BEFORE..BEFORE + AFTER {
        node.store.write(part(i)).await.expect("large write");
    }
    let last = node.store.metrics().applied_index.expect("applied");
    wait_for(&node, "the quiet log's purge", QUIET_PATIENCE, |m| {
        m.purged_index >= Some(last)
    })
    .await;
    // Purged only behind a snapshot that covers it: the state is all still there.
    let state = node.stale_state().await;
    assert_eq!(
        (0..BEFORE + AFTER)
            .filter(|i| state.regions.contains_key(&format!("part-{i}")))
            .count(),
        BEFORE + AFTER
    );
    node.stop().await;
    cleanup(&[dir]);
}
