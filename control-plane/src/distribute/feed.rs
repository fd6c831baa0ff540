//! Per-region snapshots, built once per store version and shared by every edge of the region:
//! the region's policy, a digest of its content, and the encoded frame (encoded on first use);
//! also the update frame from the previous version sent to its edges (computed on first use).
//! A snapshot is encoded only when one is sent: sessions weigh an update against the content's
//! measured size, so a write does not re-encode every region's snapshot (megabytes at fleet
//! scale) on every node.
//!
//! The policy is what the tenants' contracts give them on the state's own day
//! ([`State::policy_day`], the log's clock), never the building node's clock: every node builds
//! the same content for the same version. When a day comes on which the contracts give
//! something else, the leader writes a [`crate::state::Tick`] (see [`super::pump`]),
//! and the new version carries the new day.
//!
//! At fleet scale (docs/capacity.md, "The control plane") a version is built incrementally:
//! [`ServedCache`] keeps each served tenant between versions, a region none of whose tenants
//! changed keeps its content (only the version moves), and template lists many tenants hold
//! alike go once as the region's shared lists ([`share_lists`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock, TryLockError};
use std::time::{Duration, Instant};

use bytes::Bytes;

use breakout_policy::wire::content::Measure;
use breakout_policy::wire::{self, delta, Changes, Frame, SnapshotFrame, UpdateFrame};
use breakout_policy::{ForeignSources, RegionPolicy, SCHEMA_VERSION};

use super::build_slots::{BuildSlots, Priority};
use super::build_times::{BuildPlan, BuildTimes};
use super::cursor::ContentHash;
use super::served::ServedCache;
use super::share::{self, share_lists};
use crate::state::{foreign_sources, out_of_service, region_policy_at, State};

/// What a region's build takes from the [`ServedCache`], copied out (cheap: shared pointers
/// and the few tenants not in service) so the build runs without holding the cache.
struct Parts {
    tenants: Vec<Arc<breakout_policy::Tenant>>,
    foreign_sources: Arc<Vec<ForeignSources>>,
    out_of_service: Vec<breakout_policy::OutOfService>,
}

/// How a region's policy at a new version is made.
enum Plan {
    /// From the state alone (a state older than the cache's).
    Whole,
    /// The previous content, at the new version.
    Same(Arc<Built>),
    Parts(Parts),
}

/// A region's policy at one store version.
pub struct Built {
    pub version: u64,
    pub hash: ContentHash,
    /// The content; its `version` may be older than [`Built::version`] when the content did not
    /// change since (frames carry [`Built::version`]).
    policy: Arc<RegionPolicy>,
    /// The content's JSON length ([`Measure::len`]): the snapshot's size within
    /// its envelope, known without encoding it.
    content_len: usize,
    /// What the digest was computed from, for the next build's ([`Measure::of`]).
    measure: Option<Arc<Measure>>,
    /// Built from parts: the served tenants it was made from (what the next build from parts
    /// reuses, [`share::shared_copy`]).
    served: Option<Arc<[Arc<breakout_policy::Tenant>]>>,
    frame: OnceLock<Result<Bytes, String>>,
    /// The update frame from one base version (the one most edges of the region ask for).
    update: Mutex<Option<(u64, UpdateBytes)>>,
}

/// An encoded update frame, or `None` if there is none to send.
type UpdateBytes = Option<Bytes>;

impl Built {
    /// Builds the policy of `region` from `state` (pure): the tenants in service on the
    /// state's day, and the sources of every other tenant the region's edges must refuse by
    /// name.
    pub fn new(state: &State, region: &str) -> Built {
        let day = state.policy_day();
        let mut policy = region_policy_at(state, region, day);
        policy.foreign_sources = Arc::new(foreign_sources(state, region));
        policy.out_of_service = out_of_service(state, region, day);
        share_lists(&mut policy);
        Built::measured(policy, None, None)
    }

