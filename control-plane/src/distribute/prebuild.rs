//! Every node keeps every region built, whether or not an edge of the region is connected to it,
//! so that the edges that move to it after a leader kill are answered at once. Without it a node
//! confirms an edge's content only after building its region; the node edges move to had built
//! none, built one region at a time, and the edges it had not reached by QUIC's idle timeout
//! dropped and came back (BENCHMARKS.md, "The leader kill at 1,000 × 100,000, measured").
//!
//! The work runs in the background, [`DELAY`] after the store moved, one region at a time in the
//! feed's build slots, and only while no edge's session waits for one
//! ([`super::build_slots::Priority::Background`]): what the prebuild finds built costs it a map
//! lookup, and a region a session is building is left to the session
//! ([`super::feed::RegionFeeds::prebuild`]).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::EdgeServer;
use crate::store::Consistency;

/// How long after the store moves the prebuild starts: writes that come together (an import,
/// a template change's entries) are built once. Short, so that a node is rarely in the middle
/// of a template change's builds when edges arrive: with 10 s, a leader killed a few seconds
/// after a template change left the survivors building every region while the edges came.
pub const DELAY: Duration = Duration::from_secs(2);

/// Builds every region of the node's newest state, now and `delay` after each change, until
/// `stop` turns true.
pub async fn run(server: Arc<EdgeServer>, mut stop: watch::Receiver<bool>, delay: Duration) {
    let mut versions = server.store.subscribe();
    loop {
        versions.borrow_and_update();
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = build_all(&server) => {}
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            changed = versions.changed() => if changed.is_err() { return },
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

/// Builds each region of the node's state at its version (those already built are lookups).
async fn build_all(server: &EdgeServer) {
    let Ok(state) = server.store.read(Consistency::Stale).await else {
        return;
    };
    for region in state.regions.keys() {
        let (feeds, state, name) = (
            Arc::clone(&server.feeds),
            Arc::clone(&state),
            region.clone(),
        );
        if let Err(e) = tokio::task::spawn_blocking(move || feeds.prebuild(&state, &name)).await {
            tracing::warn!(%region, error = %e, "prebuilding a region");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distribute::registry::EdgeRegistry;
    use crate::state::{Command, CreateRegion, Request};
    use crate::store::memory::MemoryStore;
    use crate::store::{NodeAddr, Store};

    async fn create_region(store: &dyn Store, name: &str) -> u64 {
        let req = Request {
            actor: "test".into(),
            at_ms: 1_736_942_400_000,
            command: Command::CreateRegion(CreateRegion {
                name: name.into(),
                description: None,
            }),
        };
        store.write(req).await.expect("written").version
    }

    /// Waits, bounded, until `region` is built at `version` on `server`.
    async fn built_at(server: &EdgeServer, region: &str, version: u64) -> bool {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let mut versions = server.store.subscribe();
        while tokio::time::Instant::now() < deadline {
            if server.feeds.cached(region).map(|b| b.version) == Some(version) {
                return true;
            }
            // Builds do not move the store: poll the cache, waking on a write too.
            let _ = tokio::time::timeout(Duration::from_millis(20), versions.changed()).await;
        }
        false
    }

    #[tokio::test]
    async fn every_region_is_built_without_an_edge_and_again_after_a_write() {
        let store = MemoryStore::new(1, NodeAddr::default());
        create_region(&*store, "tokyo").await;
        let server = Arc::new(EdgeServer::new(
            store.clone(),
            EdgeRegistry::new(1),
            "secret",
        ));
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(run(Arc::clone(&server), stop_rx, Duration::ZERO));
        let first = store.read(Consistency::Stale).await.expect("read").version;
        assert!(built_at(&server, "tokyo", first).await, "built at start");
        let second = create_region(&*store, "osaka").await;
        assert!(built_at(&server, "osaka", second).await, "a new region");
        assert!(built_at(&server, "tokyo", second).await, "the others move");
        stop_tx.send(true).expect("running");
        task.await.expect("stopped cleanly");
    }
}
