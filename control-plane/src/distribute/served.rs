//! Each tenant as its region's edges get it, kept from one store version to the next and
//! recomputed only when something it depends on changed; and, per region, the version at which
//! its content last changed (so a write that touches one tenant rebuilds one region, not all).
//!
//! [`served_tenant`] is a function of the tenant's record, its contracts, its subscriptions,
//! the template records, the withdrawn templates and the state's day. Records, subscriptions
//! and templates are `Arc`s in the persistent state: a write that changes one makes a new
//! `Arc`, and the others keep their pointers, so "unchanged" is a pointer comparison (the
//! entry holds its `Arc`s, so a pointer cannot be reused while compared). Contracts are
//! compared by value (a few items per tenant).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use breakout_policy::{SourceCidr, Tenant};
use chrono::NaiveDate;

use breakout_policy::Action;

use crate::contracts::{TemplateItem, TenantContracts};
use crate::state::{
    compile_subscription, served_tenant_with, State, TemplateRecord, TemplateVersion, TenantRecord,
};
use crate::templates::select::{Compiled, Subscription};

type Subscriptions = Arc<BTreeMap<TemplateItem, Subscription>>;

struct Entry {
    record: Arc<TenantRecord>,
    subs: Option<Subscriptions>,
    contracts: Option<TenantContracts>,
    /// The tenant as the edges of its region get it; `None` if they do not serve it.
    served: Option<Arc<Tenant>>,
    /// The pass that last saw it in the state.
    seen: u64,
}

impl Entry {
    fn region(&self) -> Option<&str> {
        self.record.tenant.region.as_deref()
    }

    fn sources(&self) -> (Option<&str>, &[SourceCidr]) {
        (self.region(), &self.record.tenant.source_cidrs)
    }
}

/// The served tenants of the last state seen, and what changed when.
#[derive(Default)]
pub struct ServedCache {
    version: u64,
    day: Option<NaiveDate>,
    templates: BTreeMap<TemplateItem, Arc<TemplateRecord>>,
    withdrawn: BTreeMap<TemplateItem, NaiveDate>,
    tenants: HashMap<String, Entry>,
    /// Per region: the version at which some tenant of it last changed.
    changed_at: HashMap<String, u64>,
    /// The version at which some tenant's region or source networks last changed (every
    /// region's `foreign_sources` may then differ).
    sources_changed_at: u64,
    /// The version at which everything last changed (the day, the first pass).
    all_changed_at: u64,
    compiled: CompileMemo,
}

/// Subscriptions compiled per template version (by its content digest): tenants subscribed
/// alike to one version get one compile between them, not one each.
#[derive(Default)]
struct CompileMemo {
    /// (item, version's content hash) → the (subscription, default action) compiled, in order.
    by_version: HashMap<(TemplateItem, String), Vec<MemoEntry>>,
}

/// One subscription and default action of a template version, compiled.
type MemoEntry = (Subscription, Action, Compiled);

/// Different subscriptions kept per version; a fleet has a handful (beyond: compiled each time).
const MEMO_VARIANTS: usize = 64;

impl CompileMemo {
    fn compile(
        &mut self,
        item: TemplateItem,
        sub: &Subscription,
        version: &TemplateVersion,
        default_action: &Action,
    ) -> Compiled {
        let kept = self
            .by_version
            .entry((item, version.hash.clone()))
            .or_default();
        if let Some((_, _, c)) = kept
            .iter()
            .find(|(s, a, _)| s == sub && a == default_action)
        {
            return c.clone();
        }
        let c = compile_subscription(item, sub, version, default_action);
        if kept.len() < MEMO_VARIANTS {
            kept.push((sub.clone(), default_action.clone(), c.clone()));
        }
        c
    }

