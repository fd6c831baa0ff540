//! `GET /v1/tenants/{id}/explain`: the proxy's decision for a tenant's request, with the rule,
//! list, entry and the destination guard's verdict; tenant-scoped.

use crate::api_common;

use api_common::*;
use reqwest::Method;
use serde_json::{json, Value};

async fn explain(api: &TestApi, token: &str, tenant: &str, query: &str) -> (u16, Value) {
    let path = format!("/v1/tenants/{tenant}/explain?{query}");
    status_json(send(api.with(token, Method::GET, &path)).await).await
}

/// Region `eu`, tenants `acme` and `other`; acme in service (private backbone, an M365
/// template contract and a cloud bypass).
async fn setup(api: &TestApi) {
    api.region("eu").await;
    api.tenant("acme", "eu", "198.51.100.0/24").await;
    api.tenant("other", "eu", "203.0.113.0/24").await;
    let put = api
        .op(Method::PUT, "/v1/tenants/acme/attributes")
        .json(&json!({ "private_backbone": true }));
    expect_version(send(put).await, 200).await;
}

async fn in_service(api: &TestApi) {
    for order in [
        json!({ "kind": "list-template", "item": "microsoft365" }),
        json!({ "kind": "cloud-bypass", "capacity": 20000 }),
    ] {
        let req = api
            .op(Method::POST, "/v1/tenants/acme/contracts")
            .json(&order);
        let (status, body) = status_json(send(req).await).await;
        assert_eq!(status, 201, "{body}");
    }
}

#[tokio::test]
async fn explains_rule_list_entry_and_guard_as_the_edges_decide() {
    let api = TestApi::start().await;
    setup(&api).await;
    let (status, a) = explain(&api, ADMIN, "acme", "host=www.example.com").await;
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["served"], false, "not in service yet: {a}");
    assert!(
        a["not_served"].as_str().unwrap_or("").contains("art."),
        "{a}"
    );

    in_service(&api).await;
    let rules = json!([
        { "action": "block", "lists": ["blocklist"] },
        { "action": "direct", "destinations": ["*.example.com", "10.0.0.0/8"] },
    ]);
    let req = api.op(Method::PUT, "/v1/tenants/acme/lists/blocklist");
    expect_version(send(req.json(&json!(["bad.example.com"]))).await, 200).await;
    let req = api.op(Method::PUT, "/v1/tenants/acme/rules").json(&rules);
    assert_eq!(send(req).await.status(), 200);

    let (_, a) = explain(&api, ADMIN, "acme", "host=WWW.Example.com.&port=8443").await;
    assert_eq!(a["served"], true, "{a}");
    assert_eq!(a["decision"], "direct", "{a}");
    assert_eq!(a["host"], "www.example.com", "{a}");
    assert_eq!(a["port"], 8443, "{a}");
    assert_eq!(a["entry"], "*.example.com", "{a}");
    assert_eq!(a["guard"]["status"], "after_resolution", "{a}");

    let (_, a) = explain(&api, ADMIN, "acme", "host=bad.example.com").await;
    assert_eq!(a["decision"], "block", "{a}");
    assert_eq!(a["reason"], "blocked_by_rule", "{a}");
    assert_eq!(a["list"], "blocklist", "{a}");
    assert_eq!(a["port"], 443, "default port: {a}");

    // A rule says direct, the destination guard refuses: what the proxy does (403).
    let (_, a) = explain(&api, ADMIN, "acme", "host=10.1.2.3").await;
    assert_eq!(a["decision"], "refused", "{a}");
    assert_eq!(a["reason"], "destination_ip_prohibited", "{a}");
    assert_eq!(a["guard"]["addresses"][0]["verdict"], "prohibited", "{a}");

    let (_, a) = explain(&api, ADMIN, "acme", "host=elsewhere.org").await;
    assert_eq!(a["decision"], "block", "the default action: {a}");

    let (status, a) = explain(&api, ADMIN, "acme", "host=a..b").await;
    assert_eq!(status, 400, "{a}");
    let (status, _) = explain(&api, ADMIN, "acme", "port=80").await;
    assert_eq!(status, 400, "host is required");
    let (status, _) = explain(&api, ADMIN, "nobody", "host=x.com").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_tenant_token_explains_only_its_own_tenant() {
    let api = TestApi::start().await;
    setup(&api).await;
    in_service(&api).await;
    let token = api.token("acme").await;
    let (status, a) = explain(&api, &token, "acme", "host=www.example.com").await;
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["tenant"], "acme");
    for other in ["other", "nobody"] {
        let (status, a) = explain(&api, &token, other, "host=www.example.com").await;
        assert_eq!(status, 404, "{other}: {a}");
    }
    let (status, _) = explain(&api, "bk_nope_nope", "acme", "host=x.com").await;
    assert_eq!(status, 401);
}
