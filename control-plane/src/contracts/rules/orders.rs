//! Ordering a child contract: art. 1, 3, 5, 6-2, 11, and the options ordered with a cloud
//! bypass (10-3).

use super::options::add_option;
use super::*;

pub(super) fn add_contract(
    tc: &mut TenantContracts,
    order: &ContractOrder,
    cx: &Context,
) -> Checked {
    let billing_start = billing_start(order.billing_start, cx)?;
    let service = match order.kind {
        ContractKind::ListTemplate => template_service(tc, order, cx)?,
        ContractKind::CloudBypass => bypass_service(tc, order, cx)?,
        ContractKind::ExternalIntegration => {
            only(order, &[])?;
            if let Some(c) = tc.held(ContractKind::ExternalIntegration, cx.today).next() {
                return Err(already_holds(cx, c));
            }
            Service::ExternalIntegration
        }
    };
    tc.contracts.push(Contract {
        id: format!("c{}", tc.contracts.len() + 1),
        service,
        term: Term::new(cx.today, billing_start, true),
        capacity_changes: Vec::new(),
        created_version: cx.version,
        changed_version: cx.version,
    });
    for (i, kind) in order.options.iter().enumerate() {
        if order.options[..i].contains(kind) {
            return Err(ContractError::invalid(
                "art. 10",
                format!("options[{i}]: {kind} is listed twice"),
            ));
        }
        add_option(tc, *kind, Some(billing_start), true, cx)?;
    }
    Ok(())
}

pub(super) fn template_service(
    tc: &TenantContracts,
    order: &ContractOrder,
    cx: &Context,
) -> Checked<Service> {
    only(order, &["item"])?;
    let Some(item) = order.item else {
        return Err(ContractError::invalid(
            "art. 3",
            format!(
                "item: required for a list-template contract ({})",
                names(TemplateItem::ALL)
            ),
        ));
    };
    if let Some(day) = cx.withdrawn.get(&item) {
        return Err(ContractError::conflict(
            "art. 11",
            format!("template {item} is withdrawn from {day}; it can no longer be ordered"),
        ));
    }
    let service = Service::ListTemplate { item };
    if let Some(c) = tc
        .contracts
        .iter()
        .find(|c| c.service == service && c.term.held(cx.today))
    {
        return Err(already_holds(cx, c));
    }
    Ok(service)
}

pub(super) fn bypass_service(
    tc: &TenantContracts,
    order: &ContractOrder,
    cx: &Context,
) -> Checked<Service> {
    only(order, &["plan", "capacity", "region", "options"])?;
    let Some(capacity) = order.capacity else {
        return Err(ContractError::invalid(
            "art. 3",
            format!(
                "capacity: required for a cloud-bypass contract ({})",
                items()
            ),
        ));
    };
    let plan = plan_of(capacity).ok_or_else(|| not_an_item(capacity))?;
    if let Some(asked) = order.plan.filter(|p| *p != plan) {
        return Err(ContractError::invalid(
            "art. 3",
            format!(
                "plan: {} sessions is an item of plan {plan}, not plan {asked}",
                sessions(capacity)
            ),
        ));
    }
    let region = order.region.as_deref().unwrap_or(cx.tenant_region);
    if !cx.regions.contains(&region) {
        return Err(ContractError::invalid(
            "art. 5",
            format!(
                "region: {region} is not in the operator's list of regions ({})",
                cx.regions.join(", ")
            ),
        ));
    }
    if region != cx.tenant_region {
        return Err(ContractError::conflict(
            "art. 5",
            format!(
                "tenant {} is pinned to region {}; a cloud bypass for {region} could not be used \
                 through it",
                cx.tenant, cx.tenant_region
            ),
        ));
    }
    if !tc.attributes.private_backbone {
        return Err(ContractError::conflict(
            "art. 6-2",
            format!(
                "a cloud-bypass contract needs a private-backbone contract; tenant {} has none \
                 on record (set its private_backbone attribute)",
                cx.tenant
            ),
        ));
    }
    if let Some(c) = tc.held(ContractKind::CloudBypass, cx.today).next() {
        return Err(already_holds(cx, c));
    }
    Ok(Service::CloudBypass {
        plan,
        capacity,
        region: region.to_string(),
    })
}

/// Refuses the order's fields that its kind does not take (every field outside `allowed`).
pub(super) fn only(order: &ContractOrder, allowed: &[&str]) -> Checked {
    let set = [
        ("item", order.item.is_some()),
        ("plan", order.plan.is_some()),
        ("capacity", order.capacity.is_some()),
        ("region", order.region.is_some()),
        ("options", !order.options.is_empty()),
    ];
    match set
        .iter()
        .find(|(name, present)| *present && !allowed.contains(name))
    {
        None => Ok(()),
        Some(("options", _)) => Err(ContractError::invalid(
            "art. 6-4",
            format!(
                "options: ordered only with a cloud-bypass contract, not with {}",
                order.kind
            ),
        )),
        Some((name, _)) => Err(ContractError::invalid(
            "art. 3",
            format!("{name}: a {} contract has no {name}", order.kind),
        )),
    }
}
