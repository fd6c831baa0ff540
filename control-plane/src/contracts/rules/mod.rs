//! The rules a change to a tenant's contracts must pass, each refusal naming its article.
//! [`check`] computes the tenant's contracts after the change, or the refusal; it changes
//! nothing itself, so a refused request leaves the state as it was.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::model::*;
use super::ContractError;

mod changes;
mod options;
mod orders;

/// Art. 6-3: the internet-access contract must be made on or after this day.
pub fn internet_access_cutoff() -> NaiveDate {
    NaiveDate::from_ymd_opt(2020, 5, 1).unwrap_or(NaiveDate::MIN)
}

/// What the rules need besides the tenant's contracts.
pub struct Context<'a> {
    /// The day the request is decided for (the request's UTC day inside `apply`).
    pub today: NaiveDate,
    /// The store version the change will be written at.
    pub version: u64,
    pub tenant: &'a str,
    /// The region the tenant is pinned to.
    pub tenant_region: &'a str,
    /// The operator's regions (art. 5).
    pub regions: &'a [&'a str],
    /// Template items withdrawn (art. 11), with the day the withdrawal takes effect.
    pub withdrawn: &'a BTreeMap<TemplateItem, NaiveDate>,
}

pub(super) type Checked<T = ()> = Result<T, ContractError>;

/// The tenant's contracts after `req`, or why `req` is refused.
pub fn check(
    tc: &TenantContracts,
    req: &ContractRequest,
    cx: &Context,
) -> Checked<TenantContracts> {
    let mut next = tc.clone();
    match req {
        ContractRequest::SetAttributes { attributes } => {
            options::set_attributes(&mut next, attributes, cx)?
        }
        ContractRequest::AddContract { order } => orders::add_contract(&mut next, order, cx)?,
        ContractRequest::ChangeCapacity {
            contract,
            capacity,
            effective,
        } => changes::change_capacity(&mut next, contract, *capacity, *effective, cx)?,
        ContractRequest::Cancel { contract, end } => changes::cancel(&mut next, contract, end, cx)?,
        ContractRequest::AddOption {
            kind,
            billing_start,
        } => options::add_option(&mut next, *kind, *billing_start, false, cx)?,
        ContractRequest::StopOption { kind, end } => {
            options::stop_option(&mut next, *kind, end, cx)?
        }
    }
    Ok(next)
}

/// Art. 11: whether `item` may be withdrawn from `effective` on, decided on `today`.
pub fn check_withdrawal(
    withdrawn: &BTreeMap<TemplateItem, NaiveDate>,
    item: TemplateItem,
    effective: NaiveDate,
    today: NaiveDate,
) -> Checked {
    if let Some(day) = withdrawn.get(&item) {
        return Err(ContractError::conflict(
            "art. 11",
            format!("template {item} is already withdrawn from {day}"),
        ));
    }
    if effective < today {
        return Err(ContractError::invalid(
            "art. 11",
            format!("effective: {effective} is in the past (today is {today})"),
        ));
    }
    Ok(())
}

/// Art. 11: the tenant's contracts once `item` is withdrawn from `effective` on: every contract
/// for it still held then ends that day, as the provider's doing (no early-termination charge).
/// `None` when the tenant holds no such contract.
pub fn withdraw(
    tc: &TenantContracts,
    item: TemplateItem,
    effective: NaiveDate,
    version: u64,
) -> Option<TenantContracts> {
    let mut next = tc.clone();
    let mut touched = false;
    for c in &mut next.contracts {
        let matches = c.service == Service::ListTemplate { item };
        if matches && c.term.effective_end.is_none_or(|end| end > effective) {
            c.term.end_by_provider(effective, EndReason::Withdrawn);
            c.changed_version = version;
            touched = true;
        }
    }
    touched.then_some(next)
}

/// Art. 13: billing starts on the day of acceptance or later (default: that day).
fn billing_start(asked: Option<NaiveDate>, cx: &Context) -> Checked<NaiveDate> {
    match asked {
        Some(day) if day < cx.today => Err(ContractError::invalid(
            "art. 13",
            format!(
                "billing_start: {day} is before the order is accepted ({})",
                cx.today
            ),
        )),
        Some(day) => Ok(day),
        None => Ok(cx.today),
    }
}

/// Where contract `id` is in `tc.contracts`.
fn position(tc: &TenantContracts, id: &str, cx: &Context) -> Checked<usize> {
    tc.contracts.iter().position(|c| c.id == id).ok_or_else(|| {
        ContractError::not_found(format!("tenant {} has no contract {id}", cx.tenant))
    })
}

/// `ends on 2025-03-01`, or `ended on …` once that day has come.
fn ends(end: NaiveDate, today: NaiveDate) -> String {
    if end <= today {
        format!("ended on {end}")
    } else {
        format!("ends on {end}")
    }
}

fn held_option(tc: &TenantContracts, kind: OptionKind, d: NaiveDate) -> Option<&TenantOption> {
    tc.options.iter().find(|o| o.kind == kind && o.term.held(d))
}

fn already_holds(cx: &Context, c: &Contract) -> ContractError {
    ContractError::conflict(
        "art. 1",
        format!(
            "tenant {} already holds {} contract {}; one child contract per function",
            cx.tenant,
            c.service.describe(),
            c.id
        ),
    )
}

fn not_an_item(capacity: u32) -> ContractError {
    ContractError::invalid(
        "art. 3",
        format!(
            "capacity: {} sessions is not an item ({})",
            sessions(capacity),
            items()
        ),
    )
}

/// `plan 1: 20,000, 40,000, …; plan 2: …`.
fn items() -> String {
    let plans: Vec<String> = PLANS
        .iter()
        .map(|(plan, items)| {
            let items: Vec<String> = items.iter().map(|n| sessions(*n)).collect();
            format!("plan {plan}: {}", items.join(", "))
        })
        .collect();
    plans.join("; ")
}

fn names<T: std::fmt::Display>(all: &[T]) -> String {
    all.iter().map(T::to_string).collect::<Vec<_>>().join(", ")
}
