//! A simulated edge: the edge's own protocol code (`breakout_edge::sync::run_node`, the session
//! loop every edge process runs) driving a light [`SyncNode`] that keeps the region policy and
//! the grants but compiles no matchers (the edge's `Snapshot::build`, a per-edge CPU cost that
//! real edges pay on their own cores, is left out: a thousand of them on two shared cores would
//! measure the simulator, not the control plane).
//!
//! What an edge does that the control plane sees is kept: it decodes every frame, refuses
//! versions older than its own, applies updates only on the version they were made from
//! (`breakout_policy::wire::delta::apply`), validates the result (`validate`), acks or nacks,
//! and reports every tenant of its policy every second with the grants it holds
//! (`breakout_edge::quota::Quotas`). Edges of one region share the result of applying the same
//! change ([`RegionBook`]): the first edge to apply `(from, to)` does the work while the others
//! wait for it, having checked they had `from`, and take the same `Arc`.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use breakout_edge::quota::Quotas;
use breakout_edge::sync::apply::{Applied, Held};
use breakout_edge::sync::node::{Config, SyncNode};
use breakout_policy::validate::validate;
use breakout_policy::wire::content::{content_digest, ContentDigest, Measure};
use breakout_policy::wire::{delta, refill_usage, Grants, Report, TenantUsage};
use breakout_policy::RegionPolicy;

/// Traffic counters the benchmark reads over a window (bytes of JSON bodies, frames).
#[derive(Default)]
pub struct Traffic {
    pub measuring: AtomicBool,
    pub report_bytes: AtomicU64,
    pub reports: AtomicU64,
    pub grant_bytes: AtomicU64,
    pub grant_frames: AtomicU64,
}

/// Per region: applied policies by version and change, shared by the region's simulated edges;
/// the encoded size of each snapshot and update seen.
#[derive(Default)]
pub struct RegionBook {
    policies: Mutex<HashMap<(u64, u64), Arc<Made>>>,
    /// (from, to) → bytes of the update's changes; (0, to) → bytes of the snapshot's policy.
    pub sizes: Mutex<BTreeMap<(u64, u64), usize>>,
}

/// A policy an edge serves and the digest of its content (what its hello announces), computed
/// once per policy for every edge holding it; from the parts of `before`'s (the policy an
/// update was applied to) where they are the same, as the edge's `Applier` does.
pub struct Kept {
    policy: RegionPolicy,
    measure: Option<Measure>,
}

impl Kept {
    fn new(policy: RegionPolicy, before: Option<&Kept>) -> Kept {
        let measure = Measure::of(&policy, before.and_then(|b| b.measure.as_ref()));
        Kept { policy, measure }
    }

    fn content(&self) -> Option<ContentDigest> {
        self.measure.as_ref().map(|m| m.digest)
    }
}

/// The policy a change makes (or why it cannot), once made.
type Made = OnceLock<Result<Arc<Kept>, String>>;

impl RegionBook {
    /// The policy `key` makes, made once for all the region's edges: the first edge to ask runs
    /// `make` (the policy and the bytes it came in) and the others wait for its result. (When
    /// each looked and made its own on a miss, a change to a large region had 30 of its edges
    /// applying it side by side on the simulator's two cores: the simulator's cost, not the
    /// control plane's, and it set the rule-change p99.)
    fn get_or_make(
        &self,
        key: (u64, u64),
        make: impl FnOnce() -> Result<(Kept, usize), String>,
    ) -> Result<Arc<Kept>, String> {
        let cell = {
            let mut p = self.policies.lock().unwrap_or_else(|e| e.into_inner());
            // Keep the newest few: an edge needs only the change it is applying.
            if p.len() > 16 && !p.contains_key(&key) {
                let oldest = *p.keys().min_by_key(|k| k.1).unwrap_or(&key);
                p.remove(&oldest);
            }
            Arc::clone(p.entry(key).or_default())
        };
        cell.get_or_init(|| {
            let (kept, bytes) = make()?;
            self.sizes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key, bytes);
            Ok(Arc::new(kept))
        })
        .clone()
    }
}

/// An edge's place when a node was killed: its session count, and whether it has to start a
/// new session to be back (it was on the killed node, or between sessions).
#[derive(Clone, Copy)]
pub struct AtKill {
    pub sessions: u64,
    pub must_move: bool,
}

/// One simulated edge.
pub struct SimEdge {
    pub id: usize,
    book: Arc<RegionBook>,
    traffic: Arc<Traffic>,
    applied: Mutex<Option<Arc<Kept>>>,
    /// The version serving (read by the benchmark without a lock).
    pub version: AtomicU64,
    /// When the serving version was applied, in µs after `epoch`.
    pub applied_us: AtomicU64,
    /// Tenants in the policy serving.
    pub tenants: AtomicUsize,
    /// Sessions started, and whether the current one delivered a configuration.
    pub sessions: AtomicU64,
    pub configured: AtomicBool,
    /// A session is up (hello sent, not ended).
    pub up: AtomicBool,
    /// A grants frame that changed nothing (it renewed every grant, listed none) came since
    /// this was last cleared: the edge's grants have stopped moving ([`super::steady`]).
    pub grants_still: AtomicBool,
    /// The node (its edge address) of the current session, or of the last one.
    node: Mutex<String>,
    /// Why the last configuration refused was refused.
    pub refused: Mutex<Option<String>>,
    quotas: Quotas,
    seq: AtomicU64,
    epoch: Instant,
}

