use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use breakout_policy::wire::content::content_digest;
use breakout_policy::{Action, SourceCidr, Tenant, SCHEMA_VERSION};

use super::*;
use crate::access_log::AccessLog;
use crate::config::{AccessLogTarget, EdgeConfig};
use crate::metrics::Metrics;
use crate::resolve::Resolver;

/// An edge of region `tokyo` waiting for its first configuration, as in control-plane mode.
fn waiting_edge() -> Arc<Shared> {
    let (mut settings, _) = EdgeConfig::parse_settings("", "tokyo").expect("defaults");
    settings.access_log = AccessLogTarget::Off;
    let metrics = Metrics::new().expect("metrics");
    let empty = RegionPolicy {
        region: "tokyo".into(),
        ..RegionPolicy::default()
    };
    let snap = Snapshot::build(&empty, Arc::new(settings), None, &metrics, 0).expect("empty");
    let resolver = Resolver::new(Some(&[]), metrics.dns_duration.clone());
    let log = AccessLog::start(&AccessLogTarget::Off).expect("log");
    let shared = Arc::new(Shared::new(snap, metrics, resolver, log, Vec::new()));
    shared.awaiting_config.store(true, Ordering::Release);
    shared
}

fn tenant(id: &str, cidr: &str, limit: u32) -> Tenant {
    Tenant {
        id: id.into(),
        region: Some("tokyo".into()),
        source_cidrs: vec![cidr.parse::<SourceCidr>().expect("cidr")],
        session_limit: limit,
        upstreams: BTreeMap::new(),
        rules: Vec::new(),
        default_action: Action::Direct,
        lists: BTreeMap::new(),
        egress_address: None,
        pac: None,
    }
}

fn policy(version: u64, tenants: Vec<Tenant>) -> RegionPolicy {
    RegionPolicy {
        schema: SCHEMA_VERSION,
        version,
        region: "tokyo".into(),
        tenants: tenants.into_iter().map(Into::into).collect(),
        lists: BTreeMap::new(),
        foreign_sources: Default::default(),
        out_of_service: Vec::new(),
    }
}

fn serving(shared: &Shared) -> (u64, Vec<String>) {
    let snap = shared.snapshot.load();
    let ids = snap.tenants.iter().map(|t| t.id.to_string()).collect();
    (snap.version, ids)
}

#[test]
fn the_first_snapshot_makes_the_edge_ready() {
    let shared = waiting_edge();
    let applier = Applier::new(Arc::clone(&shared), "tokyo");
    assert_eq!(applier.applied_version(), 0);
    let got = applier.apply(5, &policy(5, vec![tenant("acme", "10.0.0.0/8", 3)]));
    assert_eq!(
        got,
        Ok(Applied::New {
            version: 5,
            generation: 1,
            tenants_changed: true,
        })
    );
    assert!(!shared.awaiting_config.load(Ordering::Acquire));
    assert_eq!(serving(&shared), (5, vec!["acme".to_string()]));
    assert_eq!(applier.applied_version(), 5);
}

#[test]
fn older_versions_are_refused_and_the_same_version_with_the_same_content_is_a_no_op() {
    let shared = waiting_edge();
    let applier = Applier::new(Arc::clone(&shared), "tokyo");
    applier
        .apply(7, &policy(7, vec![tenant("acme", "10.0.0.0/8", 3)]))
        .expect("apply");
    let err = applier.apply(6, &policy(6, Vec::new())).expect_err("older");
    assert!(err.contains("older"), "{err}");
    assert_eq!(
        applier.apply(7, &policy(7, vec![tenant("acme", "10.0.0.0/8", 3)])),
        Ok(Applied::Already { version: 7 })
    );
    assert_eq!(serving(&shared), (7, vec!["acme".to_string()]));
    // Other content under the same number (another store history): it is what the region has
    // at 7 now, so it is installed rather than acked over the old content.
    assert!(matches!(
        applier.apply(7, &policy(7, Vec::new())),
        Ok(Applied::New { version: 7, .. })
    ));
    assert_eq!(serving(&shared), (7, Vec::<String>::new()));
}

