//! Fixtures for the `raft_*` tests: real `RaftStore` nodes on 127.0.0.1 with ephemeral ports,
//! each serving `raft_router` over HTTP, data in unique temp dirs.
#![allow(dead_code)] // each suite module uses a different subset

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use breakout_control::state::CreateRegion;
use breakout_control::state::{Command, Request, State};
use breakout_control::store::raft::{raft_router, RaftConfig, RaftStore, RaftTuning};
use breakout_control::store::{Applied, Consistency, NodeAddr, Store, StoreError};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub const TOKEN: &str = "raft-test-cluster-token";

/// Deadline for anything a healthy cluster does (elections, replication, catch-up).
pub const PATIENCE: Duration = Duration::from_secs(20);

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// A fresh, unique data dir under the system temp dir.
pub fn data_dir(test: &str, id: u64) -> PathBuf {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!(
        "breakout-raft-{test}-{}-{nanos}-{seq}-n{id}",
        std::process::id()
    ))
}

/// One running node: its store and the HTTP server of its Raft endpoint.
pub struct TestNode {
    pub id: u64,
    pub dir: PathBuf,
    pub addr: NodeAddr,
    pub store: Arc<RaftStore>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

/// Starts node `id` on `port` (0: any free port) with its data in `dir`.
pub async fn start_node(
    id: u64,
    dir: PathBuf,
    join: bool,
    port: u16,
    tuning: RaftTuning,
) -> TestNode {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind raft listener");
    let raft_addr = listener.local_addr().expect("listener address").to_string();
    let addr = NodeAddr {
        api: format!("http://api-{id}.test:7070"),
        raft: raft_addr,
    };
    let cfg = RaftConfig {
        node_id: id,
        data_dir: dir.clone(),
        addr: addr.clone(),
        cluster_token: TOKEN.to_string(),
        join,
        hold_rpcs_while_pristine: false,
        clock: breakout_control::clock::system(),
    };
    let store = RaftStore::open_with(cfg, tuning)
        .await
        .expect("open raft store");
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let app = raft_router(Arc::clone(&store));
    let server = tokio::spawn(async move {
        let shutdown = async {
            let _ = stop_rx.await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::warn!(error = %e, "raft test server");
        }
    });
    TestNode {
        id,
        dir,
        addr,
        store,
        stop: Some(stop_tx),
        server: Some(server),
    }
}

impl TestNode {
    /// The Raft listener's port, to restart on the same address.
    pub fn port(&self) -> u16 {
        self.addr
            .raft
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("raft port")
    }

    /// Stops serving and shuts Raft down; the data dir stays for a restart.
    pub async fn stop(mut self) -> (u64, PathBuf, u16) {
        let port = self.port();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.store.shutdown().await;
        if let Some(server) = self.server.take() {
            let abort = server.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), server)
                .await
                .is_err()
            {
                tracing::warn!(id = self.id, "raft test server did not stop in time");
                abort.abort();
            }
        }
        (self.id, self.dir.clone(), port)
    }

    /// Stops the node and starts it again from its data dir, on the same address.
    pub async fn restart(self, join: bool, tuning: RaftTuning) -> TestNode {
        let (id, dir, port) = self.stop().await;
        start_node(id, dir, join, port, tuning).await
    }

    pub async fn stale_state(&self) -> Arc<State> {
        self.store
            .read(Consistency::Stale)
            .await
            .expect("stale read never fails")
    }

    /// Waits until this node has applied `version`.
    pub async fn wait_version(&self, version: u64) {
        let mut rx = self.store.subscribe();
        let reached = tokio::time::timeout(PATIENCE, rx.wait_for(|v| *v >= version))
            .await
            .is_ok_and(|r| r.is_ok());
        let now = *rx.borrow();
        assert!(
            reached,
            "node {} stuck at version {now}, wanted {version}",
            self.id
        );
    }
}

/// Removes test data dirs (best effort).
pub fn cleanup(dirs: &[PathBuf]) {
    for dir in dirs {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// A write that only needs to replicate: creating region `r<i>`.
pub fn region(i: usize) -> Request {
    Request {
        actor: "raft-test".to_string(),
        at_ms: 1_700_000_000_000,
        command: Command::CreateRegion(CreateRegion {
            name: format!("r{i}"),
            description: None,
        }),
    }
}

/// The node every live node agrees is the leader, once there is one.
pub async fn wait_for_leader(nodes: &[&TestNode]) -> u64 {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let leaders: Vec<Option<u64>> = nodes.iter().map(|n| n.store.metrics().leader).collect();
        if let Some(Some(leader)) = leaders.first() {
            let agreed = leaders.iter().all(|l| *l == Some(*leader));
            let confirmed = nodes
                .iter()
                .any(|n| n.id == *leader && n.store.metrics().is_leader);
            if agreed && confirmed {
                return *leader;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no agreed leader among live nodes: {leaders:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Writes through whichever node leads, retrying while leadership moves.
pub async fn write_via_leader(nodes: &[&TestNode], req: Request) -> Applied {
    let deadline = Instant::now() + PATIENCE;
    loop {
        for node in nodes.iter().filter(|n| n.store.metrics().is_leader) {
            match node.store.write(req.clone()).await {
                Ok(applied) => return applied,
                Err(StoreError::NotLeader { .. } | StoreError::Unavailable(_)) => {}
                Err(e) => panic!("write on node {} failed: {e}", node.id),
            }
        }
        assert!(Instant::now() < deadline, "no leader accepted a write");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `state` with its version replaced, to compare contents written at different versions.
pub fn at_version(state: &Arc<State>, version: u64) -> State {
    State {
        version,
        ..State::clone(state)
    }
}
