//! The tenant's PAC page: the file its edges serve (rendered with their call over the tenant as
//! they get it), its URL, and a preview of proposed settings with the diff against the live
//! file (the comparison `breakoutctl pac show --diff` makes: bodies only, headers left out).
//! Read-only: settings are saved with `breakoutctl pac set` or `PUT /v1/tenants/{id}/pac`.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use breakout_policy::pac::{render_for_edge, PacSettings};
use breakout_policy::Tenant;
use http::HeaderMap;
use serde::Deserialize;
use serde_json::json;

use super::tenant::open;
use super::Console;
use crate::api::error::no_tenant;
use crate::pac_diff::{compare, Side};
use crate::state::served_tenant;

type Cx = State<Arc<Console>>;

/// Where the file says the proxy is when the settings name none (each edge writes its own
/// address there): a placeholder the renderer accepts (`.invalid` is reserved, RFC 2606).
const ANY_EDGE: &str = "edge.invalid:3128";

#[derive(Deserialize)]
pub struct PreviewForm {
    /// Proposed PAC settings as JSON.
    settings: Option<String>,
}

/// The file `tenant` gives with `settings` at `version`: text, or why not.
fn render(tenant: &Tenant, version: u64) -> Option<Result<String, String>> {
    let edge = tenant
        .pac
        .as_ref()
        .and_then(|p| p.proxies.first().cloned())
        .unwrap_or_else(|| ANY_EDGE.into());
    render_for_edge(tenant, &Default::default(), version, &edge)
        .map(|r| r.map(|p| p.text).map_err(|e| e.to_string()))
}

/// A unified diff's lines, each marked added, removed or context (the file headers too).
fn lines(unified: &str) -> Vec<serde_json::Value> {
    unified
        .lines()
        .map(|l| {
            let kind = match l.as_bytes().first() {
                Some(b'+') if !l.starts_with("+++") => "add",
                Some(b'-') if !l.starts_with("---") => "del",
                _ => "ctx",
            };
            json!({ "kind": kind, "text": l })
        })
        .collect()
}

/// `GET /ui/t/{id}/pac[?settings=JSON]`.
pub async fn page(
    State(c): Cx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(form): Query<PreviewForm>,
) -> Response {
    let (page, state) = match open(&c, &headers, &id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(record) = state.tenants.get(&id) else {
        return c.error(&page, no_tenant(&id));
    };
    let day = state.policy_day();
    let served = record
        .tenant
        .region
        .as_deref()
        .and_then(|r| served_tenant(&state, record, r, day));
    let live = served.as_ref().and_then(|t| render(t, state.version));
    let (text, error) = match &live {
        Some(Ok(text)) => (Some(text.clone()), None),
        Some(Err(e)) => (None, Some(e.clone())),
        None => (None, None),
    };
    let edge = served
        .as_ref()
        .and_then(|t| t.pac.as_ref())
        .and_then(|p| p.proxies.first().cloned())
        .unwrap_or_else(|| ANY_EDGE.into());
    let stored = record
        .tenant
        .pac
        .as_ref()
        .and_then(|p| serde_json::to_string_pretty(p).ok())
        .unwrap_or_else(|| "{\n  \"proxies\": []\n}".into());
    let proposed = form.settings.filter(|s| !s.trim().is_empty());
    let preview = proposed.as_deref().map(|raw| {
        let settings: PacSettings = match serde_json::from_str(raw) {
            Ok(s) => s,
            Err(e) => return json!({ "error": format!("settings: {e}") }),
        };
        // The tenant as its edges get it (or as stored while not served), with the proposal.
        let mut tenant = served.clone().unwrap_or_else(|| record.tenant.clone());
        tenant.pac = Some(settings);
        match render(&tenant, state.version) {
            Some(Ok(new)) => {
                let old = text.clone().unwrap_or_default();
                let live_side = Side {
                    label: "live",
                    text: &old,
                };
                let new_side = Side {
                    label: "preview",
                    text: &new,
                };
                let d = compare(&live_side, &new_side);
                json!({ "text": new, "differs": d.is_some(),
                    "lines": d.as_ref().map(|d| lines(&d.unified)).unwrap_or_default(),
                    "added": d.as_ref().map_or(0, |d| d.added),
                    "removed": d.as_ref().map_or(0, |d| d.removed) })
            }
            Some(Err(e)) => json!({ "error": e }),
            None => json!({ "error": "no settings" }),
        }
    });
    let data = json!({ "tenant": id, "section": "pac", "text": text, "error": error,
        "url": if edge == ANY_EDGE {
            format!("http://EDGE:PORT/pac/{id}.pac")
        } else {
            format!("http://{edge}/pac/{id}.pac")
        },
        "any_edge": edge == ANY_EDGE,
        "settings": proposed.unwrap_or(stored), "preview": preview });
    c.render(&page, "pac.html", data)
}
