//! Contract writes: the pure rules in [`crate::contracts`] decide, this module stores what they
//! decided. Also the guards that contracts put on other writes (deleting a tenant, typing a
//! session limit).

use chrono::NaiveDate;

use super::apply::{Reject, Step};
use super::tenants::{find, region_of};
use super::{State, TenantPatch};
use crate::contracts::prices::check_effective_from;
use crate::contracts::rules::{check_withdrawal, Context};
use crate::contracts::{
    self, ContractError, ContractKind, ContractRequest, ErrorKind, OptionKind, PriceBook,
    PriceBookRecord, TemplateItem, TenantContracts,
};

/// Applies one change to `tenant`'s contracts, decided for the day `today`.
pub(super) fn change(
    state: &mut State,
    index: u64,
    today: NaiveDate,
    tenant: &str,
    request: &ContractRequest,
) -> Step {
    let record = find(state, tenant)?;
    let region = region_of(record);
    let regions: Vec<&str> = state.regions.keys().map(String::as_str).collect();
    let empty = TenantContracts::default();
    let cx = Context {
        today,
        version: index,
        tenant,
        tenant_region: &region,
        regions: &regions,
        withdrawn: &state.withdrawn,
    };
    let current = state.contracts.get(tenant).unwrap_or(&empty);
    let next = contracts::check(current, request, &cx).map_err(reject)?;
    state.contracts.insert(tenant.to_string(), next);
    Ok(())
}

/// Stores a price book that passes annex 1, from `effective_from` (default `today`).
pub(super) fn set_price_book(
    state: &mut State,
    index: u64,
    today: NaiveDate,
    effective_from: Option<NaiveDate>,
    prices: &PriceBook,
) -> Step {
    prices.validate().map_err(reject)?;
    let from = effective_from.unwrap_or(today);
    check_effective_from(from, today).map_err(reject)?;
    state.price_books.insert(
        from,
        PriceBookRecord {
            effective_from: from,
            version: index,
            prices: prices.clone(),
        },
    );
    Ok(())
}

/// Art. 11: withdraws `item` from `effective` (default `today`); every tenant's contracts for
/// it end that day.
pub(super) fn withdraw(
    state: &mut State,
    index: u64,
    today: NaiveDate,
    item: TemplateItem,
    effective: Option<NaiveDate>,
) -> Step {
    let effective = effective.unwrap_or(today);
    check_withdrawal(&state.withdrawn, item, effective, today).map_err(reject)?;
    for held in state.contracts.values_mut() {
        if let Some(next) = contracts::withdraw(held, item, effective, index) {
            *held = next;
        }
    }
    state.withdrawn.insert(item, effective);
    Ok(())
}

/// Art. 1: a tenant (the parent contract) is deleted only once its child contracts and
/// options have all ended; its contract records go with it.
pub(super) fn check_deletable(state: &State, id: &str, today: NaiveDate) -> Step {
    let Some(held) = state.contracts.get(id) else {
        return Ok(());
    };
    let ids = held.held_ids(today);
    if ids.is_empty() {
        return Ok(());
    }
    Err(Reject::conflict(format!(
        "art. 1: tenant {id} still holds {}; end them before deleting the tenant",
        ids.join(", ")
    )))
}

/// Art. 9: once a tenant has a cloud-bypass contract, its session limit is the capacity item
/// and cannot be typed in.
pub(super) fn check_free_limit(state: &State, id: &str, patch: &TenantPatch) -> Step {
    if patch.session_limit.is_none() {
        return Ok(());
    }
    let Some(held) = state.contracts.get(id).filter(|h| h.has_cloud_bypass()) else {
        return Ok(());
    };
    let contract = held
        .contracts
        .iter()
        .rev()
        .find(|c| c.service.kind() == ContractKind::CloudBypass)
        .map_or("", |c| c.id.as_str());
    Err(Reject::conflict(format!(
        "art. 9: tenant {id}'s session limit follows the capacity item of its cloud-bypass \
         contract {contract}; change the item (POST /v1/tenants/{id}/contracts/{contract}/capacity) \
         instead, or hold it lower with session_cap"
    )))
}

/// Art. 10-3, 6-4: PAC settings need the `pac` option once the tenant has contracts (a
/// tenant without any, such as a standalone or test setup, is not restricted). Removing them is
/// always allowed.
pub(super) fn check_pac_option(
    state: &State,
    id: &str,
    patch: &TenantPatch,
    today: NaiveDate,
) -> Step {
    let Some(Some(_)) = &patch.pac else {
        return Ok(());
    };
    let Some(held) = state.contracts.get(id).filter(|h| !h.contracts.is_empty()) else {
        return Ok(());
    };
    let has_pac = held
        .options
        .iter()
        .any(|o| o.kind == OptionKind::Pac && o.term.held(today));
    if has_pac {
        return Ok(());
    }
    Err(Reject::conflict(format!(
        "art. 6-4: tenant {id} does not hold the pac option (art. 10-3); order it \
         (POST /v1/tenants/{id}/options) before setting PAC settings"
    )))
}

/// A refusal of the rules as the state machine reports it; the message starts with the article.
fn reject(e: ContractError) -> Reject {
    let message = e.to_string();
    match e.kind {
        ErrorKind::Invalid => Reject::invalid(message),
        ErrorKind::NotFound => Reject::not_found(message),
        ErrorKind::Conflict => Reject::conflict(message),
    }
}

/// The audit `action` and `target` of a contract request.
pub(super) fn describe(tenant: &str, request: &ContractRequest) -> (&'static str, String) {
    let at = format!("tenant/{tenant}");
    match request {
        ContractRequest::SetAttributes { .. } => ("tenant.attributes", format!("{at}/attributes")),
        ContractRequest::AddContract { .. } => ("contract.add", format!("{at}/contracts")),
        ContractRequest::ChangeCapacity { contract, .. } => {
            ("contract.capacity", format!("{at}/contract/{contract}"))
        }
        ContractRequest::Cancel { contract, .. } => {
            ("contract.cancel", format!("{at}/contract/{contract}"))
        }
        ContractRequest::AddOption { kind, .. } => ("option.add", format!("{at}/option/{kind}")),
        ContractRequest::StopOption { kind, .. } => ("option.stop", format!("{at}/option/{kind}")),
    }
}
