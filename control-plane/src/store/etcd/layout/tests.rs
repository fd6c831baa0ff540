//! The layout round-trips a state, and a write touches only the keys it changed.

use breakout_policy::{Action, SourceCidr, Tenant};

use super::*;
use crate::state::{self, Command, CreateRegion, CreateTenant, CreateToken, DeleteTenant, Request};

fn req(command: Command) -> Request {
    Request {
        actor: "operator".into(),
        at_ms: 1_700_000_000_000,
        command,
    }
}

fn tenant(id: &str) -> Command {
    tenant_in(id, "10.0.0.0/16")
}

fn tenant_in(id: &str, cidr: &str) -> Command {
    Command::CreateTenant(CreateTenant {
        tenant: Tenant {
            id: id.into(),
            region: Some("tokyo".into()),
            source_cidrs: vec![cidr.parse::<SourceCidr>().expect("cidr")],
            session_limit: 100,
            upstreams: Default::default(),
            rules: Vec::new(),
            default_action: Action::Direct,
            lists: Default::default(),
            egress_address: None,
            pac: None,
        },
    })
}

/// Applies `commands` from `state`, mirroring every write's change into `keys`.
fn run(state: &mut State, keys: &mut BTreeMap<String, Vec<u8>>, commands: Vec<Command>) {
    for c in commands {
        let before = state.clone();
        let index = state.version + 1;
        state::apply(state, index, &req(c));
        let change = diff(&before, state).expect("diff");
        for (k, v) in change.puts {
            keys.insert(k, v);
        }
        for k in change.deletes {
            assert!(
                keys.remove(&k).is_some(),
                "deleting a key never written: {k}"
            );
        }
    }
}

fn assembled(keys: &BTreeMap<String, Vec<u8>>) -> State {
    let (state, bad) = assemble(keys.iter().map(|(k, v)| (k.as_str(), v.as_slice())));
    assert_eq!(bad, Vec::new());
    state.expect("meta present")
}

#[test]
fn keys_rebuild_the_state_write_after_write() {
    let mut state = State::default();
    let mut keys = BTreeMap::new();
    run(
        &mut state,
        &mut keys,
        vec![
            Command::CreateRegion(CreateRegion {
                name: "tokyo".into(),
                description: Some("a/b %".into()),
            }),
            tenant("acme"),
            tenant_in("beta", "10.1.0.0/16"),
            Command::CreateToken(CreateToken {
                id: "t1".into(),
                tenant: "acme".into(),
                hash: "ab".repeat(32),
                label: None,
                expires_at_ms: None,
            }),
            // Rejected (overlapping source): still a version and an audit event.
            tenant("gamma"),
            Command::DeleteTenant(DeleteTenant {
                id: "beta".into(),
                if_match: None,
            }),
        ],
    );
    assert_eq!(assembled(&keys), state);
    assert!(keys.contains_key("tenants/acme") && !keys.contains_key("tenants/beta"));
    assert!(keys.contains_key("regions/tokyo") && keys.contains_key(META));
}

#[test]
fn a_write_puts_meta_its_entry_and_its_audit_only() {
    let mut state = State::default();
    let mut keys = BTreeMap::new();
    run(
        &mut state,
        &mut keys,
        vec![
            Command::CreateRegion(CreateRegion {
                name: "tokyo".into(),
                description: None,
            }),
            tenant("acme"),
        ],
    );
    let before = state.clone();
    state::apply(&mut state, 3, &req(tenant_in("zeta", "10.9.0.0/16")));
    let change = diff(&before, &state).expect("diff");
    let mut put: Vec<_> = change.puts.iter().map(|(k, _)| k.as_str()).collect();
    put.sort();
    assert_eq!(put, ["audit/00000000000000000003", "meta", "tenants/zeta"]);
    assert!(change.deletes.is_empty());
}

#[test]
fn watch_events_applied_one_by_one_give_the_same_state() {
    let mut state = State::default();
    let mut keys = BTreeMap::new();
    run(
        &mut state,
        &mut keys,
        vec![Command::CreateRegion(CreateRegion {
            name: "tokyo".into(),
            description: None,
        })],
    );
    let mut follower = assembled(&keys);
    let before = state.clone();
    state::apply(&mut state, 2, &req(tenant("acme")));
    let change = diff(&before, &state).expect("diff");
    for (k, v) in &change.puts {
        apply_key(&mut follower, k, Some(v)).expect("applies");
    }
    assert_eq!(follower, state);
}

#[test]
fn a_bad_value_is_reported_and_the_rest_is_kept() {
    let mut state = State::default();
    let mut keys = BTreeMap::new();
    run(
        &mut state,
        &mut keys,
        vec![
            Command::CreateRegion(CreateRegion {
                name: "tokyo".into(),
                description: None,
            }),
            tenant("acme"),
        ],
    );
    keys.insert("tenants/evil".into(), b"{not json".to_vec());
    keys.insert("tenants/half".into(), br#"{"tenant": 3}"#.to_vec());
    keys.insert("nonsense".into(), b"1".to_vec());
    let (read, bad) = assemble(keys.iter().map(|(k, v)| (k.as_str(), v.as_slice())));
    let bad: Vec<_> = bad.iter().map(|b| b.key.as_str()).collect();
    assert_eq!(bad, ["nonsense", "tenants/evil", "tenants/half"]);
    assert_eq!(read.expect("meta"), state);
}

#[test]
fn keys_with_slashes_and_percent_round_trip() {
    for name in ["a/b", "100%", "plain", "x\u{1}y", "東京"] {
        let key = entry_key("regions", &name.to_string()).expect("key");
        let rest = key.strip_prefix("regions/").expect("dir");
        assert!(!rest.contains('/'), "{key}");
        assert_eq!(decode(rest).as_deref(), Some(name));
    }
}

#[test]
fn no_meta_means_no_state() {
    let (state, bad) = assemble([("tenants/x", b"{}".as_slice())]);
    assert!(state.is_none());
    assert_eq!(bad.len(), 1);
}

#[test]
fn an_audit_version_is_replaced_in_place_wherever_it_is() {
    let log: Vector<AuditEvent> = [(1, 1), (1, 2), (3, 3), (5, 4), (5, 5), (7, 6)]
        .into_iter()
        .map(|(v, n)| event(v, n))
        .collect();
    for version in [0, 1, 2, 3, 4, 5, 6, 7, 8, u64::MAX] {
        for count in 0..3 {
            let events: Vec<AuditEvent> = (0..count).map(|i| event(version, 100 + i)).collect();
            let mut expected: Vector<AuditEvent> = log
                .iter()
                .filter(|e| e.version < version)
                .cloned()
                .collect();
            expected.extend(events.iter().cloned());
            expected.extend(log.iter().filter(|e| e.version > version).cloned());
            let mut state = State {
                audit: log.clone(),
                ..State::default()
            };
            set_audit(&mut state, version, events);
            assert_eq!(state.audit, expected, "version {version}, {count} events");
        }
    }
}

/// An audit event of `version`, told apart by `n` (also the touched-keys tests').
pub(super) fn event(version: u64, n: u64) -> AuditEvent {
    AuditEvent {
        version,
        at_ms: n,
        actor: "operator".into(),
        action: "test".into(),
        target: format!("x/{n}"),
        result: "ok".into(),
    }
}