    /// The same from the parts a [`ServedCache`] brought to `state` keeps, reusing what
    /// `before` (the region's previous build) made of the tenants that did not change.
    fn from_parts(state: &State, region: &str, parts: Parts, before: Option<&Built>) -> Built {
        let reuse = before.and_then(|b| {
            Some(share::Before {
                served: b.served.as_deref()?,
                made: &b.policy.tenants,
                lists: &b.policy.lists,
            })
        });
        let (tenants, lists) = share::shared_copy(&parts.tenants, &BTreeMap::new(), reuse);
        let policy = RegionPolicy {
            schema: SCHEMA_VERSION,
            version: state.version,
            region: region.to_string(),
            tenants,
            lists,
            foreign_sources: parts.foreign_sources,
            out_of_service: parts.out_of_service,
        };
        Built::measured(policy, before, Some(parts.tenants.into()))
    }

    fn measured(
        policy: RegionPolicy,
        before: Option<&Built>,
        served: Option<Arc<[Arc<breakout_policy::Tenant>]>>,
    ) -> Built {
        // Serializing plain model types cannot fail (the same values go into every frame).
        let measure = Measure::of(&policy, before.and_then(|b| b.measure.as_deref())).map(Arc::new);
        let (hash, content_len) = measure
            .as_ref()
            .map(|m| (m.digest, m.len))
            .unwrap_or_default();
        Built {
            version: policy.version,
            hash,
            content_len,
            measure,
            served,
            policy: Arc::new(policy),
            frame: OnceLock::new(),
            update: Mutex::new(None),
        }
    }

    /// `prev`'s content at `version` (nothing of the region changed since `prev`).
    fn same_content(prev: &Built, version: u64) -> Built {
        Built {
            version,
            hash: prev.hash,
            content_len: prev.content_len,
            measure: prev.measure.clone(),
            served: prev.served.clone(),
            policy: Arc::clone(&prev.policy),
            frame: OnceLock::new(),
            update: Mutex::new(None),
        }
    }

    /// The policy as sent at this version.
    pub fn policy(&self) -> RegionPolicy {
        let mut policy = (*self.policy).clone();
        policy.version = self.version;
        policy
    }

    /// The snapshot frame, encoded once (every session writes these same bytes); an error if it
    /// exceeds the frame limit.
    pub fn frame(&self) -> Result<Bytes, String> {
        self.frame
            .get_or_init(|| {
                let frame = Frame::Snapshot(SnapshotFrame {
                    version: self.version,
                    policy: self.policy(),
                });
                wire::encode(&frame, wire::MAX_FRAME)
                    .map(Bytes::from)
                    .map_err(|e| format!("the snapshot of region {}: {e}", self.policy.region))
            })
            .clone()
    }

    /// The snapshot's size: exact once encoded (`usize::MAX` if it cannot be), else the
    /// content's measured size.
    pub fn snapshot_size(&self) -> usize {
        match self.frame.get() {
            Some(Ok(bytes)) => bytes.len(),
            Some(Err(_)) => usize::MAX,
            None => self.content_len,
        }
    }

    /// The snapshot frame, encoded on a blocking thread if it is not yet (megabytes of JSON at
    /// fleet scale would stall an async worker's connections).
    pub async fn frame_off_runtime(self: &Arc<Self>) -> Result<Bytes, String> {
        if let Some(done) = self.frame.get() {
            return done.clone();
        }
        let built = Arc::clone(self);
        tokio::task::spawn_blocking(move || built.frame())
            .await
            .map_err(|e| {
                format!(
                    "encoding the snapshot of region {}: {e}",
                    self.policy.region
                )
            })?
    }

    /// An update from `from` to this version without changes: confirms the content of an edge
    /// that announced this very content at `from` (not cached: it is a few hundred bytes).
    pub fn confirm_frame(&self, from: u64) -> Result<Bytes, String> {
        let frame = Frame::Update(UpdateFrame {
            from,
            to: self.version,
            changes: Changes::none(&self.policy, self.version),
        });
        wire::encode(&frame, wire::MAX_FRAME)
            .map(Bytes::from)
            .map_err(|e| format!("an empty update of region {}: {e}", self.policy.region))
    }

