//! Per-region snapshots, built once per store version and shared by every edge of the region:
//! the region's policy, a digest of its content, and the encoded frame (encoded on first use).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use breakout_policy::wire::{self, Frame, SnapshotFrame};
use breakout_policy::{ForeignSources, RegionPolicy};
use sha2::{Digest, Sha256};

use super::cursor::ContentHash;
use crate::state::{region_policy, State};

/// A region's policy at one store version.
pub struct Built {
    pub version: u64,
    pub hash: ContentHash,
    policy: RegionPolicy,
    frame: OnceLock<Result<Arc<Vec<u8>>, String>>,
}

impl Built {
    /// Builds the policy of `region` from `state` (pure).
    pub fn new(state: &State, region: &str) -> Built {
        let mut policy = region_policy(state, region);
        policy.foreign_sources = foreign_sources(state, region);
        Built {
            version: state.version,
            hash: content_hash(&policy),
            policy,
            frame: OnceLock::new(),
        }
    }

    /// The snapshot frame, encoded once; an error if it exceeds the frame limit.
    pub fn frame(&self) -> Result<Arc<Vec<u8>>, String> {
        self.frame
            .get_or_init(|| {
                let frame = Frame::Snapshot(SnapshotFrame {
                    version: self.version,
                    policy: self.policy.clone(),
                });
                wire::encode(&frame, wire::MAX_FRAME)
                    .map(Arc::new)
                    .map_err(|e| format!("the snapshot of region {}: {e}", self.policy.region))
            })
            .clone()
    }
}

/// The source networks of every tenant pinned to another region than `region` (art. 5), in
/// tenant id order: an edge of `region` refuses them naming their region.
pub fn foreign_sources(state: &State, region: &str) -> Vec<ForeignSources> {
    state
        .tenants
        .values()
        .filter_map(|r| {
            let home = r.tenant.region.as_deref()?;
            (home != region && !r.tenant.source_cidrs.is_empty()).then(|| ForeignSources {
                region: home.to_string(),
                tenant: r.tenant.id.clone(),
                cidrs: r.tenant.source_cidrs.clone(),
            })
        })
        .collect()
}

/// SHA-256 of the policy's JSON without its version: equal exactly when the content is.
pub fn content_hash(policy: &RegionPolicy) -> ContentHash {
    let content = (
        &policy.schema,
        &policy.region,
        &policy.tenants,
        &policy.lists,
        &policy.foreign_sources,
    );
    // Serializing plain model types into a Vec cannot fail.
    let json = serde_json::to_vec(&content).unwrap_or_default();
    Sha256::digest(&json).into()
}

/// The newest [`Built`] of each region that exists, shared by the sessions of this node.
#[derive(Default)]
pub struct RegionFeeds {
    cache: Mutex<HashMap<String, Arc<Built>>>,
}

impl RegionFeeds {
    /// The policy of `region` at `state`'s version, built at most once per version.
    pub fn get(&self, state: &State, region: &str) -> Arc<Built> {
        if let Some(hit) = self.cached(region) {
            if hit.version == state.version {
                return hit;
            }
        }
        let built = Arc::new(Built::new(state, region));
        // Only regions that exist are cached, so a hello naming anything cannot grow the map.
        if state.regions.contains_key(region) {
            let mut cache = self.lock();
            match cache.get(region) {
                Some(old) if old.version >= built.version => {}
                _ => {
                    cache.insert(region.to_string(), Arc::clone(&built));
                }
            }
            cache.retain(|name, _| state.regions.contains_key(name));
        }
        built
    }

    fn cached(&self, region: &str) -> Option<Arc<Built>> {
        self.lock().get(region).cloned()
    }

    // Never held across an await; a panic while holding it leaves a usable cache.
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Built>>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Region;

    fn state(version: u64) -> State {
        let mut s = State {
            version,
            ..State::default()
        };
        s.regions.insert(
            "tokyo".into(),
            Region {
                name: "tokyo".into(),
                description: None,
                created_version: 1,
                changed_version: 1,
            },
        );
        s
    }

    #[test]
    fn the_hash_ignores_the_version_but_not_the_content() {
        let a = region_policy(&state(3), "tokyo");
        let b = region_policy(&state(9), "tokyo");
        assert_eq!(content_hash(&a), content_hash(&b));
        let c = region_policy(&state(9), "osaka");
        assert_ne!(content_hash(&a), content_hash(&c));
    }

    #[test]
    fn one_build_per_version_and_the_frame_carries_it() {
        let feeds = RegionFeeds::default();
        let first = feeds.get(&state(3), "tokyo");
        assert!(Arc::ptr_eq(&first, &feeds.get(&state(3), "tokyo")));
        let next = feeds.get(&state(4), "tokyo");
        assert_eq!(next.version, 4);
        let bytes = next.frame().expect("encodes");
        let (frame, _) = wire::decode(&bytes, wire::MAX_FRAME)
            .expect("decodes")
            .expect("whole");
        let Frame::Snapshot(s) = frame else {
            panic!("not a snapshot: {frame:?}")
        };
        assert_eq!((s.version, s.policy.version), (4, 4));
    }

    #[test]
    fn unknown_regions_are_built_but_not_cached() {
        let feeds = RegionFeeds::default();
        let built = feeds.get(&state(3), "nowhere");
        assert!(built.policy.tenants.is_empty());
        assert!(feeds.cached("nowhere").is_none());
    }
}
