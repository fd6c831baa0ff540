//! Which tenants edges serve on a day, and with what limit: the contracts decide (art. 5, 6-1,
//! 9), not the tenant's free-typed fields.

use std::collections::BTreeMap;

use breakout_policy::{ForeignSources, OutOfService, RegionPolicy, SCHEMA_VERSION};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::model::{State, TenantRecord};
use super::step::{Apply, LogEntry, Step};
use crate::contracts::{OptionKind, TenantContracts};

/// The session limit edges enforce for a tenant (art. 3, 9): the capacity item of its
/// cloud-bypass contract in force, or the operator's [`super::TenantRecord::session_cap`] where
/// that is smaller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SessionLimit {
    /// What the region's edges admit together.
    pub sessions: u32,
    /// The capacity item of the contract in force.
    pub contracted: u32,
    /// Which of the two is in force.
    pub by: LimitBy,
}

/// Which limit is in force: the contract's capacity or the operator's smaller cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitBy {
    Contract,
    SessionCap,
}

/// The limit edges of `region` enforce for the tenant of `r` on `date`, if they serve it that
/// day: in service (art. 6-1) with a cloud-bypass contract for the region in force (art. 5).
/// The one answer to "what limit do edges enforce" (the edges' policy, the session leases and
/// the tenant view all read it).
pub fn served_limit(
    state: &State,
    r: &TenantRecord,
    region: &str,
    date: NaiveDate,
) -> Option<SessionLimit> {
    let effective = state.contracts.get(&r.tenant.id)?.effective(date);
    let contracted = effective.session_limit?;
    if !effective.in_service || effective.region.as_deref() != Some(region) {
        return None;
    }
    Some(match r.session_cap {
        Some(cap) if cap < contracted => SessionLimit {
            sessions: cap,
            contracted,
            by: LimitBy::SessionCap,
        },
        _ => SessionLimit {
            sessions: contracted,
            contracted,
            by: LimitBy::Contract,
        },
    })
}

/// For every region of the state, in name order: (region, [(tenant, session limit)]) of every
/// tenant its edges serve on `date`, as [`region_policy_at`] gives them, in id order, without
/// building the rest of the policy. One pass over the tenants: a pass per region compared
/// 2,000,000 region names at 100,000 tenants in 20 regions, at every version (BENCHMARKS.md).
pub fn session_limits_by_region(
    state: &State,
    date: NaiveDate,
) -> Vec<(String, Vec<(String, u32)>)> {
    let mut by_region: BTreeMap<&str, Vec<(String, u32)>> = state
        .regions
        .keys()
        .map(|r| (r.as_str(), Vec::new()))
        .collect();
    for r in state.tenants.values() {
        let Some(region) = r.tenant.region.as_deref() else {
            continue;
        };
        let Some(served) = by_region.get_mut(region) else {
            continue;
        };
        if let Some(limit) = served_limit(state, r, region, date) {
            served.push((r.tenant.id.clone(), limit.sessions));
        }
    }
    by_region
        .into_iter()
        .map(|(region, served)| (region.to_string(), served))
        .collect()
}

/// What the edges of `region` need on `date`, at the state's version: the tenants pinned to
/// it that are in service that day (art. 6-1) and hold a cloud-bypass contract for the region
/// in force (art. 5), each with its [`served_limit`].
pub fn region_policy_at(state: &State, region: &str, date: NaiveDate) -> RegionPolicy {
    let tenants = state
        .tenants_in_region(region)
        .filter_map(|r| served_tenant(state, r, region, date))
        .map(std::sync::Arc::new)
        .collect();
    RegionPolicy {
        schema: SCHEMA_VERSION,
        version: state.version,
        region: region.to_string(),
        tenants,
        lists: BTreeMap::new(),
        foreign_sources: Default::default(),
        out_of_service: Vec::new(),
    }
}

/// The tenant of `r` as the edges of `region` get it on `date` (its [`served_limit`], the PAC
/// only with the `pac` option, its template subscriptions compiled in), or `None` if they do not
/// serve it that day. [`region_policy_at`] is this for every tenant of the region; explain and
/// the console ask it for one.
pub fn served_tenant(
    state: &State,
    r: &TenantRecord,
    region: &str,
    date: NaiveDate,
) -> Option<breakout_policy::Tenant> {
    served_tenant_with(
        state,
        r,
        region,
        date,
        &mut super::templates::compile_subscription,
    )
}

