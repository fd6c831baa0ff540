//! One log entry in: dispatch to the command's handler, then record the audit event.
//!
//! Every handler checks everything before it changes anything, so a rejected request leaves the
//! state as it was (apart from `version` and the audit log, which every entry moves on).

use super::{contracts, lists, regions, templates, tenants, tokens, webhooks};
use super::{AuditEvent, Command, Outcome, RejectKind, Request, State, AUDIT_KEEP};
use crate::contracts::dates::day_of;

/// A business rejection, as a handler returns it.
#[derive(Debug)]
pub(super) struct Reject {
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

/// What a handler returns: `Ok` once it has committed its change.
pub(super) type Step = Result<(), Reject>;

/// `If-Match` against an object's `changed_version`; `what` names it (`tenant acme`).
pub(super) fn check_if_match(what: &str, current: u64, if_match: Option<u64>) -> Step {
    match if_match {
        Some(wanted) if wanted != current => Err(Reject::precondition(format!(
            "{what} is at version {current}, not {wanted}"
        ))),
        _ => Ok(()),
    }
}

/// Applies `req` as log entry `index`. Pure and deterministic: no I/O, no clock (time is
/// `req.at_ms`), only ordered maps, so every node computes the same state.
pub fn apply(state: &mut State, index: u64, req: &Request) -> Outcome {
    state.version = index;
    // The contract rules decide for the request's UTC day, never the applying node's clock.
    let today = day_of(req.at_ms);
    state.day = state.day.max(Some(today));
    let step = match &req.command {
        Command::CreateRegion { name, description } => {
            regions::create(state, index, name, description.as_deref())
        }
        Command::DeleteRegion { name } => regions::delete(state, name),
        Command::CreateTenant { tenant } => tenants::create(state, index, tenant),
        Command::UpdateTenant {
            id,
            if_match,
            patch,
        } => tenants::update(state, index, id, *if_match, patch, today),
        Command::DeleteTenant { id, if_match } => tenants::delete(state, id, *if_match, today),
        Command::PutList {
            tenant,
            name,
            list,
            if_match,
        } => lists::put(state, index, tenant, name, list, *if_match),
        Command::DeleteList {
            tenant,
            name,
            if_match,
        } => lists::delete(state, index, tenant, name, *if_match),
        Command::PatchList {
            tenant,
            name,
            add,
            remove,
            if_match,
        } => lists::patch(state, index, tenant, name, add, remove, *if_match),
        Command::CreateWebhook {
            tenant,
            id,
            url,
            secret,
        } => webhooks::create(state, index, tenant, id, url, secret),
        Command::DeleteWebhook { tenant, id } => webhooks::delete(state, tenant, id),
        Command::CreateToken {
            id,
            tenant,
            hash,
            label,
            expires_at_ms,
        } => tokens::create(state, index, id, tenant, hash, label.as_deref())
            .map(|()| tokens::set_expiry(state, id, *expires_at_ms)),
        Command::RevokeToken { id } => tokens::revoke(state, id),
        Command::Contract { tenant, request } => {
            contracts::change(state, index, today, tenant, request)
        }
        Command::SetPriceBook {
            effective_from,
            prices,
        } => contracts::set_price_book(state, index, today, *effective_from, prices),
        Command::WithdrawTemplate { item, effective } => {
            contracts::withdraw(state, index, today, *item, *effective)
        }
        Command::Tick { day } => {
            state.day = state.day.max(Some(*day));
            Ok(())
        }
        Command::RecordTemplate {
            item,
            fetched,
            max_shrink_percent,
        } => templates::record(state, index, *item, fetched, *max_shrink_percent),
        Command::ApproveTemplate { item, candidate } => {
            templates::approve(state, index, &req.actor, *item, *candidate)
        }
        Command::RejectTemplate { item, candidate } => templates::reject(state, *item, *candidate),
        Command::RollbackTemplate { item, to } => templates::rollback(state, *item, *to),
        Command::SyncTemplates => {
            state.template_sync = index;
            Ok(())
        }
        Command::TemplateNotified { item, version } => {
            state.notified.insert(*item, *version);
            Ok(())
        }
        Command::SetSubscription {
            tenant,
            item,
            subscription,
        } => templates::subscribe(state, today, tenant, *item, subscription.as_ref()),
    };
    if let (Ok(()), Command::DeleteTenant { id, .. }) = (&step, &req.command) {
        state.subscriptions.remove(id);
        state.webhooks.remove(id);
    }
    let (action, target) = describe(&req.command);
    let (outcome, result) = match step {
        Ok(()) => (Outcome::Done { version: index }, "ok".to_string()),
        Err(r) => {
            let result = r.message.clone();
            (
                Outcome::Rejected {
                    kind: r.kind,
                    message: r.message,
                },
                result,
            )
        }
    };
    record(
        state,
        AuditEvent {
            version: index,
            at_ms: req.at_ms,
            actor: req.actor.clone(),
            action: action.to_string(),
            target,
            result,
        },
    );
    if let Command::RecordTemplate { item, .. } = &req.command {
        if let Some(event) = templates::quarantine_event(state, index, *item, req.at_ms, &req.actor)
        {
            record(state, event);
        }
    }
    outcome
}

/// The audit `action` and `target` of a command.
pub(super) fn describe(command: &Command) -> (&'static str, String) {
    match command {
        Command::CreateRegion { name, .. } => ("region.create", format!("region/{name}")),
        Command::DeleteRegion { name } => ("region.delete", format!("region/{name}")),
        Command::CreateTenant { tenant } => ("tenant.create", format!("tenant/{}", tenant.id)),
        Command::UpdateTenant { id, .. } => ("tenant.update", format!("tenant/{id}")),
        Command::DeleteTenant { id, .. } => ("tenant.delete", format!("tenant/{id}")),
        Command::PutList { tenant, name, .. } => {
            ("list.put", format!("tenant/{tenant}/list/{name}"))
        }
        Command::DeleteList { tenant, name, .. } => {
            ("list.delete", format!("tenant/{tenant}/list/{name}"))
        }
        Command::PatchList { tenant, name, .. } => {
            ("list.patch", format!("tenant/{tenant}/list/{name}"))
        }
        Command::CreateToken { id, .. } => ("token.create", format!("token/{id}")),
        Command::RevokeToken { id } => ("token.revoke", format!("token/{id}")),
        Command::Contract { tenant, request } => contracts::describe(tenant, request),
        Command::SetPriceBook { .. } => ("price_book.set", "price-book".to_string()),
        Command::WithdrawTemplate { item, .. } => ("template.withdraw", format!("template/{item}")),
        Command::Tick { day } => ("clock.tick", format!("day/{day}")),
        Command::RecordTemplate { item, .. } => ("template.record", format!("template/{item}")),
        Command::ApproveTemplate { item, candidate } => (
            "template.approve",
            format!("template/{item}/candidate/{candidate}"),
        ),
        Command::RejectTemplate { item, candidate } => (
            "template.reject",
            format!("template/{item}/candidate/{candidate}"),
        ),
        Command::RollbackTemplate { item, to } => {
            ("template.rollback", format!("template/{item}/version/{to}"))
        }
        Command::SyncTemplates => ("template.sync", "templates".to_string()),
        Command::TemplateNotified { item, version } => (
            "template.notified",
            format!("template/{item}/version/{version}"),
        ),
        Command::SetSubscription { tenant, item, .. } => (
            "template.subscribe",
            format!("tenant/{tenant}/template/{item}"),
        ),
        Command::CreateWebhook { tenant, id, .. } => {
            ("webhook.create", format!("tenant/{tenant}/webhook/{id}"))
        }
        Command::DeleteWebhook { tenant, id } => {
            ("webhook.delete", format!("tenant/{tenant}/webhook/{id}"))
        }
    }
}

/// Appends an event, dropping the oldest beyond [`AUDIT_KEEP`].
fn record(state: &mut State, event: AuditEvent) {
    state.audit.push(event);
    if state.audit.len() > AUDIT_KEEP {
        let excess = state.audit.len() - AUDIT_KEEP;
        state.audit.drain(..excess);
    }
}
