//! Writes: versions, `If-Match`, ETags, the answers' shapes, the audit log.

use crate::api_common;

use api_common::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn every_write_answers_a_higher_version_in_body_and_header() {
    let api = TestApi::start().await;
    let mut versions = vec![
        api.region("eu").await,
        api.tenant("acme", "eu", "198.51.100.0/24").await,
    ];
    let writes = [
        (
            Method::PATCH,
            "/v1/tenants/acme",
            json!({ "session_limit": 7 }),
        ),
        (
            Method::PUT,
            "/v1/tenants/acme/source-cidrs",
            json!(["198.51.100.0/25"]),
        ),
        (
            Method::PUT,
            "/v1/tenants/acme/rules",
            json!([{ "action": "block", "destinations": ["x.example.com"] }]),
        ),
        (
            Method::PUT,
            "/v1/tenants/acme/upstreams",
            json!({ "corp": "proxy.example.com:3128" }),
        ),
        (
            Method::PUT,
            "/v1/tenants/acme/default-action",
            json!({ "action": "upstream:corp" }),
        ),
        (
            Method::PUT,
            "/v1/tenants/acme/session-limit",
            json!({ "session_limit": 9 }),
        ),
        (
            Method::PUT,
            "/v1/tenants/acme/lists/saas",
            json!(["a.example.com"]),
        ),
    ];
    for (method, path, body) in writes {
        let resp = send(api.op(method, path).json(&body)).await;
        versions.push(expect_version(resp, 200).await);
    }
    versions.push(
        expect_version(
            send(api.op(Method::DELETE, "/v1/tenants/acme/lists/saas")).await,
            200,
        )
        .await,
    );
    versions
        .push(expect_version(send(api.op(Method::DELETE, "/v1/tenants/acme")).await, 200).await);
    versions.push(expect_version(send(api.op(Method::DELETE, "/v1/regions/eu")).await, 200).await);
    assert!(
        versions.windows(2).all(|w| w[0] < w[1]),
        "versions must increase: {versions:?}"
    );
}

#[tokio::test]
async fn tenant_answers_carry_the_view_and_get_sets_the_etag() {
    let api = TestApi::start().await;
    api.region("eu").await;
    let create =
        api.op(Method::POST, "/v1/tenants")
            .json(&tenant_json("acme", "eu", "198.51.100.0/24"));
    let (status, created) = status_json(send(create).await).await;
    assert_eq!(status, 201, "{created}");
    let v1 = created["version"].as_u64().expect("version");
    assert_eq!(created["tenant"]["id"], "acme");
    assert_eq!(created["tenant"]["created_version"], v1);
    assert_eq!(created["tenant"]["changed_version"], v1);

    let patch = api
        .op(Method::PATCH, "/v1/tenants/acme")
        .json(&json!({ "session_limit": 5 }));
    let (status, patched) = status_json(send(patch).await).await;
    assert_eq!(status, 200, "{patched}");
    let v2 = patched["version"].as_u64().expect("version");
    assert_eq!(patched["tenant"]["session_limit"], 5);
    assert_eq!(patched["tenant"]["created_version"], v1);
    assert_eq!(patched["tenant"]["changed_version"], v2);

    let resp = send(api.op(Method::GET, "/v1/tenants/acme")).await;
    assert_eq!(resp.headers()["etag"], format!("\"{v2}\"").as_str());
    let (_, view) = status_json(resp).await;
    assert_eq!(view["region"], "eu");
    assert_eq!(view["source_cidrs"], json!(["198.51.100.0/24"]));

    let (_, all) = status_json(send(api.op(Method::GET, "/v1/tenants?stale=true")).await).await;
    assert_eq!(all["items"][0]["id"], "acme");
    assert!(all["version"].as_u64() >= Some(v2), "{all}");
}

