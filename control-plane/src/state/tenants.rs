//! Tenant writes and the checks every stored tenant passes: the policy crate's validation, IPv4
//! source networks with no host bits, well-formed lists, and no source network shared with
//! another tenant of the same region (an edge tells tenants apart by source address).

use std::collections::BTreeMap;

use breakout_policy::validate::validate_tenant;
use breakout_policy::Tenant;

use chrono::NaiveDate;

use super::apply::{check_if_match, Reject, Step};
use super::{contracts, lists, State, TenantPatch, TenantRecord};

pub(super) fn create(state: &mut State, index: u64, tenant: &Tenant) -> Step {
    let region = match tenant.region.as_deref() {
        None | Some("") => {
            return Err(Reject::invalid(
                "tenant.region: required: the region the tenant is pinned to (art. 5)",
            ))
        }
        Some(r) => r,
    };
    if !state.regions.contains_key(region) {
        return Err(Reject::invalid(format!(
            "tenant.region: region {region} does not exist; create it first"
        )));
    }
    if state.tenants.contains_key(&tenant.id) {
        return Err(Reject::conflict(format!(
            "tenant {} already exists",
            tenant.id
        )));
    }
    check(state, tenant, region)?;
    state.tenants.insert(
        tenant.id.clone(),
        TenantRecord {
            tenant: tenant.clone(),
            created_version: index,
            changed_version: index,
            session_cap: None,
            ops_contact: None,
            notify_business_days: false,
        },
    );
    Ok(())
}

pub(super) fn update(
    state: &mut State,
    index: u64,
    id: &str,
    if_match: Option<u64>,
    patch: &TenantPatch,
    today: NaiveDate,
) -> Step {
    let record = find(state, id)?;
    check_if_match(&format!("tenant {id}"), record.changed_version, if_match)?;
    if *patch == TenantPatch::default() {
        return Err(Reject::invalid(
            "patch: empty; name at least one field to change",
        ));
    }
    contracts::check_free_limit(state, id, patch)?;
    contracts::check_pac_option(state, id, patch, today)?;
    if let Some(Some(addr)) = &patch.ops_contact {
        check_mailbox(addr)?;
    }
    let mut tenant = record.tenant.clone();
    patch_into(&mut tenant, patch);
    let region = region_of(record);
    check(state, &tenant, &region)?;
    commit(state, index, tenant);
    if let Some(record) = state.tenants.get_mut(id) {
        if let Some(cap) = patch.session_cap {
            record.session_cap = cap;
        }
        if let Some(contact) = &patch.ops_contact {
            record.ops_contact = contact.clone();
        }
        if let Some(held) = patch.notify_business_days {
            record.notify_business_days = held;
        }
    }
    Ok(())
}

pub(super) fn delete(state: &mut State, id: &str, if_match: Option<u64>, today: NaiveDate) -> Step {
    let record = find(state, id)?;
    check_if_match(&format!("tenant {id}"), record.changed_version, if_match)?;
    contracts::check_deletable(state, id, today)?;
    state.tenants.remove(id);
    state.contracts.remove(id);
    state.tokens.retain(|_, token| token.tenant != id);
    Ok(())
}

/// The tenant's record, or a not-found rejection naming it.
pub(super) fn find<'a>(state: &'a State, id: &str) -> Result<&'a TenantRecord, Reject> {
    state
        .tenants
        .get(id)
        .ok_or_else(|| Reject::not_found(format!("tenant {id} does not exist")))
}

/// Stores a changed tenant that has passed every check, at version `index`.
pub(super) fn commit(state: &mut State, index: u64, tenant: Tenant) {
    if let Some(record) = state.tenants.get_mut(&tenant.id) {
        record.tenant = tenant;
        record.changed_version = index;
    }
}

/// A stored tenant's region (always set on records; see [`TenantRecord`]).
pub(super) fn region_of(record: &TenantRecord) -> String {
    record.tenant.region.clone().unwrap_or_default()
}

fn patch_into(t: &mut Tenant, patch: &TenantPatch) {
    if let Some(v) = &patch.source_cidrs {
        t.source_cidrs = v.clone();
    }
    if let Some(v) = &patch.upstreams {
        t.upstreams = v.clone();
    }
    if let Some(v) = &patch.rules {
        t.rules = v.clone();
    }
    if let Some(v) = &patch.default_action {
        t.default_action = v.clone();
    }
    if let Some(v) = patch.session_limit {
        t.session_limit = v;
    }
    if let Some(v) = patch.egress_address {
        t.egress_address = v;
    }
    if let Some(v) = &patch.pac {
        t.pac = v.clone();
    }
}

/// Everything a tenant must satisfy to be stored in `region`. Shared (template) lists do not
/// exist yet, so rules may only name the tenant's own lists.
fn check(state: &State, t: &Tenant, region: &str) -> Step {
    validate_tenant(t, region, &BTreeMap::new())
        .map_err(|e| Reject::invalid(e.within("tenant").to_string()))?;
    for (i, cidr) in t.source_cidrs.iter().enumerate() {
        // The model's parser refuses host bits; a tenant built in code has not been parsed.
        if cidr.0.trunc() != cidr.0 {
            return Err(Reject::invalid(format!(
                "tenant.source_cidrs[{i}]: {} has host bits set; did you mean {}?",
                cidr.0,
                cidr.0.trunc()
            )));
        }
    }
    for (name, list) in &t.lists {
        let at = format!("tenant.lists[{name}]");
        lists::check_name(name, &at)?;
        lists::check_entries(list, &format!("{at}.entries"))?;
    }
    check_overlaps(state, t, region)
}

/// Source networks must be disjoint from every other tenant's in the same region. CIDRs nest or
/// are disjoint, so two overlap exactly when one contains the other.
fn check_overlaps(state: &State, t: &Tenant, region: &str) -> Step {
    let others = state
        .tenants_in_region(region)
        .filter(|r| r.tenant.id != t.id);
    for other in others {
        for (i, mine) in t.source_cidrs.iter().enumerate() {
            let clash = other
                .tenant
                .source_cidrs
                .iter()
                .find(|theirs| mine.0.contains(&theirs.0) || theirs.0.contains(&mine.0));
            if let Some(theirs) = clash {
                return Err(Reject::conflict(format!(
                    "tenant.source_cidrs[{i}]: {mine} overlaps {theirs} of tenant {} in region \
                     {region}; source networks of a region's tenants must be disjoint",
                    other.tenant.id
                )));
            }
        }
    }
    Ok(())
}

/// An e-mail address the SMTP relay will take: `local@domain`, no spaces or angle brackets.
fn check_mailbox(addr: &str) -> Step {
    let bad = |why: &str| Err(Reject::invalid(format!("ops_contact {addr:?}: {why}")));
    if addr.len() > 254 {
        return bad("longer than 254 characters");
    }
    if addr
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"".contains(c))
    {
        return bad("spaces, controls, quotes, commas and angle brackets are not allowed");
    }
    match addr.rsplit_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && !local.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.') =>
        {
            Ok(())
        }
        _ => bad("not an address of the form name@example.com"),
    }
}