impl SimEdge {
    pub fn new(id: usize, book: Arc<RegionBook>, traffic: Arc<Traffic>, epoch: Instant) -> Self {
        let quotas = Quotas::default();
        quotas.enforce();
        SimEdge {
            id,
            book,
            traffic,
            applied: Mutex::new(None),
            version: AtomicU64::new(0),
            applied_us: AtomicU64::new(0),
            tenants: AtomicUsize::new(0),
            sessions: AtomicU64::new(0),
            configured: AtomicBool::new(false),
            up: AtomicBool::new(false),
            grants_still: AtomicBool::new(false),
            node: Mutex::new(String::new()),
            refused: Mutex::new(None),
            quotas,
            seq: AtomicU64::new(0),
            epoch,
        }
    }

    fn install(&self, slot: &mut Option<Arc<Kept>>, policy: Arc<Kept>) -> Applied {
        let version = policy.policy.version;
        self.tenants
            .store(policy.policy.tenants.len(), Ordering::Release);
        let tenants_changed = slot
            .as_ref()
            .is_none_or(|old| !delta::same_tenant_ids(&old.policy.tenants, &policy.policy.tenants));
        *slot = Some(policy);
        self.version.store(version, Ordering::Release);
        self.applied_us
            .store(self.epoch.elapsed().as_micros() as u64, Ordering::Release);
        Applied::New {
            version,
            generation: version,
            tenants_changed,
        }
    }
}

fn checked(policy: RegionPolicy, version: u64) -> Result<RegionPolicy, String> {
    if policy.version != version {
        return Err(format!("the policy says version {}", policy.version));
    }
    validate(&policy).map_err(|e| e.to_string())?;
    Ok(policy)
}

impl SimEdge {
    /// The node (edge address) this edge's session is on, if one is up.
    pub fn node(&self) -> Option<String> {
        let node = self.node.lock().unwrap_or_else(|p| p.into_inner()).clone();
        self.up.load(Ordering::Acquire).then_some(node)
    }

    /// Where this edge stood when the node at `killed` was killed.
    pub fn at_kill(&self, killed: &str) -> AtKill {
        AtKill {
            sessions: self.sessions.load(Ordering::Acquire),
            must_move: self.node().is_none_or(|node| node == killed),
        }
    }

    /// Whether this edge is connected and configured again after a kill (`at` from
    /// [`SimEdge::at_kill`]): on a session started since if it was on the killed node (or on
    /// none), else on any session.
    pub fn back_after(&self, at: AtKill) -> bool {
        self.up.load(Ordering::Acquire)
            && self.configured.load(Ordering::Acquire)
            && (!at.must_move || self.sessions.load(Ordering::Acquire) > at.sessions)
    }

    /// Where this edge is: for a run that fails waiting on it.
    pub fn describe(&self) -> String {
        let refused = self.refused.lock().unwrap_or_else(|p| p.into_inner());
        format!(
            "sim-{:04} (node {}, version {}, sessions {}, up {}, configured {}, last refusal: {})",
            self.id,
            self.node.lock().unwrap_or_else(|p| p.into_inner()),
            self.version.load(Ordering::Acquire),
            self.sessions.load(Ordering::Acquire),
            self.up.load(Ordering::Acquire),
            self.configured.load(Ordering::Acquire),
            refused.as_deref().unwrap_or("none")
        )
    }

    fn apply_config(&self, config: Config) -> Result<Applied, String> {
        let mut slot = self.applied.lock().unwrap_or_else(|e| e.into_inner());
        let have = slot.as_ref().map_or(0, |p| p.policy.version);
        match config {
            Config::Snapshot(s) => {
                if slot.is_some() && s.version < have {
                    return Err(format!("version {} is older than {have}", s.version));
                }
                // The same version with the same content: nothing to do (as the edge's
                // `Applier`; other content under that number is installed).
                let held = slot.as_ref().and_then(|p| p.content());
                if s.version == have && held.is_some() && held == content_digest(&s.policy) {
                    self.configured.store(true, Ordering::Release);
                    return Ok(Applied::Already { version: have });
                }
                let policy = self.book.get_or_make((0, s.version), || {
                    let bytes = serde_json::to_vec(&s.policy).map_or(0, |b| b.len());
                    Ok((Kept::new(checked(s.policy, s.version)?, None), bytes))
                })?;
                self.configured.store(true, Ordering::Release);
                Ok(self.install(&mut slot, policy))
            }
            Config::Update(u) => {
                let Some(base) = slot.as_ref().filter(|p| p.policy.version == u.from) else {
                    return Err(format!("an update from {}, but {have} is applied", u.from));
                };
                // The node confirms the content this edge announced (its hello's digest).
                if u.to == u.from && u.changes.is_empty() {
                    self.configured.store(true, Ordering::Release);
                    return Ok(Applied::Already { version: have });
                }
                if u.to <= u.from {
                    return Err(format!("an update to {} from {}", u.to, u.from));
                }
                let policy = self.book.get_or_make((u.from, u.to), || {
                    let bytes = serde_json::to_vec(&u.changes).map_or(0, |b| b.len());
                    let made = delta::apply(&base.policy, &u.changes);
                    Ok((Kept::new(checked(made, u.to)?, Some(base)), bytes))
                })?;
                self.configured.store(true, Ordering::Release);
                Ok(self.install(&mut slot, policy))
            }
        }
    }
}

