//! Who may do what: operator, tenant tokens, no token.

use crate::api_common;

use api_common::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn requests_without_a_valid_token_get_401() {
    let api = TestApi::start().await;
    let cases = [
        None,
        Some("wrong-admin-token"),
        Some("bk_nosuchid_secret"),
        Some("bk_malformed"),
        Some(""),
    ];
    for token in cases {
        let mut req = api.anon(Method::GET, "/v1/tenants");
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        expect_error(send(req).await, 401, "unauthorized").await;
    }
    // Basic auth with the right secret is still not a bearer token.
    let req = api
        .anon(Method::GET, "/v1/tenants")
        .basic_auth(ADMIN, None::<&str>);
    expect_error(send(req).await, 401, "unauthorized").await;
}

#[tokio::test]
async fn auth_is_checked_before_the_body() {
    let api = TestApi::start().await;
    let req = api.anon(Method::POST, "/v1/regions").body("{not json");
    expect_error(send(req).await, 401, "unauthorized").await;
}

#[tokio::test]
async fn open_endpoints_need_no_token() {
    let api = TestApi::start().await;
    for path in ["/healthz", "/readyz", "/openapi.json", "/v1/cluster/self"] {
        let resp = send(api.anon(Method::GET, path)).await;
        assert_eq!(resp.status(), 200, "{path}");
    }
}

/// Issue #13 item 8: metrics name every tenant, region and limit, so they live on their own
/// listener; the API's `/metrics` is no route for anyone, with or without a token.
#[tokio::test]
async fn the_api_listener_serves_no_metrics_to_anyone() {
    let api = TestApi::start().await;
    api.region("eu").await;
    api.tenant("acme", "eu", "198.51.100.0/24").await;
    api.tenant("other", "eu", "203.0.113.0/24").await;
    let token = api.token("acme").await;
    for req in [
        api.anon(Method::GET, "/metrics"),
        api.with(&token, Method::GET, "/metrics"),
        api.op(Method::GET, "/metrics"),
    ] {
        let resp = send(req).await;
        assert_eq!(resp.status(), 404);
        let body = resp.text().await.expect("body");
        assert!(
            !body.contains("other") && !body.contains("breakout_"),
            "{body}"
        );
    }
    // The metrics listener does serve them.
    assert!(api.scrape().await.contains("breakout_control_raft_term"));
}

#[tokio::test]
async fn tenant_token_gets_403_on_operator_routes() {
    let api = TestApi::start().await;
    api.region("eu").await;
    api.tenant("acme", "eu", "198.51.100.0/24").await;
    let token = api.token("acme").await;

    let forbidden = [
        (Method::GET, "/v1/tenants", None),
        (
            Method::POST,
            "/v1/tenants",
            Some(tenant_json("evil", "eu", "192.0.2.0/24")),
        ),
        (Method::POST, "/v1/regions", Some(json!({ "name": "us" }))),
        (Method::DELETE, "/v1/regions/eu", None),
        (Method::GET, "/v1/tokens", None),
        (
            Method::POST,
            "/v1/tokens",
            Some(json!({ "tenant": "acme" })),
        ),
        (Method::DELETE, "/v1/tokens/abc", None),
        (Method::GET, "/v1/cluster/status", None),
        (
            Method::POST,
            "/v1/cluster/nodes",
            Some(json!({ "id": 2, "api_addr": "x:1" })),
        ),
        (Method::DELETE, "/v1/cluster/nodes/2", None),
        (Method::GET, "/v1/audit", None),
        // Writes on its own tenant are the operator's too.
        (
            Method::PATCH,
            "/v1/tenants/acme",
            Some(json!({ "session_limit": 5 })),
        ),
        (Method::DELETE, "/v1/tenants/acme", None),
        (
            Method::PUT,
            "/v1/tenants/acme/session-limit",
            Some(json!({ "session_limit": 5 })),
        ),
        (
            Method::PUT,
            "/v1/tenants/acme/lists/x",
            Some(json!(["a.example.com"])),
        ),
    ];
    for (method, path, body) in forbidden {
        let mut req = api.with(&token, method, path);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let msg = expect_error(send(req).await, 403, "forbidden").await;
        assert!(!msg.contains(&token), "{path}");
    }
    // Nothing was written by any of that.
    let (_, tenant) = status_json(send(api.op(Method::GET, "/v1/tenants/acme")).await).await;
    assert_eq!(tenant["session_limit"], 100);
}

