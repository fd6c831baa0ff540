use ipnet::Ipv4Net;

use super::*;
use crate::state::DeleteTenant;

#[test]
fn tenant_is_created_with_both_versions_at_the_entry_index() {
    let log = Log::with_acme();
    let r = &log.state.tenants["acme"];
    assert_eq!((r.created_version, r.changed_version), (3, 3));
}

#[test]
fn tenant_without_region_is_invalid() {
    let mut log = Log::with_acme();
    let mut t = tenant("beta", "tokyo", &["10.1.0.0/16"]);
    t.region = None;
    let msg = log.rejected(create(t), RejectKind::Invalid);
    assert!(msg.starts_with("tenant.region: required"), "{msg}");
}

#[test]
fn tenant_in_a_missing_region_is_invalid() {
    let mut log = Log::with_acme();
    let msg = log.rejected(
        create(tenant("beta", "paris", &["10.1.0.0/16"])),
        RejectKind::Invalid,
    );
    assert_eq!(
        msg,
        "tenant.region: region paris does not exist; create it first"
    );
}

#[test]
fn creating_a_taken_tenant_id_conflicts() {
    let mut log = Log::with_acme();
    let msg = log.rejected(
        create(tenant("acme", "osaka", &["10.9.0.0/16"])),
        RejectKind::Conflict,
    );
    assert_eq!(msg, "tenant acme already exists");
}

#[test]
fn policy_errors_name_the_field_under_tenant() {
    let mut log = Log::with_acme();
    let mut t = tenant("beta", "tokyo", &["10.1.0.0/16"]);
    t.rules.push(rule_using("nowhere"));
    let msg = log.rejected(create(t), RejectKind::Invalid);
    assert!(
        msg.starts_with("tenant.rules[0].lists[0]: unknown list"),
        "{msg}"
    );

    let msg = log.rejected(create(tenant("beta", "tokyo", &[])), RejectKind::Invalid);
    assert!(msg.starts_with("tenant.source_cidrs: "), "{msg}");

    let msg = log.rejected(
        create(tenant("bad id", "tokyo", &["10.1.0.0/16"])),
        RejectKind::Invalid,
    );
    assert!(msg.starts_with("tenant.id: "), "{msg}");
}

#[test]
fn source_cidr_with_host_bits_is_invalid_even_when_built_in_code() {
    let mut log = Log::with_acme();
    let mut t = tenant("beta", "tokyo", &[]);
    t.source_cidrs
        .push(SourceCidr("10.1.2.3/16".parse::<Ipv4Net>().unwrap()));
    let msg = log.rejected(create(t), RejectKind::Invalid);
    assert!(
        msg.starts_with("tenant.source_cidrs[0]: 10.1.2.3/16 has host bits"),
        "{msg}"
    );
}

#[test]
fn overlapping_source_in_the_same_region_conflicts_naming_tenant_and_both_cidrs() {
    let mut log = Log::with_acme();
    let t = tenant("beta", "tokyo", &["192.0.2.0/24", "10.0.5.0/24"]);
    let msg = log.rejected(create(t), RejectKind::Conflict);
    assert!(
        msg.starts_with("tenant.source_cidrs[1]: 10.0.5.0/24 overlaps 10.0.0.0/16"),
        "{msg}"
    );
    assert!(msg.contains("of tenant acme in region tokyo"), "{msg}");
    // A wider network around the existing one overlaps too.
    let msg = log.rejected(
        create(tenant("beta", "tokyo", &["10.0.0.0/8"])),
        RejectKind::Conflict,
    );
    assert!(
        msg.contains("10.0.0.0/8 overlaps 10.0.0.0/16 of tenant acme"),
        "{msg}"
    );
}

#[test]
fn same_source_in_another_region_is_allowed() {
    let mut log = Log::with_acme();
    log.ok(create(tenant("beta", "osaka", &["10.0.0.0/16"])));
}

