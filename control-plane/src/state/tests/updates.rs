use std::collections::BTreeMap;

use super::*;

fn limit(n: u32) -> TenantPatch {
    TenantPatch {
        session_limit: Some(n),
        ..Default::default()
    }
}

#[test]
fn update_changes_the_fields_and_the_changed_version() {
    let mut log = Log::with_acme();
    let v = log.ok(update("acme", Some(3), limit(5000)));
    let r = &log.state.tenants["acme"];
    assert_eq!(r.tenant.session_limit, 5000);
    assert_eq!((r.created_version, r.changed_version), (3, v));
}

#[test]
fn update_of_a_missing_tenant_is_not_found() {
    let mut log = Log::with_acme();
    log.rejected(update("ghost", None, limit(1)), RejectKind::NotFound);
}

#[test]
fn update_with_a_stale_if_match_names_the_current_version() {
    let mut log = Log::with_acme();
    log.ok(update("acme", None, limit(1)));
    let msg = log.rejected(
        update("acme", Some(3), limit(2)),
        RejectKind::PreconditionFailed,
    );
    assert_eq!(msg, "tenant acme is at version 4, not 3");
}

#[test]
fn empty_patch_is_invalid() {
    let mut log = Log::with_acme();
    let msg = log.rejected(
        update("acme", None, TenantPatch::default()),
        RejectKind::Invalid,
    );
    assert!(msg.starts_with("patch: empty"), "{msg}");
}

#[test]
fn update_that_breaks_the_policy_changes_nothing() {
    let mut log = Log::with_acme();
    let before = content(&log.state);
    // Two fields, the second invalid: the first must not be applied either.
    let patch = TenantPatch {
        session_limit: Some(9),
        default_action: Some(Action::Upstream("corp".into())),
        ..Default::default()
    };
    let msg = log.rejected(update("acme", None, patch), RejectKind::Invalid);
    assert!(
        msg.starts_with("tenant.default_action: upstream \"corp\""),
        "{msg}"
    );
    assert_eq!(content(&log.state), before);
}

#[test]
fn update_may_keep_its_own_sources_but_not_take_anothers() {
    let mut log = Log::with_acme();
    log.ok(create(tenant("beta", "tokyo", &["10.1.0.0/16"])));
    let own = TenantPatch {
        source_cidrs: Some(vec![
            "10.0.0.0/16".parse().unwrap(),
            "10.2.0.0/16".parse().unwrap(),
        ]),
        ..Default::default()
    };
    log.ok(update("acme", None, own));
    let theirs = TenantPatch {
        source_cidrs: Some(vec!["10.1.128.0/17".parse().unwrap()]),
        ..Default::default()
    };
    let msg = log.rejected(update("acme", None, theirs), RejectKind::Conflict);
    assert!(
        msg.contains("10.1.128.0/17 overlaps 10.1.0.0/16 of tenant beta"),
        "{msg}"
    );
}

#[test]
fn update_can_add_an_upstream_and_route_to_it_together() {
    let mut log = Log::with_acme();
    let patch = TenantPatch {
        upstreams: Some(BTreeMap::from([(
            "corp".into(),
            "proxy.corp.example:8080".into(),
        )])),
        default_action: Some(Action::Upstream("corp".into())),
        egress_address: Some(Some("198.51.100.7".parse().unwrap())),
        ..Default::default()
    };
    log.ok(update("acme", None, patch));
    let t = &log.state.tenants["acme"].tenant;
    assert_eq!(t.default_action, Action::Upstream("corp".into()));
    log.ok(update(
        "acme",
        None,
        TenantPatch {
            egress_address: Some(None),
            ..Default::default()
        },
    ));
    assert_eq!(log.state.tenants["acme"].tenant.egress_address, None);
}
