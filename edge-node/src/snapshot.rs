//! The edge's current configuration, compiled for the request path. Built off the request path,
//! swapped in atomically; a request reads one snapshot from start to end.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Instant;

use breakout_policy::guard::GuardOptions;
use breakout_policy::{PolicyError, RegionPolicy, Router};

use crate::admission::Slots;
use crate::config::Settings;
use crate::metrics::{Metrics, TenantMetrics};
use crate::pac_file::{self, PacFile};
use crate::quota::Quotas;
use crate::sources::SourceTable;

/// A compiled configuration.
pub struct Snapshot {
    /// Configurations applied by this process, starting at 1.
    pub generation: u64,
    pub version: u64,
    pub region: String,
    pub settings: Arc<Settings>,
    /// What the destination guard lets through (from the settings).
    pub guard: GuardOptions,
    pub sources: SourceTable,
    pub tenants: Vec<TenantRuntime>,
    /// Sources of tenants of other regions (art. 5), indexing `foreign_owners`.
    pub foreign: SourceTable,
    /// Per entry of `foreign`: the tenant and its region.
    pub foreign_owners: Vec<(String, String)>,
    /// Sources of this region's tenants that are not in service (art. 6-1), indexing
    /// `inactive_owners`.
    pub inactive: SourceTable,
    /// Per entry of `inactive`: the tenant and why it is not served.
    pub inactive_owners: Vec<(String, String)>,
}

/// One tenant, ready for requests.
pub struct TenantRuntime {
    pub id: Arc<str>,
    /// The tenant's rules and parent proxies: what happens to each request.
    pub router: Router,
    pub slots: Arc<Slots>,
    /// The tenant's limit in the policy (region-wide in control-plane mode, where the local
    /// limit in `slots` is its grant; see `quota`).
    pub session_limit: u32,
    pub metrics: TenantMetrics,
    /// The tenant's PAC file (docs/pac.md), rendered when the snapshot is built; `None` without
    /// PAC settings, an error message when they do not render (served as 503).
    pub pac: Option<Result<Arc<PacFile>, String>>,
}

impl Snapshot {
    /// Compiles `policy`. Tenants that exist in `prev` keep their session slots (so sessions
    /// admitted before a reload stay counted) with the new limit.
    pub fn build(
        policy: &RegionPolicy,
        settings: Arc<Settings>,
        prev: Option<&Snapshot>,
        metrics: &Metrics,
        generation: u64,
    ) -> Result<Snapshot, PolicyError> {
        Self::build_limited(
            policy,
            settings,
            prev,
            metrics,
            generation,
            &Quotas::default(),
        )
    }

    /// [`Snapshot::build`] with each tenant's local limit from `quotas` (its grant in
    /// control-plane mode), so that a carried-over tenant never sees its region-wide limit.
    pub fn build_limited(
        policy: &RegionPolicy,
        settings: Arc<Settings>,
        prev: Option<&Snapshot>,
        metrics: &Metrics,
        generation: u64,
        quotas: &Quotas,
    ) -> Result<Snapshot, PolicyError> {
        let now = Instant::now();
        let mut tenants = Vec::with_capacity(policy.tenants.len());
        let mut sources = Vec::new();
        for (idx, t) in policy.tenants.iter().enumerate() {
            let field = format!("tenants[{}]", t.id);
            let router = Router::compile(t, &policy.lists).map_err(|e| e.within(&field))?;
            if let Some(addr) = t.egress_address {
                check_local(addr).map_err(|e| e.within(&field))?;
            }
            let pac = pac_file::render(t, policy, &settings);
            let limit = quotas.limit_for(&t.id, t.session_limit, now);
            let slots = match prev.and_then(|p| p.tenant_by_id(&t.id)) {
                Some(old) => {
                    old.slots.set_limit(limit);
                    Arc::clone(&old.slots)
                }
                None => Slots::new(limit),
            };
            let mut tenant_metrics = metrics.tenant(&t.id);
            // The request and refusal handles carry over too: the report reads them.
            if let Some(old) = prev.and_then(|p| p.tenant_by_id(&t.id)) {
                tenant_metrics.outcomes = Arc::clone(&old.metrics.outcomes);
            }
            tenant_metrics.limit.set(i64::from(limit));
            sources.extend(t.source_cidrs.iter().map(|c| (c.0, idx)));
            tenants.push(TenantRuntime {
                id: Arc::from(t.id.as_str()),
                router,
                slots,
                session_limit: t.session_limit,
                metrics: tenant_metrics,
                pac,
            });
        }
        let mut foreign = Vec::new();
        let mut foreign_owners = Vec::with_capacity(policy.foreign_sources.len());
        for (idx, f) in policy.foreign_sources.iter().enumerate() {
            foreign.extend(f.cidrs.iter().map(|c| (c.0, idx)));
            foreign_owners.push((f.tenant.clone(), f.region.clone()));
        }
        let mut inactive = Vec::new();
        let mut inactive_owners = Vec::with_capacity(policy.out_of_service.len());
        for (idx, o) in policy.out_of_service.iter().enumerate() {
            inactive.extend(o.cidrs.iter().map(|c| (c.0, idx)));
            inactive_owners.push((o.tenant.clone(), o.reason.clone()));
        }
        Ok(Snapshot {
            foreign: SourceTable::build(foreign),
            foreign_owners,
            inactive: SourceTable::build(inactive),
            inactive_owners,
            generation,
            version: policy.version,
            region: policy.region.clone(),
            guard: GuardOptions::allow_private(settings.allow_private_destinations),
            settings,
            sources: SourceTable::build(sources),
            tenants,
        })
    }

