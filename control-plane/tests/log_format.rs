//! The Raft log and snapshot formats stay readable: `fixtures/log-v1/` holds a log written by
//! the control plane as of commit "log fixture" (every `Command` variant, accepted and
//! rejected, plus a blank and a membership entry), the outcomes it gave and the snapshot of the
//! state it left. This code must read each entry, write it back as the same JSON, and replay
//! the log to the same outcomes and the same state.
//!
//! `BREAKOUT_WRITE_LOG_FIXTURE=1 cargo test -p breakout-control --test suite log_format:: -- --ignored`
//! rewrites the fixture from the script below; do that only for a new fixture directory (a
//! new format), never to make the old one pass.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use breakout_control::state::{apply, Outcome, Request, State};
use breakout_control::store::raft::{Payload, TypeConfig};
use breakout_control::store::NodeAddr;
use openraft::{CommittedLeaderId, EntryPayload, LogId, Membership, StoredMembership};
use serde_json::{json, Value};

type Entry = openraft::Entry<TypeConfig>;

/// Every command tag the log must hold at least once.
const OPS: &[&str] = &[
    "create_region",
    "delete_region",
    "create_tenant",
    "update_tenant",
    "delete_tenant",
    "put_list",
    "delete_list",
    "patch_list",
    "create_token",
    "revoke_token",
    "contract",
    "set_price_book",
    "withdraw_template",
    "tick",
    "record_template",
    "approve_template",
    "reject_template",
    "rollback_template",
    "sync_templates",
    "template_notified",
    "set_subscription",
    "create_webhook",
    "delete_webhook",
];

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/log-v1")
}

