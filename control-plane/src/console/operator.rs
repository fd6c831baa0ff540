//! The operator's pages: regions and edges, control-plane nodes, template sources with their
//! quarantined candidates (approve/reject beside the diff), tenants nearest their limits, and
//! the audit log. Any node shows the whole fleet: the edges of every node (merged as `GET
//! /v1/edges` merges them) and the leader's usage (asked of it on a follower). Operator only: a tenant session gets 404, as the API's operator routes
//! refuse tenant tokens.

use std::sync::Arc;

use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::{HeaderMap, HeaderValue};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{relay, utc, Console, CsrfOnly, Page};
use crate::api::auth::Principal;
use crate::api::edges::{ask_peers, finish, EdgeList};
use crate::api::error::ApiError;
use crate::api::sessions::SessionList;
use crate::contracts::TemplateItem;
use crate::distribute::leases::RegionUsage;
use crate::state::{ApproveTemplate, Command, RejectTemplate};
use crate::store::Consistency;
use crate::templates::diff::diff;

type Cx = State<Arc<Console>>;

/// Usage against limit per (region, tenant): the leases' when this node leads, else the
/// leader's (`GET /v1/sessions` with the session's token), so a follower's page is complete.
async fn usage(c: &Console, page: &Page) -> (Vec<RegionUsage>, Option<String>) {
    if let Some(u) = c.api.leases.usage() {
        return (u.to_vec(), None);
    }
    let leader = match relay::leader(&c.api).await {
        Ok(Some(l)) => l,
        Ok(None) => {
            let u = c.api.leases.usage().map(|u| u.to_vec());
            return (u.unwrap_or_default(), None);
        }
        Err(e) => return (Vec::new(), Some(e.to_string())),
    };
    let call = relay::Call::get("/v1/sessions".to_string());
    match relay::send_as::<SessionList>(&c.api, &leader, &page.session.credential, call).await {
        Ok(l) => (l.items, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    }
}

fn operator_page(c: &Console, headers: &HeaderMap) -> Result<Page, Box<Response>> {
    let page = c.page(headers)?;
    if page.session.principal != Principal::Operator {
        return Err(Box::new(
            c.error(&page, ApiError::NotFound("no such page".into())),
        ));
    }
    Ok(page)
}

/// `GET /ui/op`.
pub async fn overview(State(c): Cx, headers: HeaderMap) -> Response {
    let page = match operator_page(&c, &headers) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let state = match c.api.read(Consistency::Stale).await {
        Ok(s) => s,
        Err(e) => return c.error(&page, e),
    };
    // Every node's edges, as `GET /v1/edges` merges them (asked with the session's token).
    let mut fleet = EdgeList {
        version: state.version,
        now_ms: c.api.clock.now_ms(),
        items: c.api.edges.list(c.api.clock.instant()),
        unreachable: Vec::new(),
    };
    let mut auth =
        HeaderValue::from_str(&format!("Bearer {}", page.session.credential.bearer())).ok();
    if let Some(a) = auth.as_mut() {
        a.set_sensitive(true);
    }
    ask_peers(&c.api, auth.as_ref(), &mut fleet).await;
    let edges = finish(fleet, None);
    let unreachable = edges.unreachable.clone();
    let regions: Vec<Value> = state
        .regions
        .values()
        .map(|r| {
            let here: Vec<Value> = edges
                .items
                .iter()
                .filter(|e| e.region == r.name)
                .map(|e| json!({ "id": e.edge_id, "address": e.address, "node": e.control_node,
                    "since": utc(e.connected_since_ms), "applied": e.applied_version,
                    "lag": e.lag, "sessions": e.sessions,
                    "nack": e.last_nack.as_ref().map(|n| n.reason.clone()) }))
                .collect();
            json!({ "name": r.name, "tenants": state.tenants_in_region(&r.name).count(), "edges": here })
        })
        .collect();
    let cluster = c.api.store.status().await.ok();
    let (usage, usage_error) = usage(&c, &page).await;
    let mut nearest: Vec<Value> = usage
        .into_iter()
        .map(|u| {
            let used = match u.limit {
                0 => 0.0,
                l => u.sessions as f64 * 100.0 / f64::from(l),
            };
            json!({ "tenant": u.tenant, "region": u.region, "sessions": u.sessions,
                "limit": u.limit, "refused": u.refused, "used": (used * 10.0).round() / 10.0 })
        })
        .collect();
    nearest.sort_by(|a, b| {
        b["used"]
            .as_f64()
            .partial_cmp(&a["used"].as_f64())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    nearest.truncate(20);
    let templates: Vec<Value> = TemplateItem::ALL
        .iter()
        .map(|item| {
            let rec = state.templates.get(item);
            let live = rec.and_then(|r| r.live_version());
            let quarantined: Vec<Value> = rec
                .map(|r| {
                    r.quarantine
                        .iter()
                        .map(|q| {
                            let d = match (live, &q.content) {
                                (Some(l), Some(content)) => Some(diff(&l.content, content)),
                                _ => None,
                            };
                            let view = d.as_ref().map(super::diffview::view);
                            json!({ "id": q.id, "reason": q.reason, "source_version": q.source_version,
                                "fetched": utc(q.fetched_at_ms), "entries": q.content.as_ref().map(|c| c.entries()),
                                "instance": q.instance, "diff": view })
                        })
                        .collect()
                })
                .unwrap_or_default();
            json!({ "item": item.to_string(), "versions": rec.map_or(0, |r| r.versions.len()),
                "live": live.map(|v| json!({ "number": v.number, "source_version": v.content.source_version,
                    "fetched": utc(v.fetched_at_ms), "entries": v.content.entries() })),
                "quarantined": quarantined, "withdrawn": state.withdrawn.get(item).map(|d| d.to_string()) })
        })
        .collect();
    let data = json!({ "section": "op", "version": state.version, "regions": regions,
        "cluster": cluster, "nearest": nearest, "templates": templates,
        "unreachable": unreachable, "usage_error": usage_error,
        "message": headers_message(&headers) });
    c.render(&page, "operator.html", data)
}

fn headers_message(_: &HeaderMap) -> Value {
    Value::Null
}

/// `POST /ui/op/templates/{item}/{cid}/{approve|reject}`: the API's template writes.
pub async fn decide(
    State(c): Cx,
    headers: HeaderMap,
    Path((item, candidate, verdict)): Path<(String, u32, String)>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    let page = match operator_page(&c, &headers) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    if !page.session.csrf_ok(&f.csrf) {
        return c.error(&page, ApiError::Forbidden);
    }
    let Ok(item) = item.parse::<TemplateItem>() else {
        return c.error(&page, ApiError::NotFound(format!("no template {item:?}")));
    };
    let command = match verdict.as_str() {
        "approve" => Command::ApproveTemplate(ApproveTemplate { item, candidate }),
        "reject" => Command::RejectTemplate(RejectTemplate { item, candidate }),
        _ => return c.error(&page, ApiError::NotFound("no such action".into())),
    };
    let call = relay::Call {
        method: http::Method::POST,
        path: format!("/v1/templates/{item}/candidates/{candidate}/{verdict}"),
        body: None,
        if_match: None,
    };
    match c.write(&page, command, call).await {
        Ok(_) => Redirect::to("/ui/op#templates").into_response(),
        Err(e) => c.error(&page, e),
    }
}

#[derive(Deserialize)]
pub struct AuditFilter {
    q: Option<String>,
    actor: Option<String>,
    result: Option<String>,
}

/// `GET /ui/op/audit?q=TEXT&actor=A&result=R`: newest first, at most 500.
pub async fn audit(State(c): Cx, headers: HeaderMap, Query(f): Query<AuditFilter>) -> Response {
    let page = match operator_page(&c, &headers) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let state = match c.api.read(Consistency::Stale).await {
        Ok(s) => s,
        Err(e) => return c.error(&page, e),
    };
    let q = f.q.clone().unwrap_or_default().to_lowercase();
    let actor = f.actor.clone().unwrap_or_default();
    let result = f.result.clone().unwrap_or_default();
    let items: Vec<Value> = state
        .audit
        .iter()
        .rev()
        .filter(|e| actor.is_empty() || e.actor.contains(&actor))
        .filter(|e| result.is_empty() || e.result.starts_with(&result))
        .filter(|e| {
            q.is_empty()
                || e.action.to_lowercase().contains(&q)
                || e.target.to_lowercase().contains(&q)
        })
        .take(500)
        .map(|e| {
            json!({ "version": e.version, "at": utc(e.at_ms), "actor": e.actor,
            "action": e.action, "target": e.target, "result": e.result })
        })
        .collect();
    let data = json!({ "section": "audit", "items": items, "q": f.q, "actor": f.actor, "result": f.result });
    c.render(&page, "audit.html", data)
}
