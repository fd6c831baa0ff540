//! Which tenants edges serve on a day, and with what limit: the contracts decide (art. 5, 6-1,
//! 9), not the tenant's free-typed fields.

use std::collections::BTreeMap;

use breakout_policy::{RegionPolicy, SCHEMA_VERSION};
use chrono::NaiveDate;

use super::State;

/// What the edges of `region` need on `date`, at the state's version: the tenants pinned to
/// it that are in service that day (art. 6-1) and hold a cloud-bypass contract for the region
/// in force (art. 5), each with the session limit of its capacity item in force (art. 9).
pub fn region_policy_at(state: &State, region: &str, date: NaiveDate) -> RegionPolicy {
    let tenants = state
        .tenants_in_region(region)
        .filter_map(|r| {
            let effective = state.contracts.get(&r.tenant.id)?.effective(date);
            let limit = effective.session_limit?;
            let served = effective.in_service && effective.region.as_deref() == Some(region);
            served.then(|| {
                let mut tenant = r.tenant.clone();
                tenant.session_limit = limit;
                tenant
            })
        })
        .collect();
    RegionPolicy {
        schema: SCHEMA_VERSION,
        version: state.version,
        region: region.to_string(),
        tenants,
        lists: BTreeMap::new(),
        foreign_sources: Vec::new(),
    }
}

/// The first day after `after` on which [`region_policy_at`] for `region` may change without
/// a new store version (a contract starting or ending, a capacity change taking effect).
pub fn next_policy_change(state: &State, region: &str, after: NaiveDate) -> Option<NaiveDate> {
    state
        .tenants_in_region(region)
        .filter_map(|r| state.contracts.get(&r.tenant.id)?.next_change(after))
        .min()
}
