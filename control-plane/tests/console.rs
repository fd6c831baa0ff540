//! The console at `/ui`: sign-in with a token exchanged for a session cookie, CSRF on every
//! form, sign-out, and a tenant that sees only its own tenant on every page.

use crate::api_common;
use crate::console_common;

use api_common::*;
use console_common::*;
use reqwest::Method;
use serde_json::json;

const TENANT_PAGES: &[&str] = &[
    "",
    "/lists",
    "/explain?host=www.example.com",
    "/pac",
    "/pac?settings=%7B%22proxies%22%3A%5B%5D%7D",
    "/webhooks",
];

#[tokio::test]
async fn every_page_needs_a_session_and_the_token_is_never_in_a_page() {
    let api = TestApi::start_console().await;
    setup(&api).await;
    let mut b = Browser::new(&api);
    for page in TENANT_PAGES {
        let p = b.get(&format!("/ui/t/acme{page}")).await;
        assert_eq!(p.status, 303, "{page}");
        assert_eq!(p.location.as_deref(), Some("/ui/login"), "{page}");
    }
    for page in ["/ui/op", "/ui/op/audit", "/ui"] {
        assert_eq!(b.get(page).await.location.as_deref(), Some("/ui/login"));
    }
    let p = b.sign_in("bk_nope_nope").await;
    assert_eq!(p.status, 401);
    assert!(p.html.contains("not valid"), "{}", p.html);

    let token = api.token("acme").await;
    let p = b.sign_in(&token).await;
    assert_eq!(p.status, 303);
    assert_eq!(p.location.as_deref(), Some("/ui"));
    assert_eq!(b.get("/ui").await.location.as_deref(), Some("/ui/t/acme"));
    for page in TENANT_PAGES {
        let p = b.get(&format!("/ui/t/acme{page}")).await;
        assert_eq!(p.status, 200, "{page}: {}", p.html);
        assert!(!p.html.contains(&token), "{page} shows the token");
        let secret = token.rsplit('_').next().unwrap_or_default();
        assert!(!p.html.contains(secret), "{page} shows the token's secret");
    }
    // Sign-out needs the CSRF token; then the session is gone.
    let p = b.post("/ui/logout", &[("csrf", "forged")]).await;
    assert_eq!(p.status, 403);
    let csrf = hidden(&b.get("/ui/t/acme").await.html, "csrf");
    let p = b.post("/ui/logout", &[("csrf", &csrf)]).await;
    assert_eq!(p.location.as_deref(), Some("/ui/login"));
    assert_eq!(b.get("/ui/t/acme").await.status, 303);
}

