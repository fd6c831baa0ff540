//! One log entry in: run its command, then record the audit event.
//!
//! Every command checks everything before it changes anything, so a rejected request leaves the
//! state as it was (apart from `version`, the audit log and the answers kept for idempotent
//! retries, which every entry moves on).

use super::command::{Command, Request};
use super::idempotency;
use super::model::{AuditEvent, Outcome, State, AUDIT_KEEP};
use super::quotas;
use super::step::{LogEntry, Reject, REPEAT};
use crate::clock::day_of;

/// Applies `req` as log entry `index`. Pure and deterministic: no I/O, no clock (time is
/// `req.at_ms`), only ordered maps, so every node computes the same state. Any store drives it
/// the same way: entries in log order, each exactly once.
pub fn apply(state: &mut State, index: u64, req: &Request) -> Outcome {
    state.version = index;
    // The contract rules decide for the request's UTC day, never the applying node's clock.
    let entry = LogEntry {
        index,
        today: day_of(req.at_ms),
        at_ms: req.at_ms,
        actor: &req.actor,
    };
    state.day = state.day.max(Some(entry.today));
    idempotency::forget_old(state, req.at_ms);
    let (command, client) = match &req.command {
        Command::Client(c) => (&c.command, Some(&**c)),
        other => (other, None),
    };
    let write = command.write();
    let key = client.and_then(|c| c.idempotency.as_ref());
    let repeat = key.and_then(|k| idempotency::repeat(state, &req.actor, k, req.at_ms));
    let repeated = repeat.is_some();
    let outcome = match repeat {
        Some(answer) => answer,
        None => {
            let step = match client {
                _ if matches!(command, Command::Client(_)) => {
                    Err(Reject::invalid("a client write cannot wrap another"))
                }
                Some(_) => quotas::apply_within(state, write, &entry),
                None => write.apply(state, &entry),
            };
            let outcome = match step {
                Ok(()) => Outcome::Done { version: index },
                Err(r) => Outcome::Rejected {
                    kind: r.kind,
                    message: r.message,
                },
            };
            if let Some(key) = key {
                idempotency::remember(state, &req.actor, key, (index, req.at_ms), &outcome);
            }
            outcome
        }
    };
    let (action, target) = write.audit();
    let result = match &outcome {
        Outcome::Done { .. } => "ok".to_string(),
        Outcome::Rejected { message, .. } => message.clone(),
        Outcome::Repeated { version, .. } => format!("{REPEAT}{version}"),
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
    // A repeat ran nothing, so it made nothing else to audit.
    if !repeated {
        if let Some(event) = write.extra_audit(state, &entry) {
            record(state, event);
        }
    }
    outcome
}

/// Appends an event, dropping the oldest beyond [`AUDIT_KEEP`].
fn record(state: &mut State, event: AuditEvent) {
    state.audit.push_back(event);
    while state.audit.len() > AUDIT_KEEP {
        state.audit.pop_front();
    }
}
