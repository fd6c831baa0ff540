//! The structural diff equals the full one, key for key, over random command sequences (in
//! batches, as group commit applies them, with the audit log full and trimming), and a
//! follower applying its keys one by one reaches the writer's state.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::super::tests::event;
use super::super::{all_keys, apply_key, assemble, full_diff};
use super::*;
use crate::state::{self, Command, ImportState, Request, AUDIT_KEEP};

fn command(v: Value) -> Command {
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{v}: {e}"))
}

/// One random command over a small name space, so they collide, update and delete each other.
fn random_command(rng: &mut StdRng, history: &[State]) -> Command {
    let r = format!("r{}", rng.random_range(0..6));
    let t = format!("t{}", rng.random_range(0..8));
    let n: u64 = rng.random_range(0..8);
    let description = if n.is_multiple_of(2) {
        Value::Null
    } else {
        json!("a/b %")
    };
    let c = match rng.random_range(0..16) {
        0 | 1 => json!({"op": "create_region", "name": r, "description": description}),
        2 => json!({"op": "delete_region", "name": r}),
        3 | 4 => json!({"op": "create_tenant", "tenant": {"id": t, "region": r,
            "source_cidrs": [format!("10.{n}.0.0/16")], "session_limit": 10}}),
        5 => json!({"op": "update_tenant", "id": t, "if_match": null,
            "patch": {"session_limit": n + 1}}),
        6 => json!({"op": "delete_tenant", "id": t, "if_match": null}),
        7 => json!({"op": "put_list", "tenant": t, "name": format!("l{}", n % 3),
            "list": [format!("h{n}.example.com")], "if_match": null}),
        8 => json!({"op": "delete_list", "tenant": t, "name": format!("l{}", n % 3),
            "if_match": null}),
        9 => json!({"op": "create_token", "id": format!("k{n}"), "tenant": t,
            "hash": "ab".repeat(32), "label": null}),
        10 => json!({"op": "revoke_token", "id": format!("k{n}")}),
        11 => json!({"op": "create_webhook", "tenant": t, "id": format!("w{}", n % 2),
            "url": "https://hooks.example.com/x", "secret": "s".repeat(20)}),
        12 => json!({"op": "delete_webhook", "tenant": t, "id": format!("w{}", n % 2)}),
        13 => json!({"op": "tick", "day": format!("2026-01-{:02}", n + 1)}),
        14 => {
            let mut commands = state::serve_commands(&t, 10);
            return commands.swap_remove(rng.random_range(0..commands.len() as u64) as usize);
        }
        _ => {
            // Back to an earlier state, whole (`store import --replace`).
            let pick = history.get(rng.random_range(0..history.len().max(1) as u64) as usize);
            return Command::ImportState(ImportState {
                state: Box::new(pick.cloned().unwrap_or_default()),
                replace: true,
            });
        }
    };
    command(c)
}

/// `command` as an API client's write, sometimes with an idempotency key (kept in `meta`).
fn client(rng: &mut StdRng, command: Command) -> Command {
    let mut write = json!({"op": "client", "command": command});
    if rng.random_range(0..3) == 0 {
        let key = format!("key{}", rng.random_range(0..5));
        write["idempotency"] =
            json!({"key": key, "fingerprint": format!("f{}", rng.random_range(0..2))});
    }
    serde_json::from_value(write).unwrap_or_else(|e| panic!("a client write: {e}"))
}

/// Applies a change to a follower's state the way the watch delivers it: one key at a time.
fn follow(follower: &mut State, change: &Change) {
    for (k, v) in &change.puts {
        apply_key(follower, k, Some(v)).unwrap_or_else(|b| panic!("{b:?}"));
    }
    for k in &change.deletes {
        apply_key(follower, k, None).unwrap_or_else(|b| panic!("{b:?}"));
    }
}

