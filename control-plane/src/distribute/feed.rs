//! Per-region snapshots, built once per store version and shared by every edge of the region:
//! the region's policy, a digest of its content, and the encoded frame (encoded on first use);
//! also the update frame from the previous version sent to its edges (computed on first use).
//!
//! The policy is what the tenants' contracts give them on the state's own day
//! ([`State::policy_day`], the log's clock), never the building node's clock: every node builds
//! the same content for the same version. When a day comes on which the contracts give
//! something else, the leader writes a [`crate::state::Tick`] (see [`super::pump`]),
//! and the new version carries the new day.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use breakout_policy::wire::{self, delta, Frame, SnapshotFrame, UpdateFrame};
use breakout_policy::{ForeignSources, RegionPolicy};

use super::cursor::ContentHash;
use crate::state::{out_of_service, region_policy_at, State};

/// A region's policy at one store version.
pub struct Built {
    pub version: u64,
    pub hash: ContentHash,
    policy: RegionPolicy,
    frame: OnceLock<Result<Arc<Vec<u8>>, String>>,
    /// The update frame from one base version (the one most edges of the region ask for).
    update: Mutex<Option<(u64, UpdateBytes)>>,
}

/// An encoded update frame, or `None` if there is none to send.
type UpdateBytes = Option<Arc<Vec<u8>>>;

impl Built {
    /// Builds the policy of `region` from `state` (pure): the tenants in service on the
    /// state's day, and the sources of every other tenant the region's edges must refuse by
    /// name.
    pub fn new(state: &State, region: &str) -> Built {
        let day = state.policy_day();
        let mut policy = region_policy_at(state, region, day);
        policy.foreign_sources = foreign_sources(state, region);
        policy.out_of_service = out_of_service(state, region, day);
        Built {
            version: state.version,
            hash: content_hash(&policy),
            policy,
            frame: OnceLock::new(),
            update: Mutex::new(None),
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

    /// The update frame from `base` to this version, computed once per base; `None` if it
    /// cannot be encoded or, as a safety net, if applying it would not give this policy.
    pub fn update_frame(&self, base: &Built) -> Option<Arc<Vec<u8>>> {
        // Never held across an await; a panic while holding it leaves a usable cache.
        let mut slot = self.update.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((from, bytes)) = &*slot {
            if *from == base.version {
                return bytes.clone();
            }
        }
        let bytes = self.encode_update(base);
        *slot = Some((base.version, bytes.clone()));
        bytes
    }

    fn encode_update(&self, base: &Built) -> Option<Arc<Vec<u8>>> {
        if base.version >= self.version || base.policy.region != self.policy.region {
            return None;
        }
        let changes = delta::diff(&base.policy, &self.policy);
        if delta::apply(&base.policy, &changes) != self.policy {
            tracing::warn!(region = %self.policy.region, from = base.version, to = self.version,
                "a delta does not reproduce the policy; sending snapshots");
            return None;
        }
        let frame = Frame::Update(UpdateFrame {
            from: base.version,
            to: self.version,
            changes,
        });
        wire::encode(&frame, wire::MAX_FRAME).ok().map(Arc::new)
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
        &policy.out_of_service,
    );
    // Serializing plain model types into a Vec cannot fail.
    let json = serde_json::to_vec(&content).unwrap_or_default();
    crate::crypto::sha256(&json)
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
    use breakout_policy::Tenant;
    use chrono::NaiveDate;

    use super::*;
    use crate::state::{
        apply, serve_commands, Command, ContractChange, CreateRegion, CreateTenant, Outcome,
        Request, Tick,
    };

    /// Applies commands as consecutive log entries, each on its day.
    struct Log(State);

    impl Log {
        fn new() -> Self {
            let mut log = Log(State::default());
            log.on("2025-01-15", region("tokyo"));
            log.on("2025-01-15", region("osaka"));
            log
        }

        fn on(&mut self, day: &str, command: Command) -> u64 {
            let d: NaiveDate = day.parse().expect("a day");
            let noon = d.and_hms_opt(12, 0, 0).expect("noon").and_utc();
            let req = Request {
                actor: "test".into(),
                at_ms: u64::try_from(noon.timestamp_millis()).expect("after 1970"),
                command,
            };
            let index = self.0.version + 1;
            let outcome = apply(&mut self.0, index, &req);
            assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
            index
        }
    }

    fn region(name: &str) -> Command {
        Command::CreateRegion(CreateRegion {
            name: name.into(),
            description: None,
        })
    }

    fn tenant(id: &str, region: &str, cidr: &str) -> Command {
        let tenant: Tenant = serde_json::from_value(serde_json::json!({
            "id": id, "region": region, "source_cidrs": [cidr], "session_limit": 1
        }))
        .expect("a tenant");
        Command::CreateTenant(CreateTenant { tenant })
    }

    fn ids(built: &Built) -> Vec<&str> {
        built.policy.tenants.iter().map(|t| t.id.as_str()).collect()
    }

    #[test]
    fn the_hash_ignores_the_version_but_not_the_content() {
        let mut log = Log::new();
        let a = Built::new(&log.0, "tokyo");
        log.on("2025-01-15", region("nagoya"));
        let b = Built::new(&log.0, "tokyo");
        assert_eq!((a.version + 1, a.hash), (b.version, b.hash));
        assert_ne!(a.hash, Built::new(&log.0, "osaka").hash);
    }

    #[test]
    fn one_build_per_version_and_the_frame_carries_it() {
        let mut log = Log::new();
        let feeds = RegionFeeds::default();
        let first = feeds.get(&log.0, "tokyo");
        assert!(Arc::ptr_eq(&first, &feeds.get(&log.0, "tokyo")));
        let v = log.on("2025-01-15", region("nagoya"));
        let next = feeds.get(&log.0, "tokyo");
        assert_eq!(next.version, v);
        let bytes = next.frame().expect("encodes");
        let (frame, _) = wire::decode(&bytes, wire::MAX_FRAME)
            .expect("decodes")
            .expect("whole");
        let Frame::Snapshot(s) = frame else {
            panic!("not a snapshot: {frame:?}")
        };
        assert_eq!((s.version, s.policy.version), (v, v));
    }

    #[test]
    fn the_update_frame_turns_the_previous_policy_into_the_new_one() {
        let mut log = Log::new();
        for (i, id) in ["acme", "beta", "core", "dyna"].into_iter().enumerate() {
            log.on("2025-01-15", tenant(id, "tokyo", &format!("10.{i}.0.0/16")));
            for c in serve_commands(id, 20_000) {
                log.on("2025-01-15", c);
            }
        }
        let old = Built::new(&log.0, "tokyo");
        log.on("2025-01-15", tenant("kobe", "osaka", "10.9.0.0/16"));
        let new = Built::new(&log.0, "tokyo");
        let bytes = new.update_frame(&old).expect("an update");
        let again = new.update_frame(&old).expect("cached");
        assert!(Arc::ptr_eq(&bytes, &again));
        let snapshot = new.frame().expect("encodes");
        assert!(
            super::super::cursor::prefer_update(bytes.len(), snapshot.len()),
            "{} vs {}",
            bytes.len(),
            snapshot.len()
        );
        let (frame, _) = wire::decode(&bytes, wire::MAX_FRAME)
            .expect("decodes")
            .expect("whole");
        let Frame::Update(u) = frame else {
            panic!("not an update: {frame:?}")
        };
        assert_eq!((u.from, u.to), (old.version, new.version));
        assert!(u.changes.tenants.is_empty(), "only foreign sources changed");
        assert_eq!(delta::apply(&old.policy, &u.changes), new.policy);
        // Never backwards, never across regions.
        assert!(old.update_frame(&new).is_none());
        assert!(new.update_frame(&Built::new(&log.0, "osaka")).is_none());
    }

    #[test]
    fn unknown_regions_are_built_but_not_cached() {
        let feeds = RegionFeeds::default();
        let built = feeds.get(&Log::new().0, "nowhere");
        assert!(built.policy.tenants.is_empty());
        assert!(feeds.cached("nowhere").is_none());
    }

    #[test]
    fn edges_get_only_tenants_in_service_and_refuse_the_others_by_name() {
        let mut log = Log::new();
        log.on("2025-01-15", tenant("acme", "tokyo", "10.0.0.0/16"));
        log.on("2025-01-15", tenant("beta", "tokyo", "10.1.0.0/16"));
        log.on("2025-01-15", tenant("kobe", "osaka", "10.9.0.0/16"));
        for c in serve_commands("acme", 40_000) {
            log.on("2025-01-15", c);
        }
        let built = Built::new(&log.0, "tokyo");
        assert_eq!(ids(&built), ["acme"]);
        assert_eq!(built.policy.tenants[0].session_limit, 40_000);
        let out = &built.policy.out_of_service;
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].tenant, "beta");
        assert_eq!(
            out[0].reason,
            "art. 6-1: no list-template contract in force; art. 6-1: no cloud-bypass or \
             external-integration contract in force"
        );
        assert_eq!(built.policy.foreign_sources[0].tenant, "kobe");
        breakout_policy::validate::validate(&built.policy).expect("valid");

        // beta gets its contracts: served, and no longer refused by name.
        for c in serve_commands("beta", 20_000) {
            log.on("2025-01-16", c);
        }
        let built = Built::new(&log.0, "tokyo");
        assert_eq!(ids(&built), ["acme", "beta"]);
        assert!(built.policy.out_of_service.is_empty());
    }

