//! One log entry in: run its command, then record the audit event.
//!
//! Every command checks everything before it changes anything, so a rejected request leaves the
//! state as it was (apart from `version` and the audit log, which every entry moves on).

use super::command::Request;
use super::model::{AuditEvent, Outcome, State, AUDIT_KEEP};
use super::step::LogEntry;
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
    let write = req.command.write();
    let step = write.apply(state, &entry);
    let (action, target) = write.audit();
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
    if let Some(event) = write.extra_audit(state, &entry) {
        record(state, event);
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
