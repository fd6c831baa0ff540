//! The source-network index against a scan of every tenant: random creates, updates and
//! deletes, with the state now and then serialised and read back or changed behind the
//! index's back (both must make it rebuild, never answer from stale data).

use std::sync::Arc;

use breakout_policy::SourceCidr;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{create, region, tenant, update, Log};
use crate::state::model::TenantRecord;
use crate::state::{Command, DeleteTenant, Outcome, RejectKind, State, TenantPatch};

/// Random networks in a small space, so that many overlap.
fn cidr(rng: &mut impl Rng) -> String {
    let len = [8u8, 12, 16, 20, 24, 28, 32][rng.random_range(0..7)];
    let addr = 0x0A00_0000u32 | (rng.random::<u32>() & 0x00F0_F0FF);
    let mask = u32::MAX.checked_shl(u32::from(32 - len)).unwrap_or(0);
    let a = std::net::Ipv4Addr::from(addr & mask);
    format!("{a}/{len}")
}

/// Whether `cidrs` overlap a network of another tenant of `region`, by a scan.
fn scan_overlaps(state: &State, region: &str, id: &str, cidrs: &[SourceCidr]) -> bool {
    state
        .tenants_in_region(region)
        .filter(|r| r.tenant.id != id)
        .flat_map(|r| &r.tenant.source_cidrs)
        .any(|theirs| {
            cidrs
                .iter()
                .any(|mine| mine.0.contains(&theirs.0) || theirs.0.contains(&mine.0))
        })
}

fn expect(log: &mut Log, command: Command, clash: bool) {
    match log.apply(command) {
        Outcome::Done { .. } => assert!(!clash, "accepted an overlap"),
        Outcome::Rejected {
            kind: RejectKind::Conflict,
            message,
        } => assert!(clash, "refused without an overlap: {message}"),
        other => panic!("unexpected outcome {other:?}"),
    }
}

#[test]
fn the_index_answers_as_a_scan_of_every_tenant_would() {
    let mut rng = StdRng::seed_from_u64(18);
    let mut log = Log::new();
    log.ok(region("tokyo"));
    log.ok(region("osaka"));
    let regions = ["tokyo", "osaka"];
    let (mut accepted, mut refused) = (0, 0);
    for step in 0..3_000 {
        let id = format!("t{}", rng.random_range(0..60));
        let cidrs: Vec<String> = (0..rng.random_range(1..3))
            .map(|_| cidr(&mut rng))
            .collect();
        let parsed: Vec<SourceCidr> = cidrs.iter().map(|c| c.parse().unwrap()).collect();
        let refs: Vec<&str> = cidrs.iter().map(String::as_str).collect();
        let existing = log.state.tenants.get(&id).map(|r| r.tenant.clone());
        let before = log.state.tenants.len();
        match (existing, rng.random_range(0..10)) {
            (None, _) => {
                let region = regions[rng.random_range(0..2)];
                let clash = scan_overlaps(&log.state, region, &id, &parsed);
                expect(&mut log, create(tenant(&id, region, &refs)), clash);
            }
            (Some(_), 0) => {
                let delete = DeleteTenant {
                    id: id.clone(),
                    if_match: None,
                };
                log.ok(Command::DeleteTenant(delete));
            }
            (Some(t), _) => {
                let region = t.region.clone().unwrap_or_default();
                let clash = scan_overlaps(&log.state, &region, &id, &parsed);
                let patch = TenantPatch {
                    source_cidrs: Some(parsed),
                    ..TenantPatch::default()
                };
                expect(&mut log, update(&id, None, patch), clash);
            }
        }
        if log.state.tenants.len() > before {
            accepted += 1;
        } else {
            refused += 1;
        }
        match step % 97 {
            // Read back from JSON (a snapshot, an import): the index is not stored.
            0 => {
                let json = serde_json::to_string(&log.state).unwrap();
                log.state = serde_json::from_str(&json).unwrap();
            }
            // Changed behind the index: a tenant put straight into the map.
            1 => {
                let id = format!("direct{step}");
                let t = tenant(&id, "tokyo", &["172.16.0.0/12"]);
                let record = TenantRecord {
                    tenant: t,
                    created_version: 0,
                    changed_version: 0,
                    session_cap: None,
                    ops_contact: None,
                    notify_business_days: false,
                    quotas: Default::default(),
                };
                log.state.tenants.insert(id, Arc::new(record));
                let inside = tenant(&format!("x{step}"), "tokyo", &["172.16.1.0/24"]);
                let msg = log.rejected(create(inside), RejectKind::Conflict);
                assert!(
                    msg.contains("overlaps 172.16.0.0/12 of tenant direct"),
                    "{msg}"
                );
            }
            _ => {}
        }
    }
    // Both branches ran many times (the space is small enough to clash, large enough not to).
    assert!(accepted > 200 && refused > 200, "{accepted} {refused}");
}

#[test]
fn a_conflict_names_the_other_tenant_and_its_network_around_or_inside() {
    let mut log = Log::with_acme();
    // Inside acme's 10.0.0.0/16, at its first and last address.
    for inside in ["10.0.0.0/24", "10.0.255.255/32"] {
        let msg = log.rejected(
            create(tenant("b", "tokyo", &[inside])),
            RejectKind::Conflict,
        );
        assert!(msg.contains("overlaps 10.0.0.0/16 of tenant acme"), "{msg}");
    }
    // Around it, and the whole address space.
    for around in ["10.0.0.0/15", "0.0.0.0/0"] {
        let msg = log.rejected(
            create(tenant("b", "tokyo", &[around])),
            RejectKind::Conflict,
        );
        assert!(msg.contains("overlaps 10.0.0.0/16 of tenant acme"), "{msg}");
    }
    // Next to it, or in another region: no overlap.
    log.ok(create(tenant(
        "b",
        "tokyo",
        &["10.1.0.0/16", "9.255.255.255/32"],
    )));
    log.ok(create(tenant("c", "osaka", &["10.0.0.0/16"])));
    // A tenant's own networks never clash with themselves.
    let patch = TenantPatch {
        source_cidrs: Some(vec!["10.0.0.0/17".parse().unwrap()]),
        ..TenantPatch::default()
    };
    log.ok(update("acme", None, patch));
    // acme's old half is free now.
    log.ok(create(tenant("d", "tokyo", &["10.0.128.0/17"])));
    // Read back from JSON, then a write without a check first (a delete): the index it keeps
    // afterwards still holds every other tenant.
    let json = serde_json::to_string(&log.state).unwrap();
    log.state = serde_json::from_str(&json).unwrap();
    let delete = DeleteTenant {
        id: "d".into(),
        if_match: None,
    };
    log.ok(Command::DeleteTenant(delete));
    let msg = log.rejected(
        create(tenant("e", "tokyo", &["10.0.0.0/8"])),
        RejectKind::Conflict,
    );
    assert!(
        msg.contains("of tenant acme") || msg.contains("of tenant b"),
        "{msg}"
    );
}
