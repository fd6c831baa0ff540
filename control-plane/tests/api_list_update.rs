//! The list-update API option (art. 10-4): tenant tokens replace (`PUT`) and patch (`PATCH`)
//! their lists only with the option in force, with `If-Match`, and bad entries are named with
//! their index.

use crate::api_common;

use api_common::*;
use reqwest::Method;
use serde_json::{json, Value};

const BLOCKLIST: &str = "/v1/tenants/acme/lists/blocklist";

/// Region `eu`, tenant `acme` (private backbone, list template, a cloud bypass) with a
/// blocklist; its token and another tenant's.
async fn setup(api: &TestApi) -> (String, String) {
    api.region("eu").await;
    api.tenant("acme", "eu", "198.51.100.0/24").await;
    api.tenant("other", "eu", "203.0.113.0/24").await;
    let attrs = api
        .op(Method::PUT, "/v1/tenants/acme/attributes")
        .json(&json!({ "private_backbone": true }));
    expect_version(send(attrs).await, 200).await;
    post(
        api,
        "/v1/tenants/acme/contracts",
        json!({ "kind": "list-template", "item": "microsoft365" }),
    )
    .await;
    post(
        api,
        "/v1/tenants/acme/contracts",
        json!({ "kind": "cloud-bypass", "capacity": 20000 }),
    )
    .await;
    let put = api
        .op(Method::PUT, BLOCKLIST)
        .json(&json!(["a.example", "b.example"]));
    expect_version(send(put).await, 200).await;
    (api.token("acme").await, api.token("other").await)
}

async fn post(api: &TestApi, path: &str, body: Value) {
    let (status, answer) = status_json(send(api.op(Method::POST, path).json(&body)).await).await;
    assert_eq!(status, 201, "POST {path}: {answer}");
}

async fn entries(api: &TestApi) -> Value {
    let (status, body) = status_json(send(api.op(Method::GET, BLOCKLIST)).await).await;
    assert_eq!(status, 200, "{body}");
    body["entries"].clone()
}

async fn version_of_acme(api: &TestApi) -> String {
    let resp = send(api.op(Method::GET, "/v1/tenants/acme")).await;
    resp.headers()["etag"].to_str().expect("etag").to_string()
}

#[tokio::test]
async fn without_the_option_a_tenant_token_gets_403_naming_it_and_the_operator_still_writes() {
    let api = TestApi::start().await;
    let (acme, _) = setup(&api).await;
    let patch = json!({ "add": ["c.example"] });
    let req = api.with(&acme, Method::PATCH, BLOCKLIST).json(&patch);
    let msg = expect_error(send(req).await, 403, "forbidden").await;
    assert!(msg.contains("list-update-api"), "{msg}");
    let req = api
        .with(&acme, Method::PUT, BLOCKLIST)
        .json(&json!(["c.example"]));
    let msg = expect_error(send(req).await, 403, "forbidden").await;
    assert!(msg.contains("list-update-api"), "{msg}");
    assert_eq!(entries(&api).await, json!(["a.example", "b.example"]));

    let req = api.op(Method::PATCH, BLOCKLIST).json(&patch);
    expect_version(send(req).await, 200).await;
    assert_eq!(
        entries(&api).await,
        json!(["a.example", "b.example", "c.example"])
    );
}

#[tokio::test]
async fn with_the_option_the_tenant_patches_and_replaces_its_own_lists_only() {
    let api = TestApi::start().await;
    let (acme, other) = setup(&api).await;
    post(
        &api,
        "/v1/tenants/acme/options",
        json!({ "kind": "list-update-api" }),
    )
    .await;

    tracing::info!("phase: patch with the current version in If-Match");
    let tag = version_of_acme(&api).await;
    let req = api
        .with(&acme, Method::PATCH, BLOCKLIST)
        .header("if-match", &tag)
        .json(&json!({ "add": ["*.ads.example", "192.0.2.0/24"], "remove": ["a.example"] }));
    expect_version(send(req).await, 200).await;
    assert_eq!(
        entries(&api).await,
        json!(["b.example", "*.ads.example", "192.0.2.0/24"])
    );

    tracing::info!("phase: the same If-Match again is stale: 412, nothing changes");
    let req = api
        .with(&acme, Method::PATCH, BLOCKLIST)
        .header("if-match", &tag)
        .json(&json!({ "add": ["late.example"] }));
    expect_error(send(req).await, 412, "precondition_failed").await;

    tracing::info!("phase: replace");
    let req = api
        .with(&acme, Method::PUT, BLOCKLIST)
        .json(&json!(["only.example"]));
    expect_version(send(req).await, 200).await;
    assert_eq!(entries(&api).await, json!(["only.example"]));

    tracing::info!("phase: another tenant's token cannot touch acme's list");
    let req = api
        .with(&other, Method::PATCH, BLOCKLIST)
        .json(&json!({ "add": ["x.example"] }));
    expect_error(send(req).await, 404, "not_found").await;
    assert_eq!(entries(&api).await, json!(["only.example"]));

    tracing::info!("phase: deleting a list stays with the operator");
    let req = api.with(&acme, Method::DELETE, BLOCKLIST);
    expect_error(send(req).await, 403, "forbidden").await;
}

#[tokio::test]
async fn bad_entries_are_named_with_their_index_and_change_nothing() {
    let api = TestApi::start().await;
    setup(&api).await;
    let cases = [
        (
            json!({ "add": ["ok.example", "bad..example"] }),
            "add[1]",
            "bad..example",
        ),
        (json!({ "add": ["2001:db8::/32"] }), "add[0]", "IPv6"),
        (json!({ "add": ["192.0.2.0/33"] }), "add[0]", "192.0.2.0/33"),
        (
            json!({ "add": ["ok.example", "a.*"] }),
            "add[1]",
            "last label",
        ),
        (json!({ "remove": [7] }), "remove[0]", "string"),
        (
            json!({ "add": [format!("{}.example", "x".repeat(64))] }),
            "add[0]",
            "63",
        ),
        (
            json!({ "add": [], "replace": [] }),
            "replace",
            "unknown field",
        ),
    ];
    for (body, field, what) in cases {
        let req = api.op(Method::PATCH, BLOCKLIST).json(&body);
        let msg = expect_error(send(req).await, 400, "invalid").await;
        assert!(
            msg.starts_with(field) && msg.contains(what),
            "{body}: {msg}"
        );
    }
    let req = api
        .op(Method::PUT, BLOCKLIST)
        .json(&json!(["fine.example", "bad host"]));
    let msg = expect_error(send(req).await, 400, "invalid").await;
    assert!(
        msg.starts_with("entries[1]") && msg.contains("bad host"),
        "{msg}"
    );
    assert_eq!(entries(&api).await, json!(["a.example", "b.example"]));
}

#[tokio::test]
async fn patching_a_missing_list_is_404() {
    let api = TestApi::start().await;
    setup(&api).await;
    let req = api
        .op(Method::PATCH, "/v1/tenants/acme/lists/nope")
        .json(&json!({ "add": ["a.example"] }));
    expect_error(send(req).await, 404, "not_found").await;
}