    #[test]
    fn a_day_change_is_a_new_version_with_new_content_and_a_no_op_tick_is_not() {
        let mut log = Log::new();
        log.on("2025-01-15", tenant("acme", "tokyo", "10.0.0.0/16"));
        for c in serve_commands("acme", 40_000) {
            log.on("2025-01-15", c);
        }
        let capacity = crate::contracts::ContractRequest::ChangeCapacity {
            contract: "c2".into(),
            capacity: 120_000,
            effective: Some("2025-02-01".parse().expect("a day")),
        };
        log.on(
            "2025-01-15",
            Command::Contract(ContractChange {
                tenant: "acme".into(),
                request: capacity,
            }),
        );
        let limit = |b: &Built| b.policy.tenants[0].session_limit;
        let before = Built::new(&log.0, "tokyo");
        assert_eq!(limit(&before), 40_000);

        // A tick on a day that changes nothing: a new version, the same content (not resent).
        let day = |d: &str| {
            Command::Tick(Tick {
                day: d.parse().expect("a day"),
            })
        };
        log.on("2025-01-20", day("2025-01-20"));
        let same = Built::new(&log.0, "tokyo");
        assert_eq!(
            (same.version > before.version, same.hash),
            (true, before.hash)
        );

        // The tick of Feb 1: the new item reaches the edges at that version.
        log.on("2025-02-01", day("2025-02-01"));
        let after = Built::new(&log.0, "tokyo");
        assert_ne!(after.hash, before.hash);
        assert_eq!(limit(&after), 120_000);
    }
}
