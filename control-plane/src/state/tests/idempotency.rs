//! Keyed client writes: a repeat gets the first answer, nothing is applied twice, keys are
//! per principal and kept for a bounded time and count.

use std::collections::BTreeMap;

use super::*;
use crate::state::{IDEMPOTENCY_KEEP, IDEMPOTENCY_KEEP_MS};

fn key(k: &str, fingerprint: &str) -> Option<IdempotencyKey> {
    Some(IdempotencyKey {
        key: k.into(),
        fingerprint: fingerprint.into(),
        reply: BTreeMap::new(),
    })
}

#[test]
fn a_repeat_of_an_applied_write_gets_the_first_answer_not_already_exists() {
    // The defect (issue 13, item 2): a POST applied while its client saw 503 was retried and
    // answered 409 "already exists".
    let mut log = Log::new();
    let first = log.client("operator", region("tokyo"), key("k1", "f1"));
    assert_eq!(first, Outcome::Done { version: 1 });
    let before = content(&log.state);
    let again = log.client("operator", region("tokyo"), key("k1", "f1"));
    assert_eq!(
        again,
        Outcome::Repeated {
            version: 1,
            reply: BTreeMap::new()
        }
    );
    assert_eq!(
        content(&log.state).regions,
        before.regions,
        "nothing applied twice"
    );
    let audit = log.state.audit.last().expect("audited");
    assert_eq!(audit.result, "repeat of version 1");
    // Without the key, the same retry is the conflict the client saw.
    let bare = log.client("operator", region("tokyo"), None);
    assert!(matches!(
        bare,
        Outcome::Rejected {
            kind: RejectKind::Conflict,
            ..
        }
    ));
}

#[test]
fn a_repeat_gets_the_reply_the_first_answer_carried() {
    let mut log = Log::new();
    let mut with_reply = key("k", "f");
    if let Some(k) = with_reply.as_mut() {
        k.reply.insert("id".into(), "first".into());
    }
    log.client("operator", region("tokyo"), with_reply);
    let mut other_reply = key("k", "f");
    if let Some(k) = other_reply.as_mut() {
        k.reply.insert("id".into(), "second".into());
    }
    let again = log.client("operator", region("tokyo"), other_reply);
    let Outcome::Repeated { reply, .. } = again else {
        panic!("{again:?}")
    };
    assert_eq!(reply["id"], "first");
}

#[test]
fn the_same_key_with_another_request_is_refused_and_changes_nothing() {
    let mut log = Log::new();
    log.client("operator", region("tokyo"), key("k1", "f1"));
    let msg = match log.client("operator", region("osaka"), key("k1", "f2")) {
        Outcome::Rejected {
            kind: RejectKind::KeyReused,
            message,
        } => message,
        other => panic!("{other:?}"),
    };
    assert!(msg.contains("used for another request"), "{msg}");
    assert!(!log.state.regions.contains_key("osaka"));
}

#[test]
fn keys_are_scoped_to_the_principal() {
    let mut log = Log::new();
    log.client("operator", region("tokyo"), key("k1", "f1"));
    // Another principal's identical key is another key: its write is decided on its own.
    let theirs = log.client("tenant:acme", region("osaka"), key("k1", "f1"));
    assert_eq!(theirs, Outcome::Done { version: 2 });
}

#[test]
fn a_rejected_first_answer_is_repeated_as_it_was() {
    let mut log = Log::with_acme();
    let first = log.client("operator", region("Bad Name"), key("k", "f"));
    let again = log.client("operator", region("Bad Name"), key("k", "f"));
    assert!(matches!(first, Outcome::Rejected { .. }));
    assert_eq!(first, again);
}

#[test]
fn answers_are_forgotten_after_a_day() {
    let mut log = Log::new();
    log.on("2026-03-01");
    log.client("operator", region("tokyo"), key("k", "f"));
    assert_eq!(log.state.idempotency.answers.len(), 1);
    let later = log.clock_ms.expect("clock") + IDEMPOTENCY_KEEP_MS;
    log.clock_ms = Some(later);
    // A day on, the key is unknown: the retry is decided afresh.
    let again = log.client("operator", region("tokyo"), key("k", "f"));
    assert!(
        matches!(
            again,
            Outcome::Rejected {
                kind: RejectKind::Conflict,
                ..
            }
        ),
        "{again:?}"
    );
    // Forgetting is part of applying any entry, keyed or not.
    log.clock_ms = Some(later + IDEMPOTENCY_KEEP_MS);
    log.ok(region("osaka"));
    assert!(
        log.state.idempotency.is_empty(),
        "{:?}",
        log.state.idempotency
    );
}

#[test]
fn at_most_keep_answers_are_kept_oldest_forgotten_first() {
    let mut log = Log::new();
    let tick = |day: &str| {
        Command::Tick(crate::state::Tick {
            day: day.parse().expect("day"),
        })
    };
    for i in 0..=IDEMPOTENCY_KEEP {
        log.client("operator", tick("2026-01-01"), key(&format!("k{i}"), "f"));
    }
    let kept = &log.state.idempotency;
    assert_eq!(kept.answers.len(), IDEMPOTENCY_KEEP);
    assert_eq!(kept.order.len(), IDEMPOTENCY_KEEP);
    assert!(!kept.answers.contains_key("operator k0"));
    assert!(kept
        .answers
        .contains_key(&format!("operator k{IDEMPOTENCY_KEEP}")));
}

#[test]
fn bare_commands_are_never_remembered() {
    let log = Log::with_acme();
    assert!(log.state.idempotency.is_empty());
}