    pub fn tenant_by_id(&self, id: &str) -> Option<&TenantRuntime> {
        self.tenants.iter().find(|t| &*t.id == id)
    }

    /// The tenant of another region (and that region) a source address belongs to (art. 5).
    pub fn foreign_tenant(&self, addr: Ipv4Addr) -> Option<&(String, String)> {
        self.foreign
            .lookup(addr)
            .and_then(|i| self.foreign_owners.get(i))
    }

    /// The tenant of this region not in service (and why) a source address belongs to.
    pub fn inactive_tenant(&self, addr: Ipv4Addr) -> Option<&(String, String)> {
        self.inactive
            .lookup(addr)
            .and_then(|i| self.inactive_owners.get(i))
    }

    /// Sets every tenant's local limit from `quotas` at `now` (grants received, a grant expired).
    pub fn apply_limits(&self, quotas: &Quotas, now: Instant) {
        if !quotas.is_enforced() {
            return;
        }
        quotas.with_limits(now, |limit_of| {
            for t in &self.tenants {
                let limit = limit_of(&t.id, t.session_limit);
                if t.slots.limit() != limit {
                    t.slots.set_limit(limit);
                }
                t.metrics.limit.set(i64::from(limit));
            }
        });
    }

    /// The tenant a client source address belongs to.
    pub fn tenant_for(&self, addr: Ipv4Addr) -> Option<&TenantRuntime> {
        self.sources.lookup(addr).and_then(|i| self.tenants.get(i))
    }

    /// Whom a source address belongs to.
    pub fn source(&self, addr: Ipv4Addr) -> Source<'_> {
        if let Some(t) = self.tenant_for(addr) {
            Source::Tenant(t)
        } else if let Some((tenant, home)) = self.foreign_tenant(addr) {
            Source::Foreign { tenant, home }
        } else if let Some((tenant, reason)) = self.inactive_tenant(addr) {
            Source::Inactive { tenant, reason }
        } else {
            Source::Unregistered
        }
    }
}

/// Whom a client's source address belongs to (art. 8: tenants register their sources).
#[derive(Clone, Copy)]
pub enum Source<'s> {
    /// A tenant served here.
    Tenant(&'s TenantRuntime),
    /// A tenant contracted in another region (art. 5).
    Foreign { tenant: &'s str, home: &'s str },
    /// A tenant of this region not in service now (art. 6-1), and why.
    Inactive { tenant: &'s str, reason: &'s str },
    /// No tenant registered it.
    Unregistered,
}

/// An egress address must be one of this edge's own: the control plane cannot know the edge's
/// interfaces, and a policy that cannot be honoured is refused whole (the previous one stays)
/// rather than failing every direct connection of the tenant.
fn check_local(addr: Ipv4Addr) -> Result<(), PolicyError> {
    std::net::UdpSocket::bind((addr, 0)).map(drop).map_err(|e| {
        PolicyError::new(
            "egress_address",
            format!("{addr} is not an address of this edge ({e})"),
        )
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use breakout_policy::wire::{Grant, Grants};

    use super::*;
    use crate::config::EdgeConfig;

    const ONE: &str = "region = \"tokyo\"\n[[tenants]]\nid = \"a\"\n\
                       source_cidrs = [\"10.0.0.0/8\"]\nsession_limit = 100\n";

    fn snapshot(metrics: &Metrics, quotas: &Quotas) -> Snapshot {
        let cfg = EdgeConfig::parse(ONE).expect("config");
        Snapshot::build_limited(
            &cfg.policy,
            Arc::new(cfg.settings),
            None,
            metrics,
            1,
            quotas,
        )
        .expect("build")
    }

    #[test]
    fn grants_become_the_tenants_local_limits() {
        let metrics = Metrics::new().expect("metrics");
        let quotas = Quotas::default();
        quotas.enforce();
        let snap = snapshot(&metrics, &quotas);
        let a = snap.tenant_by_id("a").expect("a");
        assert_eq!(a.slots.limit(), 0, "no grant yet");
        let t0 = Instant::now();
        let grant = Grant {
            sessions: 40,
            ttl_ms: 1000,
            floor: 25,
        };
        let grants = Grants {
            epoch: 1,
            grants: BTreeMap::from([("a".to_string(), grant)]),
            ..Grants::default()
        };
        quotas.receive(&grants, t0);
        snap.apply_limits(&quotas, t0);
        assert_eq!((a.slots.limit(), a.metrics.limit.get()), (40, 40));
        snap.apply_limits(&quotas, t0 + Duration::from_millis(1001));
        assert_eq!(a.slots.limit(), 25, "expired: the floor");
        let policy = EdgeConfig::parse(ONE).expect("config").policy;
        let settings = Arc::clone(&snap.settings);
        let rebuilt = Snapshot::build_limited(&policy, settings, Some(&snap), &metrics, 2, &quotas)
            .expect("rebuilt");
        let again = rebuilt.tenant_by_id("a").expect("a");
        assert!(
            Arc::ptr_eq(&again.slots, &a.slots),
            "slots carry over a rebuild"
        );
    }

    #[test]
    fn a_standalone_edge_keeps_the_policy_limit() {
        let metrics = Metrics::new().expect("metrics");
        let snap = snapshot(&metrics, &Quotas::default());
        snap.apply_limits(&Quotas::default(), Instant::now());
        assert_eq!(snap.tenant_by_id("a").expect("a").slots.limit(), 100);
    }
}