    /// The update frame from `base` to this version, computed once per base; `None` if it
    /// cannot be encoded or, as a safety net, if applying it would not give this policy.
    pub fn update_frame(&self, base: &Built) -> Option<Bytes> {
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

    fn encode_update(&self, base: &Built) -> Option<Bytes> {
        if base.version >= self.version || base.policy.region != self.policy.region {
            return None;
        }
        let mut changes = delta::diff(&base.policy, &self.policy);
        changes.version = self.version;
        let mut made = delta::apply(&base.policy, &changes);
        made.version = self.policy.version;
        if made != *self.policy {
            tracing::warn!(region = %self.policy.region, from = base.version, to = self.version,
                "a delta does not reproduce the policy; sending snapshots");
            return None;
        }
        let frame = Frame::Update(UpdateFrame {
            from: base.version,
            to: self.version,
            changes,
        });
        wire::encode(&frame, wire::MAX_FRAME).ok().map(Bytes::from)
    }
}

/// The newest [`Built`] of each region that exists, shared by the sessions of this node, and
/// the served tenants they are built from.
#[derive(Default)]
pub struct RegionFeeds {
    cache: Mutex<HashMap<String, Arc<Built>>>,
    served: Mutex<ServedCache>,
    /// One build at a time per region (the sessions of a region all need the same one), while
    /// regions build side by side: a template change rebuilds every region.
    building: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    slots: BuildSlots,
    times: Option<BuildTimes>,
}

impl RegionFeeds {
    /// Feeds that record each build's time in `times` (`/metrics`).
    pub fn with_build_times(times: BuildTimes) -> RegionFeeds {
        RegionFeeds {
            times: Some(times),
            ..RegionFeeds::default()
        }
    }

    /// The policy of `region` at `state`'s version, built at most once per version; or at a
    /// newer version, if one is built already.
    pub fn get(&self, state: &State, region: &str) -> Arc<Built> {
        if let Some(hit) = self.hit(state, region) {
            return hit;
        }
        // Only regions that exist are cached, so a hello naming anything cannot grow the map.
        if !state.regions.contains_key(region) {
            return Arc::new(Built::new(state, region));
        }
        let gate = self.gate(state, region);
        let _building = gate.lock().unwrap_or_else(|e| e.into_inner());
        self.build_gated(state, region, true)
    }

    /// Builds `region` at `state`'s version for no one yet ([`super::prebuild`]): true if it is
    /// built, now or before. Its slot is taken before the region's gate, and the gate only if
    /// free, so that a session of the region never waits behind a build that waits for a slot;
    /// a region a session is building is left to it (false).
    pub fn prebuild(&self, state: &State, region: &str) -> bool {
        if self.hit(state, region).is_some() {
            return true;
        }
        if !state.regions.contains_key(region) {
            return false;
        }
        self.slots.run(Priority::Background, || {
            let gate = self.gate(state, region);
            let _building = match gate.try_lock() {
                Ok(held) => held,
                Err(TryLockError::Poisoned(e)) => e.into_inner(),
                Err(TryLockError::WouldBlock) => return false,
            };
            self.build_gated(state, region, false);
            true
        })
    }

    /// The region built at `state`'s version or a newer one (what another session read since):
    /// as good to send, an edge's versions only moving forward, and no build.
    fn hit(&self, state: &State, region: &str) -> Option<Arc<Built>> {
        self.cached(region).filter(|b| b.version >= state.version)
    }

