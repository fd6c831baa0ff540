//! Session grants from the control plane's leader (control-plane mode only): a tenant's local
//! limit is its grant while the grant is in force, its `floor` once the grant expired unrenewed,
//! and 0 before the edge ever had one; never more than the tenant's limit in the snapshot.
//!
//! The request path only reads the limit in the tenant's `Slots` (an atomic); in control-plane
//! mode those limits come from here, set by the snapshot (`Snapshot::apply_limits`) when grants
//! arrive, when a snapshot is built, and from a background task when a grant expires. A grant's
//! lifetime is counted from its receipt on this edge's monotonic clock. This module knows
//! nothing of snapshots: it answers "what is tenant T's local limit now".

use std::cmp;
use std::collections::{btree_map, BTreeMap, HashSet};
use std::iter::Peekable;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use breakout_policy::wire::Grants;

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
    /// By tenant id, in order: a report asks for every tenant in id order ([`Quotas::with_holdings`]).
    held: Mutex<BTreeMap<String, Held>>,
    /// The epoch of the newest frame applied (reported: the leader renews from it).
    applied_epoch: AtomicU64,
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

    /// Calls `f` with every tenant's local limit at `now` (`tenant`, region-wide limit → local
    /// limit), under one lock; asked in id order, from one walk ([`Walk`]).
    pub fn with_limits<R>(
        &self,
        now: Instant,
        f: impl FnOnce(&mut dyn FnMut(&str, u32) -> u32) -> R,
    ) -> R {
        if !self.is_enforced() {
            return f(&mut |_, limit| limit);
        }
        let held = self.lock();
        let mut walk = Walk::new(&held);
        f(&mut |tenant, limit| Self::local(walk.get(tenant), limit, now))
    }

    /// Records grants received at `now`: renews those the frame leaves as they were (see
    /// [`breakout_policy::wire::Renewal`]), then takes the ones it lists. A grant of an older
    /// epoch than the one held is ignored, and so is the renewal of a frame older than the
    /// newest applied. (The serving snapshot applies them: `Snapshot::apply_limits`.)
    pub fn receive(&self, grants: &Grants, now: Instant) {
        let mut held = self.lock();
        let newest = self.applied_epoch.load(Ordering::Acquire);
        if let Some(renew) = grants.renew.as_ref().filter(|_| grants.epoch >= newest) {
            let expires = now + Duration::from_millis(renew.ttl_ms);
            let ends: HashSet<&str> = renew.ends.iter().map(String::as_str).collect();
            // A tenant the frame lists is renewed here too, then replaced by its grant below (its
            // epoch is then the frame's, never newer): looking each one up in the frame cost a
            // search per held tenant, most of a renewal's cost.
            for (tenant, h) in held.iter_mut() {
                if (h.epoch != renew.from && !renew.also.contains(&h.epoch))
                    || ends.contains(tenant.as_str())
                {
                    continue;
                }
                h.epoch = grants.epoch;
                h.expires = expires;
            }
        }
        for (tenant, g) in &grants.grants {
            let new = Held {
                epoch: grants.epoch,
                sessions: g.sessions,
                floor: g.floor,
                expires: now + Duration::from_millis(g.ttl_ms),
            };
            // Updated in place: most frames change tenants already held.
            match held.get_mut(tenant) {
                Some(h) if h.epoch > grants.epoch => {}
                Some(h) => *h = new,
                None => {
                    held.insert(tenant.clone(), new);
                }
            }
        }
        self.applied_epoch
            .store(newest.max(grants.epoch), Ordering::Release);
    }

    /// The epoch of the newest grants frame applied (0: none).
    pub fn applied_epoch(&self) -> u64 {
        self.applied_epoch.load(Ordering::Acquire)
    }

    /// What `tenant` may admit under the last grant, for reports: (its epoch, its sessions)
    /// while in force, (its epoch, the floor) once expired (the leader counts what the edge may
    /// admit, floor included); (0, 0) before any grant.
    pub fn holding(&self, tenant: &str, now: Instant) -> (u64, u32) {
        Self::held_now(self.lock().get(tenant), now)
    }

    /// Calls `f` with [`Quotas::holding`] for any tenant at `now`, under one lock: a report asks
    /// it for every tenant of the region at once; asked in id order, from one walk ([`Walk`]).
    pub fn with_holdings<R>(
        &self,
        now: Instant,
        f: impl FnOnce(&mut dyn FnMut(&str) -> (u64, u32)) -> R,
    ) -> R {
        let held = self.lock();
        let mut walk = Walk::new(&held);
        f(&mut |tenant| Self::held_now(walk.get(tenant), now))
    }

    fn held_now(held: Option<&Held>, now: Instant) -> (u64, u32) {
        match held {
            Some(h) if h.expires > now => (h.epoch, h.sessions),
            Some(h) => (h.epoch, h.floor),
            None => (0, 0),
        }
    }

    // Never held across an await; every update leaves the map whole.
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Held>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Lookups of the grants by tenant id, for a pass over a snapshot's tenants (in id order): one
/// walk over the map instead of a search per tenant. A tenant asked out of order (or again) is
/// looked up, so the answers never depend on the order.
struct Walk<'a> {
    held: &'a BTreeMap<String, Held>,
    next: Peekable<btree_map::Iter<'a, String, Held>>,
    /// The greatest id walked past: a tenant after it is found by walking on (no id lies between
    /// it and the next one), one at or before it by a lookup.
    passed: Option<&'a str>,
}

