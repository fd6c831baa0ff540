//! Idempotent retries of client writes (docs/api.md#retries): the answer to a write that
//! carried an `Idempotency-Key` is kept in the replicated state for [`KEEP_MS`] and at most
//! [`KEEP`] of them, so a retry of a write that was applied although its client saw an error
//! (a leader lost between commit and answer) gets the first answer instead of applying again.
//!
//! Keys are scoped to the principal: the same key from two principals are two keys. A repeat
//! must be the same request (its fingerprint): the same key with another request is refused.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::model::{Answer, Outcome, RejectKind, State};

/// How long an answer is kept, by the proposers' clocks.
pub const KEEP_MS: u64 = 24 * 60 * 60 * 1000;

/// Most answers kept; the oldest is forgotten first.
pub const KEEP: usize = 10_000;

/// What a keyed client write carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyKey {
    /// SHA-256 (hex) of the `Idempotency-Key` header's value: the value itself is never
    /// stored (it also seals what `reply` keeps secret).
    pub key: String,
    /// SHA-256 (hex) of the request: method, path and query, `If-Match`, body.
    pub fingerprint: String,
    /// What the answer will carry that the state does not keep, returned to a repeat.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub reply: BTreeMap<String, String>,
}

/// The principal-scoped name of `key` in [`super::model::Remembered::answers`].
fn scoped(actor: &str, key: &IdempotencyKey) -> String {
    format!("{actor} {}", key.key)
}

/// Forgets answers older than [`KEEP_MS`] at `now_ms` and beyond [`KEEP`], oldest first.
pub(super) fn forget_old(state: &mut State, now_ms: u64) {
    let kept = &mut state.idempotency;
    while let Some((key, index)) = kept.order.front().cloned() {
        let answer = kept.answers.get(&key).filter(|a| a.index == index);
        let current = answer.is_some();
        let expired = answer.is_none_or(|a| a.at_ms.saturating_add(KEEP_MS) <= now_ms);
        if !expired && kept.order.len() <= KEEP {
            break;
        }
        kept.order.pop_front();
        if current {
            kept.answers.remove(&key);
        }
    }
}

/// The answer to a repeat of `key` by `actor`, if it is one: the first answer (a `Done` as
/// [`Outcome::Repeated`]), or a refusal if the key was used for another request.
pub(super) fn repeat(
    state: &State,
    actor: &str,
    key: &IdempotencyKey,
    now_ms: u64,
) -> Option<Outcome> {
    let answer = state
        .idempotency
        .answers
        .get(&scoped(actor, key))
        .filter(|a| a.at_ms.saturating_add(KEEP_MS) > now_ms)?;
    if answer.fingerprint != key.fingerprint {
        return Some(Outcome::Rejected {
            kind: RejectKind::KeyReused,
            message: format!(
                "this Idempotency-Key was used for another request (applied at version {}); \
                 a retry must repeat the request exactly, and a new request needs a new key",
                answer.index
            ),
        });
    }
    Some(match &answer.outcome {
        Outcome::Done { version } | Outcome::Repeated { version, .. } => Outcome::Repeated {
            version: *version,
            reply: answer.reply.clone(),
        },
        rejected @ Outcome::Rejected { .. } => rejected.clone(),
    })
}

/// Keeps `outcome` as the answer to `key` by `actor`, written as log entry `index`.
pub(super) fn remember(
    state: &mut State,
    actor: &str,
    key: &IdempotencyKey,
    (index, at_ms): (u64, u64),
    outcome: &Outcome,
) {
    let name = scoped(actor, key);
    let answer = Answer {
        fingerprint: key.fingerprint.clone(),
        index,
        at_ms,
        outcome: outcome.clone(),
        reply: key.reply.clone(),
    };
    state.idempotency.answers.insert(name.clone(), answer);
    state.idempotency.order.push_back((name, index));
    forget_old(state, at_ms);
}
