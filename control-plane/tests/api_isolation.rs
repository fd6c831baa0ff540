//! Tenant isolation over every route of the OpenAPI document, table-driven: without a token,
//! with a bad, revoked or expired token, with a tenant token on another tenant's id, on an
//! operator route, or on a write its own token may not make, every request is refused, changes
//! nothing, and is audited (`GET /v1/audit/denied`).
//!
//! The table must name every route the document (and the router) has: a route added without a
//! row fails `every_route_has_an_isolation_row`.

use crate::api_common;

use std::collections::BTreeSet;
use std::time::Duration;

use api_common::*;
use breakout_control::api;
use breakout_control::store::{Consistency, Store};
use reqwest::Method;
use serde_json::{json, Value};

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Access {
    /// No token needed.
    Open,
    /// Any valid token (the operator, or any tenant's).
    AnyToken,
    /// The operator only: a tenant token gets 403.
    Operator,
    /// The operator, or the tenant named by `{id}` (another tenant's token gets 404, as if the
    /// tenant did not exist).
    OwnTenant,
    /// The operator; the named tenant's own token gets 403, another tenant's 404.
    OwnTenantOperatorWrites,
}

use Access::*;

/// Every route, by method and template, with who may call it.
const TABLE: &[(&str, &str, Access)] = &[
    ("GET", "/healthz", Open),
    ("GET", "/readyz", Open),
    ("GET", "/openapi.json", Open),
    ("GET", "/v1/cluster/self", Open),
    ("GET", "/v1/cluster/status", Operator),
    ("POST", "/v1/cluster/nodes", Operator),
    ("DELETE", "/v1/cluster/nodes/{id}", Operator),
    ("GET", "/v1/regions", AnyToken),
    ("POST", "/v1/regions", Operator),
    ("DELETE", "/v1/regions/{name}", Operator),
    ("GET", "/v1/tenants", Operator),
    ("POST", "/v1/tenants", Operator),
    ("GET", "/v1/tenants/{id}", OwnTenant),
    ("PATCH", "/v1/tenants/{id}", OwnTenantOperatorWrites),
    ("DELETE", "/v1/tenants/{id}", OwnTenantOperatorWrites),
    (
        "PUT",
        "/v1/tenants/{id}/source-cidrs",
        OwnTenantOperatorWrites,
    ),
    ("PUT", "/v1/tenants/{id}/rules", OwnTenantOperatorWrites),
    ("PUT", "/v1/tenants/{id}/upstreams", OwnTenantOperatorWrites),
    (
        "PUT",
        "/v1/tenants/{id}/default-action",
        OwnTenantOperatorWrites,
    ),
    (
        "PUT",
        "/v1/tenants/{id}/session-limit",
        OwnTenantOperatorWrites,
    ),
    ("PUT", "/v1/tenants/{id}/pac", OwnTenantOperatorWrites),
    ("GET", "/v1/tenants/{id}/lists", OwnTenant),
    ("GET", "/v1/tenants/{id}/lists/{name}", OwnTenant),
    // Open to the tenant's own token with the list-update-api option (art. 10-4).
    ("PUT", "/v1/tenants/{id}/lists/{name}", OwnTenant),
    ("PATCH", "/v1/tenants/{id}/lists/{name}", OwnTenant),
    (
        "DELETE",
        "/v1/tenants/{id}/lists/{name}",
        OwnTenantOperatorWrites,
    ),
    ("GET", "/v1/tenants/{id}/endpoints", OwnTenant),
    ("GET", "/v1/tenants/{id}/webhooks", OwnTenant),
    ("POST", "/v1/tenants/{id}/webhooks", OwnTenant),
    ("DELETE", "/v1/tenants/{id}/webhooks/{wid}", OwnTenant),
    ("GET", "/v1/tenants/{id}/webhook-deliveries", OwnTenant),
    ("GET", "/v1/tenants/{id}/refusals", OwnTenant),
    ("POST", "/v1/tokens", Operator),
    ("GET", "/v1/tokens", Operator),
    ("DELETE", "/v1/tokens/{id}", Operator),
    ("GET", "/v1/audit", Operator),
    ("GET", "/v1/audit/denied", Operator),
    ("GET", "/v1/tenants/{id}/attributes", OwnTenant),
    (
        "PUT",
        "/v1/tenants/{id}/attributes",
        OwnTenantOperatorWrites,
    ),
    ("GET", "/v1/tenants/{id}/contracts", OwnTenant),
    (
        "POST",
        "/v1/tenants/{id}/contracts",
        OwnTenantOperatorWrites,
    ),
    (
        "POST",
        "/v1/tenants/{id}/contracts/{cid}/capacity",
        OwnTenantOperatorWrites,
    ),
    (
        "POST",
        "/v1/tenants/{id}/contracts/{cid}/cancel",
        OwnTenantOperatorWrites,
    ),
    ("GET", "/v1/tenants/{id}/options", OwnTenant),
    ("POST", "/v1/tenants/{id}/options", OwnTenantOperatorWrites),
    (
        "POST",
        "/v1/tenants/{id}/options/{kind}/stop",
        OwnTenantOperatorWrites,
    ),
    ("GET", "/v1/tenants/{id}/billing", OwnTenant),
    ("GET", "/v1/price-book", Operator),
    ("PUT", "/v1/price-book", Operator),
    ("POST", "/v1/templates/{item}/withdraw", Operator),
    ("GET", "/v1/templates", Operator),
    ("POST", "/v1/templates/sync", Operator),
    ("GET", "/v1/templates/{item}", Operator),
    ("GET", "/v1/templates/{item}/versions", Operator),
    ("GET", "/v1/templates/{item}/diff", Operator),
    ("POST", "/v1/templates/{item}/rollback", Operator),
    (
        "POST",
        "/v1/templates/{item}/candidates/{cid}/approve",
        Operator,
    ),
    (
        "POST",
        "/v1/templates/{item}/candidates/{cid}/reject",
        Operator,
    ),
    ("GET", "/v1/tenants/{id}/templates", OwnTenant),
    ("GET", "/v1/tenants/{id}/templates/{item}", OwnTenant),
    ("PUT", "/v1/tenants/{id}/templates/{item}", OwnTenant),
    ("DELETE", "/v1/tenants/{id}/templates/{item}", OwnTenant),
    ("GET", "/v1/edges", Operator),
    ("GET", "/v1/sessions", Operator),
    ("POST", "/v1/quota/exchange", Operator),
    ("GET", "/v1/tenants/{id}/explain", OwnTenant),
    ("GET", "/v1/tenants/{id}/quotas", OwnTenant),
    ("PUT", "/v1/tenants/{id}/quotas", OwnTenantOperatorWrites),
    ("GET", "/v1/store/export", Operator),
    ("POST", "/v1/store/import", Operator),
];

