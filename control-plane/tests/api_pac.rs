//! `PUT /v1/tenants/{id}/pac`: PAC settings stored with the tenant (docs/pac.md).

use crate::api_common;

use api_common::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn pac_settings_are_set_validated_shown_and_removed() {
    let api = TestApi::start().await;
    api.region("eu").await;
    api.tenant("acme", "eu", "198.51.100.0/24").await;
    let settings = json!({ "proxies": ["edge.example.com:3128"],
        "direct_exceptions": ["*.corp.example"] });
    let resp = send(api.op(Method::PUT, "/v1/tenants/acme/pac").json(&settings)).await;
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["tenant"]["pac"]["proxies"][0], "edge.example.com:3128");

    let (_, view) = status_json(send(api.op(Method::GET, "/v1/tenants/acme")).await).await;
    assert_eq!(
        view["pac"]["direct_exceptions"][0], "*.corp.example",
        "{view}"
    );

    let bad = json!({ "upstream_proxies": { "nope": "proxy.example.com:3128" } });
    let resp = send(api.op(Method::PUT, "/v1/tenants/acme/pac").json(&bad)).await;
    let msg = expect_error(resp, 400, "invalid").await;
    assert!(msg.contains("tenant.pac.upstream_proxies[nope]"), "{msg}");
    let unknown = json!({ "proxy": "x:1" });
    let resp = send(api.op(Method::PUT, "/v1/tenants/acme/pac").json(&unknown)).await;
    expect_error(resp, 400, "invalid").await;

    let resp = send(
        api.op(Method::PUT, "/v1/tenants/acme/pac")
            .json(&json!(null)),
    )
    .await;
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["tenant"].get("pac").is_none(), "{body}");
}
