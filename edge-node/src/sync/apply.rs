//! Applying a snapshot from the control plane: refuse anything older than what is applied,
//! validate, compile against the current snapshot (so sessions keep their slots), swap
//! atomically. An update is applied only on top of the version it was made from, and the policy
//! it makes goes through the same checks. On any failure nothing changes: the edge keeps
//! serving its last good config. The digest of the content serving is kept with it, for the
//! hello of the next connection ([`Held`]).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use breakout_policy::validate::validate;
use breakout_policy::wire::content::{content_digest, ContentDigest, Measure};
use breakout_policy::wire::{delta, Changes};
use breakout_policy::RegionPolicy;

use crate::shared::Shared;
use crate::snapshot::Snapshot;

/// What happened to a snapshot that was accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// Compiled and swapped in; requests starting now use it. `tenants_changed`: a tenant was
    /// added or removed (or their order changed), so reports list other tenants from now on.
    New {
        version: u64,
        generation: u64,
        tenants_changed: bool,
    },
    /// The version already serving (a reconnect); nothing to do.
    Already { version: u64 },
}

/// What the edge serves, as its hello announces it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Held {
    /// The version serving (0: none).
    pub version: u64,
    /// The digest of its content (`wire::content`); `None` when nothing is served.
    pub content: Option<ContentDigest>,
}

/// The one writer of the edge's snapshot in control-plane mode.
pub struct Applier {
    shared: Arc<Shared>,
    region: String,
    /// The version serving and its policy (the base of updates), if any. The lock also makes
    /// applies one at a time.
    applied: Mutex<Option<Serving>>,
}

struct Serving {
    version: u64,
    policy: RegionPolicy,
    /// The digest of `policy`'s content, computed when it was installed (off the async
    /// threads); with its parts, so that the next policy, which shares most tenants with this
    /// one (`delta::apply` keeps those it does not name), hashes only the changed ones.
    measure: Option<Measure>,
}

impl Applier {
    pub fn new(shared: Arc<Shared>, region: &str) -> Applier {
        Applier {
            shared,
            region: region.to_string(),
            applied: Mutex::new(None),
        }
    }

    /// The version serving (0 if none).
    pub fn applied_version(&self) -> u64 {
        self.lock().as_ref().map_or(0, |s| s.version)
    }

    /// The version serving and the digest of its content, read together, as the hello
    /// announces them.
    pub fn held(&self) -> Held {
        self.lock().as_ref().map_or_else(Held::default, |s| Held {
            version: s.version,
            content: s.measure.as_ref().map(|m| m.digest),
        })
    }

    /// Applies `policy` at `version`, or says why not: older than the version serving is
    /// refused; the version serving with the same content is a no-op. CPU-bound (compiles every
    /// tenant's matcher): call it off the async worker threads.
    pub fn apply(&self, version: u64, policy: &RegionPolicy) -> Result<Applied, String> {
        let mut applied = self.lock();
        match applied.as_ref().map(|s| s.version) {
            Some(have) if version < have => {
                return Err(format!(
                    "version {version} is older than the applied {have}; ignored"
                ))
            }
            // A reconnect that was sent the version serving again: nothing to do if it is the
            // same content. Other content at the same number comes from another store history
            // (an etcd store restored from a backup, an import): it is the region's content at
            // that version now, so it is installed, never acked over the old one.
            Some(have) if version == have => {
                let held = applied
                    .as_ref()
                    .and_then(|s| s.measure.as_ref().map(|m| m.digest));
                if held.is_some() && held == content_digest(policy) {
                    return Ok(Applied::Already { version });
                }
            }
            _ => {}
        }
        self.install(&mut applied, version, policy.clone())
    }

    /// Applies the changes from `from` to `to`, or says why not: `from` must be the version
    /// serving (else the server sends a snapshot after the nack). The policy they make is
    /// checked and compiled as a snapshot's. An update without changes from the version serving
    /// to itself is a confirmation (a reconnect whose hello's content digest matched): nothing
    /// to do. CPU-bound, like [`Applier::apply`].
    pub fn apply_update(&self, from: u64, to: u64, changes: &Changes) -> Result<Applied, String> {
        let mut applied = self.lock();
        let policy = match applied.as_ref() {
            None => {
                return Err(format!(
                    "an update from version {from}, but no version is applied"
                ))
            }
            Some(s) if s.version != from => {
                return Err(format!(
                    "an update from version {from}, but version {} is applied",
                    s.version
                ))
            }
            // The server confirms the content this edge announced at the version it serves.
            Some(_) if to == from && changes.is_empty() => {
                return Ok(Applied::Already { version: to })
            }
            Some(_) if to <= from => {
                return Err(format!(
                    "an update to version {to} is not newer than its base {from}"
                ))
            }
            Some(s) => delta::apply(&s.policy, changes),
        };
        self.install(&mut applied, to, policy)
    }

    /// Checks, compiles and swaps in `policy` as `version`.
    fn install(
        &self,
        applied: &mut Option<Serving>,
        version: u64,
        policy: RegionPolicy,
    ) -> Result<Applied, String> {
        if policy.version != version {
            return Err(format!(
                "the policy says version {} inside a snapshot of version {version}",
                policy.version
            ));
        }
        if policy.region != self.region {
            return Err(format!(
                "the policy is for region {:?}, this edge serves {:?}",
                policy.region, self.region
            ));
        }
        validate(&policy).map_err(|e| e.to_string())?;
        let prev = self.shared.snapshot.load_full();
        let generation = prev.generation + 1;
        let settings = Arc::clone(&prev.settings);
        let snap = Snapshot::build_limited(
            &policy,
            settings,
            Some(&prev),
            &self.shared.metrics,
            generation,
            &self.shared.quotas,
        )
        .map_err(|e| e.to_string())?;
        let m = &self.shared.metrics;
        m.config_generation.set(generation as i64);
        m.config_version.set(version as i64);
        self.shared.snapshot.store(Arc::new(snap));
        self.shared.awaiting_config.store(false, Ordering::Release);
        let measure = Measure::of(&policy, applied.as_ref().and_then(|s| s.measure.as_ref()));
        let tenants_changed = applied
            .as_ref()
            .is_none_or(|s| !delta::same_tenant_ids(&s.policy.tenants, &policy.tenants));
        *applied = Some(Serving {
            version,
            policy,
            measure,
        });
        Ok(Applied::New {
            version,
            generation,
            tenants_changed,
        })
    }

    // Held only for the synchronous apply; a panic inside leaves the old value, still right.
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Serving>> {
        self.applied.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests;
