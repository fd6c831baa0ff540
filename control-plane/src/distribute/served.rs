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
//!
//! A pass walks only what differs between the state it last saw and the new one (imbl's `diff`
//! skips the subtrees both maps share), so a one-tenant write costs a few lookups, not a walk
//! over every tenant; a new day, a template change or the first pass walk them all. The cache
//! also keeps each region's tenant ids, so a region's build walks its own tenants only, and
//! each region's `foreign_sources`, shared until some tenant's region or networks change.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use breakout_policy::{ForeignSources, OutOfService, SourceCidr, Tenant};
use chrono::NaiveDate;
use imbl::OrdMap;

use breakout_policy::Action;

use crate::contracts::{TemplateItem, TenantContracts};
use crate::state::{
    compile_subscription, served_tenant_with, tenant_out_of_service, State, TemplateRecord,
    TemplateVersion, TenantRecord,
};
use crate::templates::select::{Compiled, Subscription};

type Subscriptions = Arc<BTreeMap<TemplateItem, Subscription>>;

struct Entry {
    record: Arc<TenantRecord>,
    subs: Option<Subscriptions>,
    contracts: Option<TenantContracts>,
    /// The tenant as the edges of its region get it; `None` if they do not serve it.
    served: Option<Arc<Tenant>>,
    /// Why its region's edges refuse it as not in service, if they do.
    out_of_service: Option<OutOfService>,
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
    /// Per region: its tenants' ids, in id order.
    by_region: HashMap<String, BTreeSet<String>>,
    /// Per region: the ids of its tenants not in service, in id order (what its
    /// `out_of_service` lists, without a walk over all its tenants).
    out_ids: HashMap<String, BTreeSet<String>>,
    /// The maps a served tenant depends on, as the last pass saw them.
    seen: Option<Seen>,
    /// Per region: its `foreign_sources` and the version they were computed at.
    foreign: HashMap<String, (u64, Arc<Vec<ForeignSources>>)>,
    /// Per region: the version at which some tenant of it last changed.
    changed_at: HashMap<String, u64>,
    /// The version at which some tenant's region or source networks last changed (every
    /// region's `foreign_sources` may then differ).
    sources_changed_at: u64,
    /// The version at which everything last changed (the day, the first pass).
    all_changed_at: u64,
    compiled: CompileMemo,
}

/// The state's maps of tenants, subscriptions and contracts (cheap clones of imbl maps).
struct Seen {
    tenants: OrdMap<String, Arc<TenantRecord>>,
    subscriptions: OrdMap<String, Subscriptions>,
    contracts: OrdMap<String, TenantContracts>,
}

impl Seen {
    fn of(state: &State) -> Seen {
        Seen {
            tenants: state.tenants.clone(),
            subscriptions: state.subscriptions.clone(),
            contracts: state.contracts.clone(),
        }
    }

    /// The ids whose record, subscriptions or contracts differ in `state`.
    fn changed_ids(&self, state: &State) -> BTreeSet<String> {
        let mut ids = BTreeSet::new();
        ids.extend(self.tenants.diff(&state.tenants).map(|d| diff_key(&d)));
        ids.extend(
            self.subscriptions
                .diff(&state.subscriptions)
                .map(|d| diff_key(&d)),
        );
        ids.extend(self.contracts.diff(&state.contracts).map(|d| diff_key(&d)));
        ids
    }
}

