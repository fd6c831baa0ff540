use super::*;
use crate::model::{SourceCidr, SCHEMA_VERSION};
use crate::wire::content::content_digest;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn cidr(rng: &mut StdRng) -> SourceCidr {
    format!("10.{}.0.0/16", rng.random_range(0..8))
        .parse()
        .expect("a cidr")
}

fn tenant(rng: &mut StdRng, id: &str) -> Tenant {
    let lists = if rng.random_bool(0.3) {
        serde_json::json!({"own": [format!("h{}.example.com", rng.random_range(0..3))]})
    } else {
        serde_json::json!({})
    };
    serde_json::from_value(serde_json::json!({
        "id": id,
        "region": "tokyo",
        "source_cidrs": [cidr(rng).to_string()],
        "session_limit": rng.random_range(0..4),
        "lists": lists,
    }))
    .expect("a tenant")
}

fn list(rng: &mut StdRng) -> NamedList {
    let n = rng.random_range(0..3);
    serde_json::from_value(serde_json::json!((0..n)
        .map(|i| format!("s{}-{i}.example.com", rng.random_range(0..4)))
        .collect::<Vec<_>>()))
    .expect("a list")
}

const IDS: [&str; 8] = [
    "acme", "beta", "core", "dyna", "echo", "fox", "gulf", "hive",
];

fn policy(rng: &mut StdRng, version: u64) -> RegionPolicy {
    let mut tenants = Vec::new();
    for id in IDS {
        if rng.random_bool(0.6) {
            tenants.push(tenant(rng, id).into());
        }
    }
    if rng.random_bool(0.3) {
        // Not in id order: the order must survive too.
        let k = rng.random_range(0..tenants.len() as u64 + 1) as usize;
        tenants.rotate_left(k);
    }
    let mut lists = BTreeMap::new();
    for name in ["m365", "ops", "cdn", "block"] {
        if rng.random_bool(0.5) {
            lists.insert(name.to_string(), list(rng));
        }
    }
    let foreign_sources = (0..rng.random_range(0..3))
        .map(|i| ForeignSources {
            region: "osaka".into(),
            tenant: format!("kobe{i}"),
            cidrs: vec![cidr(rng)],
        })
        .collect::<Vec<_>>()
        .into();
    let out_of_service = (0..rng.random_range(0..3))
        .map(|i| OutOfService {
            tenant: format!("idle{i}"),
            reason: format!("art. 6-1: reason {}", rng.random_range(0..2)),
            cidrs: vec![cidr(rng)],
        })
        .collect();
    RegionPolicy {
        schema: SCHEMA_VERSION,
        version,
        region: "tokyo".into(),
        tenants,
        lists,
        foreign_sources,
        out_of_service,
    }
}

/// `new` derived from `old` by a few edits, so that most pairs share much (as in practice).
fn evolve(rng: &mut StdRng, old: &RegionPolicy) -> RegionPolicy {
    let mut new = old.clone();
    new.version = old.version + 1 + rng.random_range(0..5);
    for _ in 0..rng.random_range(0..4) {
        match rng.random_range(0..7) {
            0 if !new.tenants.is_empty() => {
                let i = rng.random_range(0..new.tenants.len() as u64) as usize;
                new.tenants.remove(i);
            }
            1 => {
                let id = IDS[rng.random_range(0..IDS.len() as u64) as usize];
                if !new.tenants.iter().any(|t| t.id == id) {
                    let t = tenant(rng, id);
                    let at = rng.random_range(0..new.tenants.len() as u64 + 1) as usize;
                    new.tenants.insert(at, t.into());
                }
            }
            2 if !new.tenants.is_empty() => {
                let i = rng.random_range(0..new.tenants.len() as u64) as usize;
                Arc::make_mut(&mut new.tenants[i]).session_limit += 1;
            }
            3 if new.tenants.len() > 1 => {
                let last = new.tenants.len() - 1;
                new.tenants.swap(0, last);
            }
            4 => {
                let name = ["m365", "ops", "cdn", "block"][rng.random_range(0..4) as usize];
                if rng.random_bool(0.5) {
                    new.lists.remove(name);
                } else {
                    new.lists.insert(name.into(), list(rng));
                }
            }
            5 => new.foreign_sources = policy(rng, 0).foreign_sources,
            _ => new.out_of_service = policy(rng, 0).out_of_service,
        }
    }
    new
}

#[test]
fn applying_the_diff_gives_the_new_policy() {
    let mut rng = StdRng::seed_from_u64(0x5EED_1234_ABCD_0001);
    for round in 0..2_000 {
        let old = policy(&mut rng, round);
        let new = if rng.random_bool(0.5) {
            evolve(&mut rng, &old)
        } else {
            policy(&mut rng, round + 1)
        };
        let changes = diff(&old, &new);
        assert_eq!(apply(&old, &changes), new, "round {round}: {changes:?}");
        // And through the wire: the changes survive JSON.
        let json = serde_json::to_vec(&changes).expect("encode");
        let back: Changes = serde_json::from_slice(&json).expect("decode");
        assert_eq!(back, changes, "round {round}");
    }
}