#[test]
fn an_invalid_or_uncompilable_snapshot_is_refused_and_the_last_good_one_keeps_serving() {
    let shared = waiting_edge();
    let applier = Applier::new(Arc::clone(&shared), "tokyo");
    applier
        .apply(3, &policy(3, vec![tenant("acme", "10.0.0.0/8", 3)]))
        .expect("apply");
    // Passes the control plane's validation, but this edge cannot bind the egress address.
    let mut remote = tenant("beta", "192.168.0.0/16", 3);
    remote.egress_address = Some(Ipv4Addr::new(192, 0, 2, 77));
    let refused = [
        policy(4, vec![tenant("acme", "10.0.0.0/8", 3), remote]),
        policy(
            5,
            vec![tenant("a", "10.0.0.0/8", 1), tenant("b", "10.1.0.0/16", 1)],
        ),
        RegionPolicy {
            region: "osaka".into(),
            ..policy(6, Vec::new())
        },
        policy(99, Vec::new()),
    ];
    let versions = [4, 5, 6, 7];
    let expect = ["egress_address", "overlaps", "osaka", "version 99"];
    for ((p, v), why) in refused.iter().zip(versions).zip(expect) {
        let err = applier.apply(v, p).expect_err("refused");
        assert!(err.contains(why), "version {v}: {err}");
        assert_eq!(serving(&shared), (3, vec!["acme".to_string()]));
    }
    assert_eq!(applier.applied_version(), 3);
    assert_eq!(shared.snapshot.load().generation, 1);
}

#[test]
fn sessions_keep_their_slots_across_snapshots() {
    let shared = waiting_edge();
    let applier = Applier::new(Arc::clone(&shared), "tokyo");
    applier
        .apply(1, &policy(1, vec![tenant("acme", "10.0.0.0/8", 1)]))
        .expect("apply");
    let before = shared.snapshot.load_full();
    let t = before.tenant_by_id("acme").expect("tenant");
    let held = t.slots.try_acquire(&t.metrics.active).expect("a slot");
    applier
        .apply(2, &policy(2, vec![tenant("acme", "10.0.0.0/8", 5)]))
        .expect("apply");
    let after = shared.snapshot.load_full();
    let t2 = after.tenant_by_id("acme").expect("tenant");
    assert!(Arc::ptr_eq(&t.slots, &t2.slots));
    assert_eq!((t2.slots.active(), t2.slots.limit()), (1, 5));
    drop(held);
    assert_eq!(t2.slots.active(), 0);
}

fn changes(old: &RegionPolicy, new: &RegionPolicy) -> breakout_policy::wire::Changes {
    breakout_policy::wire::delta::diff(old, new)
}

#[test]
fn an_update_applies_on_top_of_the_version_serving() {
    let shared = waiting_edge();
    let applier = Applier::new(Arc::clone(&shared), "tokyo");
    let v3 = policy(3, vec![tenant("acme", "10.0.0.0/8", 3)]);
    applier.apply(3, &v3).expect("applied");
    let v5 = policy(
        5,
        vec![
            tenant("acme", "10.0.0.0/8", 4),
            tenant("beta", "172.16.0.0/12", 2),
        ],
    );
    assert_eq!(
        applier.apply_update(3, 5, &changes(&v3, &v5)),
        Ok(Applied::New {
            version: 5,
            generation: 2,
            tenants_changed: true,
        })
    );
    assert_eq!(
        serving(&shared),
        (5, vec!["acme".to_string(), "beta".to_string()])
    );
    // The next update builds on what the last one made; one that only changes a tenant leaves
    // the tenants reported as they were.
    let v6 = policy(6, vec![tenant("beta", "172.16.0.0/12", 2)]);
    assert!(matches!(
        applier.apply_update(5, 6, &changes(&v5, &v6)),
        Ok(Applied::New {
            version: 6,
            tenants_changed: true,
            ..
        })
    ));
    assert_eq!(serving(&shared), (6, vec!["beta".to_string()]));
    let v7 = policy(7, vec![tenant("beta", "172.16.0.0/12", 9)]);
    assert!(matches!(
        applier.apply_update(6, 7, &changes(&v6, &v7)),
        Ok(Applied::New {
            version: 7,
            tenants_changed: false,
            ..
        })
    ));
    let v8 = policy(8, vec![tenant("beta", "172.16.0.0/12", 9)]);
    assert!(matches!(
        applier.apply(8, &v8),
        Ok(Applied::New {
            version: 8,
            tenants_changed: false,
            ..
        })
    ));
}

