//! The tenant's webhooks page: its registered webhooks (id, URL; never the secret) and the
//! recent delivery attempts, newest first, with status or error and the attempt number. The
//! delivery log is the leader's memory (its dispatcher delivers): on a follower the page asks
//! the leader with the session's token ([`super::relay`]), as `GET
//! /v1/tenants/{id}/webhook-deliveries` is forwarded for an API client.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use http::HeaderMap;
use serde_json::{json, Value};

use super::tenant::open;
use super::{relay, utc, Console};

type Cx = State<Arc<Console>>;

/// Attempts shown (the log keeps [`crate::webhooks::log::KEEP`] per tenant).
const SHOWN: usize = 100;

/// `GET /ui/t/{id}/webhooks`.
pub async fn page(State(c): Cx, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let (page, state) = match open(&c, &headers, &id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let hooks: Vec<Value> = state
        .webhooks
        .get(&id)
        .map(|m| {
            m.values()
                .map(|w| json!({ "id": w.id, "url": w.url, "since": w.created_version }))
                .collect()
        })
        .unwrap_or_default();
    let attempts = match relay::leader(&c.api).await {
        Ok(None) => Ok(serde_json::to_value(c.api.webhooks.log.of(&id)).unwrap_or_default()),
        Ok(Some(leader)) => {
            let call = relay::Call::get(format!(
                "/v1/tenants/{}/webhook-deliveries",
                relay::seg(&id)
            ));
            relay::send(&c.api, &leader, &page.session.credential, call)
                .await
                .map(|(body, _)| body["items"].clone())
        }
        Err(e) => Err(e),
    };
    let (items, error) = match attempts {
        Ok(Value::Array(items)) => (items, None),
        Ok(_) => (Vec::new(), None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    let recent: Vec<Value> = items
        .into_iter()
        .rev()
        .take(SHOWN)
        .map(|mut a| {
            a["at"] = json!(utc(a["at_ms"].as_u64().unwrap_or_default()));
            a
        })
        .collect();
    let data = json!({ "tenant": id, "section": "webhooks", "hooks": hooks,
        "attempts": recent, "error": error });
    c.render(&page, "webhooks.html", data)
}
