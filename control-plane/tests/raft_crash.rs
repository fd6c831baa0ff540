//! `kill -9` in the middle of writing: every write acknowledged before the kill is there after
//! a restart. The node runs in a child process (this test binary, re-executed) so the kill is
//! real: no destructors, no graceful shutdown.

mod raft_support;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9_mid_write() {
    init_tracing();
    let dir = data_dir("crash", 1);

    tracing::info!("phase: a child process writes as fast as it can and reports each ack");
    let exe = std::env::current_exe().expect("test binary path");
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "child_node_writing_until_killed",
            "--ignored",
            "--nocapture",
        ])
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
    let reading = async {
        while let Some(line) = lines.next_line().await.expect("read child stdout") {
            if let Some(v) = line.strip_prefix("ACK ") {
                last_ack = v.trim().parse().expect("ack version");
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
    let node = start_node(1, dir.into(), false, 0, RaftTuning::default()).await;
    wait_for_leader(&[&node]).await;
    for i in 0.. {
        let applied = node.store.write(region(i)).await.expect("child write");
        // Printed only after the write was acknowledged; stdout is line-buffered.
        println!("ACK {}", applied.version);
    }
}
