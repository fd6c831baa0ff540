//! `GET /v1/tenants/{id}/endpoints` (art. 2, external integration): who may pull, the formats,
//! strong ETags with `If-None-Match`, and `?since=` deltas.

use crate::api_common;

use api_common::*;
use reqwest::{Method, Response};
use serde_json::{json, Value};

const ENDPOINTS: &str = "/v1/tenants/acme/endpoints";

/// Region `eu`; tenant `acme` with a blocklist, an inline direct rule and a list of direct
/// CIDRs; tenant `other`. Tokens for both.
async fn setup(api: &TestApi) -> (String, String) {
    api.region("eu").await;
    api.tenant("acme", "eu", "198.51.100.0/24").await;
    api.tenant("other", "eu", "203.0.113.0/24").await;
    put(
        api,
        "/v1/tenants/acme/lists/blocklist",
        json!(["bad.example.net", "*.ads.example"]),
    )
    .await;
    put(api, "/v1/tenants/acme/lists/nets", json!(["192.0.2.0/24"])).await;
    let rules = json!([
        { "name": "access-control", "action": "block", "lists": ["blocklist"] },
        { "name": "saas", "action": "direct",
          "destinations": ["*.example.com", "www.example.com", "autodiscover.*.example.org"],
          "lists": ["nets"] },
    ]);
    put(api, "/v1/tenants/acme/rules", rules).await;
    (api.token("acme").await, api.token("other").await)
}

async fn put(api: &TestApi, path: &str, body: Value) -> u64 {
    expect_version(send(api.op(Method::PUT, path).json(&body)).await, 200).await
}

async fn list_template(api: &TestApi) {
    let order = json!({ "kind": "list-template", "item": "microsoft365" });
    let resp = send(
        api.op(Method::POST, "/v1/tenants/acme/contracts")
            .json(&order),
    )
    .await;
    let (status, body) = status_json(resp).await;
    assert_eq!(status, 201, "{body}");
}

async fn text(resp: Response) -> (u16, reqwest::header::HeaderMap, String) {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.expect("body"))
}

fn header<'a>(h: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

#[tokio::test]
async fn a_tenant_token_pulls_only_with_a_contract_in_force_and_only_its_own() {
    let api = TestApi::start().await;
    let (acme, other) = setup(&api).await;

    tracing::info!("phase: no external-integration or list-template contract: 403 saying so");
    let message = expect_error(
        send(api.with(&acme, Method::GET, ENDPOINTS)).await,
        403,
        "forbidden",
    )
    .await;
    assert!(message.contains("external-integration"), "{message}");

    tracing::info!("phase: the operator may always look");
    let (status, _) = status_json(send(api.op(Method::GET, ENDPOINTS)).await).await;
    assert_eq!(status, 200);

    tracing::info!("phase: with a list-template contract the token pulls its own list");
    list_template(&api).await;
    let (status, body) = status_json(send(api.with(&acme, Method::GET, ENDPOINTS)).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["tenant"], "acme");

    tracing::info!("phase: another tenant's token gets 404, as for a tenant that does not exist");
    expect_error(
        send(api.with(&other, Method::GET, ENDPOINTS)).await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn json_lists_every_entry_with_kind_action_and_source_in_order() {
    let api = TestApi::start().await;
    setup(&api).await;
    let (status, body) = status_json(send(api.op(Method::GET, ENDPOINTS)).await).await;
    assert_eq!(status, 200, "{body}");
    let rows: Vec<(String, String, String, String)> = body["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            (s("action"), s("value"), s("kind"), s("source"))
        })
        .collect();
    let want = [
        ("block", "bad.example.net", "host", "list:blocklist"),
        ("block", "*.ads.example", "wildcard", "list:blocklist"),
        ("direct", "www.example.com", "host", "rule:saas"),
        ("direct", "*.example.com", "wildcard", "rule:saas"),
        (
            "direct",
            "autodiscover.*.example.org",
            "pattern",
            "rule:saas",
        ),
        ("direct", "192.0.2.0/24", "cidr", "list:nets"),
    ];
    let want: Vec<(String, String, String, String)> = want
        .iter()
        .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()))
        .collect();
    assert_eq!(rows, want);
}