#[test]
fn identical_policies_differ_only_in_version() {
    let mut rng = StdRng::seed_from_u64(7);
    let old = policy(&mut rng, 3);
    let mut new = old.clone();
    new.version = 9;
    let changes = diff(&old, &new);
    assert_eq!(
        changes,
        Changes {
            schema: SCHEMA_VERSION,
            version: 9,
            region: "tokyo".into(),
            ..Changes::default()
        }
    );
    assert_eq!(apply(&old, &changes), new);
    assert!(changes.is_empty());
    assert_eq!(
        Changes::none(&old, 9),
        changes,
        "what confirms a reconnecting edge"
    );
}

#[test]
fn changes_with_anything_in_them_are_not_empty() {
    let mut rng = StdRng::seed_from_u64(0x5EED_0E0E);
    for round in 0..200 {
        let old = policy(&mut rng, round);
        let new = evolve(&mut rng, &old);
        let changes = diff(&old, &new);
        let same = content_digest(&old) == content_digest(&new);
        assert_eq!(changes.is_empty(), same, "round {round}: {changes:?}");
    }
}

#[test]
fn the_content_digest_survives_the_wire_and_updates() {
    // What the edge holds (decoded, or rebuilt by `apply`) hashes as what the server built.
    let mut rng = StdRng::seed_from_u64(0x00D1_6E57);
    let mut held = policy(&mut rng, 1);
    for round in 2..300 {
        let new = evolve(&mut rng, &held);
        let mut new_v = new.clone();
        new_v.version = round;
        let json = serde_json::to_vec(&new_v).expect("encode");
        let decoded: RegionPolicy = serde_json::from_slice(&json).expect("decode");
        assert_eq!(
            content_digest(&decoded),
            content_digest(&new_v),
            "round {round}"
        );
        let mut changes = diff(&held, &new_v);
        changes.version = round;
        held = apply(&held, &changes);
        assert_eq!(
            content_digest(&held),
            content_digest(&new_v),
            "round {round}"
        );
    }
}

#[test]
fn a_changed_tenant_is_sent_alone_and_a_removed_one_by_id() {
    let mut rng = StdRng::seed_from_u64(11);
    let old = RegionPolicy {
        tenants: vec![
            tenant(&mut rng, "acme").into(),
            tenant(&mut rng, "beta").into(),
            tenant(&mut rng, "core").into(),
        ],
        ..policy(&mut rng, 1)
    };
    let mut new = old.clone();
    new.version = 2;
    new.tenants.remove(0);
    Arc::make_mut(&mut new.tenants[1]).session_limit += 10;
    let changes = diff(&old, &new);
    assert_eq!(changes.removed_tenants, ["acme"]);
    assert_eq!(
        changes
            .tenants
            .iter()
            .map(|t| t.id.as_str())
            .collect::<Vec<_>>(),
        ["core"]
    );
    assert_eq!(changes.tenant_order, None, "in place needs no order");
    assert_eq!(
        (changes.foreign_sources, changes.out_of_service),
        (None, None)
    );
    assert_eq!(apply(&old, &diff(&old, &new)), new);
}

#[test]
fn changes_refuse_fields_they_do_not_know() {
    let json = r#"{"schema":1,"version":2,"region":"tokyo","surprise":true}"#;
    assert!(serde_json::from_str::<Changes>(json).is_err());
}

/// Whether the tenants' ids are the same, in order, read through shared `Arc`s or not.
#[test]
fn same_tenant_ids_is_the_ids_compared_in_order() {
    let mut rng = StdRng::seed_from_u64(0x5EED_1234_ABCD_0003);
    let ids = |p: &RegionPolicy| p.tenants.iter().map(|t| t.id.clone()).collect::<Vec<_>>();
    let mut seen = [0; 2];
    for round in 0..2_000 {
        let old = policy(&mut rng, round);
        let new = apply(&old, &diff(&old, &evolve(&mut rng, &old)));
        let want = ids(&old) == ids(&new);
        seen[usize::from(want)] += 1;
        assert_eq!(same_tenant_ids(&old.tenants, &new.tenants), want, "{round}");
        // Equal tenants that are not the same `Arc` compare by id.
        let copied: Vec<Arc<Tenant>> = new
            .tenants
            .iter()
            .map(|t| Arc::new((**t).clone()))
            .collect();
        assert_eq!(same_tenant_ids(&old.tenants, &copied), want, "{round}");
    }
    assert!(
        seen.iter().all(|&n| n > 100),
        "both answers covered: {seen:?}"
    );
}
