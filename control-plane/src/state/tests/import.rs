//! A dump imported in parts: split, written as an import and its parts, it is the dump again;
//! a part after anything but the part before it is refused.

use super::{content, create, list, put_list, region, tenant, token, Log};
use crate::state::{
    json_size, split_dump, Command, IdempotencyKey, ImportPart, ImportState, Outcome, RejectKind,
    State,
};

/// 40 tenants over two regions, each with a token and some with a list (uneven sizes).
fn source() -> Log {
    let mut log = Log::new();
    log.ok(region("tokyo"));
    log.ok(region("osaka"));
    for i in 0..40 {
        let r = if i % 2 == 0 { "tokyo" } else { "osaka" };
        log.ok(create(tenant(
            &format!("t{i:02}"),
            r,
            &[&format!("10.0.{i}.0/24")],
        )));
        log.ok(token(&format!("k{i:02}"), &format!("t{i:02}")));
        if i % 3 == 0 {
            let hosts: Vec<String> = (0..20 * i).map(|k| format!("h{k}.example")).collect();
            let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
            log.ok(put_list(&format!("t{i:02}"), "l", list(&hosts), None));
        }
    }
    log
}

fn import(state: State) -> Command {
    Command::ImportState(ImportState {
        state: Box::new(state),
        replace: true,
    })
}

fn part(after: u64, part: State) -> Command {
    Command::ImportPart(ImportPart {
        after,
        part: Box::new(part),
    })
}

#[test]
fn a_dump_written_in_parts_is_the_dump_again() {
    let dump = source().state;
    let budget = json_size(&dump.tenants) / 6;
    let (first, parts) = split_dump(dump.clone(), budget);
    assert!(parts.len() >= 5, "{} parts", parts.len());
    // Each part holds whole tenants with their tokens, within the budget plus one tenant.
    let largest = dump.tenants.values().map(json_size).max().unwrap_or(0);
    for p in &parts {
        assert!(json_size(&p.tenants) <= budget + largest);
        for t in p.tokens.values() {
            assert!(p.tenants.contains_key(&t.tenant), "token of {}", t.tenant);
        }
    }
    let mut target = Log::new();
    let mut version = target.ok(import(first));
    for p in parts {
        version = target.ok(part(version, p));
    }
    assert_eq!(content(&target.state), content(&dump));
    // The index of source networks describes the imported tenants.
    let msg = target.rejected(
        create(tenant("x", "tokyo", &["10.0.38.7/32"])),
        RejectKind::Conflict,
    );
    assert!(msg.contains("of tenant t38"), "{msg}");
}

#[test]
fn a_part_after_another_write_is_refused_naming_it() {
    let dump = source().state;
    let (first, parts) = split_dump(dump, 1);
    let mut target = Log::new();
    let version = target.ok(import(first));
    let mut parts = parts.into_iter();
    let (a, b) = (parts.next().unwrap(), parts.next().unwrap());
    // Something between the import and its first part.
    target.ok(region("nagoya"));
    let msg = target.rejected(part(version, a.clone()), RejectKind::Conflict);
    assert!(msg.contains("region.create"), "{msg}");
    assert!(!target.state.tenants.contains_key("t01"));
    // A refused entry counts as something between too.
    let version = target.ok(import(State::default()));
    target.rejected(create(tenant("x", "nowhere", &[])), RejectKind::Invalid);
    target.rejected(part(version, a), RejectKind::Conflict);
    // A part that does follow, but not the one it names.
    let version = target.ok(import(State::default()));
    target.rejected(part(version - 1, b), RejectKind::Conflict);
}

#[test]
fn repeats_of_the_parts_written_before_may_come_between() {
    let dump = source().state;
    let (first, parts) = split_dump(dump.clone(), 1);
    let mut target = Log::new();
    let key = |n: usize| IdempotencyKey {
        key: format!("k#{n}"),
        fingerprint: format!("f#{n}"),
        reply: Default::default(),
    };
    let keyed = |log: &mut Log, n: usize, c: Command| match log.client("operator", c, Some(key(n)))
    {
        Outcome::Done { version } | Outcome::Repeated { version, .. } => version,
        other => panic!("{other:?}"),
    };
    // The first attempt writes the import and two parts, then stops.
    let mut version = keyed(&mut target, 0, import(first.clone()));
    for (i, p) in parts.iter().take(2).enumerate() {
        version = keyed(&mut target, i + 1, part(version, p.clone()));
    }
    // Its retry repeats those three writes and makes the rest.
    let mut version = keyed(&mut target, 0, import(first));
    for (i, p) in parts.into_iter().enumerate() {
        version = keyed(&mut target, i + 1, part(version, p));
    }
    assert_eq!(content(&target.state).tenants, dump.tenants);
    assert_eq!(content(&target.state).tokens, dump.tokens);
}