#[tokio::test]
async fn text_squid_and_csv_render_the_filtered_entries() {
    let api = TestApi::start().await;
    setup(&api).await;
    let get = |q: &str| api.op(Method::GET, &format!("{ENDPOINTS}?{q}"));

    let (status, h, body) = text(send(get("format=text&action=direct&kind=hosts")).await).await;
    assert_eq!(status, 200);
    assert!(header(&h, "content-type").starts_with("text/plain"));
    assert_eq!(
        body,
        "www.example.com\n*.example.com\nautodiscover.*.example.org\n"
    );

    let (_, _, body) = text(send(get("format=text&kind=cidrs")).await).await;
    assert_eq!(body, "192.0.2.0/24\n");

    let (_, h, body) = text(send(get("format=squid&action=direct")).await).await;
    assert_eq!(
        body, ".example.com\n",
        "names only: networks are a dst file"
    );
    assert_eq!(
        header(&h, "x-breakout-omitted"),
        "2",
        "covered www + one regex"
    );
    let (_, _, body) = text(send(get("format=squid-regex&action=direct")).await).await;
    assert_eq!(body, "^autodiscover\\.[^.]*\\.example\\.org$\n");
    let (_, _, body) = text(send(get("format=squid&kind=cidrs")).await).await;
    assert_eq!(body, "192.0.2.0/24\n");

    let (_, h, body) = text(send(get("format=csv&action=block")).await).await;
    assert!(header(&h, "content-type").starts_with("text/csv"));
    assert_eq!(
        body,
        "action,kind,value,source,ports\r\nblock,host,bad.example.net,list:blocklist,\r\n\
         block,wildcard,*.ads.example,list:blocklist,\r\n"
    );

    for bad in [
        "format=xml",
        "kind=ipv6",
        "action=allow",
        "format=text&since=3",
    ] {
        expect_error(send(get(bad)).await, 400, "invalid").await;
    }
}

#[tokio::test]
async fn a_strong_etag_answers_304_until_the_content_changes() {
    let api = TestApi::start().await;
    setup(&api).await;
    let (status, h, _) = text(send(api.op(Method::GET, ENDPOINTS)).await).await;
    assert_eq!(status, 200);
    let tag = header(&h, "etag").to_string();
    assert!(
        tag.starts_with('"') && !tag.starts_with("W/"),
        "strong: {tag}"
    );

    tracing::info!("phase: an unrelated write moves the version, not the content: still 304");
    put(&api, "/v1/tenants/other/lists/x", json!(["x.example"])).await;
    let again = api.op(Method::GET, ENDPOINTS).header("if-none-match", &tag);
    let (status, h, body) = text(send(again).await).await;
    assert_eq!(status, 304);
    assert!(body.is_empty());
    assert_eq!(header(&h, "etag"), tag);

    tracing::info!("phase: a change to the tenant's list gives a new tag and the body");
    put(&api, "/v1/tenants/acme/lists/nets", json!(["192.0.2.0/25"])).await;
    let changed = api.op(Method::GET, ENDPOINTS).header("if-none-match", &tag);
    let (status, h, _) = text(send(changed).await).await;
    assert_eq!(status, 200);
    assert_ne!(header(&h, "etag"), tag);
}

#[tokio::test]
async fn since_answers_what_changed_or_the_full_list_saying_why() {
    let api = TestApi::start().await;
    setup(&api).await;
    let resp = send(api.op(Method::GET, ENDPOINTS)).await;
    let v1: u64 = header(resp.headers(), "x-breakout-version")
        .parse()
        .expect("version header");

    tracing::info!("phase: one entry replaced in the blocklist");
    put(
        &api,
        "/v1/tenants/acme/lists/blocklist",
        json!(["bad.example.net", "evil.example"]),
    )
    .await;
    let resp = send(api.op(Method::GET, &format!("{ENDPOINTS}?since={v1}"))).await;
    assert_eq!(header(resp.headers(), "x-breakout-delta"), "delta");
    let (status, delta) = status_json(resp).await;
    assert_eq!(status, 200, "{delta}");
    assert_eq!(delta["since"], v1);
    let values = |k: &str| -> Vec<String> {
        delta[k]
            .as_array()
            .expect("array")
            .iter()
            .filter_map(|e| e["value"].as_str().map(str::to_string))
            .collect()
    };
    assert_eq!(values("added"), ["evil.example"]);
    assert_eq!(values("removed"), ["*.ads.example"]);

    tracing::info!("phase: a version this node never saw: the full list, and why");
    let resp = send(api.op(Method::GET, &format!("{ENDPOINTS}?since=1"))).await;
    assert_eq!(header(resp.headers(), "x-breakout-delta"), "full");
    let reason = header(resp.headers(), "x-breakout-delta-reason").to_string();
    assert!(reason.contains("older"), "{reason}");
    let (_, full) = status_json(resp).await;
    assert_eq!(full["entries"].as_array().map(Vec::len), Some(6));
}
