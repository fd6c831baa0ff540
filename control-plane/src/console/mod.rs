//! The web console at `/ui` on the API listener (docs/console.md): server-side rendered pages
//! (minijinja templates in `templates/`, compiled into the binary; no JavaScript, no front-end
//! build) for tenants and operators. A page calls the functions the API handlers call (token
//! check, scope, explain, list validation, writes through [`ApiContext::write`]), so the
//! console and the API cannot disagree on a rule.

mod deliveries;
mod diffview;
mod i18n;
mod operator;
mod pac;
pub mod refusals;
mod relay;
pub mod series;
pub mod session;
mod tenant;
mod usage;

use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use axum::extract::{ConnectInfo, Form, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use http::{header, HeaderMap, StatusCode};
use minijinja::Environment;
use serde::Deserialize;
use serde_json::{json, Value};

use self::i18n::Lang;
use self::series::Series;
use self::session::{Session, Sessions};
use crate::api::auth::{sign_in, Principal};
use crate::api::error::ApiError;
use crate::api::ApiContext;

/// What the console's handlers share.
pub struct Console {
    pub api: Arc<ApiContext>,
    pub sessions: Sessions,
    pub series: Mutex<Series>,
    env: Environment<'static>,
}

type Cx = State<Arc<Console>>;

/// The API router with the console mounted at `/ui` (and `/` redirecting there), and the task
/// that samples session usage for the charts (it ends when the router is dropped).
pub fn app(ctx: Arc<ApiContext>) -> Router {
    let console = Arc::new(Console {
        api: Arc::clone(&ctx),
        sessions: Sessions::default(),
        series: Mutex::default(),
        env: environment(),
    });
    tokio::spawn(sample(Arc::downgrade(&console)));
    let ui = Router::new()
        .route("/", get(|| async { Redirect::to("/ui") }))
        .route("/ui", get(home))
        .route("/ui/", get(home))
        .route("/ui/console.css", get(css))
        .route("/ui/login", get(login_page).post(login))
        .route("/ui/logout", post(logout))
        .route("/ui/lang/{code}", get(language))
        .route("/ui/t/{id}", get(tenant::overview))
        .route("/ui/t/{id}/lists", get(tenant::lists))
        .route("/ui/t/{id}/lists/{name}", post(tenant::save_list))
        .route("/ui/t/{id}/explain", get(tenant::explain))
        .route("/ui/t/{id}/pac", get(pac::page))
        .route("/ui/t/{id}/webhooks", get(deliveries::page))
        .route("/ui/t/{id}/series.json", get(usage::series_json))
        .route("/ui/op", get(operator::overview))
        .route("/ui/op/audit", get(operator::audit))
        .route(
            "/ui/op/templates/{item}/{cid}/{verdict}",
            post(operator::decide),
        )
        .with_state(console);
    crate::api::router(ctx).merge(ui)
}

/// Samples the leader's session usage every [`series::STEP`] while the console exists: its
/// own leases' when this node leads, else the leader's (`GET /v1/sessions` with the node's
/// operator token). Every node so keeps the series, and a node that becomes leader has the
/// chart up to its last sample before the change ([`usage::leader_usage`]).
async fn sample(console: Weak<Console>) {
    let mut tick = tokio::time::interval(series::STEP);
    loop {
        tick.tick().await;
        let Some(c) = console.upgrade() else { return };
        let usage = match c.api.leases.usage() {
            Some(u) => Some(u),
            None => usage::leader_usage(&c.api).await.map(Arc::new),
        };
        if let Some(usage) = usage {
            let now = c.api.clock.now_ms();
            c.series
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .record(now, &usage);
        }
    }
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    let templates = [
        ("base.html", include_str!("templates/base.html")),
        ("login.html", include_str!("templates/login.html")),
        ("message.html", include_str!("templates/message.html")),
        ("overview.html", include_str!("templates/overview.html")),
        ("lists.html", include_str!("templates/lists.html")),
        ("explain.html", include_str!("templates/explain.html")),
        ("pac.html", include_str!("templates/pac.html")),
        ("webhooks.html", include_str!("templates/webhooks.html")),
        ("diff.html", include_str!("templates/diff.html")),
        ("operator.html", include_str!("templates/operator.html")),
        ("audit.html", include_str!("templates/audit.html")),
    ];
    for (name, source) in templates {
        if let Err(e) = env.add_template(name, source) {
            // The templates are compiled into the binary; a test renders every one.
            tracing::error!(template = name, error = %e, "console template does not parse");
        }
    }
    env
}

/// One page being answered: who, in which language, and the session's CSRF token.
pub struct Page {
    pub session: Session,
    pub lang: Lang,
}

impl Console {
    /// The signed-in session, or a redirect to the sign-in page.
    pub fn page(&self, headers: &HeaderMap) -> Result<Page, Box<Response>> {
        match self.sessions.get(headers, Instant::now()) {
            Some(session) => Ok(Page {
                session,
                lang: Lang::of(headers),
            }),
            None => Err(Box::new(Redirect::to("/ui/login").into_response())),
        }
    }

    /// Renders `template` with `data`, the words of the page's language, and who is signed in.
    pub fn render(&self, page: &Page, template: &str, mut data: Value) -> Response {
        let (who, tenant) = match &page.session.principal {
            Principal::Operator => ("operator".to_string(), Value::Null),
            Principal::Tenant(id) => (format!("tenant {id}"), json!(id)),
        };
        data["who"] = json!(who);
        data["own_tenant"] = tenant;
        data["operator"] = json!(page.session.principal == Principal::Operator);
        data["csrf"] = json!(page.session.csrf);
        self.render_with(page.lang, template, data, StatusCode::OK)
    }

    fn render_with(
        &self,
        lang: Lang,
        template: &str,
        mut data: Value,
        status: StatusCode,
    ) -> Response {
        data["t"] = json!(i18n::words(lang));
        data["lang"] = json!(lang.code());
        data["other_lang"] = json!(match lang {
            Lang::En => "ja",
            Lang::Ja => "en",
        });
        let html = self
            .env
            .get_template(template)
            .and_then(|t| t.render(&data));
        match html {
            Ok(html) => {
                let mut resp = (status, Html(html)).into_response();
                let h = resp.headers_mut();
                h.insert(header::CACHE_CONTROL, "no-store".parse().expect("static"));
                h.insert(
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'"
                        .parse()
                        .expect("static"),
                );
                h.insert("x-content-type-options", "nosniff".parse().expect("static"));
                resp
            }
            Err(e) => {
                tracing::error!(template, error = %e, "console template failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "console template failed").into_response()
            }
        }
    }

    /// An API error as a page with its status (404 for another tenant, as the API says).
    pub fn error(&self, page: &Page, err: ApiError) -> Response {
        let status = err.status();
        let mut resp = self.render(
            page,
            "message.html",
            json!({ "title": status.canonical_reason(), "message": err.to_string() }),
        );
        *resp.status_mut() = status;
        resp
    }
}

impl Console {
    /// Proposes `command` as the page's principal; on a follower (the store answers "not the
    /// leader") makes `call`, the same write through the API, on the leader as the session
    /// ([`relay`]). The new store version.
    pub async fn write(
        &self,
        page: &Page,
        command: crate::state::Command,
        call: relay::Call,
    ) -> Result<u64, ApiError> {
        match self.api.write(&page.session.principal, command).await {
            Err(ApiError::NotLeader(leader)) => {
                let credential = &page.session.credential;
                let (_, version) = relay::send(&self.api, &leader, credential, call).await?;
                Ok(version.unwrap_or_default())
            }
            other => other,
        }
    }
}

/// 404 unless `principal` may see tenant `id` (the API's rule: a tenant token sees only its
/// own tenant, and another one looks like one that does not exist).
pub fn scope(principal: &Principal, id: &str) -> Result<(), ApiError> {
    match principal {
        Principal::Operator => Ok(()),
        Principal::Tenant(own) if own == id => Ok(()),
        Principal::Tenant(_) => Err(ApiError::NotFound("no such tenant".into())),
    }
}

/// The form field every console form carries.
#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    pub csrf: String,
}

async fn home(State(c): Cx, headers: HeaderMap) -> Response {
    match c.page(&headers) {
        Ok(p) => match &p.session.principal {
            Principal::Operator => Redirect::to("/ui/op").into_response(),
            Principal::Tenant(id) => Redirect::to(&format!("/ui/t/{id}")).into_response(),
        },
        Err(r) => *r,
    }
}

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        include_str!("templates/console.css"),
    )
        .into_response()
}

