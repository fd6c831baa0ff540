use super::*;
use crate::state::{CreateToken, RevokeToken};

#[test]
fn token_is_stored_with_its_tenant_and_lowercase_hash() {
    let mut log = Log::with_acme();
    let hash = "AB".repeat(32);
    let cmd = Command::CreateToken(CreateToken {
        id: "ab12".into(),
        tenant: "acme".into(),
        hash,
        label: Some("ci".into()),
        expires_at_ms: Some(1_900_000_000_000),
    });
    let v = log.ok(cmd);
    let t = &log.state.tokens["ab12"];
    assert_eq!((t.tenant.as_str(), t.created_version), ("acme", v));
    assert_eq!(t.hash, "ab".repeat(32));
    assert_eq!(t.label.as_deref(), Some("ci"));
    assert_eq!(t.expires_at_ms, Some(1_900_000_000_000));
}

#[test]
fn token_for_a_missing_tenant_is_not_found() {
    let mut log = Log::with_acme();
    log.rejected(token("t1", "ghost"), RejectKind::NotFound);
}

#[test]
fn token_id_must_be_unique() {
    let mut log = Log::with_acme();
    log.ok(token("t1", "acme"));
    assert_eq!(
        log.rejected(token("t1", "acme"), RejectKind::Conflict),
        "token t1 already exists"
    );
}

#[test]
fn token_id_cannot_hold_the_separator() {
    let mut log = Log::with_acme();
    let msg = log.rejected(token("a_b", "acme"), RejectKind::Invalid);
    assert!(msg.starts_with("id: token id \"a_b\""), "{msg}");
}

#[test]
fn token_hash_must_be_64_hex_characters() {
    let mut log = Log::with_acme();
    for hash in ["abc".to_string(), "zz".repeat(32), "ab".repeat(33)] {
        let cmd = Command::CreateToken(CreateToken {
            id: "t".into(),
            tenant: "acme".into(),
            hash,
            label: None,
            expires_at_ms: None,
        });
        let msg = log.rejected(cmd, RejectKind::Invalid);
        assert!(msg.starts_with("hash: must be 64 hex characters"), "{msg}");
    }
}

#[test]
fn revoking_removes_the_token() {
    let mut log = Log::with_acme();
    log.ok(token("t1", "acme"));
    log.ok(Command::RevokeToken(RevokeToken { id: "t1".into() }));
    assert!(log.state.tokens.is_empty());
}

#[test]
fn revoking_a_missing_token_is_not_found() {
    let mut log = Log::with_acme();
    let msg = log.rejected(
        Command::RevokeToken(RevokeToken { id: "t1".into() }),
        RejectKind::NotFound,
    );
    assert_eq!(msg, "token t1 does not exist");
}
