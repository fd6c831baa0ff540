//! Contract writes: the pure rules in [`crate::contracts`] decide, this module stores what they
//! decided. Also the guards that contracts put on other writes (deleting a tenant, typing a
//! session limit, PAC settings).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::model::State;
use super::step::{find, region_of, Apply, LogEntry, Reject, Step};
use crate::contracts::prices::check_effective_from;
use crate::contracts::rules::{check_withdrawal, Context};
use crate::contracts::{
    self, ContractError, ContractKind, ContractRequest, ErrorKind, OptionKind, PriceBook,
    PriceBookRecord, TemplateItem, TenantContracts,
};

/// A change to one tenant's attributes, contracts or options, checked by
/// [`crate::contracts::check`] on the request's UTC day.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContractChange {
    pub tenant: String,
    pub request: ContractRequest,
}

impl Apply for ContractChange {
    fn apply(&self, state: &mut State, entry: &LogEntry) -> Step {
        let tenant = self.tenant.as_str();
        let record = find(state, tenant)?;
        let region = region_of(record);
        let regions: Vec<&str> = state.regions.keys().map(String::as_str).collect();
        let empty = TenantContracts::default();
        let cx = Context {
            today: entry.today,
            version: entry.index,
            tenant,
            tenant_region: &region,
            regions: &regions,
            withdrawn: &state.withdrawn,
        };
        let current = state.contracts.get(tenant).unwrap_or(&empty);
        let next = contracts::check(current, &self.request, &cx).map_err(reject)?;
        state.contracts.insert(tenant.to_string(), next);
        Ok(())
    }

    fn audit(&self) -> (&'static str, String) {
        let at = format!("tenant/{}", self.tenant);
        match &self.request {
            ContractRequest::SetAttributes { .. } => {
                ("tenant.attributes", format!("{at}/attributes"))
            }
            ContractRequest::AddContract { .. } => ("contract.add", format!("{at}/contracts")),
            ContractRequest::ChangeCapacity { contract, .. } => {
                ("contract.capacity", format!("{at}/contract/{contract}"))
            }
            ContractRequest::Cancel { contract, .. } => {
                ("contract.cancel", format!("{at}/contract/{contract}"))
            }
            ContractRequest::AddOption { kind, .. } => {
                ("option.add", format!("{at}/option/{kind}"))
            }
            ContractRequest::StopOption { kind, .. } => {
                ("option.stop", format!("{at}/option/{kind}"))
            }
        }
    }
}

/// A new price book from `effective_from` (default: the request's day; never earlier), if it
/// passes annex 1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SetPriceBook {
    pub effective_from: Option<NaiveDate>,
    pub prices: PriceBook,
}

impl Apply for SetPriceBook {
    fn apply(&self, state: &mut State, entry: &LogEntry) -> Step {
        self.prices.validate().map_err(reject)?;
        let from = self.effective_from.unwrap_or(entry.today);
        check_effective_from(from, entry.today).map_err(reject)?;
        state.price_books.insert(
            from,
            PriceBookRecord {
                effective_from: from,
                version: entry.index,
                prices: self.prices.clone(),
            },
        );
        Ok(())
    }

    fn audit(&self) -> (&'static str, String) {
        ("price_book.set", "price-book".to_string())
    }
}

/// Art. 11: withdraws a template item from `effective` (default: the request's day); every
/// tenant's contracts for it end that day.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WithdrawTemplate {
    pub item: TemplateItem,
    pub effective: Option<NaiveDate>,
}

impl Apply for WithdrawTemplate {
    fn apply(&self, state: &mut State, entry: &LogEntry) -> Step {
        let (item, today) = (self.item, entry.today);
        let effective = self.effective.unwrap_or(today);
        check_withdrawal(&state.withdrawn, item, effective, today).map_err(reject)?;
        let ended: Vec<(String, TenantContracts)> = state
            .contracts
            .iter()
            .filter_map(|(id, held)| {
                let next = contracts::withdraw(held, item, effective, entry.index)?;
                Some((id.clone(), next))
            })
            .collect();
        for (id, next) in ended {
            state.contracts.insert(id, next);
        }
        state.withdrawn.insert(item, effective);
        Ok(())
    }

    fn audit(&self) -> (&'static str, String) {
        ("template.withdraw", format!("template/{}", self.item))
    }
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
pub(super) fn check_free_limit(state: &State, id: &str, session_limit: Option<u32>) -> Step {
    if session_limit.is_none() {
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
/// always allowed: `sets_pac` is whether the write sets them.
pub(super) fn check_pac_option(state: &State, id: &str, sets_pac: bool, today: NaiveDate) -> Step {
    if !sets_pac {
        return Ok(());
    }
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
