//! The console at `/ui`: sign-in with a token exchanged for a session cookie, CSRF on every
//! form, sign-out, and a tenant that sees only its own tenant on every page.

mod api_common;

use api_common::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// A browser without a cookie jar: the cookies are kept here by hand.
struct Browser<'a> {
    api: &'a TestApi,
    http: reqwest::Client,
    cookies: Vec<(String, String)>,
    lang: &'static str,
}

struct Page {
    status: StatusCode,
    location: Option<String>,
    html: String,
}

impl<'a> Browser<'a> {
    fn new(api: &'a TestApi) -> Self {
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Browser {
            api,
            http,
            cookies: Vec::new(),
            lang: "en",
        }
    }

    async fn request(&mut self, method: Method, path: &str, form: Option<&[(&str, &str)]>) -> Page {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.api.base))
            .header("accept-language", self.lang);
        let jar: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !jar.is_empty() {
            req = req.header("cookie", jar.join("; "));
        }
        if let Some(form) = form {
            let body = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .finish();
            req = req
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body);
        }
        let resp = req.send().await.expect("request");
        for c in resp.headers().get_all("set-cookie") {
            let c = c.to_str().expect("ascii");
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').expect("name=value");
            assert!(
                attrs.contains("HttpOnly") && attrs.contains("SameSite=Strict"),
                "{c}"
            );
            self.cookies.retain(|(name, _)| name != k);
            if !attrs.contains("Max-Age=0") {
                self.cookies.push((k.to_string(), v.to_string()));
            }
        }
        let status = resp.status();
        let location = resp
            .headers()
            .get("location")
            .map(|l| l.to_str().expect("ascii").to_string());
        let html = resp.text().await.expect("body");
        Page {
            status,
            location,
            html,
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        self.request(Method::GET, path, None).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        self.request(Method::POST, path, Some(form)).await
    }

    async fn sign_in(&mut self, token: &str) -> Page {
        let form = self.get("/ui/login").await;
        assert_eq!(form.status, 200);
        let pre = hidden(&form.html, "pre");
        self.post("/ui/login", &[("token", token), ("pre", &pre)])
            .await
    }
}

/// The value of the hidden input `name` in `html`.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// acme and other in region eu; acme holds the list-update-api option.
async fn setup(api: &TestApi) {
    api.region("eu").await;
    api.tenant("acme", "eu", "198.51.100.0/24").await;
    api.tenant("other", "eu", "203.0.113.0/24").await;
    for id in ["acme", "other"] {
        let put = api
            .op(Method::PUT, &format!("/v1/tenants/{id}/attributes"))
            .json(&json!({ "private_backbone": true }));
        expect_version(send(put).await, 200).await;
        for order in [
            json!({ "kind": "list-template", "item": "microsoft365" }),
            json!({ "kind": "cloud-bypass", "capacity": 20000, "options": ["list-update-api", "pac"] }),
        ] {
            let req = api
                .op(Method::POST, &format!("/v1/tenants/{id}/contracts"))
                .json(&order);
            let (status, body) = status_json(send(req).await).await;
            assert_eq!(status, 201, "{body}");
        }
    }
    let req = api
        .op(Method::PUT, "/v1/tenants/other/lists/secret-list")
        .json(&json!(["other-secret.example"]));
    expect_version(send(req).await, 200).await;
}

const TENANT_PAGES: &[&str] = &["", "/lists", "/explain?host=www.example.com", "/pac"];

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
