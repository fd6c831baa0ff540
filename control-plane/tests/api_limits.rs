//! Ids, free text and per-tenant quotas through the API (issue 13, items 6 and 10): a tenant id
//! or list name that cannot be addressed, a megabyte region description and a tenant growing
//! without bound are each refused with a 4xx naming what is wrong.

use crate::api_common;

use api_common::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn tenant_id_dot_dot_is_refused_with_the_id_rule() {
    // The defect: `..` was accepted as a tenant id, and no URL can address it.
    let api = TestApi::start().await;
    api.region("eu").await;
    for bad in ["..", "Acme", "a/b", "-x", &"x".repeat(64)] {
        let resp = send(api.op(Method::POST, "/v1/tenants").json(&tenant_json(
            bad,
            "eu",
            "198.51.100.0/24",
        )))
        .await;
        let msg = expect_error(resp, 400, "invalid").await;
        assert!(msg.starts_with("tenant.id: tenant id "), "{msg}");
        assert!(msg.contains("1-63 characters of a-z, 0-9"), "{msg}");
    }
    assert!(api.store.state().tenants.is_empty());
}

#[tokio::test]
async fn list_name_dot_dot_is_refused_in_a_tenant_and_by_put() {
    let api = TestApi::start().await;
    api.region("eu").await;
    let mut body = tenant_json("acme", "eu", "198.51.100.0/24");
    body["lists"] = json!({ "..": { "entries": ["a.example.com"] } });
    let msg = expect_error(
        send(api.op(Method::POST, "/v1/tenants").json(&body)).await,
        400,
        "invalid",
    )
    .await;
    assert!(msg.contains("list name \"..\" is not a valid id"), "{msg}");

    api.tenant("acme", "eu", "198.51.100.0/24").await;
    for bad in [".hidden", "Saas", "a%20b"] {
        let path = format!("/v1/tenants/acme/lists/{bad}");
        let resp = send(api.op(Method::PUT, &path).json(&json!(["a.example.com"]))).await;
        let msg = expect_error(resp, 400, "invalid").await;
        assert!(msg.contains("list name"), "{msg}");
    }
    let ok = send(
        api.op(Method::PUT, "/v1/tenants/acme/lists/saas-1.v2")
            .json(&json!(["a.example.com"])),
    )
    .await;
    expect_version(ok, 200).await;
}

#[tokio::test]
async fn a_megabyte_region_description_is_refused_naming_the_field_and_limit() {
    let api = TestApi::start().await;
    let resp = send(
        api.op(Method::POST, "/v1/regions")
            .json(&json!({ "name": "tokyo", "description": "x".repeat(1 << 20) })),
    )
    .await;
    let msg = expect_error(resp, 400, "invalid").await;
    assert_eq!(msg, "description: 1048576 bytes; at most 256 are allowed");
    let resp = send(
        api.op(Method::POST, "/v1/regions")
            .json(&json!({ "name": "tokyo", "description": "line\nbreak" })),
    )
    .await;
    let msg = expect_error(resp, 400, "invalid").await;
    assert!(msg.contains("control character"), "{msg}");
    assert!(api.store.state().regions.is_empty());
}

#[tokio::test]
async fn a_long_string_anywhere_in_a_write_is_refused_naming_its_path() {
    let api = TestApi::start().await;
    api.region("eu").await;
    api.tenant("acme", "eu", "198.51.100.0/24").await;
    let resp = send(
        api.op(Method::POST, "/v1/tokens")
            .json(&json!({ "tenant": "acme", "label": "l".repeat(129) })),
    )
    .await;
    let msg = expect_error(resp, 400, "invalid").await;
    assert!(msg.starts_with("label: 129 bytes"), "{msg}");
}

#[tokio::test]
async fn quotas_refuse_growth_with_409_naming_the_quota_and_show_usage() {
    let api = TestApi::start().await;
    api.region("eu").await;
    api.tenant("acme", "eu", "198.51.100.0/24").await;
    let set = send(
        api.op(Method::PUT, "/v1/tenants/acme/quotas")
            .json(&json!({ "lists": 1, "list_entries": 2 })),
    )
    .await;
    expect_version(set, 200).await;

    let put = |name: &str, entries: &[&str]| {
        api.op(Method::PUT, &format!("/v1/tenants/acme/lists/{name}"))
            .json(&json!(entries))
    };
    expect_version(send(put("a", &["a.example.com"])).await, 200).await;
    let msg = expect_error(
        send(put("b", &["b.example.com"])).await,
        409,
        "quota_exceeded",
    )
    .await;
    assert!(
        msg.starts_with("quota lists exceeded: tenant acme"),
        "{msg}"
    );
    assert!(msg.contains("limit of 1"), "{msg}");
    let msg = expect_error(
        send(put(
            "a",
            &["a.example.com", "b.example.com", "c.example.com"],
        ))
        .await,
        409,
        "quota_exceeded",
    )
    .await;
    assert!(msg.starts_with("quota list_entries exceeded"), "{msg}");

    let (status, view) =
        status_json(send(api.op(Method::GET, "/v1/tenants/acme/quotas")).await).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(
        view["quotas"]["lists"],
        json!({ "limit": 1, "default": 50, "used": 1 })
    );
    assert_eq!(view["overrides"], json!({ "lists": 1, "list_entries": 2 }));

    // Back to the defaults: the second list fits.
    let reset = send(
        api.op(Method::PUT, "/v1/tenants/acme/quotas")
            .json(&json!(null)),
    )
    .await;
    expect_version(reset, 200).await;
    expect_version(send(put("b", &["b.example.com"])).await, 200).await;
}

#[tokio::test]
async fn only_the_operator_sets_quotas_and_the_tenant_reads_its_own() {
    let api = TestApi::start().await;
    api.region("eu").await;
    api.tenant("acme", "eu", "198.51.100.0/24").await;
    let token = api.token("acme").await;
    let raise = send(
        api.with(&token, Method::PUT, "/v1/tenants/acme/quotas")
            .json(&json!({ "lists": 1000 })),
    )
    .await;
    expect_error(raise, 403, "forbidden").await;
    let own = send(api.with(&token, Method::GET, "/v1/tenants/acme/quotas")).await;
    assert_eq!(own.status().as_u16(), 200);
}
