//! Options and the attributes they depend on: art. 6-2, 6-3, 6-4, 10.

use chrono::NaiveDate;

use super::*;

pub(super) fn set_attributes(
    tc: &mut TenantContracts,
    attrs: &Attributes,
    cx: &Context,
) -> Checked {
    if !attrs.private_backbone {
        if let Some(c) = tc.held(ContractKind::CloudBypass, cx.today).next() {
            return Err(ContractError::conflict(
                "art. 6-2",
                format!(
                    "tenant {} holds cloud-bypass contract {}, which needs a private-backbone \
                     contract; private_backbone stays true until it has ended",
                    cx.tenant, c.id
                ),
            ));
        }
    }
    if let Some(o) = held_option(tc, OptionKind::InternetAccess, cx.today) {
        internet_access_date_ok(attrs, &format!("option {} ({})", o.kind, o.id))?;
    }
    tc.attributes = attrs.clone();
    Ok(())
}

pub(super) fn add_option(
    tc: &mut TenantContracts,
    kind: OptionKind,
    billing_start: Option<NaiveDate>,
    with_bypass: bool,
    cx: &Context,
) -> Checked {
    if kind == OptionKind::InitialSetup && !with_bypass {
        return Err(ContractError::invalid(
            "art. 10-3",
            "initial setup must be ordered in the same request as the cloud-bypass contract \
             (its order's \"options\")",
        ));
    }
    let article = if kind == OptionKind::InternetAccess {
        "art. 6-3"
    } else {
        "art. 6-4"
    };
    let Some(bypass) = tc.held(ContractKind::CloudBypass, cx.today).next() else {
        return Err(ContractError::conflict(
            article,
            format!(
                "option {kind} needs a cloud-bypass contract; tenant {} holds none",
                cx.tenant
            ),
        ));
    };
    if let Some(end) = bypass.term.effective_end {
        return Err(ContractError::conflict(
            article,
            format!(
                "option {kind} needs a cloud-bypass contract; {} ends on {end}",
                bypass.id
            ),
        ));
    }
    if kind == OptionKind::InternetAccess {
        internet_access_date_ok(&tc.attributes, "option internet-access")?;
    }
    if let Some(o) = held_option(tc, kind, cx.today) {
        return Err(ContractError::conflict(
            "art. 10",
            format!(
                "tenant {} already holds option {kind} ({})",
                cx.tenant, o.id
            ),
        ));
    }
    let start = self::billing_start(billing_start, cx)?;
    tc.options.push(TenantOption {
        id: format!("o{}", tc.options.len() + 1),
        kind,
        // 10-4: one month, except initial setup, which has no minimum term.
        term: Term::new(cx.today, start, kind != OptionKind::InitialSetup),
        created_version: cx.version,
        changed_version: cx.version,
    });
    Ok(())
}

pub(super) fn stop_option(
    tc: &mut TenantContracts,
    kind: OptionKind,
    end: &EndRequest,
    cx: &Context,
) -> Checked {
    if end.stop_options {
        return Err(ContractError::invalid(
            "art. 10-5",
            "stop_options: only ending a cloud-bypass contract stops options",
        ));
    }
    let Some(i) = tc
        .options
        .iter()
        .rposition(|o| o.kind == kind && o.term.held(cx.today))
    else {
        return Err(ContractError::not_found(format!(
            "tenant {} holds no {kind} option",
            cx.tenant
        )));
    };
    let o = &mut tc.options[i];
    if let Some(day) = o.term.effective_end {
        return Err(ContractError::conflict(
            "art. 10-5",
            format!("option {kind} ({}) already {}", o.id, ends(day, cx.today)),
        ));
    }
    o.term.end_by_notice(cx.today, end);
    o.changed_version = cx.version;
    Ok(())
}

/// Art. 6-3: an internet-access contract made on or after 2020-05-01.
pub(super) fn internet_access_date_ok(attrs: &Attributes, what: &str) -> Checked {
    let cutoff = internet_access_cutoff();
    match attrs.internet_access_contract_date {
        Some(day) if day >= cutoff => Ok(()),
        Some(day) => Err(ContractError::conflict(
            "art. 6-3",
            format!("{what} needs an internet-access contract made on or after {cutoff}; the tenant's is dated {day}"),
        )),
        None => Err(ContractError::conflict(
            "art. 6-3",
            format!("{what} needs an internet-access contract made on or after {cutoff}; the tenant has none on record"),
        )),
    }
}
