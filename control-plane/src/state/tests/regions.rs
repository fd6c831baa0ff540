use super::*;
use crate::state::{CreateRegion, DeleteRegion};

#[test]
fn region_is_created_at_the_entry_index() {
    let mut log = Log::new();
    let v = log.ok(Command::CreateRegion(CreateRegion {
        name: "tokyo".into(),
        description: Some("JP".into()),
    }));
    let r = &log.state.regions["tokyo"];
    assert_eq!((r.created_version, r.changed_version, v), (1, 1, 1));
    assert_eq!(r.description.as_deref(), Some("JP"));
    assert_eq!(log.state.version, 1);
}

#[test]
fn region_names_must_be_lowercase_dns_labels() {
    let mut log = Log::new();
    for bad in ["", "Tokyo", "-tokyo", "to_kyo", "tōkyō", &"a".repeat(64)] {
        let msg = log.rejected(region(bad), RejectKind::Invalid);
        assert!(msg.starts_with("name: "), "{msg}");
    }
    log.ok(region(&"a".repeat(63)));
    log.ok(region("0-ap-northeast-1"));
}

#[test]
fn creating_an_existing_region_conflicts() {
    let mut log = Log::new();
    log.ok(region("tokyo"));
    let msg = log.rejected(region("tokyo"), RejectKind::Conflict);
    assert_eq!(msg, "region tokyo already exists");
}

#[test]
fn deleting_a_missing_region_is_not_found() {
    let mut log = Log::new();
    log.rejected(
        Command::DeleteRegion(DeleteRegion {
            name: "tokyo".into(),
        }),
        RejectKind::NotFound,
    );
}

#[test]
fn deleting_a_region_with_tenants_conflicts_and_names_them() {
    let mut log = Log::with_acme();
    log.ok(create(tenant("beta", "tokyo", &["10.1.0.0/16"])));
    let msg = log.rejected(
        Command::DeleteRegion(DeleteRegion {
            name: "tokyo".into(),
        }),
        RejectKind::Conflict,
    );
    assert!(msg.contains("acme, beta"), "{msg}");
    assert!(log.state.regions.contains_key("tokyo"));
}

#[test]
fn deleting_an_unused_region_removes_it() {
    let mut log = Log::with_acme();
    log.ok(Command::DeleteRegion(DeleteRegion {
        name: "osaka".into(),
    }));
    assert!(!log.state.regions.contains_key("osaka"));
}
