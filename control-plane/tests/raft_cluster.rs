//! Three RaftStore nodes over real HTTP on 127.0.0.1: membership, replication, fail-over,
//! restart and catch-up, snapshot transfer, and the Raft endpoint's authentication.

use crate::raft_support;

use std::time::Duration;

use breakout_control::store::raft::RaftTuning;
use breakout_control::store::{Consistency, Store, StoreError};
use raft_support::*;
use tokio::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_replicate_fail_over_and_recover() {
    init_tracing();
    let tuning = RaftTuning::default();
    let dirs: Vec<_> = (1..=3).map(|id| data_dir("cluster", id)).collect();

    tracing::info!("phase: node 1 initialises, nodes 2 and 3 join");
    let n1 = start_node(1, dirs[0].clone(), false, 0, tuning.clone()).await;
    let n2 = start_node(2, dirs[1].clone(), true, 0, tuning.clone()).await;
    let n3 = start_node(3, dirs[2].clone(), true, 0, tuning.clone()).await;
    assert_eq!(wait_for_leader(&[&n1]).await, 1);
    n1.store
        .add_node(2, n2.addr.clone())
        .await
        .expect("add node 2");
    let status = n1
        .store
        .add_node(3, n3.addr.clone())
        .await
        .expect("add node 3");
    let roles: Vec<(u64, &str)> = status
        .nodes
        .iter()
        .map(|n| (n.id, n.role.as_str()))
        .collect();
    assert_eq!(roles, vec![(1, "leader"), (2, "follower"), (3, "follower")]);

    tracing::info!("phase: writes replicate to every node");
    let mut acked = Vec::new();
    for i in 0..20 {
        acked.push(write_via_leader(&[&n1, &n2, &n3], region(i)).await.version);
    }
    assert!(
        acked.windows(2).all(|w| w[0] < w[1]),
        "versions must increase: {acked:?}"
    );
    let last = *acked.last().expect("writes");
    for node in [&n1, &n2, &n3] {
        node.wait_version(last).await;
    }
    let reference = n1.stale_state().await;
    for node in [&n2, &n3] {
        let state = node.stale_state().await;
        assert_eq!(
            at_version(&state, last),
            at_version(&reference, last),
            "node {}",
            node.id
        );
    }

    tracing::info!("phase: followers refuse writes and linearizable reads, naming the leader");
    match n2.store.write(region(999)).await {
        Err(StoreError::NotLeader {
            leader_id,
            leader_api,
        }) => {
            assert_eq!(leader_id, Some(1));
            assert_eq!(leader_api.as_deref(), Some(n1.addr.api.as_str()));
        }
        other => panic!("follower write: {other:?}"),
    }
    let err = n3
        .store
        .read(Consistency::Linearizable)
        .await
        .expect_err("follower read");
    assert!(
        matches!(
            err,
            StoreError::NotLeader {
                leader_id: Some(1),
                ..
            }
        ),
        "{err:?}"
    );
    let read = n1
        .store
        .read(Consistency::Linearizable)
        .await
        .expect("leader read");
    assert!(read.version >= last);
    let status = n1.store.status().await.expect("status");
    for node in &status.nodes {
        assert!(
            node.matched.is_some() && node.lag.is_some(),
            "leader knows progress: {node:?}"
        );
    }
    let status = n2.store.status().await.expect("status");
    assert!(
        status.nodes.iter().all(|n| n.matched.is_none()),
        "followers don't: {status:?}"
    );

    tracing::info!("phase: the leader dies; a new one is elected and writes continue");
    let stopped_at = Instant::now();
    let (_, _, n1_port) = n1.stop().await;
    let leader = wait_for_leader(&[&n2, &n3]).await;
    let elected_in = stopped_at.elapsed();
    tracing::info!(leader, ?elected_in, "new leader");
    assert!(leader == 2 || leader == 3);
    assert!(
        elected_in < Duration::from_secs(5),
        "election took {elected_in:?}"
    );
    for i in 20..30 {
        acked.push(write_via_leader(&[&n2, &n3], region(i)).await.version);
    }
    let last = *acked.last().expect("writes");

    tracing::info!("phase: the old leader restarts from its data dir and catches up");
    let n1 = start_node(1, dirs[0].clone(), false, n1_port, tuning.clone()).await;
    n1.wait_version(last).await;
    let leader_node = if leader == 2 { &n2 } else { &n3 };
    leader_node.wait_version(last).await;
    let expected = at_version(&leader_node.stale_state().await, last);
    assert_eq!(
        at_version(&n1.stale_state().await, last),
        expected,
        "restarted node diverged"
    );

    tracing::info!("phase: a node is removed from the membership");
    let victim = if leader == 2 { 3 } else { 2 };
    let status = leader_node
        .store
        .remove_node(victim)
        .await
        .expect("remove node");
    let ids: Vec<u64> = status.nodes.iter().map(|n| n.id).collect();
    assert!(!ids.contains(&victim), "removed node still listed: {ids:?}");
    assert_eq!(ids.len(), 2);
    write_via_leader(&[&n1, &n2, &n3], region(1000)).await;

    for node in [n1, n2, n3] {
        node.stop().await;
    }
    cleanup(&dirs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_added_after_compaction_catches_up_from_a_snapshot() {
    init_tracing();
    let tuning = RaftTuning {
        snapshot_every: 20,
        keep_in_snapshot: 5,
        ..RaftTuning::default()
    };
    let dirs: Vec<_> = (1..=2)
        .map(|id| data_dir("snapshot-transfer", id))
        .collect();

    tracing::info!("phase: one node writes past several snapshots and purges its log");
    let n1 = start_node(1, dirs[0].clone(), false, 0, tuning.clone()).await;
    wait_for_leader(&[&n1]).await;
    let mut last = 0;
    for i in 0..70 {
        last = n1.store.write(region(i)).await.expect("write").version;
    }
    let deadline = Instant::now() + PATIENCE;
    while n1.store.metrics().purged_index.is_none() {
        assert!(
            Instant::now() < deadline,
            "log never purged: {:?}",
            n1.store.metrics()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    tracing::info!("phase: a new node joins; the purged prefix reaches it as a snapshot");
    let n2 = start_node(2, dirs[1].clone(), true, 0, tuning.clone()).await;
    n1.store
        .add_node(2, n2.addr.clone())
        .await
        .expect("add node 2");
    n2.wait_version(last).await;
    assert!(
        n2.store.metrics().snapshot_index.is_some(),
        "node 2 got no snapshot"
    );
    let expected = at_version(&n1.stale_state().await, last);
    assert_eq!(at_version(&n2.stale_state().await, last), expected);

    tracing::info!("phase: the new node restarts from its installed snapshot");
    let n2 = n2.restart(true, tuning.clone()).await;
    n2.wait_version(last).await;
    assert_eq!(at_version(&n2.stale_state().await, last), expected);
    let applied = write_via_leader(&[&n1, &n2], region(500)).await;
    n2.wait_version(applied.version).await;

    n1.stop().await;
    n2.stop().await;
    cleanup(&dirs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raft_rpcs_without_the_cluster_token_are_refused() {
    init_tracing();
    let dir = data_dir("auth", 1);
    let node = start_node(1, dir.clone(), false, 0, RaftTuning::default()).await;
    let http = breakout_control::http_client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let url = format!("http://{}/raft/vote", node.addr.raft);
    let body = serde_json::json!({});

    let missing = http.post(&url).json(&body).send().await.expect("send");
    assert_eq!(missing.status(), reqwest::StatusCode::UNAUTHORIZED);
    let wrong = http
        .post(&url)
        .bearer_auth("not-the-token")
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(wrong.status(), reqwest::StatusCode::UNAUTHORIZED);
    // With the token the request reaches Raft (and this empty body is rejected as malformed).
    let right = http
        .post(&url)
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_ne!(right.status(), reqwest::StatusCode::UNAUTHORIZED);

    node.stop().await;
    cleanup(&[dir]);
}
