//! What the integration API (docs/integration.md) exports for a tenant, read from the state:
//! the tenant as its edges are given it, and since which version its effective destinations
//! are known not to have changed. Who may pull it: [`super::gates`].

use std::collections::BTreeMap;

use breakout_policy::{NamedList, Tenant};

use super::model::State;
use super::service::region_policy_at;

/// The tenant `id` and the region's shared lists at this state's version: the tenant as
/// [`region_policy_at`] gives it to edges on [`State::policy_day`] (template lists included),
/// or, for a tenant edges do not serve (external integration only), its stored record with the
/// same shared lists. `None` if there is no such tenant.
pub fn export_view(state: &State, id: &str) -> Option<(Tenant, BTreeMap<String, NamedList>)> {
    let record = state.tenants.get(id)?;
    let region = record.tenant.region.as_deref().unwrap_or_default();
    let policy = region_policy_at(state, region, state.policy_day());
    let tenant = policy
        .tenants
        .into_iter()
        .find(|t| t.id == id)
        .map(std::sync::Arc::unwrap_or_clone)
        .unwrap_or_else(|| {
            // Not served by edges (e.g. external integration only, art. 6-1): its devices still
            // get what its template subscriptions select.
            let mut tenant = record.tenant.clone();
            super::templates::add_subscriptions(
                state,
                &mut tenant,
                state.policy_day(),
                &mut super::templates::compile_subscription,
            );
            tenant
        });
    Some((tenant, policy.lists))
}

/// The version from which the tenant's exported destinations are known to be the same as at
/// this state's version. They depend on the tenant's record, but also on its template
/// subscriptions, the templates' live versions and the day's contracts, which change without
/// the record changing; so only this version itself is vouched for, and `?since=` deltas are
/// answered from versions this node has served (docs/integration.md).
pub fn export_stable_since(state: &State, id: &str) -> Option<u64> {
    state.tenants.get(id).map(|_| state.version)
}
