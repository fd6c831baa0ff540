//! Where a contract or option stands on a given day, and what a tenant is entitled to on that
//! day: pure functions of (contracts, date), so every node and every edge agree.

use chrono::NaiveDate;
use serde::Serialize;

use super::dates::{end_takes_effect, min_term_end};
use super::model::{
    Contract, ContractKind, EndReason, EndRequest, OptionKind, Service, TenantContracts, Term,
};

/// The article behind the in-service rule, for the reasons a tenant is not in service.
pub const ART_6_1: &str = "art. 6-1";

/// A contract's or option's state on a day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Accepted; billing (and service) has not started.
    Pending,
    Active,
    /// An end is scheduled and has not yet taken effect.
    Ending,
    Ended,
}

impl Term {
    /// A term accepted on `applied` whose billing starts on `billing_start`; `minimum` says
    /// whether it has the one-month minimum term (art. 4, 10-4).
    pub fn new(applied: NaiveDate, billing_start: NaiveDate, minimum: bool) -> Self {
        Term {
            applied,
            billing_start,
            min_term_end: minimum.then(|| min_term_end(billing_start)),
            notice: None,
            requested_end: None,
            effective_end: None,
            end_reason: None,
            provider_fault: false,
        }
    }

    /// Not yet ended on `d` (pending, active or ending): the tenant still holds it.
    pub fn held(&self, d: NaiveDate) -> bool {
        self.effective_end.is_none_or(|end| d < end)
    }

    /// In service on `d`: billing has started and the end has not taken effect.
    pub fn in_force(&self, d: NaiveDate) -> bool {
        self.billing_start <= d && self.held(d)
    }

    pub fn status(&self, d: NaiveDate) -> Status {
        match self.effective_end {
            Some(end) if end <= d => Status::Ended,
            Some(_) => Status::Ending,
            None if d < self.billing_start => Status::Pending,
            None => Status::Active,
        }
    }

    /// Records a notice that arrived on `notice` (art. 12, 10-5).
    pub fn end_by_notice(&mut self, notice: NaiveDate, end: &EndRequest) {
        self.notice = Some(notice);
        self.requested_end = end.requested_end;
        self.effective_end = Some(end_takes_effect(notice, end.requested_end));
        self.end_reason = Some(EndReason::Notice);
        self.provider_fault = end.provider_fault;
    }

    /// Ends on `day` at the latest, for a reason that is the provider's (art. 11).
    pub fn end_by_provider(&mut self, day: NaiveDate, reason: EndReason) {
        if self.effective_end.is_some_and(|end| end <= day) {
            return;
        }
        self.effective_end = Some(day);
        self.end_reason = Some(reason);
        self.provider_fault = true;
    }
}

impl Contract {
    /// The cloud-bypass capacity item in force on `d` (the ordered item, then each art. 9
    /// change from its effective day); `None` for other kinds.
    pub fn capacity_at(&self, d: NaiveDate) -> Option<u32> {
        let Service::CloudBypass { capacity, .. } = &self.service else {
            return None;
        };
        let changed = self
            .capacity_changes
            .iter()
            .rev()
            .find(|c| c.effective <= d);
        Some(changed.map_or(*capacity, |c| c.to))
    }

    /// The item after every change, scheduled ones included.
    pub fn latest_capacity(&self) -> Option<u32> {
        let Service::CloudBypass { capacity, .. } = &self.service else {
            return None;
        };
        Some(self.capacity_changes.last().map_or(*capacity, |c| c.to))
    }

    pub fn region(&self) -> Option<&str> {
        match &self.service {
            Service::CloudBypass { region, .. } => Some(region),
            _ => None,
        }
    }
}

/// What a tenant's contracts entitle it to on one day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Effective {
    /// Art. 6-1: a list-template contract and a cloud-bypass or external-integration contract in
    /// force. Edges serve only tenants in service.
    pub in_service: bool,
    /// The capacity item of the cloud-bypass contract in force (art. 3, 9).
    pub session_limit: Option<u32>,
    /// The region of the cloud-bypass contract in force (art. 5).
    pub region: Option<String>,
    /// The internet-access option is in force: `direct` traffic leaves through the provider's
    /// egress addresses rather than the tenant's own (art. 7, 10-2-1).
    pub internet_access: bool,
    /// Why `in_service` is false, each starting with its article.
    pub reasons_not_in_service: Vec<String>,
}

impl TenantContracts {
    /// The contracts of `kind` still held on `d`.
    pub fn held(&self, kind: ContractKind, d: NaiveDate) -> impl Iterator<Item = &Contract> {
        self.contracts
            .iter()
            .filter(move |c| c.service.kind() == kind && c.term.held(d))
    }

    fn in_force(&self, kind: ContractKind, d: NaiveDate) -> Option<&Contract> {
        self.contracts
            .iter()
            .find(|c| c.service.kind() == kind && c.term.in_force(d))
    }

    /// True once the tenant has ever held a cloud-bypass contract: its session limit then comes
    /// from the capacity item, not from the free-typed field.
    pub fn has_cloud_bypass(&self) -> bool {
        self.contracts
            .iter()
            .any(|c| c.service.kind() == ContractKind::CloudBypass)
    }

    /// Ids of the contracts and options still held on `d`.
    pub fn held_ids(&self, d: NaiveDate) -> Vec<&str> {
        let contracts = self.contracts.iter().filter(|c| c.term.held(d));
        let options = self.options.iter().filter(|o| o.term.held(d));
        contracts
            .map(|c| c.id.as_str())
            .chain(options.map(|o| o.id.as_str()))
            .collect()
    }

    /// The first day after `after` on which what the tenant is entitled to may change (a
    /// billing start, an end taking effect, a capacity change), if any is scheduled. Edges'
    /// policies are a function of the day, so whoever serves them must look again then.
    pub fn next_change(&self, after: NaiveDate) -> Option<NaiveDate> {
        let terms = self
            .contracts
            .iter()
            .map(|c| &c.term)
            .chain(self.options.iter().map(|o| &o.term));
        let term_days = terms.flat_map(|t| [Some(t.billing_start), t.effective_end]);
        let changes = self
            .contracts
            .iter()
            .flat_map(|c| c.capacity_changes.iter().map(|ch| Some(ch.effective)));
        term_days
            .chain(changes)
            .flatten()
            .filter(|d| *d > after)
            .min()
    }

    /// What the tenant is entitled to on `d`.
    pub fn effective(&self, d: NaiveDate) -> Effective {
        let template = self.in_force(ContractKind::ListTemplate, d);
        let bypass = self.in_force(ContractKind::CloudBypass, d);
        let integration = self.in_force(ContractKind::ExternalIntegration, d);
        let mut reasons = Vec::new();
        if template.is_none() {
            reasons.push(format!("{ART_6_1}: no list-template contract in force"));
        }
        if bypass.is_none() && integration.is_none() {
            reasons.push(format!(
                "{ART_6_1}: no cloud-bypass or external-integration contract in force"
            ));
        }
        if bypass.is_some() && !self.attributes.private_backbone {
            reasons.push("art. 6-2: cloud bypass without a private-backbone contract".into());
        }
        let internet_access = self
            .options
            .iter()
            .any(|o| o.kind == OptionKind::InternetAccess && o.term.in_force(d));
        Effective {
            in_service: reasons.is_empty(),
            session_limit: bypass.and_then(|c| c.capacity_at(d)),
            region: bypass.and_then(|c| c.region()).map(str::to_string),
            internet_access,
            reasons_not_in_service: reasons,
        }
    }
}
