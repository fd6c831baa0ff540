//! The edge's current configuration, compiled for the request path. Built off the request path,
//! swapped in atomically; a request reads one snapshot from start to end.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use breakout_policy::{Matcher, PolicyError, RegionPolicy};

use crate::admission::Slots;
use crate::config::Settings;
use crate::metrics::{Metrics, TenantMetrics};
use crate::sources::SourceTable;

/// A compiled configuration.
pub struct Snapshot {
    /// Configurations applied by this process, starting at 1.
    pub generation: u64,
    pub version: u64,
    pub region: String,
    pub settings: Arc<Settings>,
    pub sources: SourceTable,
    pub tenants: Vec<TenantRuntime>,
}

/// One tenant, ready for requests.
pub struct TenantRuntime {
    pub id: Arc<str>,
    pub matcher: Matcher,
    /// Parent proxies by name: host and port.
    pub upstreams: HashMap<String, (String, u16)>,
    pub egress: Option<Ipv4Addr>,
    pub slots: Arc<Slots>,
    pub metrics: TenantMetrics,
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
        let mut tenants = Vec::with_capacity(policy.tenants.len());
        let mut sources = Vec::new();
        for (idx, t) in policy.tenants.iter().enumerate() {
            let field = format!("tenants[{}]", t.id);
            let matcher = Matcher::compile(t, &policy.lists).map_err(|e| e.within(&field))?;
            let upstreams = t
                .upstreams
                .iter()
                .map(|(name, hp)| {
                    split_host_port(hp)
                        .map(|v| (name.clone(), v))
                        .ok_or_else(|| {
                            PolicyError::new(
                                format!("{field}.upstreams.{name}"),
                                "expected host:port",
                            )
                        })
                })
                .collect::<Result<HashMap<_, _>, _>>()?;
            let slots = match prev.and_then(|p| p.tenant_by_id(&t.id)) {
                Some(old) => {
                    old.slots.set_limit(t.session_limit);
                    Arc::clone(&old.slots)
                }
                None => Slots::new(t.session_limit),
            };
            sources.extend(t.source_cidrs.iter().map(|c| (c.0, idx)));
            tenants.push(TenantRuntime {
                id: Arc::from(t.id.as_str()),
                matcher,
                upstreams,
                egress: t.egress_address,
                slots,
                metrics: metrics.tenant(&t.id),
            });
        }
        Ok(Snapshot {
            generation,
            version: policy.version,
            region: policy.region.clone(),
            settings,
            sources: SourceTable::build(sources),
            tenants,
        })
    }

    pub fn tenant_by_id(&self, id: &str) -> Option<&TenantRuntime> {
        self.tenants.iter().find(|t| &*t.id == id)
    }

    /// The tenant a client source address belongs to.
    pub fn tenant_for(&self, addr: Ipv4Addr) -> Option<&TenantRuntime> {
        self.sources.lookup(addr).and_then(|i| self.tenants.get(i))
    }
}

/// Splits `host:port` (an IPv6 host in brackets); `None` if either part is missing or bad.
pub fn split_host_port(s: &str) -> Option<(String, u16)> {
    let (host, port) = s.rsplit_once(':')?;
    let port: u16 = port.parse().ok().filter(|p| *p != 0)?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    (!host.is_empty()).then(|| (host.to_string(), port))
}