#[tokio::test]
async fn a_tenant_sees_only_its_own_tenant_on_every_page() {
    let api = TestApi::start_console().await;
    setup(&api).await;
    let token = api.token("acme").await;
    let mut b = Browser::new(&api);
    b.sign_in(&token).await;
    let csrf = hidden(&b.get("/ui/t/acme").await.html, "csrf");
    for target in ["other", "nobody"] {
        for page in TENANT_PAGES {
            let p = b.get(&format!("/ui/t/{target}{page}")).await;
            assert_eq!(p.status, 404, "{target}{page}");
            assert!(
                !p.html.contains("203.0.113"),
                "{target}{page} shows other's data"
            );
            assert!(!p.html.contains("secret-list"), "{target}{page}");
        }
        let p = b
            .post(
                &format!("/ui/t/{target}/lists/blocklist"),
                &[("csrf", &csrf), ("if_match", "1"), ("entries", "x.example")],
            )
            .await;
        assert_eq!(p.status, 404, "{target}");
    }
    for page in ["/ui/op", "/ui/op/audit"] {
        let p = b.get(page).await;
        assert_eq!(p.status, 404, "{page}");
        assert!(!p.html.contains("other"), "{page}");
    }
    let p = b
        .post(
            "/ui/op/templates/microsoft365/1/approve",
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(p.status, 404);
    // Nothing of other's changed.
    let (_, other) = status_json(send(api.op(Method::GET, "/v1/tenants/other")).await).await;
    assert!(other["lists"].get("blocklist").is_none(), "{other}");
    // Its own pages do not mention the other tenant either.
    for page in TENANT_PAGES {
        let p = b.get(&format!("/ui/t/acme{page}")).await;
        assert!(!p.html.contains("203.0.113"), "{page}");
        assert!(!p.html.contains("secret-list"), "{page}");
    }
}

#[tokio::test]
async fn lists_are_saved_only_when_every_entry_is_valid_with_if_match() {
    let api = TestApi::start_console().await;
    setup(&api).await;
    let token = api.token("acme").await;
    let mut b = Browser::new(&api);
    b.sign_in(&token).await;
    let lists = b.get("/ui/t/acme/lists").await;
    let csrf = hidden(&lists.html, "csrf");
    let version = hidden(&lists.html, "if_match");
    let entries = "good.example\nbad..example\n*.fine.example\nnot a host";
    let p = b
        .post(
            "/ui/t/acme/lists/blocklist",
            &[
                ("csrf", &csrf),
                ("if_match", &version),
                ("entries", entries),
            ],
        )
        .await;
    assert_eq!(p.status, 422, "{}", p.html);
    assert!(p.html.contains("line 2"), "{}", p.html);
    assert!(p.html.contains("bad..example"), "{}", p.html);
    assert!(p.html.contains("line 4"), "{}", p.html);
    assert!(p.html.contains("aria-invalid=\"true\""), "{}", p.html);
    let (_, view) = status_json(send(api.op(Method::GET, "/v1/tenants/acme")).await).await;
    assert!(
        view["lists"].get("blocklist").is_none(),
        "nothing saved: {view}"
    );

    // A forged CSRF token writes nothing.
    let p = b
        .post(
            "/ui/t/acme/lists/blocklist",
            &[
                ("csrf", "x"),
                ("if_match", &version),
                ("entries", "good.example"),
            ],
        )
        .await;
    assert_eq!(p.status, 403);

    let p = b
        .post(
            "/ui/t/acme/lists/blocklist",
            &[
                ("csrf", &csrf),
                ("if_match", &version),
                ("entries", "good.example\n*.fine.example\n"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.html);
    let (_, view) = status_json(send(api.op(Method::GET, "/v1/tenants/acme")).await).await;
    assert_eq!(
        view["lists"]["blocklist"]["entries"],
        json!(["good.example", "*.fine.example"]),
        "{view}"
    );
    // The audit log names the tenant as the writer, as through the API.
    let (_, audit) = status_json(send(api.op(Method::GET, "/v1/audit")).await).await;
    let last = audit["items"]
        .as_array()
        .and_then(|a| a.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(last["actor"], "tenant:acme", "{audit}");

    // The page's version is now stale: 412 shown, nothing overwritten.
    let p = b
        .post(
            "/ui/t/acme/lists/blocklist",
            &[
                ("csrf", &csrf),
                ("if_match", &version),
                ("entries", "other.example"),
            ],
        )
        .await;
    assert_eq!(p.status, 422);
    assert!(p.html.contains("changed since"), "{}", p.html);
    let (_, view) = status_json(send(api.op(Method::GET, "/v1/tenants/acme")).await).await;
    assert_eq!(view["lists"]["blocklist"]["entries"][0], "good.example");
}

#[tokio::test]
async fn explain_pac_operator_pages_and_japanese() {
    let api = TestApi::start_console().await;
    setup(&api).await;
    let mut b = Browser::new(&api);
    b.lang = "ja,en;q=0.5";
    let p = b.sign_in(ADMIN).await;
    assert_eq!(p.status, 303);
    assert_eq!(b.get("/ui").await.location.as_deref(), Some("/ui/op"));
    let p = b.get("/ui/op").await;
    assert_eq!(p.status, 200, "{}", p.html);
    assert!(p.html.contains("運用"), "Japanese by Accept-Language");
    assert!(p.html.contains("lang=\"ja\""));
    let p = b.get("/ui/t/acme/explain?host=10.1.2.3&port=443").await;
    assert_eq!(p.status, 200, "{}", p.html);
    assert!(
        p.html.contains("destination_ip_prohibited") || p.html.contains("block"),
        "{}",
        p.html
    );
    // The language switch: a cookie, and back to a console path only.
    let p = b.get("/ui/lang/en?back=/ui/op/audit").await;
    assert_eq!(p.location.as_deref(), Some("/ui/op/audit"));
    let p = b.get("/ui/lang/en?back=https://evil.example/").await;
    assert_eq!(p.location.as_deref(), Some("/ui"));
    let p = b.get("/ui/op/audit?actor=operator").await;
    assert_eq!(p.status, 200);
    assert!(p.html.contains("Audit log"), "English after the switch");
    assert!(p.html.contains("operator"));
    let p = b.get("/ui/t/acme/pac").await;
    assert_eq!(p.status, 200, "{}", p.html);
}