async fn login_page(State(c): Cx, headers: HeaderMap) -> Response {
    login_form(&c, &headers, None, StatusCode::OK)
}

fn login_form(
    c: &Console,
    headers: &HeaderMap,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let pre = crate::crypto::random_secret();
    let data = json!({ "pre": pre, "error": error, "who": null, "operator": false });
    let mut resp = c.render_with(Lang::of(headers), "login.html", data, status);
    let cookie = session::set_cookie(
        session::PRE_COOKIE,
        &pre,
        std::time::Duration::from_secs(1800),
        session::over_tls(headers),
    );
    if let Ok(v) = cookie.parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
    pre: String,
}

async fn login(
    State(c): Cx,
    ext: http::Extensions,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let ip = ext
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let lang = Lang::of(&headers);
    let pre_ok = session::cookie(&headers, session::PRE_COOKIE)
        .is_some_and(|v| crate::crypto::constant_time_eq(v.as_bytes(), f.pre.as_bytes()));
    if !pre_ok {
        let words = i18n::words(lang);
        return login_form(
            &c,
            &headers,
            Some(words["bad_token"]),
            StatusCode::FORBIDDEN,
        );
    }
    match sign_in(&c.api, f.token.trim(), ip).await {
        Ok(principal) => {
            let credential = session::Credential::new(f.token.trim());
            let s = c.sessions.create(principal, credential, Instant::now());
            let tls = session::over_tls(&headers);
            let mut resp = Redirect::to("/ui").into_response();
            for cookie in [
                session::set_cookie(session::COOKIE, &s.id, session::TTL, tls),
                session::set_cookie(session::PRE_COOKIE, "", std::time::Duration::ZERO, tls),
            ] {
                if let Ok(v) = cookie.parse() {
                    resp.headers_mut().append(header::SET_COOKIE, v);
                }
            }
            resp
        }
        // 401 for a bad token, 429 once the address has failed too often.
        Err(e) => {
            let words = i18n::words(lang);
            login_form(&c, &headers, Some(words["bad_token"]), e.status())
        }
    }
}

