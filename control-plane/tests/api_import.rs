//! `POST /v1/store/import` of a dump larger than one write: it is written in parts, and a keyed
//! import stopped part-way (an answer lost) is finished by its retry with the same key, which
//! repeats the parts written and makes the rest.

use crate::api_common;

use api_common::*;
use reqwest::{Method, Response};
use serde_json::{json, Value};

const REPLAYED: &str = "idempotent-replayed";

fn replayed(resp: &Response) -> bool {
    resp.headers().get(REPLAYED).and_then(|v| v.to_str().ok()) == Some("true")
}

/// A dump of 120 tenants with a 4,000-host list each (about 12 MiB: six parts), made from
/// one real tenant's export.
async fn large_dump() -> Value {
    let source = TestApi::start().await;
    source.region("tokyo").await;
    let mut tenant = tenant_json("t00", "tokyo", "10.0.0.0/16");
    let hosts: Vec<String> = (0..4_000)
        .map(|k| format!("host-{k}.example.net"))
        .collect();
    tenant["lists"] = json!({ "big": { "entries": hosts } });
    let resp = send(source.op(Method::POST, "/v1/tenants").json(&tenant)).await;
    expect_version(resp, 201).await;
    let (status, mut dump) =
        status_json(send(source.op(Method::GET, "/v1/store/export")).await).await;
    assert_eq!(status, 200, "{dump}");
    let record = dump["state"]["tenants"]["t00"].clone();
    for i in 1..120 {
        let id = format!("t{i:02}");
        let mut r = record.clone();
        r["tenant"]["id"] = json!(id);
        r["tenant"]["source_cidrs"] = json!([format!("10.{i}.0.0/16")]);
        dump["state"]["tenants"][&id] = r;
    }
    dump
}

fn import(api: &TestApi, dump: &Value, key: &str) -> reqwest::RequestBuilder {
    api.op(Method::POST, "/v1/store/import")
        .header("Idempotency-Key", key)
        .json(dump)
}

async fn exported_tenants(api: &TestApi) -> Value {
    let (_, dump) = status_json(send(api.op(Method::GET, "/v1/store/export")).await).await;
    dump["state"]["tenants"].clone()
}

#[tokio::test]
async fn a_keyed_import_stopped_part_way_is_finished_by_its_retry() {
    let dump = large_dump().await;
    let target = TestApi::start().await;
    // The third write's answer is lost (committed, answered 503): the import stops there.
    target.store.lose_answer_after(2);
    let msg = expect_error(
        send(import(&target, &dump, "imp-1")).await,
        503,
        "no_leader",
    )
    .await;
    assert!(msg.contains("stopped at part 3 of"), "{msg}");
    assert!(msg.contains("replace=true"), "{msg}");
    let partial = target.store.state().tenants.len();
    assert!(
        partial > 0 && partial < 120,
        "{partial} tenants after 3 parts"
    );

    // The retry repeats the three parts written and writes the rest.
    let retry = send(import(&target, &dump, "imp-1")).await;
    assert!(!replayed(&retry), "parts were written by the retry");
    let (status, body) = status_json(retry).await;
    assert_eq!(status, 200, "{body}");
    let parts = body["parts"].as_u64().expect("parts");
    assert!(parts >= 3, "{body}");
    assert_eq!(exported_tenants(&target).await, dump["state"]["tenants"]);
    let audit = &target.store.state().audit;
    let repeats = audit
        .iter()
        .filter(|e| e.result.starts_with("repeat of version"))
        .count();
    assert_eq!(
        repeats, 3,
        "the parts written before were repeated, not applied again"
    );

    // Once more: every part a repeat, answered as the first complete answer.
    let again = send(import(&target, &dump, "imp-1")).await;
    assert!(replayed(&again));
    let (status, again) = status_json(again).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["version"], body["version"]);
}

#[tokio::test]
async fn an_unkeyed_large_import_is_written_in_parts_with_nothing_between() {
    let dump = large_dump().await;
    let target = TestApi::start().await;
    let resp = send(target.op(Method::POST, "/v1/store/import").json(&dump)).await;
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 200, "{body}");
    let parts = body["parts"].as_u64().expect("parts");
    assert!(parts >= 3, "{body}");
    assert_eq!(exported_tenants(&target).await, dump["state"]["tenants"]);
    // One import entry, then its parts, each following the one before.
    let state = target.store.state();
    let actions: Vec<&str> = state.audit.iter().map(|e| e.action.as_str()).collect();
    let first = actions
        .iter()
        .position(|a| *a == "store.import")
        .expect("import");
    assert_eq!(actions.len() - first, parts as usize, "{actions:?}");
    assert!(actions[first + 1..]
        .iter()
        .all(|a| *a == "store.import.part"));
    // The source networks of imported tenants are checked like any other's.
    let resp = send(target.op(Method::POST, "/v1/tenants").json(&tenant_json(
        "late",
        "tokyo",
        "10.59.1.0/24",
    )))
    .await;
    let msg = expect_error(resp, 409, "conflict").await;
    assert!(msg.contains("of tenant t59"), "{msg}");
}