/// `template` with `{id}` as `tenant` and every other parameter filled in.
fn path(template: &str, tenant: &str) -> String {
    let tenant_scoped = template.starts_with("/v1/tenants/{id}");
    template
        .replace("{id}", if tenant_scoped { tenant } else { "7" })
        .replace("{name}", "l1")
        .replace("{item}", "microsoft365")
        .replace("{cid}", "1")
        .replace("{kind}", "pac")
        .replace("{wid}", "w1")
}

#[test]
fn every_route_has_an_isolation_row() {
    let doc = api::openapi::document();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(p, ops)| {
            ops.as_object()
                .expect("operations")
                .keys()
                .map(move |m| (m.to_ascii_uppercase(), p.clone()))
        })
        .collect();
    let routed: BTreeSet<(String, String)> = api::routes()
        .into_iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    let rows: BTreeSet<(String, String)> = TABLE
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(rows.len(), TABLE.len(), "a route has two rows");
    let missing: Vec<_> = documented
        .union(&routed)
        .filter(|r| !rows.contains(*r))
        .collect();
    assert!(
        missing.is_empty(),
        "routes without an isolation row: {missing:?}"
    );
    let stale: Vec<_> = rows.iter().filter(|r| !documented.contains(*r)).collect();
    assert!(
        stale.is_empty(),
        "rows for routes the document lacks: {stale:?}"
    );
}

/// The world: tenants `acme` and `beta` with lists, a token each, and three dead tokens.
struct World {
    api: TestApi,
    acme: String,
    bad: Vec<(&'static str, String)>,
}

async fn world() -> World {
    let api = TestApi::start().await;
    api.region("tokyo").await;
    api.tenant("acme", "tokyo", "192.0.2.0/24").await;
    api.tenant("beta", "tokyo", "198.51.100.0/24").await;
    for t in ["acme", "beta"] {
        let resp = send(
            api.op(Method::PUT, &format!("/v1/tenants/{t}/lists/l1"))
                .json(&json!(["a.example"])),
        );
        expect_version(resp.await, 200).await;
    }
    let acme = api.token("acme").await;
    let revoked = api.token("beta").await;
    let id = revoked
        .split('_')
        .nth(1)
        .expect("bk_<id>_<secret>")
        .to_string();
    let resp = send(api.op(Method::DELETE, &format!("/v1/tokens/{id}")));
    expect_version(resp.await, 200).await;
    let resp = send(
        api.op(Method::POST, "/v1/tokens")
            .json(&json!({ "tenant": "beta", "expires_in_seconds": 1 })),
    );
    let (status, body) = status_json(resp.await).await;
    assert_eq!(status, 201, "{body}");
    let expired = body["token"].as_str().expect("token").to_string();
    // Wait for it to expire (it works until then).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let resp = send(api.with(&expired, Method::GET, "/v1/tenants/beta")).await;
        if resp.status() == 401 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the token never expired"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    World {
        api,
        acme,
        bad: vec![
            ("a wrong admin token", "not-the-admin-token".into()),
            (
                "an unknown tenant token",
                format!("bk_ffff_{}", "0".repeat(64)),
            ),
            ("a revoked token", revoked),
            ("an expired token", expired),
        ],
    }
}

