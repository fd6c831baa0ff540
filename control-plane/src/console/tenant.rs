//! The tenant's pages: overview (sessions against the limit, contracts, options, template
//! subscriptions with the diff of their last change), lists (edited with the API's validation
//! and `If-Match`) and explain; the PAC page is [`super::pac`], webhooks [`super::deliveries`].
//! Each page first checks the signed-in principal's scope ([`super::scope`]).

use std::sync::Arc;

use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use breakout_policy::NamedList;
use http::HeaderMap;
use serde::Deserialize;
use serde_json::{json, Value};

use super::i18n::Lang;
use super::series::chart;
use super::{relay, scope, Console, Page};
use crate::api::error::{no_tenant, ApiError};
use crate::api::explain::{explain as explain_route, DEFAULT_PORT};
use crate::api::lists::parse_entry;
use crate::api::reply::tenant_view_on;
use crate::state::{may_update_lists, Command, PutList, State as Data};
use crate::store::Consistency;

type Cx = State<Arc<Console>>;

/// The signed-in page for tenant `id` and the state, or the answer to send instead.
pub(super) async fn open(
    c: &Console,
    headers: &HeaderMap,
    id: &str,
) -> Result<(Page, Arc<Data>), Response> {
    let page = c.page(headers).map_err(|r| *r)?;
    if let Err(e) = scope(&page.session.principal, id) {
        return Err(c.error(&page, e));
    }
    let state = match c.api.read(Consistency::Stale).await {
        Ok(s) => s,
        Err(e) => return Err(c.error(&page, e)),
    };
    if !state.tenants.contains_key(id) {
        return Err(c.error(&page, no_tenant(id)));
    }
    Ok((page, state))
}