#[tokio::test]
async fn if_match_on_an_old_version_is_412_and_changes_nothing() {
    let api = TestApi::start().await;
    api.region("eu").await;
    let v1 = api.tenant("acme", "eu", "198.51.100.0/24").await;
    let patch = api
        .op(Method::PATCH, "/v1/tenants/acme")
        .header("if-match", format!("\"{v1}\""));
    let v2 = expect_version(send(patch.json(&json!({ "session_limit": 5 }))).await, 200).await;

    tracing::info!("phase: a writer still holding v1 is refused, quoted or bare");
    for value in [format!("\"{v1}\""), v1.to_string()] {
        let stale = api
            .op(Method::PUT, "/v1/tenants/acme/session-limit")
            .header("if-match", value);
        let resp = send(stale.json(&json!({ "session_limit": 1 }))).await;
        expect_error(resp, 412, "precondition_failed").await;
        let delete = api
            .op(Method::DELETE, "/v1/tenants/acme")
            .header("if-match", format!("{v1}"));
        expect_error(send(delete).await, 412, "precondition_failed").await;
    }
    let (_, view) = status_json(send(api.op(Method::GET, "/v1/tenants/acme")).await).await;
    assert_eq!(
        (
            view["session_limit"].as_u64(),
            view["changed_version"].as_u64()
        ),
        (Some(5), Some(v2))
    );

    tracing::info!("phase: with the current version it goes through");
    let delete = api
        .op(Method::DELETE, "/v1/tenants/acme")
        .header("if-match", format!("\"{v2}\""));
    expect_version(send(delete).await, 200).await;
}

#[tokio::test]
async fn regions_and_tokens_answer_their_documented_shapes() {
    let api = TestApi::start().await;
    let create = api
        .op(Method::POST, "/v1/regions")
        .json(&json!({ "name": "eu", "description": "Europe" }));
    let (status, body) = status_json(send(create).await).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["region"]["name"], "eu");
    assert_eq!(body["region"]["description"], "Europe");
    let (_, regions) = status_json(send(api.op(Method::GET, "/v1/regions")).await).await;
    assert_eq!(regions["items"][0]["name"], "eu");

    api.tenant("acme", "eu", "198.51.100.0/24").await;
    let create = api
        .op(Method::POST, "/v1/tokens")
        .json(&json!({ "tenant": "acme", "label": "ci" }));
    let (status, token) = status_json(send(create).await).await;
    assert_eq!(status, 201, "{token}");
    assert_eq!(
        (token["tenant"].as_str(), token["label"].as_str()),
        (Some("acme"), Some("ci"))
    );
    let id = token["id"].as_str().expect("id");
    assert!(token["token"]
        .as_str()
        .is_some_and(|t| t.starts_with(&format!("bk_{id}_"))));
    let (_, tokens) = status_json(send(api.op(Method::GET, "/v1/tokens")).await).await;
    assert_eq!(tokens["items"][0]["id"], id);
    assert_eq!(tokens["items"][0]["label"], "ci");
    assert!(!tokens
        .to_string()
        .contains(token["token"].as_str().unwrap_or("-")));

    let missing = api
        .op(Method::POST, "/v1/tokens")
        .json(&json!({ "tenant": "nosuch" }));
    expect_error(send(missing).await, 404, "not_found").await;
}

#[tokio::test]
async fn the_audit_log_lists_writes_oldest_first_with_since_and_limit() {
    let api = TestApi::start().await;
    let v1 = api.region("eu").await;
    let v2 = api.region("us").await;
    let again = api
        .op(Method::POST, "/v1/regions")
        .json(&json!({ "name": "us" }));
    expect_error(send(again).await, 409, "conflict").await;

    let (_, audit) = status_json(send(api.op(Method::GET, "/v1/audit")).await).await;
    let items = audit["items"].as_array().expect("items");
    assert_eq!(items.len(), 3, "{audit}");
    assert_eq!(items[0]["version"], v1);
    assert_eq!(items[0]["actor"], "operator");
    assert_eq!(
        items[2]["result"].as_str().map(|r| r != "ok"),
        Some(true),
        "{audit}"
    );

    let page = api.op(Method::GET, &format!("/v1/audit?since={v1}&limit=1"));
    let (_, audit) = status_json(send(page).await).await;
    assert_eq!(audit["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(audit["items"][0]["version"], v2);
}