async fn denied(api: &TestApi) -> Vec<Value> {
    let (status, body) = status_json(send(api.op(Method::GET, "/v1/audit/denied")).await).await;
    assert_eq!(status, 200, "{body}");
    body["items"].as_array().cloned().unwrap_or_default()
}

/// One refused attempt on `(method, template)`: `status`, no change to the store, one new
/// audited attempt with `reason` on `template`.
async fn refused(
    w: &World,
    what: &str,
    (method, template): (&str, &str),
    url: &str,
    token: Option<&str>,
    status: u16,
    reason: &str,
) {
    let before = w.api.store.read(Consistency::Stale).await.expect("state");
    let audited = denied(&w.api).await.len();
    let method = Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = w.api.anon(method.clone(), url).body("{}");
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = send(req).await;
    let got = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    assert_eq!(got, status, "{what}: {method} {url}: {text}");
    let after = w.api.store.read(Consistency::Stale).await.expect("state");
    assert!(
        *before == *after,
        "{what}: {method} {url} changed the store (version {} -> {})",
        before.version,
        after.version
    );
    let log = denied(&w.api).await;
    assert_eq!(
        log.len(),
        audited + 1,
        "{what}: {method} {url} not audited once"
    );
    let last = &log[log.len() - 1];
    assert_eq!(last["reason"], reason, "{what}: {method} {url}: {last}");
    assert_eq!(last["route"], template, "{what}: {last}");
    assert_eq!(last["method"], method.as_str(), "{what}: {last}");
    let leaked = w.bad.iter().map(|(_, t)| t).chain([&w.acme]);
    for t in leaked {
        assert!(
            !last.to_string().contains(t.as_str()),
            "a token in the audit: {last}"
        );
    }
}

#[tokio::test]
async fn every_route_refuses_what_its_row_says_and_changes_nothing() {
    let w = world().await;
    let mut refusals = 0;
    for (method, template, access) in TABLE {
        if *access == Open {
            continue;
        }
        let own = path(template, "acme");
        let other = path(template, "beta");
        refused(
            &w,
            "no token",
            (method, template),
            &other,
            None,
            401,
            "no_token",
        )
        .await;
        for (what, token) in &w.bad {
            refused(
                &w,
                what,
                (method, template),
                &other,
                Some(token),
                401,
                "bad_token",
            )
            .await;
        }
        refusals += 1 + w.bad.len();
        let acme = Some(w.acme.as_str());
        match access {
            Operator => {
                let what = "a tenant token on an operator route";
                refused(
                    &w,
                    what,
                    (method, template),
                    &own,
                    acme,
                    403,
                    "operator_only",
                )
                .await;
                refusals += 1;
            }
            OwnTenant => {
                let what = "a tenant token on another tenant";
                refused(
                    &w,
                    what,
                    (method, template),
                    &other,
                    acme,
                    404,
                    "other_tenant",
                )
                .await;
                refusals += 1;
            }
            OwnTenantOperatorWrites => {
                let what = "a tenant token on another tenant";
                refused(
                    &w,
                    what,
                    (method, template),
                    &other,
                    acme,
                    404,
                    "other_tenant",
                )
                .await;
                let what = "a tenant token writing its own tenant";
                refused(&w, what, (method, template), &own, acme, 403, "not_allowed").await;
                refusals += 2;
            }
            AnyToken | Open => {}
        }
    }
    assert!(refusals > 300, "{refusals} refusals checked");
}

#[tokio::test]
async fn open_routes_and_own_reads_still_answer() {
    let w = world().await;
    for (method, template, access) in TABLE {
        if *method != "GET" {
            continue;
        }
        let url = path(template, "acme");
        let resp = match access {
            Open => send(w.api.anon(Method::GET, &url)).await,
            AnyToken | OwnTenant => send(w.api.with(&w.acme, Method::GET, &url)).await,
            _ => continue,
        };
        let status = resp.status().as_u16();
        // Reads of the tenant's own objects: never 401, and never 404 for the tenant itself
        // (403 is a missing contract or option: `gated` routes).
        assert!(
            !matches!(status, 401 | 500..),
            "{method} {url} as {access:?}: {status}"
        );
        if matches!(*template, "/v1/tenants/{id}" | "/v1/tenants/{id}/lists") {
            assert_eq!(status, 200, "{url}");
        }
    }
}