    /// Builds `region` at `state`'s version unless built already, the caller holding the
    /// region's gate; in a build slot of its own if `take_slot` (a prebuild holds one already).
    fn build_gated(&self, state: &State, region: &str, take_slot: bool) -> Arc<Built> {
        let prev = self.cached(region);
        let before = prev.clone();
        if let Some(hit) = prev.as_ref().filter(|b| b.version >= state.version) {
            // Another session of the region built it, or a newer one, while this one waited.
            // (Building this older version would have to be whole: the served cache moved on.
            // In a fleet's reconnect, with versions moving, sessions that read just before
            // another each did that, a walk over every tenant apiece.)
            return Arc::clone(hit);
        }
        let planning = Instant::now();
        let plan = {
            // Held while the cache is brought to the state and the region's parts copied out,
            // not while the region is built.
            let mut served = self.served.lock().unwrap_or_else(|e| e.into_inner());
            served.advance(state);
            if served.version() != state.version {
                // An older state than the cache's (a session that read before another): build
                // it whole rather than move the cache back.
                Plan::Whole
            } else {
                let current = prev.filter(|p| {
                    p.version < state.version && p.version >= served.unchanged_since(region)
                });
                match current {
                    Some(p) => Plan::Same(p),
                    None => Plan::Parts(Parts {
                        tenants: served.region_tenants(region),
                        foreign_sources: served.foreign_sources(state, region),
                        out_of_service: served.out_of_service(region),
                    }),
                }
            }
        };
        let planned = planning.elapsed();
        let built = Arc::new(match plan {
            Plan::Whole => self.in_slot(take_slot, || {
                self.timed(BuildPlan::Whole, planned, || Built::new(state, region))
            }),
            Plan::Same(p) => Built::same_content(&p, state.version),
            Plan::Parts(parts) => self.in_slot(take_slot, || {
                self.timed(BuildPlan::Parts, planned, || {
                    Built::from_parts(state, region, parts, before.as_deref())
                })
            }),
        });
        let mut cache = self.lock();
        match cache.get(region) {
            Some(old) if old.version >= built.version => {}
            _ => {
                cache.insert(region.to_string(), Arc::clone(&built));
            }
        }
        cache.retain(|name, _| state.regions.contains_key(name));
        built
    }

    /// Runs `build`, recording its time with the `planned` time before it (without the wait
    /// for a build slot: what the build itself costs).
    fn timed(&self, plan: BuildPlan, planned: Duration, build: impl FnOnce() -> Built) -> Built {
        let started = Instant::now();
        let built = build();
        if let Some(times) = &self.times {
            times.observe(plan, planned + started.elapsed());
        }
        built
    }

    fn in_slot(&self, take_slot: bool, build: impl FnOnce() -> Built) -> Built {
        if take_slot {
            self.slots.run(Priority::Urgent, build)
        } else {
            build()
        }
    }

    fn gate(&self, state: &State, region: &str) -> Arc<Mutex<()>> {
        let mut gates = self.building.lock().unwrap_or_else(|e| e.into_inner());
        gates.retain(|name, _| state.regions.contains_key(name));
        Arc::clone(gates.entry(region.to_string()).or_default())
    }

    /// The policy of `region` at `state`'s version, without blocking an async worker: a hit in
    /// the cache is returned at once, a build (which holds the
    /// feed's lock, and takes milliseconds to seconds at fleet scale) runs on a blocking thread.
    /// Async workers waiting on that lock would stop every connection's I/O on the node, the QUIC
    /// endpoint's included, which is what a fleet reconnect after a leader kill did.
    /// An error if the build failed (panicked) or the runtime is shutting down.
    pub async fn get_off_runtime(
        self: &Arc<Self>,
        state: Arc<State>,
        region: &str,
    ) -> Result<Arc<Built>, String> {
        if let Some(hit) = self.hit(&state, region) {
            return Ok(hit);
        }
        let feeds = Arc::clone(self);
        let name = region.to_string();
        tokio::task::spawn_blocking(move || feeds.get(&state, &name))
            .await
            .map_err(|e| format!("building region {region}: {e}"))
    }

    pub(super) fn cached(&self, region: &str) -> Option<Arc<Built>> {
        self.lock().get(region).cloned()
    }

    // Never held across an await; a panic while holding it leaves a usable cache.
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Built>>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests;
