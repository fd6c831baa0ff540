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

/// A rendered PAC file, ready to serve in either encoding: compressed here, once per
/// snapshot, so that a request only picks one and copies bytes.
pub struct PacFile {
    /// The file as rendered; ETag `"<sha256>"`.
    pub identity: PacBody,
    /// The same file gzip-compressed; ETag `"<sha256>-gz"`, so that caches never answer one
    /// encoding's conditional request with the other's bytes. `None` only if compressing
    /// failed (logged); such a file is served uncompressed.
    pub gzip: Option<PacBody>,
}

/// One encoding of a PAC file.
pub struct PacBody {
    pub bytes: bytes::Bytes,
    /// A strong ETag, quotes included.
    pub etag: String,
}

impl PacFile {
    /// Wraps a rendered file whose whole-text hash is `sha256`, compressing it.
    pub fn new(text: String, sha256: &str) -> PacFile {
        let gzip = match crate::proxy::pac::gzip(text.as_bytes()) {
            Ok(bytes) => Some(PacBody {
                bytes: bytes::Bytes::from(bytes),
                etag: format!("\"{sha256}-gz\""),
            }),
            Err(e) => {
                tracing::warn!(error = %e, "PAC not compressed; it is served uncompressed");
                None
            }
        };
        PacFile {
            identity: PacBody {
                bytes: bytes::Bytes::from(text),
                etag: format!("\"{sha256}\""),
            },
            gzip,
        }
    }
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
            let pac = render_pac(t, policy, &settings);
            let limit = quotas.limit_for(&t.id, t.session_limit, now);
            let slots = match prev.and_then(|p| p.tenant_by_id(&t.id)) {
                Some(old) => {
                    old.slots.set_limit(limit);
                    Arc::clone(&old.slots)
                }
                None => Slots::new(limit),
            };
            let tenant_metrics = metrics.tenant(&t.id);
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

    /// The tenant a client source address belongs to.
    pub fn tenant_for(&self, addr: Ipv4Addr) -> Option<&TenantRuntime> {
        self.sources.lookup(addr).and_then(|i| self.tenants.get(i))
    }
}

/// Renders a tenant's PAC with the edge's own listen address as the proxy when its settings
/// name none. A failure is kept (and logged) rather than refusing the whole policy: the control
/// plane validated the settings, so it can only be the budget or an unusable listen address.
fn render_pac(
    t: &breakout_policy::Tenant,
    policy: &RegionPolicy,
    settings: &Settings,
) -> Option<Result<Arc<PacFile>, String>> {
    let own = match settings.listen.ip() {
        ip if ip.is_unspecified() => String::new(),
        std::net::IpAddr::V4(a) => format!("{a}:{}", settings.listen.port()),
        std::net::IpAddr::V6(a) => format!("[{a}]:{}", settings.listen.port()),
    };
    let result = breakout_policy::pac::render_for_edge(t, &policy.lists, policy.version, &own)?;
    Some(match result {
        Ok(pac) => Ok(Arc::new(PacFile::new(pac.text, &pac.sha256))),
        Err(e) => {
            let why = match own.is_empty() {
                true => format!("{e} (the edge listens on an unspecified address, so PAC settings without proxies cannot name it)"),
                false => e.to_string(),
            };
            tracing::warn!(tenant = %t.id, error = %why, "PAC not rendered");
            Err(why)
        }
    })
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