#[tokio::test]
async fn tenant_token_reads_its_own_tenant_and_lists() {
    let api = TestApi::start().await;
    api.region("eu").await;
    api.tenant("acme", "eu", "198.51.100.0/24").await;
    let put = api
        .op(Method::PUT, "/v1/tenants/acme/lists/saas")
        .json(&json!(["a.example.com"]));
    expect_version(send(put).await, 200).await;
    let token = api.token("acme").await;

    let (status, tenant) =
        status_json(send(api.with(&token, Method::GET, "/v1/tenants/acme")).await).await;
    assert_eq!(status, 200, "{tenant}");
    assert_eq!(tenant["id"], "acme");
    let (status, lists) =
        status_json(send(api.with(&token, Method::GET, "/v1/tenants/acme/lists")).await).await;
    assert_eq!(status, 200, "{lists}");
    assert_eq!(lists["saas"]["entries"], json!(["a.example.com"]));
    let one = api.with(
        &token,
        Method::GET,
        "/v1/tenants/acme/lists/saas?stale=true",
    );
    let (status, list) = status_json(send(one).await).await;
    assert_eq!((status, &list["entries"]), (200, &json!(["a.example.com"])));
    // Regions are not secret.
    let resp = send(api.with(&token, Method::GET, "/v1/regions")).await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn another_tenants_data_is_404_exactly_like_a_missing_tenant() {
    let api = TestApi::start().await;
    api.region("eu").await;
    api.tenant("acme", "eu", "198.51.100.0/24").await;
    api.tenant("globex", "eu", "203.0.113.0/24").await;
    let token = api.token("acme").await;

    for path in [
        "/v1/tenants/globex",
        "/v1/tenants/globex/lists",
        "/v1/tenants/globex/lists/any",
        "/v1/tenants/nosuch",
        "/v1/tenants/nosuch/lists",
    ] {
        let resp = send(api.with(&token, Method::GET, path)).await;
        let msg = expect_error(resp, 404, "not_found").await;
        assert!(
            !msg.contains("globex"),
            "{path}: the message must not confirm the tenant"
        );
    }
    // Writes to another tenant are 404 too, never 403.
    let patch = api
        .with(&token, Method::PATCH, "/v1/tenants/globex")
        .json(&json!({}));
    expect_error(send(patch).await, 404, "not_found").await;
    let delete = api.with(&token, Method::DELETE, "/v1/tenants/globex");
    expect_error(send(delete).await, 404, "not_found").await;
}

#[tokio::test]
async fn revoked_token_stops_working() {
    let api = TestApi::start().await;
    api.region("eu").await;
    api.tenant("acme", "eu", "198.51.100.0/24").await;
    let token = api.token("acme").await;
    let resp = send(api.with(&token, Method::GET, "/v1/tenants/acme")).await;
    assert_eq!(resp.status(), 200);

    let (_, tokens) = status_json(send(api.op(Method::GET, "/v1/tokens")).await).await;
    let id = tokens["items"][0]["id"]
        .as_str()
        .expect("token id")
        .to_string();
    assert!(
        tokens["items"][0].get("hash").is_none(),
        "the hash is not shown: {tokens}"
    );
    assert!(token.starts_with(&format!("bk_{id}_")));
    let revoke = api.op(Method::DELETE, &format!("/v1/tokens/{id}"));
    expect_version(send(revoke).await, 200).await;

    let resp = send(api.with(&token, Method::GET, "/v1/tenants/acme")).await;
    expect_error(resp, 401, "unauthorized").await;
}

#[tokio::test]
async fn a_token_with_the_right_id_and_a_wrong_secret_is_refused() {
    let api = TestApi::start().await;
    api.region("eu").await;
    api.tenant("acme", "eu", "198.51.100.0/24").await;
    let token = api.token("acme").await;
    let forged = format!("{}x", token);
    let resp = send(api.with(&forged, Method::GET, "/v1/tenants/acme")).await;
    expect_error(resp, 401, "unauthorized").await;
}