#[test]
fn tenant_lists_in_the_payload_are_checked() {
    let mut log = Log::with_acme();
    let mut t = tenant("beta", "tokyo", &["10.1.0.0/16"]);
    t.lists.insert("bad name".into(), list(&["example.com"]));
    let msg = log.rejected(create(t), RejectKind::Invalid);
    assert!(
        msg.starts_with("tenant.lists[bad name]: list name"),
        "{msg}"
    );

    let mut t = tenant("beta", "tokyo", &["10.1.0.0/16"]);
    t.lists.insert("m365".into(), list(&["outlook.office.com"]));
    t.rules.push(rule_using("m365"));
    log.ok(create(t));
}

#[test]
fn deleting_a_tenant_removes_it_and_its_tokens_only() {
    let mut log = Log::with_acme();
    log.ok(create(tenant("beta", "tokyo", &["10.1.0.0/16"])));
    log.ok(token("t1", "acme"));
    log.ok(token("t2", "beta"));
    log.ok(Command::DeleteTenant(DeleteTenant {
        id: "acme".into(),
        if_match: None,
    }));
    assert!(!log.state.tenants.contains_key("acme"));
    assert_eq!(log.state.tokens.keys().collect::<Vec<_>>(), ["t2"]);
}

#[test]
fn deleting_a_missing_tenant_is_not_found() {
    let mut log = Log::with_acme();
    let cmd = Command::DeleteTenant(DeleteTenant {
        id: "ghost".into(),
        if_match: None,
    });
    assert_eq!(
        log.rejected(cmd, RejectKind::NotFound),
        "tenant ghost does not exist"
    );
}

#[test]
fn deleting_a_tenant_with_a_stale_if_match_fails() {
    let mut log = Log::with_acme();
    let cmd = Command::DeleteTenant(DeleteTenant {
        id: "acme".into(),
        if_match: Some(2),
    });
    let msg = log.rejected(cmd, RejectKind::PreconditionFailed);
    assert_eq!(msg, "tenant acme is at version 3, not 2");
    log.ok(Command::DeleteTenant(DeleteTenant {
        id: "acme".into(),
        if_match: Some(3),
    }));
}

#[test]
fn read_helpers_see_tenants_by_region_and_tokens_by_id() {
    let mut log = Log::with_acme();
    log.ok(create(tenant("beta", "osaka", &["10.1.0.0/16"])));
    log.ok(create(tenant("aaa", "tokyo", &["10.2.0.0/16"])));
    log.ok(token("t1", "acme"));
    let ids: Vec<_> = log
        .state
        .tenants_in_region("tokyo")
        .map(|r| r.tenant.id.clone())
        .collect();
    assert_eq!(ids, ["aaa", "acme"]);
    assert_eq!(
        log.state.token_by_id("t1").map(|t| t.tenant.as_str()),
        Some("acme")
    );
    assert!(log.state.token_by_id("t2").is_none());

    // Without contracts, edges get none of them (art. 6-1), and the policy is still valid.
    let day = log.state.policy_day();
    let policy = crate::state::region_policy_at(&log.state, "tokyo", day);
    assert_eq!(policy.version, log.state.version);
    assert!(policy.tenants.is_empty());
    breakout_policy::validate::validate(&policy).unwrap();
    assert_eq!(
        crate::state::out_of_service(&log.state, "tokyo", day).len(),
        2
    );
}

fn contact(c: Option<&str>) -> TenantPatch {
    TenantPatch {
        ops_contact: Some(c.map(str::to_string)),
        ..TenantPatch::default()
    }
}

#[test]
fn the_operations_contact_is_an_address_and_can_be_removed() {
    let mut log = Log::with_acme();
    log.ok(update("acme", None, contact(Some("noc@acme.example"))));
    assert_eq!(
        log.state.tenants["acme"].ops_contact.as_deref(),
        Some("noc@acme.example")
    );
    for bad in [
        "noc",
        "noc@localhost",
        "a b@acme.example",
        "<noc@acme.example>",
        "@acme.example",
    ] {
        let msg = log.rejected(
            update("acme", None, contact(Some(bad))),
            RejectKind::Invalid,
        );
        assert!(msg.contains("ops_contact"), "{msg}");
    }
    assert_eq!(
        log.state.tenants["acme"].ops_contact.as_deref(),
        Some("noc@acme.example"),
        "a rejected patch changes nothing"
    );
    log.ok(update("acme", None, contact(None)));
    assert_eq!(log.state.tenants["acme"].ops_contact, None);
}