/// [`served_tenant`], compiling subscriptions with `compile` (a memo of
/// [`super::templates::compile_subscription`]).
pub fn served_tenant_with(
    state: &State,
    r: &TenantRecord,
    region: &str,
    date: NaiveDate,
    compile: &mut super::templates::SubscriptionCompiler<'_>,
) -> Option<breakout_policy::Tenant> {
    let limit = served_limit(state, r, region, date)?;
    let held = state.contracts.get(&r.tenant.id)?;
    let mut tenant = r.tenant.clone();
    tenant.session_limit = limit.sessions;
    // Art. 10-3: edges serve a PAC only while the `pac` option is in force.
    let pac_option = held
        .options
        .iter()
        .any(|o| o.kind == OptionKind::Pac && o.term.in_force(date));
    if !pac_option {
        tenant.pac = None;
    }
    super::templates::add_subscriptions(state, &mut tenant, date, compile);
    Some(tenant)
}

/// The source networks of every tenant pinned to another region than `region` (art. 5), in
/// tenant id order: an edge of `region` refuses them naming their region.
pub fn foreign_sources(state: &State, region: &str) -> Vec<ForeignSources> {
    state
        .tenants
        .values()
        .filter_map(|r| {
            let home = r.tenant.region.as_deref()?;
            (home != region && !r.tenant.source_cidrs.is_empty()).then(|| ForeignSources {
                region: home.to_string(),
                tenant: r.tenant.id.clone(),
                cidrs: r.tenant.source_cidrs.clone(),
            })
        })
        .collect()
}

/// The tenants pinned to `region` that [`region_policy_at`] leaves out on `date`, with their
/// source networks and why (each reason starting with its article), in tenant id order:
/// an edge refuses their clients saying the tenant is not in service rather than "unknown
/// source". Tenants without source networks are left out.
pub fn out_of_service(state: &State, region: &str, date: NaiveDate) -> Vec<OutOfService> {
    state
        .tenants_in_region(region)
        .filter_map(|r| tenant_out_of_service(r, state.contracts.get(&r.tenant.id), region, date))
        .collect()
}

/// Whether the edges of `region` refuse tenant `r` on `date` as not in service, and why: the
/// one decision behind [`out_of_service`] (`None` also for a tenant without source networks,
/// which an edge cannot recognise).
pub fn tenant_out_of_service(
    r: &TenantRecord,
    contracts: Option<&TenantContracts>,
    region: &str,
    date: NaiveDate,
) -> Option<OutOfService> {
    if r.tenant.source_cidrs.is_empty() {
        return None;
    }
    let none = TenantContracts::default();
    let e = contracts.unwrap_or(&none).effective(date);
    let reason = if !e.in_service {
        e.reasons_not_in_service.join("; ")
    } else if e.session_limit.is_none() {
        "art. 6-1: served through external integration only, without a cloud-bypass contract \
         in force"
            .to_string()
    } else if e.region.as_deref() != Some(region) {
        format!("art. 5: its cloud bypass is not for region {region}")
    } else {
        return None;
    };
    Some(OutOfService {
        tenant: r.tenant.id.clone(),
        reason,
        cidrs: r.tenant.source_cidrs.clone(),
    })
}

/// The first day after `after` on which [`region_policy_at`] for `region` may change without
/// a new store version (a contract starting or ending, a capacity change taking effect).
pub fn next_policy_change(state: &State, region: &str, after: NaiveDate) -> Option<NaiveDate> {
    state
        .tenants_in_region(region)
        .filter_map(|r| state.contracts.get(&r.tenant.id)?.next_change(after))
        .min()
}

/// The day to propose a [`Tick`] for when the clock says `today`: `Some(today)`
/// when what some region's edges are given changes on a day after [`State::policy_day`] and
/// no later than `today` (the state's version would otherwise keep showing the old day), else
/// `None`. Pure: the caller brings the clock.
pub fn tick_due(state: &State, today: NaiveDate) -> Option<NaiveDate> {
    let day = state.policy_day();
    if today <= day {
        return None;
    }
    state
        .regions
        .keys()
        .filter_map(|region| next_policy_change(state, region, day))
        .min()
        .filter(|change| *change <= today)
        .map(|_| today)
}

/// The leader's clock reached `day`, on which what edges are given changes without any other
/// write (a contract starts or ends, a capacity change takes effect): moves [`State::day`] on,
/// so the change gets a store version of its own. Audited as `clock.tick`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tick {
    pub day: NaiveDate,
}

impl Apply for Tick {
    fn apply(&self, state: &mut State, _: &LogEntry) -> Step {
        state.day = state.day.max(Some(self.day));
        Ok(())
    }

    fn audit(&self) -> (&'static str, String) {
        ("clock.tick", format!("day/{}", self.day))
    }
}
