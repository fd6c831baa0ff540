//! What the integration API (docs/integration.md) exports for a tenant, read from the state:
//! the tenant as its edges are given it, who may pull it (art. 2), and since which version
//! its effective destinations are known not to have changed.

use std::collections::BTreeMap;

use breakout_policy::{NamedList, Tenant};
use chrono::NaiveDate;

use super::{region_policy_at, State};
use crate::contracts::{ContractKind, OptionKind};

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
        .unwrap_or_else(|| {
            // Not served by edges (e.g. external integration only, art. 6-1): its devices still
            // get what its template subscriptions select.
            let mut tenant = record.tenant.clone();
            super::templates::add_subscriptions(state, &mut tenant, state.policy_day());
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

/// Art. 2: a tenant's own token may pull its endpoints only while it holds an
/// external-integration or a list-template contract in force on `day`; the refusal says so.
pub fn may_pull_endpoints(state: &State, id: &str, day: NaiveDate) -> Result<(), String> {
    let allowed = state.contracts.get(id).is_some_and(|held| {
        held.contracts.iter().any(|c| {
            matches!(
                c.service.kind(),
                ContractKind::ExternalIntegration | ContractKind::ListTemplate
            ) && c.term.in_force(day)
        })
    });
    if allowed {
        Ok(())
    } else {
        Err(format!(
            "art. 2: tenant {id} holds no external-integration or list-template contract in \
             force on {day}; pulling endpoints needs one"
        ))
    }
}

/// Art. 10-4: a tenant's own token may replace or patch its lists only while the tenant holds
/// the `list-update-api` option in force on `day`; the refusal names the option.
pub fn may_update_lists(state: &State, id: &str, day: NaiveDate) -> Result<(), String> {
    let allowed = state.contracts.get(id).is_some_and(|held| {
        held.options
            .iter()
            .any(|o| o.kind == OptionKind::ListUpdateApi && o.term.in_force(day))
    });
    if allowed {
        Ok(())
    } else {
        Err(format!(
            "art. 10-4: changing lists with a tenant token needs the list-update-api option, \
             which tenant {id} does not hold in force on {day}"
        ))
    }
}
