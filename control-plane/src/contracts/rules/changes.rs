//! Changing and ending a contract: art. 9, 12 (and 6-4 for the options a bypass takes along).

use chrono::NaiveDate;

use super::*;

pub(super) fn change_capacity(
    tc: &mut TenantContracts,
    id: &str,
    capacity: u32,
    effective: Option<NaiveDate>,
    cx: &Context,
) -> Checked {
    let i = position(tc, id, cx)?;
    let c = &tc.contracts[i];
    let Service::CloudBypass { plan, .. } = c.service else {
        return Err(ContractError::conflict(
            "art. 9",
            format!(
                "{id} is a {} contract; only a cloud bypass has a capacity item",
                c.service.describe()
            ),
        ));
    };
    if let Some(end) = c.term.effective_end {
        return Err(ContractError::conflict(
            "art. 9",
            format!(
                "contract {id} {}; its capacity item can no longer change",
                ends(end, cx.today)
            ),
        ));
    }
    let to_plan = plan_of(capacity).ok_or_else(|| not_an_item(capacity))?;
    if to_plan != plan {
        return Err(ContractError::conflict(
            "art. 9",
            format!("capacity may change only within the same plan (plan {plan} → plan {to_plan} refused)"),
        ));
    }
    let effective = effective.unwrap_or(cx.today);
    if effective < cx.today {
        return Err(ContractError::invalid(
            "art. 9",
            format!(
                "effective: {effective} is in the past (today is {})",
                cx.today
            ),
        ));
    }
    if let Some(pending) = c.capacity_changes.iter().find(|ch| ch.effective > cx.today) {
        return Err(ContractError::conflict(
            "art. 9",
            format!(
                "a change of {id} to {} sessions from {} is already scheduled",
                sessions(pending.to),
                pending.effective
            ),
        ));
    }
    let from = c.latest_capacity().unwrap_or(capacity);
    if from == capacity {
        return Err(ContractError::invalid(
            "art. 9",
            format!(
                "capacity: contract {id} already has the {}-session item",
                sessions(capacity)
            ),
        ));
    }
    let version = cx.version;
    let c = &mut tc.contracts[i];
    c.capacity_changes.push(CapacityChange {
        accepted: cx.today,
        effective,
        from,
        to: capacity,
        version,
    });
    c.changed_version = version;
    Ok(())
}

pub(super) fn cancel(
    tc: &mut TenantContracts,
    id: &str,
    end: &EndRequest,
    cx: &Context,
) -> Checked {
    let i = position(tc, id, cx)?;
    let c = &tc.contracts[i];
    if let Some(day) = c.term.effective_end {
        return Err(ContractError::conflict(
            "art. 12",
            format!("contract {id} already {}", ends(day, cx.today)),
        ));
    }
    let mut term = c.term.clone();
    term.end_by_notice(cx.today, end);
    let ends = term.effective_end.unwrap_or(cx.today);
    let is_bypass = c.service.kind() == ContractKind::CloudBypass;
    if end.stop_options && !is_bypass {
        return Err(ContractError::invalid(
            "art. 6-4",
            "stop_options: only ending a cloud-bypass contract stops options",
        ));
    }
    if is_bypass {
        let outliving: Vec<usize> = (0..tc.options.len())
            .filter(|&o| tc.options[o].term.held(cx.today))
            .filter(|&o| tc.options[o].term.effective_end.is_none_or(|e| e > ends))
            .collect();
        if !outliving.is_empty() && !end.stop_options {
            let list: Vec<String> = outliving
                .iter()
                .map(|&o| format!("{} ({})", tc.options[o].kind, tc.options[o].id))
                .collect();
            return Err(ContractError::conflict(
                "art. 6-4",
                format!(
                    "options {} need the cloud bypass, which would end on {ends}; stop them \
                     first or cancel with stop_options",
                    list.join(", ")
                ),
            ));
        }
        let notice = EndRequest {
            stop_options: false,
            ..end.clone()
        };
        for o in outliving {
            tc.options[o].term.end_by_notice(cx.today, &notice);
            tc.options[o].changed_version = cx.version;
        }
    }
    let c = &mut tc.contracts[i];
    c.term = term;
    c.changed_version = cx.version;
    Ok(())
}