/// `GET /ui/t/{id}`.
pub async fn overview(State(c): Cx, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let (page, state) = match open(&c, &headers, &id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(view) = tenant_view_on(&state, &id, c.api.today()) else {
        return c.error(&page, no_tenant(&id));
    };
    let (series, series_error) = super::usage::series(&c, &page, &id).await;
    let charts: Vec<Value> = series
        .iter()
        .map(|s| json!({ "region": s.region, "chart": chart(&s.points, 600, 160) }))
        .collect();
    // Usage now: the leader's leases; on a follower, the newest point of the leader's series.
    let usage: Vec<Value> = match c.api.leases.usage() {
        Some(live) => live
            .iter()
            .filter(|u| *u.tenant == *id)
            .map(|u| json!({ "region": u.region, "sessions": u.sessions, "refused": u.refused }))
            .collect(),
        None => series
            .iter()
            .filter_map(|s| {
                let p = s.points.last()?;
                Some(json!({ "region": s.region, "sessions": p.sessions, "refused": p.refused }))
            })
            .collect(),
    };
    let (refusals, refusals_error) = match super::refusals::of_tenant(&c, &page, &id).await {
        Ok(r) => (r, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    let home = view.tenant.region.clone();
    let refusals = super::refusals::rows(&refusals, home.as_deref(), page.lang == Lang::Ja);
    let held = state.contracts.get(&id).cloned().unwrap_or_default();
    let day = c.api.today();
    let contracts: Vec<Value> = held
        .contracts
        .iter()
        .map(|k| {
            json!({ "id": k.id, "service": compact(&k.service), "term": compact(&k.term),
                "in_force": k.term.in_force(day) })
        })
        .collect();
    let options: Vec<Value> = held
        .options
        .iter()
        .map(|o| {
            json!({ "id": o.id, "kind": compact(&o.kind), "term": compact(&o.term),
            "in_force": o.term.in_force(day) })
        })
        .collect();
    let subscriptions: Vec<Value> = state
        .subscriptions
        .get(&id)
        .map(|subs| {
            subs.iter()
                .map(|(item, s)| {
                    let live = state.templates.get(item).and_then(|r| r.live_version());
                    let diff = live.and_then(|v| v.diff.as_ref());
                    json!({ "item": item.to_string(), "subscription": compact(s),
                        "live": live.map(|v| v.number),
                        "source_version": live.map(|v| v.content.source_version.clone()),
                        "fetched": live.map(|v| super::utc(v.fetched_at_ms)),
                        "approved_by": live.and_then(|v| v.approved_by.clone()),
                        "changes": diff.map(|d| d.counts()),
                        "diff": diff.map(super::diffview::view) })
                })
                .collect()
        })
        .unwrap_or_default();
    let data = json!({
        "tenant": id, "section": "overview", "view": view, "charts": charts, "usage": usage,
        "series_error": series_error, "refusals": refusals, "refusals_error": refusals_error,
        "contracts": contracts, "options": options, "subscriptions": subscriptions,
    });
    c.render(&page, "overview.html", data)
}

/// A value for people: a string as is, an object as `key: value · …` (nulls and `false` left
/// out, `_` read as a space), anything else as JSON.
fn compact(v: &impl serde::Serialize) -> String {
    fn plain(v: &Value) -> String {
        match v {
            Value::String(s) => s.clone(),
            Value::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join(", "),
            Value::Object(o) => o
                .iter()
                .filter(|(_, v)| !v.is_null() && *v != &Value::Bool(false))
                .map(|(k, v)| format!("{}: {}", k.replace('_', " "), plain(v)))
                .collect::<Vec<_>>()
                .join(" · "),
            other => other.to_string(),
        }
    }
    serde_json::to_value(v)
        .map(|v| plain(&v))
        .unwrap_or_default()
}

/// `GET /ui/t/{id}/lists`.
pub async fn lists(State(c): Cx, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let (page, state) = match open(&c, &headers, &id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    lists_page(&c, &page, &state, &id, None)
}

/// What a failed save shows: the list, the submitted text, and an error per bad line.
struct Attempt {
    name: String,
    text: String,
    errors: Vec<Value>,
    message: Option<String>,
}

fn lists_page(
    c: &Console,
    page: &Page,
    state: &Data,
    id: &str,
    attempt: Option<Attempt>,
) -> Response {
    let Some(record) = state.tenants.get(id) else {
        return c.error(page, no_tenant(id));
    };
    let mut names: Vec<String> = record.tenant.lists.keys().cloned().collect();
    // A tenant without lists starts its blocklist here.
    if names.is_empty() {
        names.insert(0, "blocklist".into());
    }
    let lists: Vec<Value> = names
        .iter()
        .map(|name| {
            let stored = record
                .tenant
                .lists
                .get(name)
                .map(text_of)
                .unwrap_or_default();
            let failed = attempt.as_ref().filter(|a| &a.name == name);
            json!({
                "name": name,
                "text": failed.map_or(stored, |a| a.text.clone()),
                "errors": failed.map(|a| a.errors.clone()).unwrap_or_default(),
                "message": failed.and_then(|a| a.message.clone()),
                "used": record.tenant.rules.iter().any(|r| r.lists.contains(name)),
            })
        })
        .collect();
    let gate = match &page.session.principal {
        crate::api::auth::Principal::Tenant(t) => may_update_lists(state, t, c.api.today()).err(),
        crate::api::auth::Principal::Operator => None,
    };
    let data = json!({ "tenant": id, "section": "lists", "lists": lists,
        "if_match": record.changed_version, "gate": gate });
    let mut resp = c.render(page, "lists.html", data);
    if attempt.is_some() {
        *resp.status_mut() = http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    resp
}

fn text_of(list: &NamedList) -> String {
    list.entries
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[derive(Deserialize)]
pub struct ListForm {
    csrf: String,
    if_match: u64,
    entries: String,
}

/// `POST /ui/t/{id}/lists/{name}`: every line checked with the API's rule; nothing is written
/// unless all are valid; the write carries `If-Match` on the version the page showed.
pub async fn save_list(
    State(c): Cx,
    headers: HeaderMap,
    Path((id, name)): Path<(String, String)>,
    Form(f): Form<ListForm>,
) -> Response {
    let (page, state) = match open(&c, &headers, &id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if !page.session.csrf_ok(&f.csrf) {
        return c.error(&page, ApiError::Forbidden);
    }
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in f.entries.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match parse_entry(line) {
            Ok(d) => entries.push(d),
            Err(why) => errors.push(json!({ "line": i + 1, "entry": line, "why": why })),
        }
    }
    let failed = |errors, message| Attempt {
        name: name.clone(),
        text: f.entries.clone(),
        errors,
        message,
    };
    if !errors.is_empty() {
        return lists_page(&c, &page, &state, &id, Some(failed(errors, None)));
    }
    if let crate::api::auth::Principal::Tenant(t) = &page.session.principal {
        if let Err(why) = may_update_lists(&state, t, c.api.today()) {
            return lists_page(&c, &page, &state, &id, Some(failed(Vec::new(), Some(why))));
        }
    }
    let call = relay::Call {
        method: http::Method::PUT,
        path: format!(
            "/v1/tenants/{}/lists/{}",
            relay::seg(&id),
            relay::seg(&name)
        ),
        body: Some(json!(entries
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>())),
        if_match: Some(f.if_match),
    };
    let command = Command::PutList(PutList {
        tenant: id.clone(),
        name: name.clone(),
        list: NamedList::new(entries),
        if_match: Some(f.if_match),
    });
    match c.write(&page, command, call).await {
        Ok(version) => Redirect::to(&format!("/ui/t/{id}/lists?saved={version}")).into_response(),
        Err(e) => {
            let message = match e {
                ApiError::PreconditionFailed(_) => {
                    super::i18n::words(page.lang)["changed_meanwhile"].to_string()
                }
                other => other.to_string(),
            };
            let state = c.api.read(Consistency::Stale).await.unwrap_or(state);
            lists_page(
                &c,
                &page,
                &state,
                &id,
                Some(failed(Vec::new(), Some(message))),
            )
        }
    }
}

#[derive(Deserialize)]
pub struct ExplainForm {
    host: Option<String>,
    port: Option<String>,
}

/// `GET /ui/t/{id}/explain?host=H&port=P`: [`crate::api::explain::explain`], as the API answers.
pub async fn explain(
    State(c): Cx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<ExplainForm>,
) -> Response {
    let (page, state) = match open(&c, &headers, &id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let host = q.host.unwrap_or_default().trim().to_string();
    let port_text = q.port.unwrap_or_default().trim().to_string();
    let (answer, error) = if host.is_empty() {
        (None, None)
    } else {
        let port = if port_text.is_empty() {
            Ok(DEFAULT_PORT)
        } else {
            port_text
                .parse::<u16>()
                .map_err(|_| "port must be 0-65535".to_string())
        };
        match port.and_then(|p| explain_route(&state, &id, &host, p).map_err(|e| e.to_string())) {
            Ok(a) => (serde_json::to_value(a).ok(), None),
            Err(e) => (None, Some(e)),
        }
    };
    let data = json!({ "tenant": id, "section": "explain", "host": host, "port": port_text,
        "answer": answer, "error": error });
    c.render(&page, "explain.html", data)
}
