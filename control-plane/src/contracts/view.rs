//! Contracts and options as the API shows them: the stored record plus its state on a day.

use chrono::NaiveDate;
use serde::Serialize;

use super::lifecycle::Status;
use super::model::{
    CapacityChange, Contract, ContractKind, OptionKind, Service, TemplateItem, TenantOption, Term,
};

/// A child contract on a day.
#[derive(Clone, Debug, Serialize)]
pub struct ContractView {
    pub id: String,
    pub kind: ContractKind,
    /// list-template: the template item.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<TemplateItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<u8>,
    /// cloud-bypass: the capacity item in force on the day (art. 9 changes applied).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub state: Status,
    #[serde(flatten)]
    pub term: Term,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub capacity_changes: Vec<CapacityChange>,
    pub created_version: u64,
    pub changed_version: u64,
}

impl ContractView {
    pub fn new(c: &Contract, on: NaiveDate) -> Self {
        let (item, plan, region) = match &c.service {
            Service::ListTemplate { item } => (Some(*item), None, None),
            Service::CloudBypass { plan, region, .. } => (None, Some(*plan), Some(region.clone())),
            Service::ExternalIntegration => (None, None, None),
        };
        ContractView {
            id: c.id.clone(),
            kind: c.service.kind(),
            item,
            plan,
            capacity: c.capacity_at(on),
            region,
            state: c.term.status(on),
            term: c.term.clone(),
            capacity_changes: c.capacity_changes.clone(),
            created_version: c.created_version,
            changed_version: c.changed_version,
        }
    }
}

/// An option on a day.
#[derive(Clone, Debug, Serialize)]
pub struct OptionView {
    pub id: String,
    pub kind: OptionKind,
    pub state: Status,
    #[serde(flatten)]
    pub term: Term,
    pub created_version: u64,
    pub changed_version: u64,
}

impl OptionView {
    pub fn new(o: &TenantOption, on: NaiveDate) -> Self {
        OptionView {
            id: o.id.clone(),
            kind: o.kind,
            state: o.term.status(on),
            term: o.term.clone(),
            created_version: o.created_version,
            changed_version: o.changed_version,
        }
    }
}
