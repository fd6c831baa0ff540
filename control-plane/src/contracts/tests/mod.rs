//! Tests of the rules, the lifecycle and the charges: table-driven where a rule has edges,
//! built from the small helpers below.

mod billing;
mod changes;
mod eligibility;
mod ending;
mod withdrawal;

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::rules::{check, Context};
use super::*;

/// A calendar day from `YYYY-MM-DD`.
fn day(s: &str) -> NaiveDate {
    s.parse()
        .unwrap_or_else(|e| panic!("{s:?} is not a date: {e}"))
}

/// One tenant, `acme`, pinned to region `tokyo` (the operator has `tokyo` and `osaka`), with its
/// contracts; each request is a new store version.
struct World {
    tc: TenantContracts,
    withdrawn: BTreeMap<TemplateItem, NaiveDate>,
    version: u64,
}

impl World {
    /// A tenant with the private-backbone attribute and no contracts.
    fn new() -> Self {
        let mut tc = TenantContracts::default();
        tc.attributes.private_backbone = true;
        World {
            tc,
            withdrawn: BTreeMap::new(),
            version: 10,
        }
    }

    /// A tenant in service from `start`: m365 template (c1), 20,000-session cloud bypass (c2).
    fn serving(start: &str) -> Self {
        let mut w = World::new();
        w.ok(start, add(template(TemplateItem::Microsoft365)));
        w.ok(start, add(bypass(20_000)));
        w
    }

    fn run(
        &mut self,
        today: &str,
        req: &ContractRequest,
    ) -> Result<TenantContracts, ContractError> {
        self.version += 1;
        let cx = Context {
            today: day(today),
            version: self.version,
            tenant: "acme",
            tenant_region: "tokyo",
            regions: &["osaka", "tokyo"],
            withdrawn: &self.withdrawn,
        };
        check(&self.tc, req, &cx)
    }

    /// Applies `req` on `today`, insisting it is accepted.
    fn ok(&mut self, today: &str, req: ContractRequest) -> &TenantContracts {
        match self.run(today, &req) {
            Ok(next) => self.tc = next,
            Err(e) => panic!("{req:?} on {today} refused: {e}"),
        }
        &self.tc
    }

    /// Applies `req` on `today`, insisting it is refused as `kind`; the message (with its
    /// article). A refusal changes nothing, which `check` guarantees by returning a new value.
    fn refused(&mut self, today: &str, req: ContractRequest, kind: ErrorKind) -> String {
        match self.run(today, &req) {
            Err(e) if e.kind == kind => e.to_string(),
            other => panic!("{req:?} on {today}: expected {kind:?}, got {other:?}"),
        }
    }

    fn contract(&self, id: &str) -> &Contract {
        self.tc
            .contracts
            .iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("no {id}"))
    }

    fn option(&self, kind: OptionKind) -> &TenantOption {
        self.tc
            .options
            .iter()
            .rev()
            .find(|o| o.kind == kind)
            .unwrap_or_else(|| panic!("no {kind}"))
    }

    fn effective(&self, on: &str) -> Effective {
        self.tc.effective(day(on))
    }
}

fn order(kind: ContractKind) -> ContractOrder {
    ContractOrder {
        kind,
        item: None,
        plan: None,
        capacity: None,
        region: None,
        billing_start: None,
        options: Vec::new(),
    }
}

fn template(item: TemplateItem) -> ContractOrder {
    ContractOrder {
        item: Some(item),
        ..order(ContractKind::ListTemplate)
    }
}

fn bypass(capacity: u32) -> ContractOrder {
    ContractOrder {
        capacity: Some(capacity),
        ..order(ContractKind::CloudBypass)
    }
}

fn with_options(order: ContractOrder, options: &[OptionKind]) -> ContractOrder {
    ContractOrder {
        options: options.to_vec(),
        ..order
    }
}

fn starting(order: ContractOrder, billing_start: &str) -> ContractOrder {
    ContractOrder {
        billing_start: Some(day(billing_start)),
        ..order
    }
}

fn add(order: ContractOrder) -> ContractRequest {
    ContractRequest::AddContract { order }
}

fn add_option(kind: OptionKind) -> ContractRequest {
    ContractRequest::AddOption {
        kind,
        billing_start: None,
    }
}

fn end(requested: Option<&str>) -> EndRequest {
    EndRequest {
        requested_end: requested.map(day),
        ..EndRequest::default()
    }
}

fn cancel(id: &str, end: EndRequest) -> ContractRequest {
    ContractRequest::Cancel {
        contract: id.into(),
        end,
    }
}

fn stop(kind: OptionKind, end: EndRequest) -> ContractRequest {
    ContractRequest::StopOption { kind, end }
}

fn change(id: &str, capacity: u32, effective: Option<&str>) -> ContractRequest {
    ContractRequest::ChangeCapacity {
        contract: id.into(),
        capacity,
        effective: effective.map(day),
    }
}

fn attributes(private_backbone: bool, internet_access: Option<&str>) -> ContractRequest {
    ContractRequest::SetAttributes {
        attributes: Attributes {
            private_backbone,
            internet_access_contract_date: internet_access.map(day),
        },
    }
}