impl SyncNode for SimEdge {
    fn held(&self) -> Held {
        let slot = self.applied.lock().unwrap_or_else(|e| e.into_inner());
        slot.as_ref().map_or_else(Held::default, |p| Held {
            version: p.policy.version,
            content: p.content(),
        })
    }

    fn apply(&self, config: Config) -> Result<Applied, String> {
        let result = self.apply_config(config);
        if let Err(why) = &result {
            *self.refused.lock().unwrap_or_else(|e| e.into_inner()) = Some(why.clone());
        }
        result
    }

    fn report(&self, into: &mut Report) {
        let policy = self
            .applied
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let now = Instant::now();
        let tenants = policy.iter().flat_map(|p| p.policy.tenants.iter());
        let (usage, _) = into.rewrite(self.seq.fetch_add(1, Ordering::Relaxed) + 1);
        self.quotas.with_holdings(now, |holding| {
            refill_usage(usage, tenants.map(|t| &*t.id), |k, id| {
                let (holding_epoch, holding_sessions) = holding(id);
                // About one tenant in ten has a session open on this edge.
                let active = u32::from((k + self.id).is_multiple_of(10)).min(holding_sessions);
                TenantUsage {
                    active,
                    refused: 0,
                    holding_epoch,
                    holding_sessions,
                }
            })
        });
        into.grants_epoch = self.quotas.applied_epoch();
    }

    /// Counts what went on the wire (a sparse report once the node takes them). The frames'
    /// own sizes: encoding each again to measure it was about 5 % of the simulator's profile at
    /// 1,000 × 100,000, inside the window it measures.
    fn report_sent(&self, wire_bytes: usize) {
        if self.traffic.measuring.load(Ordering::Relaxed) {
            self.traffic
                .report_bytes
                .fetch_add(wire_bytes as u64, Ordering::Relaxed);
            self.traffic.reports.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn grants(&self, grants: &Grants, wire_bytes: usize) {
        self.quotas.receive(grants, Instant::now());
        if grants.renew.is_some() && grants.grants.is_empty() {
            self.grants_still.store(true, Ordering::Release);
        }
        if self.traffic.measuring.load(Ordering::Relaxed) {
            self.traffic
                .grant_bytes
                .fetch_add(wire_bytes as u64, Ordering::Relaxed);
            self.traffic.grant_frames.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn touch(&self) {}

    fn connected(&self, target: &str, up: bool) {
        if up {
            *self.node.lock().unwrap_or_else(|p| p.into_inner()) = target.to_owned();
        }
        self.up.store(up, Ordering::Release);
        if up {
            self.configured.store(false, Ordering::Release);
            self.sessions.fetch_add(1, Ordering::AcqRel);
        }
    }

    fn applied(&self, _ok: bool) {}
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;

    use super::*;

    /// Edges asking for the same change at once: one makes it, all get the same policy.
    #[test]
    fn a_change_is_made_once_for_every_edge_asking_at_once() {
        let book = RegionBook::default();
        let made = AtomicUsize::new(0);
        let start = Barrier::new(8);
        let got: Vec<Arc<Kept>> = std::thread::scope(|s| {
            let asks: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        start.wait();
                        book.get_or_make((4, 5), || {
                            made.fetch_add(1, Ordering::SeqCst);
                            Ok((Kept::new(RegionPolicy::default(), None), 10))
                        })
                    })
                })
                .collect();
            asks.into_iter()
                .map(|a| a.join().expect("no panic").expect("made"))
                .collect()
        });
        assert_eq!(made.load(Ordering::SeqCst), 1);
        assert!(got.iter().all(|k| Arc::ptr_eq(k, &got[0])));
        let sizes = book.sizes.lock().expect("sizes");
        assert_eq!(sizes.get(&(4, 5)), Some(&10));
        drop(sizes);
        let refused = book.get_or_make((5, 6), || Err("bad".to_string()));
        assert_eq!(refused.err().as_deref(), Some("bad"));
    }
}
