//! What a tenant's own token needs beyond its scope for some routes: a contract or an option in
//! force on the day (art. 2, 10-4). Each gate answers `Err(reason)` naming what is missing.

use chrono::NaiveDate;

use super::model::State;
use crate::contracts::{ContractKind, OptionKind};

/// Art. 2: a tenant's own token may pull its export (`GET /v1/tenants/{id}/endpoints`) only while it holds an
/// external-integration or a list-template contract in force on `day`; the refusal says so.
pub fn may_export(state: &State, id: &str, day: NaiveDate) -> Result<(), String> {
    let allowed = state.contracts.get(id).is_some_and(|held| {
        held.contracts.iter().any(|c| {
            matches!(
                c.service.kind(),
                ContractKind::ExternalIntegration | ContractKind::ListTemplate
            ) && c.term.in_force(day)
        })
    });
    if allowed {
        Ok(())
    } else {
        Err(format!(
            "art. 2: tenant {id} holds no external-integration or list-template contract in \
             force on {day}; pulling endpoints needs one"
        ))
    }
}

/// Art. 10-4: a tenant's own token may replace or patch its lists only while the tenant holds
/// the `list-update-api` option in force on `day`; the refusal names the option.
pub fn may_update_lists(state: &State, id: &str, day: NaiveDate) -> Result<(), String> {
    let allowed = state.contracts.get(id).is_some_and(|held| {
        held.options
            .iter()
            .any(|o| o.kind == OptionKind::ListUpdateApi && o.term.in_force(day))
    });
    if allowed {
        Ok(())
    } else {
        Err(format!(
            "art. 10-4: changing lists with a tenant token needs the list-update-api option, \
             which tenant {id} does not hold in force on {day}"
        ))
    }
}