    /// Forgets versions no template holds any more.
    fn retain(&mut self, templates: &BTreeMap<TemplateItem, Arc<TemplateRecord>>) {
        self.by_version.retain(|(item, hash), _| {
            templates
                .get(item)
                .is_some_and(|r| r.versions.iter().any(|v| &v.hash == hash))
        });
    }
}

impl ServedCache {
    /// The version this cache reflects.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The version since which `region`'s content has not changed (as far as this cache knows):
    /// a policy of the region built at this version or later is still current.
    pub fn unchanged_since(&self, region: &str) -> u64 {
        let region_at = self.changed_at.get(region).copied().unwrap_or(0);
        region_at
            .max(self.sources_changed_at)
            .max(self.all_changed_at)
    }

    /// Brings the cache to `state` (a newer version than the cache's; older ones are ignored).
    pub fn advance(&mut self, state: &State) {
        if state.version <= self.version && self.version != 0 {
            return;
        }
        let v = state.version;
        let day = state.policy_day();
        if self.day != Some(day) || self.version == 0 {
            self.tenants.clear();
            self.day = Some(day);
            self.all_changed_at = v;
        }
        let templates_changed =
            !same_templates(&self.templates, &state.templates) || self.withdrawn != state.withdrawn;
        if templates_changed {
            self.templates = state.templates.clone();
            self.withdrawn = state.withdrawn.clone();
            self.compiled.retain(&self.templates);
        }
        for (id, record) in state.tenants.iter() {
            let subs = state.subscriptions.get(id);
            let contracts = state.contracts.get(id);
            if let Some(e) = self.tenants.get_mut(id) {
                let same = Arc::ptr_eq(&e.record, record)
                    && match (&e.subs, subs) {
                        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                        (None, None) => true,
                        _ => false,
                    }
                    && e.contracts.as_ref() == contracts
                    && !(templates_changed && e.subs.is_some());
                if same {
                    e.seen = v;
                    continue;
                }
            }
            let memo = &mut self.compiled;
            let mut compile =
                |item: TemplateItem,
                 sub: &Subscription,
                 version: &TemplateVersion,
                 action: &Action| { memo.compile(item, sub, version, action) };
            let entry = Entry {
                record: Arc::clone(record),
                subs: subs.cloned(),
                contracts: contracts.cloned(),
                served: record
                    .tenant
                    .region
                    .as_deref()
                    .and_then(|r| served_tenant_with(state, record, r, day, &mut compile))
                    .map(Arc::new),
                seen: v,
            };
            if let Some(region) = entry.region() {
                self.changed_at.insert(region.to_string(), v);
            }
            match self.tenants.insert(id.clone(), entry) {
                Some(old) => {
                    if let Some(region) = old.region() {
                        self.changed_at.insert(region.to_string(), v);
                    }
                    if old.sources() != self.tenants[id].sources() {
                        self.sources_changed_at = v;
                    }
                }
                None => self.sources_changed_at = v,
            }
        }
        if self.tenants.len() > state.tenants.len() {
            let mut gone = Vec::new();
            self.tenants.retain(|_, e| {
                let keep = e.seen == v;
                if !keep {
                    gone.extend(e.region().map(str::to_string));
                }
                keep
            });
            for region in gone {
                self.changed_at.insert(region, v);
            }
            self.sources_changed_at = v;
        }
        self.version = v;
    }

    /// The tenants `region`'s edges get, in tenant id order (as [`crate::state::region_policy_at`]).
    pub fn region_tenants(&self, state: &State, region: &str) -> Vec<Tenant> {
        state
            .tenants_in_region(region)
            .filter_map(|r| self.tenants.get(&r.tenant.id)?.served.as_deref().cloned())
            .collect()
    }
}

fn same_templates(
    a: &BTreeMap<TemplateItem, Arc<TemplateRecord>>,
    b: &BTreeMap<TemplateItem, Arc<TemplateRecord>>,
) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b.iter())
            .all(|((ka, va), (kb, vb))| ka == kb && Arc::ptr_eq(va, vb))
}