fn diff_key<V>(item: &imbl::ordmap::DiffItem<'_, '_, String, V>) -> String {
    use imbl::ordmap::DiffItem;
    match item {
        DiffItem::Add(k, _) | DiffItem::Remove(k, _) => (*k).clone(),
        DiffItem::Update { new: (k, _), .. } => (*k).clone(),
    }
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
        let mut whole = self.seen.is_none();
        if self.day != Some(day) || self.version == 0 {
            self.tenants.clear();
            self.by_region.clear();
            self.out_ids.clear();
            self.day = Some(day);
            self.all_changed_at = v;
            whole = true;
        }
        let templates_changed =
            !same_templates(&self.templates, &state.templates) || self.withdrawn != state.withdrawn;
        if templates_changed {
            self.templates = state.templates.clone();
            self.withdrawn = state.withdrawn.clone();
            self.compiled.retain(&self.templates);
            whole = true;
        }
        match self.seen.as_ref().filter(|_| !whole) {
            Some(seen) => {
                for id in seen.changed_ids(state) {
                    match state.tenants.get(&id) {
                        Some(record) => self.refresh(state, &id, record, day, false),
                        None => self.remove(&id, v),
                    }
                }
            }
            None => {
                for (id, record) in state.tenants.iter() {
                    self.refresh(state, id, record, day, templates_changed);
                }
                if self.tenants.len() > state.tenants.len() {
                    let gone: Vec<String> = self
                        .tenants
                        .iter()
                        .filter(|(_, e)| e.seen != v)
                        .map(|(id, _)| id.clone())
                        .collect();
                    for id in gone {
                        self.remove(&id, v);
                    }
                }
            }
        }
        self.seen = Some(Seen::of(state));
        self.version = v;
    }

    /// Brings tenant `id`'s entry to `record` and what it depends on in `state`, if any of it
    /// changed (or templates did and it subscribes).
    fn refresh(
        &mut self,
        state: &State,
        id: &String,
        record: &Arc<TenantRecord>,
        day: NaiveDate,
        templates_changed: bool,
    ) {
        let v = state.version;
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
                return;
            }
        }
        let memo = &mut self.compiled;
        let mut compile =
            |item: TemplateItem, sub: &Subscription, version: &TemplateVersion, action: &Action| {
                memo.compile(item, sub, version, action)
            };
        let region = record.tenant.region.as_deref();
        let entry = Entry {
            record: Arc::clone(record),
            subs: subs.cloned(),
            contracts: contracts.cloned(),
            served: region
                .and_then(|r| served_tenant_with(state, record, r, day, &mut compile))
                .map(Arc::new),
            out_of_service: region.and_then(|r| tenant_out_of_service(record, contracts, r, day)),
            seen: v,
        };
        // What the entry replaces: its region, and whether its region or networks move.
        let old = self.tenants.get(id).map(|old| {
            let region = old.region().map(str::to_string);
            (region, old.sources() != entry.sources())
        });
        match old {
            Some((region, moved)) => {
                if moved {
                    self.sources_changed_at = v;
                }
                if let Some(region) = region {
                    if Some(region.as_str()) != entry.region() {
                        unindex(&mut self.by_region, &region, id);
                    }
                    unindex(&mut self.out_ids, &region, id);
                    self.changed_at.insert(region, v);
                }
            }
            None => self.sources_changed_at = v,
        }
        if let Some(region) = entry.region() {
            self.changed_at.insert(region.to_string(), v);
            self.by_region
                .entry(region.to_string())
                .or_default()
                .insert(id.clone());
            if entry.out_of_service.is_some() {
                let ids = self.out_ids.entry(region.to_string()).or_default();
                ids.insert(id.clone());
            }
        }
        self.tenants.insert(id.clone(), entry);
    }

    /// Forgets tenant `id` (no longer in the state) at version `v`.
    fn remove(&mut self, id: &str, v: u64) {
        if let Some(old) = self.tenants.remove(id) {
            if let Some(region) = old.region() {
                self.changed_at.insert(region.to_string(), v);
                unindex(&mut self.by_region, region, id);
                unindex(&mut self.out_ids, region, id);
            }
            self.sources_changed_at = v;
        }
    }

    fn region_entries<'a>(&'a self, region: &str) -> impl Iterator<Item = &'a Entry> + 'a {
        self.by_region
            .get(region)
            .into_iter()
            .flatten()
            .filter_map(|id| self.tenants.get(id))
    }

    /// The tenants `region`'s edges get, in tenant id order (as [`crate::state::region_policy_at`]).
    pub fn region_tenants(&self, region: &str) -> Vec<Arc<Tenant>> {
        self.region_entries(region)
            .filter_map(|e| e.served.clone())
            .collect()
    }

    /// The tenants of `region` not in service on the cache's day, as
    /// [`crate::state::out_of_service`] gives them (each decided when its tenant last changed,
    /// not at every build of the region).
    pub fn out_of_service(&self, region: &str) -> Vec<OutOfService> {
        let ids = self.out_ids.get(region).into_iter().flatten();
        ids.filter_map(|id| self.tenants.get(id)?.out_of_service.clone())
            .collect()
    }

    /// `region`'s `foreign_sources` at `state` (the state this cache was brought to): the list
    /// computed before, shared, unless some tenant's region or source networks changed since.
    pub fn foreign_sources(&mut self, state: &State, region: &str) -> Arc<Vec<ForeignSources>> {
        if let Some((at, list)) = self.foreign.get(region) {
            if *at >= self.sources_changed_at {
                return Arc::clone(list);
            }
        }
        let list = Arc::new(crate::state::foreign_sources(state, region));
        self.foreign.retain(|r, _| state.regions.contains_key(r));
        self.foreign
            .insert(region.to_string(), (self.version, Arc::clone(&list)));
        list
    }
}

/// Takes `id` out of `region`'s set in `index`, and the region out when its set is empty.
fn unindex(index: &mut HashMap<String, BTreeSet<String>>, region: &str, id: &str) {
    if let Some(ids) = index.get_mut(region) {
        ids.remove(id);
        if ids.is_empty() {
            index.remove(region);
        }
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