fn read_json(name: &str) -> Value {
    let path = fixture_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// Replays entries the way the Raft state machine does: requests through `apply`, and every
/// entry (blank and membership ones too) moves the version to its index.
fn replay(entries: &[Entry]) -> (State, Vec<Outcome>) {
    let mut state = State::default();
    let mut outcomes = Vec::new();
    for entry in entries {
        let index = entry.log_id.index;
        let outcome = match &entry.payload {
            EntryPayload::Normal(Payload::One(req)) => apply(&mut state, index, req),
            // The first format has no batches (group commit came later).
            EntryPayload::Normal(Payload::Batch(_)) => panic!("a batch in the first format"),
            EntryPayload::Blank | EntryPayload::Membership(_) => Outcome::Done { version: index },
        };
        state.version = index;
        outcomes.push(outcome);
    }
    (state, outcomes)
}

#[test]
fn log_entries_written_by_the_first_format_read_back_as_the_same_json() {
    let Value::Array(stored) = read_json("entries.json") else {
        panic!("entries.json is not an array");
    };
    let mut ops = BTreeSet::new();
    for (i, value) in stored.iter().enumerate() {
        let entry: Entry = serde_json::from_value(value.clone())
            .unwrap_or_else(|e| panic!("entry {i} does not decode: {e}\n{value}"));
        let again = serde_json::to_value(&entry).expect("encode");
        assert_eq!(&again, value, "entry {i} is written differently now");
        if let Some(op) = value.pointer("/payload/Normal/command/op") {
            ops.insert(op.as_str().unwrap_or_default().to_string());
        }
    }
    let missing: Vec<&&str> = OPS.iter().filter(|op| !ops.contains(**op)).collect();
    assert!(missing.is_empty(), "the fixture lacks commands {missing:?}");
}

#[test]
fn the_first_format_log_replays_to_its_outcomes_and_snapshot() {
    let entries: Vec<Entry> = serde_json::from_value(read_json("entries.json")).expect("entries");
    let (state, outcomes) = replay(&entries);

    // The same answers, entry by entry.
    let stored: Vec<Outcome> =
        serde_json::from_value(read_json("outcomes.json")).expect("outcomes");
    assert_eq!(outcomes.len(), stored.len());
    for (i, (now, then)) in outcomes.iter().zip(&stored).enumerate() {
        assert_eq!(now, then, "outcome of entry {i} differs");
    }

    // The snapshot decodes, writes back as the same JSON, and equals the replayed state.
    let snapshot = read_json("snapshot.json");
    let stored_state = snapshot.get("state").expect("snapshot.state").clone();
    let decoded: State = serde_json::from_value(stored_state.clone()).expect("snapshot decodes");
    assert_eq!(
        serde_json::to_value(&decoded).expect("encode"),
        stored_state,
        "the snapshot is written differently now"
    );
    assert_eq!(
        serde_json::to_value(&state).expect("encode"),
        stored_state,
        "the replayed state differs from the snapshot"
    );
    assert_eq!(state, decoded);
}

// ---- the script the fixture was written from ----

/// Milliseconds at `hh:00` UTC on `day` (`YYYY-MM-DD`).
fn at(day: &str, hour: u32) -> u64 {
    let date: chrono::NaiveDate = day.parse().expect("day");
    let t = date.and_hms_opt(hour, 0, 0).expect("time").and_utc();
    u64::try_from(t.timestamp_millis()).expect("after 1970")
}

fn m365(source_version: &str, hosts: &[&str]) -> Value {
    json!({
        "item": "microsoft365",
        "source_version": source_version,
        "sets": [{
            "id": "m365:1",
            "group": "Exchange",
            "category": "Optimize",
            "required": true,
            "tcp_ports": "443",
            "express_route": true,
            "hosts": hosts,
            "cidrs": ["40.92.0.0/15", "2603:1006::/40"]
        }, {
            "id": "m365:11",
            "group": "Skype",
            "category": "Optimize",
            "required": true,
            "udp_ports": "3478-3481",
            "express_route": true,
            "notes": "media",
            "cidrs": ["52.112.0.0/14"]
        }]
    })
}

fn script() -> Vec<(String, u64, Value)> {
    let d1 = "2026-03-02";
    let d2 = "2026-03-03";
    let d3 = "2026-04-01";
    let op = |s: &str| s.to_string();
    let hosts: Vec<String> = (0..20).map(|i| format!("h{i}.outlook.com")).collect();
    let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
    vec![
        (
            op("operator"),
            at(d1, 9),
            json!({"op": "create_region", "name": "tokyo", "description": "Tokyo 1"}),
        ),
        (
            op("operator"),
            at(d1, 9),
            json!({"op": "create_region", "name": "osaka", "description": null}),
        ),
        (
            op("operator"),
            at(d1, 9),
            json!({"op": "create_region", "name": "Bad Name", "description": null}),
        ),
        (
            op("operator"),
            at(d1, 9),
            json!({"op": "create_tenant", "tenant": {
                "id": "acme", "region": "tokyo", "source_cidrs": ["10.1.0.0/16", "192.0.2.0/24"],
                "session_limit": 100, "upstreams": {"corp": "proxy.acme.example:8080"},
                "rules": [
                    {"name": "bypass", "action": "direct", "destinations": ["*.example.com"], "lists": ["saas"], "ports": [443]},
                    {"action": "upstream:corp", "destinations": ["intranet.acme.example", "10.9.0.0/16"]}
                ],
                "default_action": "block",
                "lists": {"saas": ["a.example.net", "*.b.example.net"]}
            }}),
        ),
        (
            op("operator"),
            at(d1, 9),
            json!({"op": "create_tenant", "tenant": {
                "id": "beta", "region": "osaka", "source_cidrs": ["10.2.0.0/16"], "session_limit": 10
            }}),
        ),
        (
            op("operator"),
            at(d1, 9),
            json!({"op": "create_tenant", "tenant": {
                "id": "clash", "region": "tokyo", "source_cidrs": ["10.1.2.0/24"], "session_limit": 10
            }}),
        ),
        (
            op("operator"),
            at(d1, 10),
            json!({"op": "update_tenant", "id": "acme", "if_match": 6, "patch": {
                "session_cap": 40, "ops_contact": "noc@acme.example", "notify_business_days": true,
                "egress_address": "198.51.100.7", "default_action": "upstream:corp",
                "pac": {"proxies": ["edge.tokyo.example:3128"], "upstream_proxies": {"corp": "proxy.acme.example:8080"}}
            }}),
        ),
        (
            op("operator"),
            at(d1, 10),
            json!({"op": "update_tenant", "id": "acme", "if_match": 4, "patch": {"session_limit": 50}}),
        ),
        (
            op("operator"),
            at(d1, 10),
            json!({"op": "update_tenant", "id": "beta", "if_match": null, "patch": {"session_cap": null, "egress_address": null}}),
        ),
        (
            op("operator"),
            at(d1, 10),
            json!({"op": "put_list", "tenant": "acme", "name": "blocklist", "list": ["bad.example", "*.worse.example", "203.0.113.0/24"], "if_match": null}),
        ),
        (
            op("operator"),
            at(d1, 10),
            json!({"op": "put_list", "tenant": "acme", "name": "old", "list": {"entries": ["old.example"]}, "if_match": null}),
        ),
        (
            op("operator"),
            at(d1, 10),
            json!({"op": "patch_list", "tenant": "acme", "name": "blocklist", "add": ["new.example", "bad.example"], "remove": ["*.worse.example"], "if_match": null}),
        ),
        (
            op("operator"),
            at(d1, 10),
            json!({"op": "patch_list", "tenant": "acme", "name": "nosuch", "add": [], "remove": [], "if_match": null}),
        ),
        (
            op("operator"),
            at(d1, 10),
            json!({"op": "delete_list", "tenant": "acme", "name": "old", "if_match": null}),
        ),
        (
            op("operator"),
            at(d1, 10),
            json!({"op": "delete_list", "tenant": "acme", "name": "saas", "if_match": null}),
        ),
        (
            op("operator"),
            at(d1, 10),
            json!({"op": "create_token", "id": "ci-1", "tenant": "acme", "hash": "AB".repeat(32), "label": "ci"}),
        ),
        (
            op("operator"),
            at(d1, 10),
            json!({"op": "create_token", "id": "ci-2", "tenant": "acme", "hash": "cd".repeat(32), "label": null}),
        ),
        (
            op("operator"),
            at(d1, 10),
            json!({"op": "create_token", "id": "x", "tenant": "beta", "hash": "ef".repeat(32), "label": null}),
        ),
        (
            op("operator"),
            at(d1, 10),
            json!({"op": "revoke_token", "id": "ci-2"}),
        ),
        (
            op("operator"),
            at(d1, 10),
            json!({"op": "revoke_token", "id": "nosuch"}),
        ),
        (
            op("operator"),
            at(d1, 11),
            json!({"op": "set_price_book", "effective_from": null, "prices": {
                "list_template": {"microsoft365": {"initial": 10000, "monthly": 5000}, "azure-expressroute": {"monthly": 5000}, "google-workspace": {"monthly": 4000}},
                "cloud_bypass": {"20000": {"initial": 100000, "monthly": 200000, "one_time": 50000}, "40000": {"monthly": 350000, "one_time": 50000},
                                 "120000": {"monthly": 900000}, "200000": {"monthly": 1400000}, "400000": {"monthly": 2500000},
                                 "800000": {"monthly": 4500000}, "1000000": {"monthly": 5500000}},
                "external_integration": {"monthly": 30000},
                "options": {"internet-access": {"monthly": 1}, "access-control": {"monthly": 2}, "pac": {"monthly": 3},
                            "list-update-api": {"monthly": 4}, "initial-setup": {"initial": 5}}
            }}),
        ),
        (
            op("operator"),
            at(d1, 11),
            json!({"op": "contract", "tenant": "acme", "request": {"action": "set_attributes", "attributes": {"private_backbone": true}}}),
        ),
        (
            op("operator"),
            at(d1, 11),
            json!({"op": "contract", "tenant": "acme", "request": {"action": "add_contract", "order": {"kind": "list-template", "item": "microsoft365"}}}),
        ),
        (
            op("operator"),
            at(d1, 11),
            json!({"op": "contract", "tenant": "acme", "request": {"action": "add_contract", "order": {"kind": "cloud-bypass", "capacity": 20000, "options": ["initial-setup"]}}}),
        ),
        (
            op("operator"),
            at(d1, 11),
            json!({"op": "contract", "tenant": "acme", "request": {"action": "add_option", "kind": "pac", "billing_start": null}}),
        ),
        (
            op("operator"),
            at(d1, 11),
            json!({"op": "contract", "tenant": "acme", "request": {"action": "add_option", "kind": "list-update-api"}}),
        ),
        (
            op("operator"),
            at(d1, 11),
            json!({"op": "contract", "tenant": "acme", "request": {"action": "change_capacity", "contract": "c2", "capacity": 40000, "effective": "2026-04-01"}}),
        ),
        (
            op("operator"),
            at(d1, 11),
            json!({"op": "contract", "tenant": "acme", "request": {"action": "stop_option", "kind": "list-update-api", "end": {"requested_end": "2026-05-01"}}}),
        ),
        (
            op("operator"),
            at(d1, 11),
            json!({"op": "contract", "tenant": "acme", "request": {"action": "add_contract", "order": {"kind": "external-integration"}}}),
        ),
        (
            op("operator"),
            at(d1, 11),
            json!({"op": "contract", "tenant": "acme", "request": {"action": "cancel", "contract": "c3", "end": {"requested_end": "2026-06-01", "provider_fault": true}}}),
        ),
        (
            op("operator"),
            at(d1, 11),
            json!({"op": "contract", "tenant": "beta", "request": {"action": "add_contract", "order": {"kind": "cloud-bypass", "capacity": 12345}}}),
        ),
        (
            op("operator"),
            at(d1, 11),
            json!({"op": "contract", "tenant": "nosuch", "request": {"action": "set_attributes", "attributes": {}}}),
        ),
        (
            op("operator"),
            at(d1, 12),
            json!({"op": "withdraw_template", "item": "google-workspace", "effective": "2026-09-01"}),
        ),
        (
            op("operator"),
            at(d1, 12),
            json!({"op": "withdraw_template", "item": "azure-expressroute", "effective": null}),
        ),
        (
            op("poller"),
            at(d1, 12),
            json!({"op": "record_template", "item": "microsoft365", "max_shrink_percent": 10,
            "fetched": {"source_version": "2026030200", "fetched_at_ms": at(d1, 12), "content": m365("2026030200", &hosts)}}),
        ),
        (
            op("poller"),
            at(d1, 13),
            json!({"op": "record_template", "item": "microsoft365", "max_shrink_percent": 10,
            "fetched": {"source_version": "2026030201", "fetched_at_ms": at(d1, 13), "content": m365("2026030201", &hosts[..5])}}),
        ),
        (
            op("operator"),
            at(d1, 13),
            json!({"op": "approve_template", "item": "microsoft365", "candidate": 1}),
        ),
        (
            op("poller"),
            at(d1, 14),
            json!({"op": "record_template", "item": "microsoft365", "max_shrink_percent": 10,
            "fetched": {"source_version": "2026030202", "fetched_at_ms": at(d1, 14), "error": "endpoints: expected value at line 1 column 1"}}),
        ),
        (
            op("operator"),
            at(d1, 14),
            json!({"op": "approve_template", "item": "microsoft365", "candidate": 3}),
        ),
        (
            op("operator"),
            at(d1, 14),
            json!({"op": "reject_template", "item": "microsoft365", "candidate": 3}),
        ),
        (
            op("operator"),
            at(d1, 14),
            json!({"op": "reject_template", "item": "microsoft365", "candidate": 99}),
        ),
        (
            op("operator"),
            at(d1, 14),
            json!({"op": "rollback_template", "item": "microsoft365", "to": 0}),
        ),
        (
            op("operator"),
            at(d1, 14),
            json!({"op": "rollback_template", "item": "google-workspace", "to": 0}),
        ),
        (op("operator"), at(d1, 15), json!({"op": "sync_templates"})),
        (
            op("notifier"),
            at(d1, 15),
            json!({"op": "template_notified", "item": "microsoft365", "version": 0}),
        ),
        (
            op("operator"),
            at(d1, 15),
            json!({"op": "set_subscription", "tenant": "acme", "item": "microsoft365", "subscription": {
                "groups": ["Exchange"], "categories": ["Optimize"], "required_only": true, "action": "direct",
                "add": ["extra.outlook.com"], "exclude": ["h3.outlook.com"], "pin": 0
            }}),
        ),
        (
            op("operator"),
            at(d1, 15),
            json!({"op": "set_subscription", "tenant": "acme", "item": "google-workspace", "subscription": {"action": "direct"}}),
        ),
        (
            op("operator"),
            at(d1, 15),
            json!({"op": "set_subscription", "tenant": "beta", "item": "microsoft365", "subscription": null}),
        ),
        (
            op("tenant:acme"),
            at(d1, 16),
            json!({"op": "create_webhook", "tenant": "acme", "id": "siem", "url": "https://siem.acme.example/hook", "secret": "0123456789abcdef0123"}),
        ),
        (
            op("tenant:acme"),
            at(d1, 16),
            json!({"op": "create_webhook", "tenant": "acme", "id": "old", "url": "http://hooks.acme.example:8080/x", "secret": "0123456789abcdef0123"}),
        ),
        (
            op("tenant:acme"),
            at(d1, 16),
            json!({"op": "create_webhook", "tenant": "acme", "id": "bad", "url": "ftp://x", "secret": "0123456789abcdef0123"}),
        ),
        (
            op("tenant:acme"),
            at(d1, 16),
            json!({"op": "delete_webhook", "tenant": "acme", "id": "old"}),
        ),
        (
            op("tenant:acme"),
            at(d1, 16),
            json!({"op": "delete_webhook", "tenant": "acme", "id": "old"}),
        ),
        (op("leader"), at(d2, 0), json!({"op": "tick", "day": d2})),
        (
            op("operator"),
            at(d2, 9),
            json!({"op": "delete_region", "name": "tokyo"}),
        ),
        (
            op("operator"),
            at(d2, 9),
            json!({"op": "delete_tenant", "id": "acme", "if_match": null}),
        ),
        (
            op("operator"),
            at(d2, 9),
            json!({"op": "delete_tenant", "id": "beta", "if_match": 1}),
        ),
        (
            op("operator"),
            at(d2, 9),
            json!({"op": "delete_tenant", "id": "beta", "if_match": null}),
        ),
        (
            op("operator"),
            at(d2, 9),
            json!({"op": "delete_region", "name": "osaka"}),
        ),
        (op("leader"), at(d3, 0), json!({"op": "tick", "day": d3})),
        (
            op("operator"),
            at(d3, 9),
            json!({"op": "update_tenant", "id": "acme", "if_match": null, "patch": {}}),
        ),
    ]
}

#[test]
#[ignore = "writes the fixture; run only to create a new one (see the module doc)"]
fn write_fixture() {
    if std::env::var_os("BREAKOUT_WRITE_LOG_FIXTURE").is_none() {
        return;
    }
    let leader = CommittedLeaderId::new(1, 1);
    let addr = NodeAddr {
        api: "127.0.0.1:8080".into(),
        raft: "127.0.0.1:8081".into(),
    };
    let membership = Membership::new(vec![BTreeSet::from([1u64])], BTreeMap::from([(1u64, addr)]));
    let mut entries: Vec<Entry> = vec![
        Entry {
            log_id: LogId::new(leader, 1),
            payload: EntryPayload::Blank,
        },
        Entry {
            log_id: LogId::new(leader, 2),
            payload: EntryPayload::Membership(membership.clone()),
        },
    ];
    for (actor, at_ms, command) in script() {
        let index = entries.len() as u64 + 1;
        let req: Request = serde_json::from_value(json!({
            "actor": actor, "at_ms": at_ms, "command": command.clone()
        }))
        .unwrap_or_else(|e| panic!("entry {index}: {e}\n{command}"));
        entries.push(Entry {
            log_id: LogId::new(leader, index),
            payload: EntryPayload::Normal(Payload::One(req)),
        });
    }
    let (state, outcomes) = replay(&entries);
    let last = entries.last().map(|e| e.log_id);
    let stored = StoredMembership::new(Some(LogId::new(leader, 2)), membership);
    let snapshot = json!({"state": state, "membership": stored, "last_log_id": last});
    let dir = fixture_dir();
    std::fs::create_dir_all(&dir).expect("mkdir");
    let write = |name: &str, v: &Value| {
        let text = serde_json::to_string_pretty(v).expect("encode") + "\n";
        std::fs::write(dir.join(name), text).expect("write");
    };
    write(
        "entries.json",
        &serde_json::to_value(&entries).expect("entries"),
    );
    write(
        "outcomes.json",
        &serde_json::to_value(&outcomes).expect("outcomes"),
    );
    write("snapshot.json", &snapshot);
}
