//! Session grants from the control plane's leader (control-plane mode only): a tenant's local
//! limit is its grant while the grant is in force, its `floor` once the grant expired unrenewed,
//! and 0 before the edge ever had one; never more than the tenant's limit in the snapshot.
//!
//! The request path only reads the limit in the tenant's `Slots` (an atomic); this module is the
//! only writer of those limits in control-plane mode: when grants arrive, when a snapshot is
//! built, and from a background task when a grant expires. A grant's lifetime is counted from
//! its receipt on this edge's monotonic clock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use breakout_policy::wire::Grants;

use crate::snapshot::Snapshot;

/// How often expiries are checked.
pub const EXPIRY_CHECK: Duration = Duration::from_millis(100);

#[derive(Clone, Copy, Debug)]
struct Held {
    epoch: u64,
    sessions: u32,
    floor: u32,
    expires: Instant,
}

/// Every tenant's grant on this edge.
#[derive(Debug, Default)]
pub struct Quotas {
    /// Off for a standalone edge: the snapshot's limit applies as is.
    enforced: AtomicBool,
    held: Mutex<HashMap<String, Held>>,
}

impl Quotas {
    /// Turns enforcement on (an edge fed by a control plane).
    pub fn enforce(&self) {
        self.enforced.store(true, Ordering::Release);
    }

    pub fn is_enforced(&self) -> bool {
        self.enforced.load(Ordering::Acquire)
    }

    /// The local limit of `tenant` whose region-wide limit is `limit`, at `now`.
    pub fn limit_for(&self, tenant: &str, limit: u32, now: Instant) -> u32 {
        if !self.is_enforced() {
            return limit;
        }
        Self::local(self.lock().get(tenant), limit, now)
    }

    fn local(held: Option<&Held>, limit: u32, now: Instant) -> u32 {
        match held {
            Some(h) if h.expires > now => h.sessions.min(limit),
            Some(h) => h.floor.min(limit),
            None => 0,
        }
    }

    /// Records grants received at `now` and applies them to `snap`'s tenants. A grant of an
    /// older epoch than the one held is ignored.
    pub fn receive(&self, grants: &Grants, now: Instant, snap: &Snapshot) {
        let mut held = self.lock();
        for (tenant, g) in &grants.grants {
            if held.get(tenant).is_some_and(|h| h.epoch > grants.epoch) {
                continue;
            }
            held.insert(
                tenant.clone(),
                Held {
                    epoch: grants.epoch,
                    sessions: g.sessions,
                    floor: g.floor,
                    expires: now + Duration::from_millis(g.ttl_ms),
                },
            );
        }
        Self::set_limits(&held, snap, now);
    }

    /// Sets every tenant's limit in `snap` from what is held at `now` (after a snapshot swap,
    /// and when grants expire).
    pub fn apply(&self, snap: &Snapshot, now: Instant) {
        if self.is_enforced() {
            Self::set_limits(&self.lock(), snap, now);
        }
    }

    fn set_limits(held: &HashMap<String, Held>, snap: &Snapshot, now: Instant) {
        for t in &snap.tenants {
            let limit = Self::local(held.get(&*t.id), t.session_limit, now);
            if t.slots.limit() != limit {
                t.slots.set_limit(limit);
            }
            t.metrics.limit.set(i64::from(limit));
        }
    }

    /// What `tenant` may admit under the last grant, for reports: (its epoch, its sessions)
    /// while in force, (its epoch, the floor) once expired (the leader counts what the edge may
    /// admit, floor included); (0, 0) before any grant.
    pub fn holding(&self, tenant: &str, now: Instant) -> (u64, u32) {
        match self.lock().get(tenant) {
            Some(h) if h.expires > now => (h.epoch, h.sessions),
            Some(h) => (h.epoch, h.floor),
            None => (0, 0),
        }
    }

    // Never held across an await; every update leaves the map whole.
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Held>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use breakout_policy::wire::Grant;

    use super::*;
    use crate::config::EdgeConfig;
    use crate::metrics::Metrics;

    fn snapshot(metrics: &Metrics, q: &Quotas) -> Snapshot {
        let text = "region = \"tokyo\"\n[[tenants]]\nid = \"a\"\nsource_cidrs = [\"10.0.0.0/8\"]\n\
                    session_limit = 100\n";
        let cfg = EdgeConfig::parse(text).expect("config");
        Snapshot::build_limited(&cfg.policy, Arc::new(cfg.settings), None, metrics, 1, q)
            .expect("build")
    }

    fn grants(epoch: u64, sessions: u32, ttl_ms: u64, floor: u32) -> Grants {
        let g = Grant {
            sessions,
            ttl_ms,
            floor,
        };
        Grants {
            epoch,
            grants: BTreeMap::from([("a".to_string(), g)]),
        }
    }

    #[test]
    fn nothing_before_a_grant_then_the_grant_then_the_floor() {
        let metrics = Metrics::new().expect("metrics");
        let q = Quotas::default();
        q.enforce();
        let snap = snapshot(&metrics, &q);
        let a = snap.tenant_by_id("a").expect("a");
        assert_eq!(a.slots.limit(), 0, "no grant yet");
        let t0 = Instant::now();
        q.receive(&grants(5, 40, 1000, 25), t0, &snap);
        assert_eq!(a.slots.limit(), 40);
        assert_eq!(q.holding("a", t0), (5, 40));
        q.receive(&grants(4, 90, 1000, 25), t0, &snap);
        assert_eq!(a.slots.limit(), 40, "an older epoch is ignored");
        q.apply(&snap, t0 + Duration::from_millis(1001));
        assert_eq!(a.slots.limit(), 25, "expired: the floor");
        assert_eq!(
            q.holding("a", t0 + Duration::from_secs(2)),
            (5, 25),
            "reported: what it may admit, the floor"
        );
        q.receive(&grants(6, 500, 1000, 25), t0, &snap);
        assert_eq!(a.slots.limit(), 100, "never above the tenant's limit");
    }

    #[test]
    fn a_standalone_edge_keeps_the_snapshot_limit() {
        let metrics = Metrics::new().expect("metrics");
        let q = Quotas::default();
        let snap = snapshot(&metrics, &q);
        assert_eq!(snap.tenant_by_id("a").expect("a").slots.limit(), 100);
    }
}
