use breakout_policy::Destination;

use super::*;
use crate::state::{DeleteList, PatchList};

#[test]
fn put_list_stores_it_and_moves_the_tenant_version() {
    let mut log = Log::with_acme();
    let v = log.ok(put_list(
        "acme",
        "blocklist",
        list(&["*.example.com"]),
        Some(3),
    ));
    let r = &log.state.tenants["acme"];
    assert_eq!(r.tenant.lists["blocklist"], list(&["*.example.com"]));
    assert_eq!(r.changed_version, v);
}

#[test]
fn put_list_replaces_an_existing_list() {
    let mut log = Log::with_acme();
    log.ok(put_list("acme", "blocklist", list(&["a.example"]), None));
    log.ok(put_list("acme", "blocklist", list(&["b.example"]), None));
    assert_eq!(
        log.state.tenants["acme"].tenant.lists["blocklist"],
        list(&["b.example"])
    );
}

#[test]
fn put_list_of_a_missing_tenant_is_not_found() {
    let mut log = Log::with_acme();
    log.rejected(
        put_list("ghost", "l", list(&[]), None),
        RejectKind::NotFound,
    );
}

#[test]
fn put_list_with_a_stale_if_match_fails() {
    let mut log = Log::with_acme();
    let msg = log.rejected(
        put_list("acme", "l", list(&[]), Some(1)),
        RejectKind::PreconditionFailed,
    );
    assert_eq!(msg, "tenant acme is at version 3, not 1");
}

#[test]
fn list_names_are_checked() {
    let mut log = Log::with_acme();
    for bad in ["", "a b", "a/b", &"x".repeat(65)] {
        let msg = log.rejected(put_list("acme", bad, list(&[]), None), RejectKind::Invalid);
        assert!(msg.starts_with("name: list name"), "{msg}");
    }
    log.ok(put_list("acme", "Block_list-2.v1", list(&[]), None));
}

#[test]
fn list_over_the_entry_limit_is_invalid() {
    let mut log = Log::with_acme();
    let one: Destination = "example.com".parse().unwrap();
    let big = NamedList::new(vec![one; crate::state::MAX_LIST_ENTRIES + 1]);
    let msg = log.rejected(put_list("acme", "big", big, None), RejectKind::Invalid);
    assert_eq!(
        msg,
        "list.entries: 100001 entries; a list holds at most 100000"
    );
}

#[test]
fn list_entry_not_in_canonical_form_is_invalid() {
    let mut log = Log::with_acme();
    let odd = NamedList::new(vec![
        "ok.example".parse().unwrap(),
        Destination::Exact("Upper.Example".into()),
    ]);
    let msg = log.rejected(put_list("acme", "l", odd, None), RejectKind::Invalid);
    assert!(
        msg.starts_with("list.entries[1]: \"Upper.Example\" is not in canonical"),
        "{msg}"
    );
}

#[test]
fn deleting_a_list_a_rule_uses_conflicts_and_names_the_rule() {
    let mut log = Log::with_acme();
    log.ok(put_list(
        "acme",
        "m365",
        list(&["outlook.office.com"]),
        None,
    ));
    let patch = TenantPatch {
        rules: Some(vec![rule_using("m365")]),
        ..Default::default()
    };
    log.ok(update("acme", None, patch));
    let cmd = Command::DeleteList(DeleteList {
        tenant: "acme".into(),
        name: "m365".into(),
        if_match: None,
    });
    let msg = log.rejected(cmd, RejectKind::Conflict);
    assert!(
        msg.starts_with("list m365 is used by rules[0] (bypass) of tenant acme"),
        "{msg}"
    );
}

#[test]
fn deleting_a_missing_list_is_not_found() {
    let mut log = Log::with_acme();
    let cmd = Command::DeleteList(DeleteList {
        tenant: "acme".into(),
        name: "nope".into(),
        if_match: None,
    });
    assert_eq!(
        log.rejected(cmd, RejectKind::NotFound),
        "tenant acme has no list nope"
    );
}

#[test]
fn deleting_an_unused_list_removes_it_and_moves_the_tenant_version() {
    let mut log = Log::with_acme();
    let v = log.ok(put_list("acme", "l", list(&["a.example"]), None));
    let cmd = Command::DeleteList(DeleteList {
        tenant: "acme".into(),
        name: "l".into(),
        if_match: Some(v),
    });
    let v = log.ok(cmd);
    let r = &log.state.tenants["acme"];
    assert!(r.tenant.lists.is_empty());
    assert_eq!(r.changed_version, v);
}

fn patch_list(name: &str, add: &[&str], remove: &[&str], if_match: Option<u64>) -> Command {
    Command::PatchList(PatchList {
        tenant: "acme".into(),
        name: name.into(),
        add: list(add).entries.to_vec(),
        remove: list(remove).entries.to_vec(),
        if_match,
    })
}

#[test]
fn patch_list_removes_then_adds_without_duplicates() {
    let mut log = Log::with_acme();
    log.ok(put_list(
        "acme",
        "blocklist",
        list(&["a.example", "b.example"]),
        None,
    ));
    let v = log.ok(patch_list(
        "blocklist",
        &["c.example", "a.example"],
        &["b.example", "absent.example"],
        None,
    ));
    let r = &log.state.tenants["acme"];
    assert_eq!(
        r.tenant.lists["blocklist"],
        list(&["a.example", "c.example"])
    );
    assert_eq!(r.changed_version, v);
}

#[test]
fn patch_list_of_a_missing_list_is_not_found_and_if_match_is_checked() {
    let mut log = Log::with_acme();
    log.rejected(
        patch_list("nope", &["a.example"], &[], None),
        RejectKind::NotFound,
    );
    let v = log.ok(put_list("acme", "l", list(&[]), None));
    log.rejected(
        patch_list("l", &["a.example"], &[], Some(v - 1)),
        RejectKind::PreconditionFailed,
    );
    log.ok(patch_list("l", &["a.example"], &[], Some(v)));
}

#[test]
fn patch_list_cannot_grow_a_list_past_the_limit() {
    let mut log = Log::with_acme();
    let full: Vec<String> = (0..crate::state::MAX_LIST_ENTRIES)
        .map(|i| format!("h{i}.example"))
        .collect();
    let refs: Vec<&str> = full.iter().map(String::as_str).collect();
    log.ok(put_list("acme", "big", list(&refs), None));
    let msg = log.rejected(
        patch_list("big", &["one-more.example"], &[], None),
        RejectKind::Invalid,
    );
    assert!(msg.contains("at most"), "{msg}");
}
