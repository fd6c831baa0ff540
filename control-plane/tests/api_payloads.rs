//! Bad requests answer 400 `invalid` in the error shape, naming what is wrong; axum's own
//! plain-text rejections never reach a client.

use crate::api_common;

use api_common::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn malformed_json_is_400_invalid_with_a_json_error_body() {
    let api = TestApi::start().await;
    for body in ["{not json", "", "[1, 2", "\"just a string\""] {
        let req = api
            .op(Method::POST, "/v1/regions")
            .header("content-type", "application/json")
            .body(body);
        let msg = expect_error(send(req).await, 400, "invalid").await;
        assert!(msg.contains("request body"), "{body:?}: {msg}");
    }
}

#[tokio::test]
async fn a_body_not_sent_as_json_is_415_on_every_json_route() {
    let api = TestApi::start().await;
    api.region("eu").await;
    api.tenant("acme", "eu", "198.51.100.0/24").await;
    let routes = [
        (Method::POST, "/v1/regions"),
        (Method::POST, "/v1/tenants"),
        (Method::PATCH, "/v1/tenants/acme"),
        (Method::PUT, "/v1/tenants/acme/rules"),
        (Method::PUT, "/v1/tenants/acme/lists/blocklist"),
        (Method::PATCH, "/v1/tenants/acme/lists/blocklist"),
        (Method::POST, "/v1/tenants/acme/contracts"),
        (Method::PUT, "/v1/price-book"),
        (Method::PUT, "/v1/tenants/acme/templates/microsoft365"),
    ];
    for (method, path) in routes {
        for content_type in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
        ] {
            let mut req = api.op(method.clone(), path).body(r#"{"name": "x"}"#);
            if let Some(ct) = content_type {
                req = req.header("content-type", ct);
            }
            let msg = expect_error(send(req).await, 415, "unsupported_media_type").await;
            assert!(msg.contains("application/json"), "{method} {path}: {msg}");
        }
    }
    // The same body as JSON is read (here: a region created).
    let req = api
        .op(Method::POST, "/v1/regions")
        .header("content-type", "application/json; charset=utf-8")
        .body(r#"{"name": "x"}"#);
    assert_eq!(send(req).await.status(), 201);
}

#[tokio::test]
async fn a_wrong_type_names_the_field() {
    let api = TestApi::start().await;
    api.region("eu").await;
    let mut tenant = tenant_json("acme", "eu", "198.51.100.0/24");
    tenant["session_limit"] = json!("lots");
    let req = api.op(Method::POST, "/v1/tenants").json(&tenant);
    let msg = expect_error(send(req).await, 400, "invalid").await;
    assert!(msg.contains("session_limit"), "{msg}");

    let req = api
        .op(Method::POST, "/v1/tenants")
        .json(&json!({ "id": "acme" }));
    let msg = expect_error(send(req).await, 400, "invalid").await;
    assert!(
        msg.contains("source_cidrs") || msg.contains("missing field"),
        "{msg}"
    );
}

/// serde reads a struct from an array, field by field; the API documents objects, so an array
/// in an object's place is refused at any depth, and nothing is written.
#[tokio::test]
async fn an_array_in_an_objects_place_is_refused_at_any_depth() {
    let api = TestApi::start().await;
    api.region("eu").await;
    api.tenant("acme", "eu", "198.51.100.0/24").await;
    let cases = [
        (
            Method::PUT,
            "/v1/tenants/acme/rules",
            json!([["r", "block", [], [], []]]),
            "[0]",
        ),
        (
            Method::POST,
            "/v1/store/import?replace=true",
            json!({"format": "breakout-store-dump/1", "version": 0, "state": {
                "version": 0, "regions": {}, "tenants": {}, "audit": [],
                "tokens": {"label": ["id", "acme", "00", null, 0]}}}),
            "state.tokens.label",
        ),
    ];
    for (method, path, body, at) in cases {
        let req = api
            .op(method.clone(), path)
            .header("content-type", "application/json")
            .body(body.to_string());
        let msg = expect_error(send(req).await, 400, "invalid").await;
        assert!(
            msg.contains(at) && msg.contains("invalid type: sequence"),
            "{method} {path}: {msg}"
        );
    }
    // Neither write happened: the tenant and its region are still there.
    let resp = send(api.op(Method::GET, "/v1/tenants/acme")).await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn unknown_fields_are_refused() {
    let api = TestApi::start().await;
    let req = api
        .op(Method::POST, "/v1/regions")
        .json(&json!({ "name": "eu", "colour": "red" }));
    let msg = expect_error(send(req).await, 400, "invalid").await;
    assert!(msg.contains("colour"), "{msg}");
}

#[tokio::test]
async fn ipv6_source_cidrs_are_400_and_say_ipv6() {
    let api = TestApi::start().await;
    api.region("eu").await;
    let req = api
        .op(Method::POST, "/v1/tenants")
        .json(&tenant_json("acme", "eu", "2001:db8::/32"));
    let msg = expect_error(send(req).await, 400, "invalid").await;
    assert!(msg.contains("IPv6"), "{msg}");
    assert!(
        msg.contains("source_cidrs"),
        "the message names the field: {msg}"
    );

    api.tenant("acme", "eu", "198.51.100.0/24").await;
    let put = api
        .op(Method::PUT, "/v1/tenants/acme/source-cidrs")
        .json(&json!(["::1/128"]));
    let msg = expect_error(send(put).await, 400, "invalid").await;
    assert!(msg.contains("IPv6"), "{msg}");
}

#[tokio::test]
async fn malformed_cidrs_are_400_and_say_why() {
    let api = TestApi::start().await;
    api.region("eu").await;
    api.tenant("acme", "eu", "198.51.100.0/24").await;
    for (cidr, why) in [
        ("10.0.0.1/8", "host bits"),
        ("10.0.0.0/33", "IPv4 CIDR"),
        ("nope", "IPv4"),
    ] {
        let put = api
            .op(Method::PUT, "/v1/tenants/acme/source-cidrs")
            .json(&json!([cidr]));
        let msg = expect_error(send(put).await, 400, "invalid").await;
        assert!(msg.contains(why), "{cidr}: {msg}");
    }
}

#[tokio::test]
async fn list_entries_are_checked_in_both_shapes() {
    let api = TestApi::start().await;
    api.region("eu").await;
    api.tenant("acme", "eu", "198.51.100.0/24").await;
    let path = "/v1/tenants/acme/lists/saas";
    let bare = api
        .op(Method::PUT, path)
        .json(&json!(["a.example.com", "2001:db8::/32"]));
    let msg = expect_error(send(bare).await, 400, "invalid").await;
    assert!(msg.contains("IPv6") && msg.contains("[1]"), "{msg}");
    let table = api
        .op(Method::PUT, path)
        .json(&json!({ "entries": ["2001:db8::/64"] }));
    let msg = expect_error(send(table).await, 400, "invalid").await;
    assert!(msg.contains("IPv6"), "{msg}");
    let neither = api.op(Method::PUT, path).json(&json!(42));
    expect_error(send(neither).await, 400, "invalid").await;

    let good = api
        .op(Method::PUT, path)
        .json(&json!({ "entries": ["*.example.com"] }));
    expect_version(send(good).await, 200).await;
}

#[tokio::test]
async fn bad_actions_and_patch_fields_are_400() {
    let api = TestApi::start().await;
    api.region("eu").await;
    api.tenant("acme", "eu", "198.51.100.0/24").await;
    let put = api
        .op(Method::PUT, "/v1/tenants/acme/default-action")
        .json(&json!({ "action": "allow" }));
    let msg = expect_error(send(put).await, 400, "invalid").await;
    assert!(msg.contains("allow"), "{msg}");
    let patch = api
        .op(Method::PATCH, "/v1/tenants/acme")
        .json(&json!({ "region": "us" }));
    let msg = expect_error(send(patch).await, 400, "invalid").await;
    assert!(msg.contains("region"), "{msg}");
}

#[tokio::test]
async fn unparsable_if_match_is_400() {
    let api = TestApi::start().await;
    let req = api
        .op(Method::DELETE, "/v1/tenants/acme")
        .header("if-match", "\"twelve\"");
    let msg = expect_error(send(req).await, 400, "invalid").await;
    assert!(msg.contains("If-Match"), "{msg}");
}

#[tokio::test]
async fn bad_path_and_query_values_are_400() {
    let api = TestApi::start().await;
    let req = api.op(Method::DELETE, "/v1/cluster/nodes/not-a-number");
    expect_error(send(req).await, 400, "invalid").await;
    let req = api.op(Method::GET, "/v1/audit?limit=many");
    let msg = expect_error(send(req).await, 400, "invalid").await;
    assert!(msg.contains("limit"), "{msg}");
    let req = api.op(Method::GET, "/v1/tenants?stale=perhaps");
    expect_error(send(req).await, 400, "invalid").await;
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_error_shape() {
    let api = TestApi::start().await;
    expect_error(
        send(api.op(Method::GET, "/v1/nothing")).await,
        404,
        "not_found",
    )
    .await;
    let resp = send(api.op(Method::PUT, "/v1/regions")).await;
    expect_error(resp, 405, "method_not_allowed").await;
}

#[tokio::test]
async fn business_rejections_map_to_their_status() {
    let api = TestApi::start().await;
    api.region("eu").await;
    // 409: exists already.
    let again = api
        .op(Method::POST, "/v1/regions")
        .json(&json!({ "name": "eu" }));
    expect_error(send(again).await, 409, "conflict").await;
    // 400 from apply: the region does not exist.
    let req =
        api.op(Method::POST, "/v1/tenants")
            .json(&tenant_json("acme", "mars", "192.0.2.0/24"));
    expect_error(send(req).await, 400, "invalid").await;
    // 404: no such tenant.
    let req = api
        .op(Method::PUT, "/v1/tenants/nosuch/session-limit")
        .json(&json!({ "session_limit": 1 }));
    expect_error(send(req).await, 404, "not_found").await;
    // 409: the region is in use.
    api.tenant("acme", "eu", "198.51.100.0/24").await;
    expect_error(
        send(api.op(Method::DELETE, "/v1/regions/eu")).await,
        409,
        "conflict",
    )
    .await;
}