async fn logout(State(c): Cx, headers: HeaderMap, Form(f): Form<CsrfOnly>) -> Response {
    let page = match c.page(&headers) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    if !page.session.csrf_ok(&f.csrf) {
        return c.error(&page, ApiError::Forbidden);
    }
    c.sessions.remove(&page.session.id);
    let mut resp = Redirect::to("/ui/login").into_response();
    let cookie = session::set_cookie(
        session::COOKIE,
        "",
        std::time::Duration::ZERO,
        session::over_tls(&headers),
    );
    if let Ok(v) = cookie.parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

#[derive(Deserialize)]
struct Back {
    back: Option<String>,
}

/// `/ui/lang/{en|ja}?back=/ui/…`: remembers the language in a cookie and goes back.
async fn language(
    axum::extract::Path(code): axum::extract::Path<String>,
    headers: HeaderMap,
    Query(q): Query<Back>,
) -> Response {
    let Some(lang) = Lang::parse(&code) else {
        return (StatusCode::NOT_FOUND, "no such language").into_response();
    };
    // Only a path of the console: never an open redirect.
    let back = q
        .back
        .filter(|b| b.starts_with("/ui") && !b.contains("//") && !b.contains('\\'))
        .unwrap_or_else(|| "/ui".into());
    let mut resp = Redirect::to(&back).into_response();
    let cookie = session::set_cookie(
        session::LANG_COOKIE,
        lang.code(),
        std::time::Duration::from_secs(365 * 86400),
        session::over_tls(&headers),
    );
    if let Ok(v) = cookie.parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM:SS`.
pub fn utc(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}
