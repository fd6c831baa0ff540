//! Distribution to edges over QUIC (see `docs/distribution.md`).
//!
//! Every node, leader or follower, serves edges from its own applied state: an edge says hello
//! with the version it has, and gets its region's whole policy at a version at least that new
//! (this node waits to catch up first; [`cursor`]), then a new snapshot whenever the store moves
//! and the region's content changed ([`feed`]). An edge whose hello announced the content the
//! region has now gets an empty update instead of the first snapshot ([`starts`] counts which).
//! Acks, nacks and reports land in the in-memory [`registry`] that `GET /v1/edges` reads.

mod build_slots;
pub mod build_times;
pub mod cursor;
pub mod day_tick;
pub mod devca;
pub mod feed;
mod io;
pub mod leases;
mod prebuild;
pub mod pump;
pub mod refusals;
pub mod registry;
mod served;
mod session;
pub mod share;
pub mod starts;
pub mod tls;
pub mod udp;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use breakout_policy::wire::Hello;
use tokio::sync::watch;

use self::build_times::BuildTimes;
use self::feed::RegionFeeds;
use self::registry::EdgeRegistry;
use self::starts::{SessionStarts, Start};
use crate::clock::{self, SharedClock};
use crate::crypto::{constant_time_eq, sha256};
use crate::store::Store;

pub use self::session::check_hello_fields;

/// Spins until `ready` (another thread got somewhere), failing with `what` after ten seconds
/// rather than hanging the test.
#[cfg(test)]
fn spin_until(what: &str, ready: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !ready() {
        assert!(std::time::Instant::now() < deadline, "{what}");
        std::thread::yield_now();
    }
}

/// What the edge endpoint of one node shares between its connections.
pub struct EdgeServer {
    store: Arc<dyn Store>,
    registry: Arc<EdgeRegistry>,
    feeds: Arc<RegionFeeds>,
    key: [u8; 32],
    /// Per-region credentials: an edge of a region listed here must present that region's token
    /// (the shared one is refused for it), so a leaked token exposes one region only.
    region_keys: BTreeMap<String, [u8; 32]>,
    /// Stamps what edges report and when they connected.
    clock: SharedClock,
    /// How sessions started (snapshot or empty update), if exported.
    starts: Option<SessionStarts>,
}

impl EdgeServer {
    /// `edge_token` is the credential edges present in their hello (only its hash is kept).
    pub fn new(store: Arc<dyn Store>, registry: Arc<EdgeRegistry>, edge_token: &str) -> Self {
        EdgeServer {
            store,
            registry,
            feeds: Arc::default(),
            key: sha256(edge_token.as_bytes()),
            region_keys: BTreeMap::new(),
            clock: clock::system(),
            starts: None,
        }
    }

    /// Counts sessions by their first send in `starts`
    /// (`breakout_control_edge_session_starts_total`).
    pub fn with_session_starts(mut self, starts: SessionStarts) -> Self {
        self.starts = Some(starts);
        self
    }

    /// Records each region build's time in `times` (`breakout_control_region_build_seconds`).
    /// Before any session: the feeds are replaced.
    pub fn with_build_times(mut self, times: BuildTimes) -> Self {
        self.feeds = Arc::new(RegionFeeds::with_build_times(times));
        self
    }

    fn started(&self, start: Start) {
        if let Some(starts) = &self.starts {
            starts.count(start);
        }
    }

    /// Uses `clock` instead of the system clock.
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Adds per-region edge tokens (region → token); those regions no longer accept the shared one.
    pub fn with_region_tokens(mut self, tokens: &BTreeMap<String, String>) -> Self {
        self.region_keys = tokens
            .iter()
            .map(|(region, token)| (region.clone(), sha256(token.as_bytes())))
            .collect();
        self
    }

    /// Whether `hello` may go on: its token (compared in constant time over digests, so neither
    /// contents nor length leak) and its fields.
    pub fn check_hello(&self, hello: &Hello) -> Result<(), String> {
        let presented = sha256(hello.token.as_bytes());
        let expected = self.region_keys.get(&hello.region).unwrap_or(&self.key);
        if !constant_time_eq(&presented, expected) {
            return Err("unauthorized: wrong edge token".into());
        }
        check_hello_fields(hello)
    }
}

/// Accepts edges on `endpoint` until `stop` turns true, then closes every connection.
pub async fn serve(
    endpoint: quinn::Endpoint,
    server: Arc<EdgeServer>,
    mut stop: watch::Receiver<bool>,
) {
    let prebuild = tokio::spawn(prebuild::run(
        Arc::clone(&server),
        stop.clone(),
        prebuild::DELAY,
    ));
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            incoming = endpoint.accept() => match incoming {
                Some(incoming) => {
                    tokio::spawn(session::serve_edge(Arc::clone(&server), incoming));
                }
                None => break,
            },
        }
    }
    endpoint.close(0u32.into(), b"shutting down");
    prebuild.abort();
    let _ = tokio::time::timeout(Duration::from_secs(2), endpoint.wait_idle()).await;
}

#[cfg(test)]
mod tests {
    use breakout_policy::wire::PROTOCOL_VERSION;

    use super::*;
    use crate::store::memory::MemoryStore;
    use crate::store::NodeAddr;

    fn hello(token: &str) -> Hello {
        Hello {
            protocol: PROTOCOL_VERSION,
            edge_id: "edge-1".into(),
            region: "tokyo".into(),
            last_version: 0,
            token: token.into(),
            updates: true,
            content_sha256: None,
        }
    }

    #[test]
    fn hellos_need_the_token_the_protocol_and_sane_names() {
        let store = MemoryStore::new(1, NodeAddr::default());
        let server = EdgeServer::new(store, EdgeRegistry::new(1), "edge-secret");
        assert_eq!(server.check_hello(&hello("edge-secret")), Ok(()));
        let err = server
            .check_hello(&hello("edge-secret "))
            .expect_err("token");
        assert!(err.starts_with("unauthorized"), "{err}");
        let mut h = hello("edge-secret");
        h.protocol = 2;
        assert!(server.check_hello(&h).is_err());
        let mut h = hello("edge-secret");
        h.edge_id = "has space".into();
        assert!(server.check_hello(&h).is_err());
        let mut h = hello("edge-secret");
        h.region = "Tokyo".into();
        assert!(server.check_hello(&h).is_err());
    }

    #[test]
    fn a_region_with_its_own_token_refuses_the_shared_one() {
        let store = MemoryStore::new(1, NodeAddr::default());
        let tokens = BTreeMap::from([("tokyo".to_string(), "tokyo-secret".to_string())]);
        let server =
            EdgeServer::new(store, EdgeRegistry::new(1), "edge-secret").with_region_tokens(&tokens);
        assert_eq!(server.check_hello(&hello("tokyo-secret")), Ok(()));
        assert!(server.check_hello(&hello("edge-secret")).is_err());
        let mut osaka = hello("edge-secret");
        osaka.region = "osaka".into();
        assert_eq!(
            server.check_hello(&osaka),
            Ok(()),
            "other regions keep the shared token"
        );
        osaka.token = "tokyo-secret".into();
        assert!(
            server.check_hello(&osaka).is_err(),
            "a region's token is good for it alone"
        );
    }
}
