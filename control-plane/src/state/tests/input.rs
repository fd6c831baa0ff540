//! What a client may send, checked before a command is proposed (`Command::check_input`):
//! ids, free text, every string. Never at replay: an old entry replays as it was decided.

use super::*;
use crate::state::{CreateRegion, CreateToken, CreateWebhook, Secret, ID_RULE};

fn refused(command: &Command) -> String {
    command.check_input().expect_err("refused").message
}

#[test]
fn ids_that_cannot_be_addressed_are_refused_with_the_rule() {
    // The defect (issue 13, item 10): tenant id ".." and list name ".." were accepted.
    let msg = refused(&create(tenant("..", "tokyo", &[])));
    assert!(
        msg.starts_with("tenant.id: tenant id \"..\" is not a valid id"),
        "{msg}"
    );
    assert!(msg.contains(ID_RULE), "{msg}");
    let msg = refused(&put_list("acme", "..", list(&[]), None));
    assert!(msg.starts_with("name: list name \"..\""), "{msg}");
    for bad in ["Acme", "a/b", "-x", "a..b", ""] {
        assert!(
            create(tenant(bad, "tokyo", &[])).check_input().is_err(),
            "{bad}"
        );
    }
    assert!(create(tenant("acme-1.eu_west", "tokyo", &[]))
        .check_input()
        .is_ok());
}

#[test]
fn every_id_a_command_creates_follows_the_rule() {
    let region = Command::CreateRegion(CreateRegion {
        name: "..".into(),
        description: None,
    });
    assert!(refused(&region).starts_with("name: region name"));
    let token = Command::CreateToken(CreateToken {
        id: "..".into(),
        tenant: "acme".into(),
        hash: "ab".repeat(32),
        label: None,
        expires_at_ms: None,
    });
    assert!(refused(&token).starts_with("id: token id"));
    let hook = Command::CreateWebhook(CreateWebhook {
        tenant: "acme".into(),
        id: "..".into(),
        url: "https://x.example/".into(),
        secret: Secret("0123456789abcdef".into()),
    });
    assert!(refused(&hook).starts_with("id: webhook id"));
    let mut t = tenant("acme", "tokyo", &[]);
    t.lists.insert("..".into(), list(&[]));
    assert!(refused(&create(t)).starts_with("tenant.lists[..]: list name"));
    let mut t = tenant("acme", "tokyo", &[]);
    t.upstreams
        .insert("Corp Proxy".into(), "proxy.example:8080".into());
    assert!(refused(&create(t)).starts_with("tenant.upstreams[Corp Proxy]: upstream name"));
}

#[test]
fn free_text_is_bounded_in_every_field() {
    // A 1 MB region description was accepted.
    let region = Command::CreateRegion(CreateRegion {
        name: "tokyo".into(),
        description: Some("x".repeat(1 << 20)),
    });
    assert_eq!(
        refused(&region),
        "description: 1048576 bytes; at most 256 are allowed"
    );
    let region = Command::CreateRegion(CreateRegion {
        name: "tokyo".into(),
        description: Some("x".repeat(300)),
    });
    assert_eq!(
        refused(&region),
        "description: 300 bytes; at most 256 are allowed"
    );
    let token = Command::CreateToken(CreateToken {
        id: "t1".into(),
        tenant: "acme".into(),
        hash: "ab".repeat(32),
        label: Some("line\nbreak".into()),
        expires_at_ms: None,
    });
    assert!(refused(&token).contains("control character"));
    let mut t = tenant("acme", "tokyo", &[]);
    let mut rule = rule_using("l");
    rule.name = Some("n".repeat(200));
    t.rules.push(rule);
    assert!(refused(&create(t)).starts_with("tenant.rules[0].name: 200 bytes"));
    // Any string, in any command, whatever its field: the patch's contact is bounded too.
    let patch = TenantPatch {
        ops_contact: Some(Some(format!("{}@example.com", "a".repeat(5000)))),
        ..TenantPatch::default()
    };
    assert!(refused(&update("acme", None, patch)).starts_with("command.patch.ops_contact: "));
}

#[test]
fn old_entries_with_now_invalid_ids_still_apply() {
    // Validation is at the boundary: the state machine still applies what an old log holds.
    let mut log = Log::with_acme();
    log.ok(put_list("acme", "Block_list-2.v1", list(&[]), None));
    log.ok(create(tenant("Old.Tenant", "tokyo", &["10.9.0.0/16"])));
    assert!(log.state.tenants.contains_key("Old.Tenant"));
}
