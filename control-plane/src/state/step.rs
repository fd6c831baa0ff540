//! What every write shares: the entry being applied, the [`Apply`] trait each command
//! implements, business rejections, `If-Match`, and looking up and storing a tenant. The
//! command files and the dispatcher ([`super::apply`]) import this module; it imports only
//! the data ([`super::model`]).

use std::sync::Arc;

use breakout_policy::Tenant;
use chrono::NaiveDate;

use super::model::{sources, AuditEvent, RejectKind, State, TenantRecord};

/// The log entry being applied: its index (the version it writes) and the proposer's stamp.
#[derive(Clone, Copy, Debug)]
pub struct LogEntry<'a> {
    pub index: u64,
    /// The request's UTC day: contract rules decide for it, never for the applying node's clock.
    pub today: NaiveDate,
    pub at_ms: u64,
    pub actor: &'a str,
}

/// One kind of write. `apply` checks everything before it changes anything, so a rejection
/// leaves the state as it was (the dispatcher still moves `version` and the audit log).
pub trait Apply {
    fn apply(&self, state: &mut State, entry: &LogEntry) -> Step;

    /// The audit `action` and `target` of this write.
    fn audit(&self) -> (&'static str, String);

    /// An audit event this write made besides its own (recorded after it), e.g. a quarantine.
    fn extra_audit(&self, _state: &State, _entry: &LogEntry) -> Option<AuditEvent> {
        None
    }

    /// The command's own input rules (the ids it creates, its free text; see `input`), checked
    /// when a client proposes it and never on replay. Every string of every command is bounded
    /// besides this, by [`super::Command::check_input`].
    fn check_input(&self) -> Step {
        Ok(())
    }

    /// The tenant whose quotas a client's write of this command draws on (`quotas`): every
    /// command that can add to what a tenant holds names it.
    fn tenant(&self) -> Option<&str> {
        None
    }
}

/// A business rejection, as a step returns it.
#[derive(Debug)]
pub struct Reject {
    pub kind: RejectKind,
    pub message: String,
}

impl Reject {
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            kind: RejectKind::Invalid,
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            kind: RejectKind::NotFound,
            message: message.into(),
        }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self {
            kind: RejectKind::Conflict,
            message: message.into(),
        }
    }

    pub fn precondition(message: impl Into<String>) -> Self {
        Self {
            kind: RejectKind::PreconditionFailed,
            message: message.into(),
        }
    }
}

/// What a step returns: `Ok` once it has committed its change.
pub type Step = Result<(), Reject>;

/// `If-Match` against an object's `changed_version`; `what` names it (`tenant acme`).
pub fn check_if_match(what: &str, current: u64, if_match: Option<u64>) -> Step {
    match if_match {
        Some(wanted) if wanted != current => Err(Reject::precondition(format!(
            "{what} is at version {current}, not {wanted}"
        ))),
        _ => Ok(()),
    }
}

/// How the audit result of a repeated keyed write begins (the first write's version follows).
pub const REPEAT: &str = "repeat of version ";

/// The tenant's record, or a not-found rejection naming it.
pub fn find<'a>(state: &'a State, id: &str) -> Result<&'a TenantRecord, Reject> {
    state
        .tenants
        .get(id)
        .map(|r| &**r)
        .ok_or_else(|| Reject::not_found(format!("tenant {id} does not exist")))
}

/// Stores a changed tenant that has passed every check, at version `index`. The record is
/// replaced rather than changed in place, so a reader's copy of the old one is never cloned.
pub fn commit(state: &mut State, index: u64, tenant: Tenant) {
    commit_with(state, index, tenant, |_| {});
}

/// [`commit`], with the record's own fields changed by `adjust` before it is stored.
pub fn commit_with(
    state: &mut State,
    index: u64,
    tenant: Tenant,
    adjust: impl FnOnce(&mut TenantRecord),
) {
    let id = tenant.id.clone();
    sources::edit(state, &id, |tenants| {
        if let Some(slot) = tenants.get_mut(&id) {
            let old = &**slot;
            let mut record = TenantRecord {
                tenant,
                changed_version: index,
                created_version: old.created_version,
                session_cap: old.session_cap,
                ops_contact: old.ops_contact.clone(),
                notify_business_days: old.notify_business_days,
                quotas: old.quotas.clone(),
            };
            adjust(&mut record);
            *slot = Arc::new(record);
        }
    });
}

/// A stored tenant's region (always set on records; see [`TenantRecord`]).
pub fn region_of(record: &TenantRecord) -> String {
    record.tenant.region.clone().unwrap_or_default()
}
