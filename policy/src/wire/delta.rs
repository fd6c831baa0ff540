//! Deltas between two region policies: [`diff`] computes what an [`Update`](super::Frame::Update)
//! carries, [`apply`] rebuilds the new policy from the old one and those changes. Pure; the
//! control plane computes a diff once per (region, from, to) and checks that applying it gives
//! back the new policy before sending it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::model::{ForeignSources, NamedList, OutOfService, RegionPolicy, Tenant};

/// What changed from one region policy to the next. Refuses fields it does not know (like
/// [`RegionPolicy`]): an edge that would ignore part of a change must refuse it instead.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Changes {
    /// The new policy's schema, version and region (always carried; small).
    pub schema: u32,
    pub version: u64,
    pub region: String,
    /// Tenants added or changed, whole, in the new policy's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tenants: Vec<Arc<Tenant>>,
    /// Ids of tenants no longer in the policy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed_tenants: Vec<String>,
    /// The new order of every tenant id, only when applying the changes in place (removed ones
    /// dropped, changed ones where they were, added ones at the end) would not give it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_order: Option<Vec<String>>,
    /// Shared lists added or changed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub lists: BTreeMap<String, NamedList>,
    /// Names of shared lists no longer in the policy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed_lists: Vec<String>,
    /// The new `foreign_sources`, whole, if it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreign_sources: Option<Arc<Vec<ForeignSources>>>,
    /// The new `out_of_service`, whole, if it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_service: Option<Vec<OutOfService>>,
}

impl Changes {
    /// No change: `policy`'s content at `version` (what confirms a reconnecting edge's content).
    pub fn none(policy: &RegionPolicy, version: u64) -> Changes {
        Changes {
            schema: policy.schema,
            version,
            region: policy.region.clone(),
            ..Changes::default()
        }
    }

    /// Whether applying these changes leaves every tenant, list and source as it was (only the
    /// version, schema and region are carried).
    pub fn is_empty(&self) -> bool {
        self.tenants.is_empty()
            && self.removed_tenants.is_empty()
            && self.tenant_order.is_none()
            && self.lists.is_empty()
            && self.removed_lists.is_empty()
            && self.foreign_sources.is_none()
            && self.out_of_service.is_none()
    }
}

/// The changes that turn `old` into `new`. Exact when tenant ids are unique in each policy (as
/// validation requires); callers that cannot rely on that compare `apply(old, diff) == new`.
pub fn diff(old: &RegionPolicy, new: &RegionPolicy) -> Changes {
    let before: HashMap<&str, &Arc<Tenant>> =
        old.tenants.iter().map(|t| (t.id.as_str(), t)).collect();
    let now: BTreeSet<&str> = new.tenants.iter().map(|t| t.id.as_str()).collect();
    let tenants: Vec<Arc<Tenant>> = new
        .tenants
        .iter()
        .filter(|t| !before.get(t.id.as_str()).is_some_and(|b| same(b, t)))
        .cloned()
        .collect();
    let mut seen = BTreeSet::new();
    let removed_tenants: Vec<String> = old
        .tenants
        .iter()
        .filter(|t| !now.contains(t.id.as_str()) && seen.insert(t.id.as_str()))
        .map(|t| t.id.clone())
        .collect();
    let lists = new
        .lists
        .iter()
        .filter(|(name, list)| old.lists.get(*name) != Some(list))
        .map(|(name, list)| (name.clone(), list.clone()))
        .collect();
    let removed_lists = old
        .lists
        .keys()
        .filter(|name| !new.lists.contains_key(*name))
        .cloned()
        .collect();
    let mut changes = Changes {
        schema: new.schema,
        version: new.version,
        region: new.region.clone(),
        tenants,
        removed_tenants,
        tenant_order: None,
        lists,
        removed_lists,
        foreign_sources: (old.foreign_sources != new.foreign_sources)
            .then(|| new.foreign_sources.clone()),
        out_of_service: (old.out_of_service != new.out_of_service)
            .then(|| new.out_of_service.clone()),
    };
    let in_place = merge_tenants(&old.tenants, &changes);
    let wanted = new.tenants.iter().map(|t| t.id.as_str());
    if !in_place.iter().map(|t| t.id.as_str()).eq(wanted) {
        changes.tenant_order = Some(new.tenants.iter().map(|t| t.id.clone()).collect());
    }
    changes
}

/// Whether two policies' tenants have the same ids in the same order: what an edge's report
/// lists (a changed tenant that keeps its id keeps its place). Tenants `delta::apply` carried
/// over are the same `Arc`, so an update that names few tenants compares few ids.
pub fn same_tenant_ids(old: &[Arc<Tenant>], new: &[Arc<Tenant>]) -> bool {
    old.len() == new.len()
        && old
            .iter()
            .zip(new)
            .all(|(a, b)| Arc::ptr_eq(a, b) || a.id == b.id)
}

/// `old` with `changes` applied. Removals of names `old` does not have are ignored; the result
/// is validated by whoever uses it, as a snapshot would be.
pub fn apply(old: &RegionPolicy, changes: &Changes) -> RegionPolicy {
    let mut tenants = merge_tenants(&old.tenants, changes);
    if let Some(order) = &changes.tenant_order {
        let mut by_id: HashMap<String, Vec<Arc<Tenant>>> = HashMap::new();
        for t in tenants.drain(..).rev() {
            by_id.entry(t.id.clone()).or_default().push(t);
        }
        tenants = order
            .iter()
            .filter_map(|id| by_id.get_mut(id).and_then(Vec::pop))
            .collect();
    }
    let mut lists = old.lists.clone();
    for name in &changes.removed_lists {
        lists.remove(name);
    }
    lists.extend(changes.lists.iter().map(|(k, v)| (k.clone(), v.clone())));
    RegionPolicy {
        schema: changes.schema,
        version: changes.version,
        region: changes.region.clone(),
        tenants,
        lists,
        foreign_sources: changes
            .foreign_sources
            .clone()
            .unwrap_or_else(|| old.foreign_sources.clone()),
        out_of_service: changes
            .out_of_service
            .clone()
            .unwrap_or_else(|| old.out_of_service.clone()),
    }
}

/// `old` without the removed tenants, each upserted tenant in place of the old one of its id
/// (the first of that id), new ids appended in the changes' order.
fn merge_tenants(old: &[Arc<Tenant>], changes: &Changes) -> Vec<Arc<Tenant>> {
    let removed: BTreeSet<&str> = changes.removed_tenants.iter().map(String::as_str).collect();
    let mut upserts: HashMap<&str, &Arc<Tenant>> = HashMap::new();
    for t in &changes.tenants {
        upserts.entry(t.id.as_str()).or_insert(t);
    }
    let mut placed = BTreeSet::new();
    let mut out: Vec<Arc<Tenant>> = old
        .iter()
        .filter(|t| !removed.contains(t.id.as_str()))
        .map(|t| match upserts.get(t.id.as_str()) {
            Some(new) if placed.insert(t.id.as_str()) => Arc::clone(new),
            _ => Arc::clone(t),
        })
        .collect();
    let mut appended = BTreeSet::new();
    out.extend(
        changes
            .tenants
            .iter()
            .filter(|t| !placed.contains(t.id.as_str()) && appended.insert(t.id.as_str()))
            .cloned(),
    );
    out
}

/// Whether two shared tenants are equal: the same allocation (a tenant no build touched, most
/// of them) without comparing their content.
fn same(a: &Arc<Tenant>, b: &Arc<Tenant>) -> bool {
    Arc::ptr_eq(a, b) || a == b
}

#[cfg(test)]
mod tests;
