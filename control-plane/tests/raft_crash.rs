//! `kill -9` in the middle of writing: every write acknowledged before the kill is there after
//! a restart. The node runs in a child process (this test binary, re-executed) so the kill is
//! real: no destructors, no graceful shutdown. Several writers at once, so writes share log
//! entries (group commit) and the committed id on disk lags the log (it is written with the
//! next append, never fsync'd on its own): the restart must still bring back every one.

use crate::raft_support;

use std::process::Stdio;
use std::time::Duration;

use breakout_control::store::raft::RaftTuning;
use breakout_control::store::Store;
use raft_support::*;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const CHILD_DIR_ENV: &str = "BREAKOUT_RAFT_CRASH_CHILD_DIR";
/// Past the default snapshot interval, so the restart usually also restores a snapshot.
const ACKS_BEFORE_KILL: u64 = 1_100;
/// Concurrent writers in the child.
const WRITERS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9_mid_write() {
    init_tracing();
    let dir = data_dir("crash", 1);

    tracing::info!("phase: a child process writes as fast as it can and reports each ack");
    let exe = std::env::current_exe().expect("test binary path");
    // The test's name in this binary: its module path without the crate's name.
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    let child_test = format!("{module}::child_node_writing_until_killed");
    let mut child = Command::new(exe)
        .args(["--exact", &child_test, "--ignored", "--nocapture"])
        .env(CHILD_DIR_ENV, &dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn child node");
    let stdout = child.stdout.take().expect("child stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut last_ack = 0;
    let mut acks = 0;
    let mut acked = Vec::new();
    let reading = async {
        while let Some(line) = lines.next_line().await.expect("read child stdout") {
            if let Some(v) = line.strip_prefix("ACK ") {
                let (version, i) = v.trim().split_once(' ').expect("ACK version index");
                let version: u64 = version.parse().expect("ack version");
                last_ack = last_ack.max(version);
                acked.push(i.parse::<usize>().expect("ack index"));
                acks += 1;
                if acks >= ACKS_BEFORE_KILL {
                    return;
                }
            }
        }
        panic!("child exited after {acks} acks");
    };
    tokio::time::timeout(Duration::from_secs(120), reading)
        .await
        .expect("child too slow");

    tracing::info!(last_ack, "phase: kill -9 while writes are in flight");
    child.kill().await.expect("SIGKILL the child");

    tracing::info!("phase: restart in this process; everything acknowledged is there");
    let node = start_node(1, dir.clone(), false, 0, RaftTuning::default()).await;
    node.wait_version(last_ack).await;
    wait_for_leader(&[&node]).await;
    let state = node.stale_state().await;
    let lost: Vec<usize> = acked
        .iter()
        .copied()
        .filter(|i| !state.regions.contains_key(&format!("r{i}")))
        .collect();
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
    let applied = node
        .store
        .write(region(1_000_000))
        .await
        .expect("write after crash");
    assert!(applied.version > last_ack);
    tracing::info!(metrics = ?node.store.metrics(), "after the crash");

    node.stop().await;
    cleanup(&[dir]);
}

/// The child side of the test above; does nothing unless started by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run as a child process by acknowledged_writes_survive_kill_9_mid_write"]
async fn child_node_writing_until_killed() {
    let Some(dir) = std::env::var_os(CHILD_DIR_ENV) else {
        return;
    };
    let node =
        std::sync::Arc::new(start_node(1, dir.into(), false, 0, RaftTuning::default()).await);
    wait_for_leader(&[&node]).await;
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let node = std::sync::Arc::clone(&node);
            tokio::spawn(async move {
                for k in 0.. {
                    let i = k * WRITERS + w;
                    let applied = node.store.write(region(i)).await.expect("child write");
                    // Printed only after the write was acknowledged; stdout is line-buffered.
                    println!("ACK {} {i}", applied.version);
                }
            })
        })
        .collect();
    for w in writers {
        w.await.expect("writer");
    }
}
