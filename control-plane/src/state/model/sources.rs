//! Every tenant's source networks by region, for the overlap check of a tenant write: a
//! lookup per network instead of a scan of every tenant (which made a write cost O(tenants)
//! on every node, and loading 100,000 tenants one write at a time O(tenants²)).
//!
//! Derived data, never serialised: the index remembers the tenants map it describes (imbl's
//! `ptr_eq`) and is rebuilt whenever the map is not that one any more — after an import, a
//! snapshot, a deserialised state, or any change made without [`edit`]. So it can be slow,
//! never wrong.

use std::fmt;
use std::sync::Arc;

use breakout_policy::SourceCidr;
use imbl::OrdMap;

use super::{State, TenantRecord};

type Tenants = OrdMap<String, Arc<TenantRecord>>;
/// (network address, prefix length) → tenant id.
type Networks = OrdMap<(u32, u8), String>;

/// The index (see the module's comment).
#[derive(Clone, Default)]
pub struct SourceIndex {
    /// The tenants map this index describes.
    built_for: Tenants,
    by_region: OrdMap<String, Networks>,
}

impl fmt::Debug for SourceIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SourceIndex({} regions)", self.by_region.len())
    }
}

/// Derived from the tenants: two states with equal tenants have equivalent indexes.
impl PartialEq for SourceIndex {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

fn key(cidr: &SourceCidr) -> (u32, u8) {
    let net = cidr.0.trunc();
    (u32::from(net.addr()), net.prefix_len())
}

fn region(record: &TenantRecord) -> &str {
    record.tenant.region.as_deref().unwrap_or_default()
}

impl SourceIndex {
    fn build(tenants: &Tenants) -> SourceIndex {
        let mut index = SourceIndex {
            built_for: tenants.clone(),
            by_region: OrdMap::new(),
        };
        for record in tenants.values() {
            index.add(record);
        }
        index
    }

    fn add(&mut self, record: &TenantRecord) {
        let nets = self
            .by_region
            .entry(region(record).to_string())
            .or_default();
        for cidr in &record.tenant.source_cidrs {
            nets.insert(key(cidr), record.tenant.id.clone());
        }
    }

    fn remove(&mut self, record: &TenantRecord) {
        if let Some(nets) = self.by_region.get_mut(region(record)) {
            for cidr in &record.tenant.source_cidrs {
                if nets.get(&key(cidr)) == Some(&record.tenant.id) {
                    nets.remove(&key(cidr));
                }
            }
        }
    }

    /// A network of another tenant than `tenant` in `region` that overlaps `cidr`, and its
    /// tenant. Networks nest or are disjoint, so one overlaps `cidr` exactly when it contains
    /// `cidr`'s address at a shorter prefix or has its address inside `cidr`.
    fn clash(&self, region: &str, tenant: &str, cidr: &SourceCidr) -> Option<(SourceCidr, String)> {
        let nets = self.by_region.get(region)?;
        let (addr, len) = key(cidr);
        let last = addr | u32::MAX.checked_shr(u32::from(len)).unwrap_or(0);
        let inside = nets
            .range((addr, 0)..=(last, 32))
            .find(|(_, id)| id.as_str() != tenant)
            .map(|(k, id)| (*k, id));
        let around = || {
            (0..len).find_map(|shorter| {
                let mask = u32::MAX.checked_shl(u32::from(32 - shorter)).unwrap_or(0);
                let k = (addr & mask, shorter);
                nets.get(&k)
                    .filter(|id| id.as_str() != tenant)
                    .map(|id| (k, id))
            })
        };
        let ((addr, len), id) = inside.or_else(around)?;
        let net = ipnet::Ipv4Net::new(addr.into(), len).ok()?;
        Some((SourceCidr(net), id.clone()))
    }
}

/// A network of another tenant in `region` that overlaps `cidr`, with that tenant's id
/// (rebuilds the index first if it does not describe the state's tenants).
pub fn clash(
    state: &mut State,
    region: &str,
    tenant: &str,
    cidr: &SourceCidr,
) -> Option<(SourceCidr, String)> {
    if !state.sources.built_for.ptr_eq(&state.tenants) {
        state.sources = SourceIndex::build(&state.tenants);
    }
    state.sources.clash(region, tenant, cidr)
}

/// Runs `change` on the tenants map, where it changes tenant `id` only, and keeps the index
/// describing the map (if it described it before).
pub fn edit<R>(state: &mut State, id: &str, change: impl FnOnce(&mut Tenants) -> R) -> R {
    let in_step = state.sources.built_for.ptr_eq(&state.tenants);
    let before = state.tenants.get(id).cloned();
    let out = change(&mut state.tenants);
    if in_step {
        let index = &mut state.sources;
        if let Some(old) = &before {
            index.remove(old);
        }
        if let Some(new) = state.tenants.get(id) {
            index.add(new);
        }
        index.built_for = state.tenants.clone();
    }
    out
}