impl<'a> Walk<'a> {
    fn new(held: &'a BTreeMap<String, Held>) -> Self {
        Walk {
            held,
            next: held.iter().peekable(),
            passed: None,
        }
    }

    fn get(&mut self, tenant: &str) -> Option<&'a Held> {
        if self.passed.is_some_and(|p| p >= tenant) {
            return self.held.get(tenant);
        }
        // One comparison per id walked (`cmp`, not `<` then `==`), and the one found is walked
        // past: in a report's walk over 5,000 tenants, comparing ids was most of its cost.
        while let Some(&(id, h)) = self.next.peek() {
            match id.as_str().cmp(tenant) {
                cmp::Ordering::Greater => return None,
                found => {
                    self.passed = Some(id);
                    self.next.next();
                    if found == cmp::Ordering::Equal {
                        return Some(h);
                    }
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use breakout_policy::wire::{Grant, Renewal};

    use super::*;

    fn grants(epoch: u64, sessions: u32, ttl_ms: u64, floor: u32) -> Grants {
        let g = Grant {
            sessions,
            ttl_ms,
            floor,
        };
        Grants {
            epoch,
            grants: BTreeMap::from([("a".to_string(), g)]),
            ..Grants::default()
        }
    }

    /// A pass's walk answers as the lookup does, in id order or not, for tenants held or not.
    #[test]
    fn holdings_in_one_walk_answer_as_lookups() {
        let q = Quotas::default();
        q.enforce();
        let t0 = Instant::now();
        let held: BTreeMap<String, Grant> = (0..20)
            .filter(|i| i % 3 != 0)
            .map(|i| {
                let g = Grant {
                    sessions: i,
                    ttl_ms: 1000,
                    floor: 1,
                };
                (format!("t{i:02}"), g)
            })
            .collect();
        q.receive(
            &Grants {
                epoch: 7,
                grants: held,
                ..Grants::default()
            },
            t0,
        );
        let mut asked: Vec<String> = (0..22).map(|i| format!("t{i:02}")).collect();
        asked.extend(["t05", "t04", "t13", "t13", "a", "t21", "t10", "zz"].map(String::from));
        let expected: Vec<(u64, u32)> = asked.iter().map(|t| q.holding(t, t0)).collect();
        let got: Vec<(u64, u32)> = q.with_holdings(t0, |h| asked.iter().map(|t| h(t)).collect());
        assert_eq!(got, expected);
        assert_eq!(got[1], (7, 1));
        assert_eq!(got[3], (0, 0));
        let expected: Vec<u32> = asked.iter().map(|t| q.limit_for(t, 5, t0)).collect();
        let got: Vec<u32> = q.with_limits(t0, |l| asked.iter().map(|t| l(t, 5)).collect());
        assert_eq!(got, expected);
        assert_eq!(
            (got[1], got[3], got[19]),
            (1, 0, 5),
            "granted, none, above the limit"
        );
    }

    #[test]
    fn nothing_before_a_grant_then_the_grant_then_the_floor() {
        let q = Quotas::default();
        q.enforce();
        let t0 = Instant::now();
        assert_eq!(q.limit_for("a", 100, t0), 0, "no grant yet");
        q.receive(&grants(5, 40, 1000, 25), t0);
        assert_eq!(q.limit_for("a", 100, t0), 40);
        assert_eq!(q.holding("a", t0), (5, 40));
        q.receive(&grants(4, 90, 1000, 25), t0);
        assert_eq!(q.limit_for("a", 100, t0), 40, "an older epoch is ignored");
        let later = t0 + Duration::from_millis(1001);
        assert_eq!(q.limit_for("a", 100, later), 25, "expired: the floor");
        assert_eq!(
            q.holding("a", t0 + Duration::from_secs(2)),
            (5, 25),
            "reported: what it may admit, the floor"
        );
        let both = q.with_holdings(t0 + Duration::from_secs(2), |h| (h("a"), h("b")));
        assert_eq!(
            both,
            ((5, 25), (0, 0)),
            "a report's one lock: the same answers"
        );
        q.receive(&grants(6, 500, 1000, 25), t0);
        assert_eq!(
            q.limit_for("a", 100, t0),
            100,
            "never above the tenant's limit"
        );
        assert_eq!(q.with_limits(t0, |limit| limit("a", 100)), 100);
        assert_eq!(q.with_limits(t0, |limit| limit("b", 100)), 0);
    }

    #[test]
    fn a_renewal_moves_unchanged_grants_forward_and_leaves_ended_ones_to_expire() {
        let q = Quotas::default();
        q.enforce();
        let t0 = Instant::now();
        let mut first = grants(5, 40, 1000, 25);
        for t in ["b", "c"] {
            first.grants.insert(t.to_string(), first.grants["a"]);
        }
        q.receive(&first, t0);
        assert_eq!(q.applied_epoch(), 5);
        let t1 = t0 + Duration::from_millis(900);
        let mut renewal = grants(6, 60, 1000, 25);
        renewal.renew = Some(Renewal {
            from: 5,
            ttl_ms: 1000,
            ends: vec!["c".to_string()],
            ..Renewal::default()
        });
        q.receive(&renewal, t1);
        assert_eq!(q.applied_epoch(), 6);
        assert_eq!(q.holding("a", t1), (6, 60), "listed: changed");
        assert_eq!(q.holding("b", t1), (6, 40), "renewed as it was");
        assert_eq!(q.holding("c", t1), (5, 40), "ended: kept until it expires");
        let t2 = t0 + Duration::from_millis(1500);
        assert_eq!(q.limit_for("b", 100, t2), 40, "renewed from its receipt");
        assert_eq!(q.limit_for("c", 100, t2), 25, "expired: the floor");
        // A renewal older than the newest frame applied renews nothing.
        let mut stale = grants(4, 1, 1000, 25);
        stale.grants.clear();
        stale.renew = Some(Renewal {
            from: 5,
            ttl_ms: 60_000,
            ..Renewal::default()
        });
        q.receive(&stale, t2);
        assert_eq!(q.holding("c", t2), (5, 25));
        assert_eq!(q.applied_epoch(), 6);
    }

    #[test]
    fn a_standalone_edge_keeps_the_policy_limit() {
        let q = Quotas::default();
        let now = Instant::now();
        assert_eq!(q.limit_for("a", 100, now), 100);
        assert_eq!(q.with_limits(now, |limit| limit("a", 7)), 7);
    }
}
