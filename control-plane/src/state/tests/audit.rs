use super::*;
use crate::state::AUDIT_KEEP;
use crate::state::{DeleteList, DeleteRegion, DeleteTenant, RevokeToken};

#[test]
fn every_write_is_audited_with_action_target_and_result() {
    let mut log = Log::with_acme();
    log.ok(put_list("acme", "blocklist", list(&[]), None));
    log.ok(token("ab12", "acme"));
    log.rejected(region("tokyo"), RejectKind::Conflict);
    let seen: Vec<_> = log
        .state
        .audit
        .iter()
        .map(|e| {
            (
                e.version,
                e.action.as_str(),
                e.target.as_str(),
                e.result.as_str(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (1, "region.create", "region/tokyo", "ok"),
            (2, "region.create", "region/osaka", "ok"),
            (3, "tenant.create", "tenant/acme", "ok"),
            (4, "list.put", "tenant/acme/list/blocklist", "ok"),
            (5, "token.create", "token/ab12", "ok"),
            (
                6,
                "region.create",
                "region/tokyo",
                "region tokyo already exists"
            ),
        ]
    );
    let last = &log.state.audit[5];
    assert_eq!((last.actor.as_str(), last.at_ms), ("operator", 6_000));
}

#[test]
fn the_other_actions_have_their_names() {
    let mut log = Log::with_acme();
    log.ok(token("t1", "acme"));
    log.ok(Command::RevokeToken(RevokeToken { id: "t1".into() }));
    log.ok(update(
        "acme",
        None,
        TenantPatch {
            session_limit: Some(1),
            ..Default::default()
        },
    ));
    log.ok(put_list("acme", "l", list(&[]), None));
    log.ok(Command::DeleteList(DeleteList {
        tenant: "acme".into(),
        name: "l".into(),
        if_match: None,
    }));
    log.ok(Command::DeleteTenant(DeleteTenant {
        id: "acme".into(),
        if_match: None,
    }));
    log.ok(Command::DeleteRegion(DeleteRegion {
        name: "osaka".into(),
    }));
    let actions: Vec<_> = log
        .state
        .audit
        .iter()
        .skip(4)
        .map(|e| e.action.as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "token.revoke",
            "tenant.update",
            "list.put",
            "list.delete",
            "tenant.delete",
            "region.delete"
        ]
    );
}

#[test]
fn audit_keeps_only_the_newest_events() {
    let mut log = Log::new();
    for _ in 0..AUDIT_KEEP + 5 {
        log.apply(Command::RevokeToken(RevokeToken { id: "none".into() }));
    }
    assert_eq!(log.state.audit.len(), AUDIT_KEEP);
    assert_eq!(log.state.audit[0].version, 6);
    assert_eq!(
        log.state.audit[AUDIT_KEEP - 1].version,
        (AUDIT_KEEP + 5) as u64
    );
}

#[test]
fn rejection_changes_only_version_and_audit() {
    let mut log = Log::with_acme();
    log.ok(token("t1", "acme"));
    let before = content(&log.state);
    let audited = log.state.audit.len();
    log.rejected(
        create(tenant("beta", "tokyo", &["10.0.1.0/24"])),
        RejectKind::Conflict,
    );
    log.rejected(
        Command::DeleteRegion(DeleteRegion {
            name: "tokyo".into(),
        }),
        RejectKind::Conflict,
    );
    log.rejected(
        put_list("acme", "l", list(&[]), Some(1)),
        RejectKind::PreconditionFailed,
    );
    log.rejected(token("t1", "acme"), RejectKind::Conflict);
    assert_eq!(content(&log.state), before);
    assert_eq!(log.state.version, 8);
    assert_eq!(log.state.audit.len(), audited + 4);
}

#[test]
fn the_same_requests_give_the_same_state() {
    let script = || {
        vec![
            region("tokyo"),
            create(tenant("acme", "tokyo", &["10.0.0.0/16"])),
            create(tenant("beta", "tokyo", &["10.0.1.0/24"])),
            put_list(
                "acme",
                "blocklist",
                list(&["*.example.com", "192.0.2.0/24"]),
                None,
            ),
            token("t1", "acme"),
            update(
                "acme",
                Some(1),
                TenantPatch {
                    session_limit: Some(7),
                    ..Default::default()
                },
            ),
            Command::DeleteTenant(DeleteTenant {
                id: "acme".into(),
                if_match: None,
            }),
        ]
    };
    let (mut a, mut b) = (Log::new(), Log::new());
    let outcomes_a: Vec<_> = script().into_iter().map(|c| a.apply(c)).collect();
    let outcomes_b: Vec<_> = script().into_iter().map(|c| b.apply(c)).collect();
    assert_eq!(outcomes_a, outcomes_b);
    assert_eq!(a.state, b.state);
    // Equal also as bytes, which is what snapshots compare.
    assert_eq!(
        serde_json::to_vec(&a.state).unwrap(),
        serde_json::to_vec(&b.state).unwrap()
    );
}