#[test]
fn the_structural_diff_equals_the_full_diff_on_random_commands() {
    let mut rng = StdRng::seed_from_u64(0x9E37_79B9_7F4A_7C15);
    let mut state = State::default();
    let mut index = 0;
    let mut at_ms = 1_767_225_600_000;
    // The audit log nearly full, so the random writes below trim it.
    while state.audit.len() < AUDIT_KEEP - 100 {
        index += 1;
        let req = Request {
            actor: "operator".into(),
            at_ms,
            command: command(json!({"op": "delete_region", "name": "none"})),
        };
        state::apply(&mut state, index, &req);
    }
    let mut keys: BTreeMap<String, Vec<u8>> = all_keys(&state)
        .expect("all keys")
        .puts
        .into_iter()
        .collect();
    let mut follower = state.clone();
    let mut history = vec![state.clone()];
    for batch in 0..400 {
        let base = state.clone();
        for _ in 0..=rng.random_range(0..4) {
            index += 1;
            // Now and then a day later: idempotency answers expire.
            at_ms += if rng.random_range(0..20) == 0 {
                86_400_000
            } else {
                1_000
            };
            let mut c = random_command(&mut rng, &history);
            if rng.random_range(0..2) == 0 {
                c = client(&mut rng, c);
            }
            let req = Request {
                actor: format!("actor{}", rng.random_range(0..2)),
                at_ms,
                command: c,
            };
            state::apply(&mut state, index, &req);
        }
        let fast = diff(&base, &state).expect("diff");
        let full = full_diff(&base, &state).expect("full diff");
        assert_eq!(fast, full, "batch {batch}");
        follow(&mut follower, &fast);
        assert_eq!(follower, state, "batch {batch}: the follower");
        for (k, v) in fast.puts {
            keys.insert(k, v);
        }
        for k in fast.deletes {
            assert!(
                keys.remove(&k).is_some(),
                "deleting a key never written: {k}"
            );
        }
        if batch % 50 == 0 {
            history.push(state.clone());
            let (read, bad) = assemble(keys.iter().map(|(k, v)| (k.as_str(), v.as_slice())));
            assert_eq!(bad, Vec::new());
            assert_eq!(read.as_ref(), Some(&state), "batch {batch}: the keys");
        }
    }
    assert_eq!(state.audit.len(), AUDIT_KEEP, "the log was trimmed");
}

fn log(events: &[(u64, u64)]) -> Vector<AuditEvent> {
    events.iter().map(|&(v, n)| event(v, n)).collect()
}

fn audit_diff(old: &Vector<AuditEvent>, new: &Vector<AuditEvent>) -> (Change, Change) {
    let mut fast = Change::default();
    audit_changes(old, new, &mut fast).expect("fast");
    let mut full = Change::default();
    diff_audit(old, new, &mut full).expect("full");
    (fast, full)
}

#[test]
fn versions_of_several_events_trimmed_in_part_or_whole() {
    let old = log(&[(1, 1), (1, 2), (2, 3), (3, 4), (3, 5), (3, 6)]);
    let cases = [
        // Partly trimmed at the front, appended at the back.
        log(&[(1, 2), (2, 3), (3, 4), (3, 5), (3, 6), (4, 7), (4, 8)]),
        // One version gone whole, the next in part.
        log(&[(3, 5), (3, 6), (5, 9)]),
        // Everything trimmed.
        log(&[(6, 10), (6, 11)]),
        // Nothing appended, only trimmed.
        log(&[(2, 3), (3, 4), (3, 5), (3, 6)]),
        // Not made by trimming and appending: the full comparison decides.
        log(&[(1, 1), (2, 99), (3, 4), (3, 5), (3, 6), (4, 7)]),
        log(&[(1, 1), (3, 6), (7, 1)]),
        log(&[(3, 5), (3, 6), (3, 7)]),
        log(&[]),
    ];
    for new in cases {
        let (fast, full) = audit_diff(&old, &new);
        assert_eq!(fast, full, "{new:?}");
        let (fast, full) = audit_diff(&new, &old);
        assert_eq!(fast, full, "back from {new:?}");
    }
    let (fast, _) = audit_diff(&old, &old.clone());
    assert_eq!(fast, Change::default());
}

#[test]
fn a_region_among_many_touches_its_own_keys_only() {
    let mut state = State::default();
    for i in 0..5_000u64 {
        state::apply(
            &mut state,
            i + 1,
            &Request {
                actor: "operator".into(),
                at_ms: 1_767_225_600_000,
                command: command(json!({"op": "create_region", "name": format!("r{i}")})),
            },
        );
    }
    let base = state.clone();
    let req = Request {
        actor: "operator".into(),
        at_ms: 1_767_225_600_000,
        command: command(json!({"op": "create_region", "name": "new"})),
    };
    state::apply(&mut state, 5_001, &req);
    let change = diff(&base, &state).expect("diff");
    let put: Vec<&str> = change.puts.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(put, ["meta", "regions/new", "audit/00000000000000005001"]);
    assert!(change.deletes.is_empty());
}