#[test]
fn an_update_on_the_wrong_base_is_refused_and_nothing_changes() {
    let shared = waiting_edge();
    let applier = Applier::new(Arc::clone(&shared), "tokyo");
    let v3 = policy(3, vec![tenant("acme", "10.0.0.0/8", 3)]);
    let v4 = policy(4, vec![tenant("acme", "10.0.0.0/8", 9)]);
    let v5 = policy(5, vec![tenant("beta", "172.16.0.0/12", 2)]);
    let err = applier
        .apply_update(3, 5, &changes(&v3, &v5))
        .expect_err("nothing applied yet");
    assert!(err.contains("no version is applied"), "{err}");
    assert!(shared.awaiting_config.load(Ordering::Acquire));

    applier.apply(4, &v4).expect("applied");
    let err = applier
        .apply_update(3, 5, &changes(&v3, &v5))
        .expect_err("made from 3, serving 4");
    assert!(
        err.contains("an update from version 3, but version 4 is applied"),
        "{err}"
    );
    let err = applier
        .apply_update(4, 4, &changes(&v4, &policy(4, Vec::new())))
        .expect_err("changes, but not newer");
    assert!(err.contains("not newer"), "{err}");
    assert_eq!(serving(&shared), (4, vec!["acme".to_string()]));
    assert_eq!(applier.applied_version(), 4);
}

#[test]
fn an_update_making_an_invalid_policy_is_refused_like_a_snapshot() {
    let shared = waiting_edge();
    let applier = Applier::new(Arc::clone(&shared), "tokyo");
    let v3 = policy(3, vec![tenant("acme", "10.0.0.0/8", 3)]);
    applier.apply(3, &v3).expect("applied");
    // Two tenants claiming the same sources.
    let bad = policy(
        4,
        vec![
            tenant("acme", "10.0.0.0/8", 3),
            tenant("beta", "10.0.0.0/8", 3),
        ],
    );
    assert!(applier.apply_update(3, 4, &changes(&v3, &bad)).is_err());
    // A version inside the changes other than the frame's.
    let v5 = policy(5, Vec::new());
    let err = applier
        .apply_update(3, 6, &changes(&v3, &v5))
        .expect_err("5 inside 6");
    assert!(err.contains("version 5"), "{err}");
    assert_eq!(serving(&shared), (3, vec!["acme".to_string()]));
    assert_eq!(applier.applied_version(), 3);
}

#[test]
fn the_hello_announces_the_digest_of_the_content_serving() {
    let shared = waiting_edge();
    let applier = Applier::new(Arc::clone(&shared), "tokyo");
    assert_eq!(
        applier.held(),
        Held::default(),
        "nothing serving, no digest"
    );
    let v3 = policy(3, vec![tenant("acme", "10.0.0.0/8", 3)]);
    applier.apply(3, &v3).expect("applied");
    let held = applier.held();
    assert_eq!(held.version, 3);
    assert_eq!(held.content, content_digest(&v3));
    // What the server computes for the same content at any version.
    assert_eq!(
        held.content,
        content_digest(&RegionPolicy {
            version: 9,
            ..v3.clone()
        })
    );
    // An update moves both.
    let v5 = policy(5, vec![tenant("acme", "10.0.0.0/8", 4)]);
    applier
        .apply_update(3, 5, &changes(&v3, &v5))
        .expect("applied");
    assert_eq!(applier.held().content, content_digest(&v5));
    assert_ne!(applier.held().content, content_digest(&v3));
}

#[test]
fn an_empty_update_confirms_the_content_serving_and_moves_its_version() {
    let shared = waiting_edge();
    let applier = Applier::new(Arc::clone(&shared), "tokyo");
    let v3 = policy(3, vec![tenant("acme", "10.0.0.0/8", 3)]);
    applier.apply(3, &v3).expect("applied");
    let digest = applier.held().content;
    // At the version serving: nothing to do.
    let none = breakout_policy::wire::Changes::none(&v3, 3);
    assert_eq!(
        applier.apply_update(3, 3, &none),
        Ok(Applied::Already { version: 3 })
    );
    // From it to the node's newer version: the same content, now at that version.
    let none = breakout_policy::wire::Changes::none(&v3, 8);
    assert!(matches!(
        applier.apply_update(3, 8, &none),
        Ok(Applied::New { version: 8, .. })
    ));
    assert_eq!(serving(&shared), (8, vec!["acme".to_string()]));
    assert_eq!(applier.held().version, 8);
    assert_eq!(applier.held().content, digest, "the same content");
    // From another version than the one serving: refused (the server then sends a snapshot).
    let none = breakout_policy::wire::Changes::none(&v3, 9);
    let err = applier.apply_update(3, 9, &none).expect_err("serving 8");
    assert!(err.contains("version 8 is applied"), "{err}");
}
