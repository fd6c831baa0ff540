//! `Idempotency-Key` (issue 13, item 2): a write that was applied but answered 503
//! `no_leader` (its leader lost between commit and answer) is retried with its key and gets the
//! first answer, not 409 "already exists" nor a second application.

use crate::api_common;

use api_common::*;
use reqwest::{Method, Response};
use serde_json::json;

const REPLAYED: &str = "idempotent-replayed";

fn replayed(resp: &Response) -> bool {
    resp.headers().get(REPLAYED).and_then(|v| v.to_str().ok()) == Some("true")
}

#[tokio::test]
async fn a_write_applied_but_answered_no_leader_is_retried_with_its_key_and_gets_the_first_answer()
{
    let api = TestApi::start().await;
    let create = || {
        api.op(Method::POST, "/v1/regions")
            .header("Idempotency-Key", "7f1c0d3e-region-tokyo")
            .json(&json!({ "name": "tokyo", "description": "Tokyo" }))
    };
    api.store.lose_next_answer();
    let lost = send(create()).await;
    expect_error(lost, 503, "no_leader").await;
    let applied_at = api.store.state().version;
    assert!(
        api.store.state().regions.contains_key("tokyo"),
        "the write was applied although its client saw 503"
    );

    let retry = send(create()).await;
    assert!(replayed(&retry), "a repeat says so");
    assert_eq!(expect_version(retry, 201).await, applied_at);
    // Every further repeat answers the same, and nothing is applied twice.
    let again = send(create()).await;
    assert!(replayed(&again));
    assert_eq!(expect_version(again, 201).await, applied_at);
    let regions = api.store.state().regions.len();
    assert_eq!(regions, 1);
}

#[tokio::test]
async fn without_a_key_the_same_retry_is_the_conflict_the_defect_showed() {
    let api = TestApi::start().await;
    let create = || {
        api.op(Method::POST, "/v1/regions")
            .json(&json!({ "name": "osaka" }))
    };
    api.store.lose_next_answer();
    expect_error(send(create()).await, 503, "no_leader").await;
    let msg = expect_error(send(create()).await, 409, "conflict").await;
    assert!(msg.contains("already exists"), "{msg}");
}

#[tokio::test]
async fn a_retried_token_create_shows_the_same_working_token() {
    let api = TestApi::start().await;
    api.region("eu").await;
    api.tenant("acme", "eu", "198.51.100.0/24").await;
    let create = || {
        api.op(Method::POST, "/v1/tokens")
            .header("Idempotency-Key", "token-for-acme-1")
            .json(&json!({ "tenant": "acme", "label": "ci" }))
    };
    api.store.lose_next_answer();
    expect_error(send(create()).await, 503, "no_leader").await;
    let (status, first) = status_json(send(create()).await).await;
    assert_eq!(status, 201, "{first}");
    let (status, second) = status_json(send(create()).await).await;
    assert_eq!(status, 201, "{second}");
    assert_eq!(first["token"], second["token"], "the same secret each time");
    assert_eq!(first["id"], second["id"]);
    let tokens = api.store.state().tokens.len();
    assert_eq!(tokens, 1, "one token created, not one per attempt");
    let token = first["token"].as_str().expect("secret shown");
    let own = send(api.with(token, Method::GET, "/v1/tenants/acme")).await;
    assert_eq!(own.status().as_u16(), 200, "the replayed secret works");
    // The state keeps no usable form of the secret.
    let stored = serde_json::to_string(&*api.store.state()).expect("state serializes");
    let secret = token.rsplit('_').next().expect("bk_<id>_<secret>");
    assert!(!stored.contains(secret), "the secret is not in the state");
}

#[tokio::test]
async fn the_same_key_with_another_request_is_422_and_changes_nothing() {
    let api = TestApi::start().await;
    let first = send(
        api.op(Method::POST, "/v1/regions")
            .header("Idempotency-Key", "k-1")
            .json(&json!({ "name": "tokyo" })),
    )
    .await;
    expect_version(first, 201).await;
    let other = send(
        api.op(Method::POST, "/v1/regions")
            .header("Idempotency-Key", "k-1")
            .json(&json!({ "name": "osaka" })),
    )
    .await;
    let msg = expect_error(other, 422, "idempotency_key_reused").await;
    assert!(msg.contains("another request"), "{msg}");
    assert!(!api.store.state().regions.contains_key("osaka"));
}

#[tokio::test]
async fn a_refused_write_is_refused_again_with_the_same_error() {
    let api = TestApi::start().await;
    let bad = || {
        api.op(Method::DELETE, "/v1/regions/nowhere")
            .header("Idempotency-Key", "del-nowhere")
    };
    let first = expect_error(send(bad()).await, 404, "not_found").await;
    let again = expect_error(send(bad()).await, 404, "not_found").await;
    assert_eq!(first, again);
}

#[tokio::test]
async fn a_key_that_is_not_visible_ascii_is_400() {
    let api = TestApi::start().await;
    for key in ["", &"k".repeat(256), "a b"] {
        let resp = send(
            api.op(Method::POST, "/v1/regions")
                .header("Idempotency-Key", key)
                .json(&json!({ "name": "tokyo" })),
        )
        .await;
        let msg = expect_error(resp, 400, "invalid").await;
        assert!(msg.starts_with("Idempotency-Key"), "{msg}");
    }
    assert!(api.store.state().regions.is_empty());
}

#[tokio::test]
async fn the_key_travels_with_a_forwarded_write() {
    let leader = TestApi::start_node(1).await;
    let follower = TestApi::start_node(2).await;
    follower.store.set_leader(Some((1, leader.addr.clone())));
    let create = |api: &TestApi| {
        api.op(Method::POST, "/v1/regions")
            .header("Idempotency-Key", "through-a-follower")
            .json(&json!({ "name": "tokyo" }))
    };
    let via_follower = expect_version(send(create(&follower)).await, 201).await;
    // The client lost that answer and retries on the leader itself.
    let retry = send(create(&leader)).await;
    assert!(replayed(&retry));
    assert_eq!(expect_version(retry, 201).await, via_follower);
}
