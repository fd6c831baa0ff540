//! What the console asks of the leader when the node answering the browser does not lead: a
//! write (a follower's store answers "not the leader"), or a read only the leader has (its
//! webhook delivery log, its session usage). The console's sessions live in the answering
//! node's memory, so the browser stays here and this node makes the API call on the leader
//! with the session's own token, exactly as the API's forwarding does for a bearer client
//! (one hop, `X-Breakout-Forwarded: 1`); the leader checks the token and the tenant's scope
//! again.

use bytes::Bytes;
use http::{header, HeaderValue, Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::session::Credential;
use crate::api::error::ApiError;
use crate::api::reply::VERSION_HEADER;
use crate::api::ApiContext;
use crate::http_client::FORWARDED_HEADER;

/// One API call to make on the leader.
pub struct Call {
    pub method: Method,
    /// The path and query (`/v1/tenants/acme/lists/blocklist`).
    pub path: String,
    pub body: Option<Value>,
    pub if_match: Option<u64>,
}

impl Call {
    pub fn get(path: String) -> Call {
        Call {
            method: Method::GET,
            path,
            body: None,
            if_match: None,
        }
    }
}

/// `raw` as one path segment (everything but unreserved characters percent-encoded).
pub fn seg(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The leader's API address, or `None` when this node leads.
pub async fn leader(ctx: &ApiContext) -> Result<Option<String>, ApiError> {
    let status = ctx.store.status().await?;
    if status.leader == Some(ctx.node_id) {
        return Ok(None);
    }
    status
        .nodes
        .iter()
        .find(|n| Some(n.id) == status.leader)
        .map(|n| Some(n.addr.api.clone()))
        .ok_or_else(|| ApiError::NoLeader("no leader is known; retry shortly".into()))
}

/// Makes `call` on the leader at `leader_api` as `credential`: the answer's JSON (and the
/// store version of a write), or the leader's refusal as the same [`ApiError`].
pub async fn send(
    ctx: &ApiContext,
    leader_api: &str,
    credential: &Credential,
    call: Call,
) -> Result<(Value, Option<u64>), ApiError> {
    let answer = fetch(ctx, leader_api, credential, call).await?;
    let body: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    if answer.status.is_success() {
        let version = answer
            .version
            .or_else(|| body.get("version").and_then(Value::as_u64));
        return Ok((body, version));
    }
    Err(refusal(answer.status.as_u16(), &body))
}

/// [`send`] for an answer read as `T` and possibly megabytes long (the leader's usage of
/// 100,000 tenants): parsed straight into `T`, not through a [`Value`] (a map per row), and
/// off the async workers, which the node's edge sessions share.
pub async fn send_as<T>(
    ctx: &ApiContext,
    leader_api: &str,
    credential: &Credential,
    call: Call,
) -> Result<T, ApiError>
where
    T: DeserializeOwned + Send + 'static,
{
    let answer = fetch(ctx, leader_api, credential, call).await?;
    if !answer.status.is_success() {
        let body: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        return Err(refusal(answer.status.as_u16(), &body));
    }
    let parsed = tokio::task::spawn_blocking(move || serde_json::from_slice::<T>(&answer.body))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "console: reading the leader's answer failed");
            ApiError::Internal
        })?;
    parsed.map_err(|e| {
        tracing::warn!(leader = leader_api, error = %e, "console: the leader's answer did not parse");
        ApiError::NoLeader(format!("the leader at {leader_api} answered something unreadable"))
    })
}

/// What the leader answered: its status, the store version it named, and the body.
struct Answer {
    status: StatusCode,
    version: Option<u64>,
    body: Bytes,
}

async fn fetch(
    ctx: &ApiContext,
    leader_api: &str,
    credential: &Credential,
    call: Call,
) -> Result<Answer, ApiError> {
    let mut req = ctx
        .client
        .request(call.method, format!("http://{leader_api}{}", call.path))
        .bearer_auth(credential.bearer())
        .header(FORWARDED_HEADER.clone(), HeaderValue::from_static("1"));
    if let Some(v) = call.if_match {
        req = req.header(header::IF_MATCH, format!("\"{v}\""));
    }
    if let Some(body) = &call.body {
        req = req.json(body);
    }
    let resp = req.send().await.map_err(|e| {
        tracing::warn!(leader = leader_api, error = %e, "console: relaying to the leader failed");
        ApiError::NoLeader(format!("the leader at {leader_api} did not answer"))
    })?;
    let status = resp.status();
    let version = resp
        .headers()
        .get(&VERSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let body = resp.bytes().await.unwrap_or_default();
    Ok(Answer {
        status,
        version,
        body,
    })
}

/// The leader's `{"error": {"code", "message"}}` as the error this node would have answered.
pub fn refusal(status: u16, body: &Value) -> ApiError {
    let code = body["error"]["code"].as_str().unwrap_or_default();
    let message = body["error"]["message"]
        .as_str()
        .unwrap_or("the leader refused")
        .to_string();
    match code {
        "invalid" => ApiError::Invalid(message),
        "unauthorized" => ApiError::Unauthorized,
        "forbidden" => ApiError::Denied(message),
        "not_found" => ApiError::NotFound(message),
        "conflict" => ApiError::Conflict(message),
        "quota_exceeded" => ApiError::QuotaExceeded(message),
        "precondition_failed" => ApiError::PreconditionFailed(message),
        "idempotency_key_reused" => ApiError::KeyReused(message),
        "rate_limited" => ApiError::RateLimited(std::time::Duration::from_secs(1)),
        "internal" => ApiError::Internal,
        _ => ApiError::NoLeader(format!("the leader answered {status}: {message}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_leaders_refusal_keeps_its_kind() {
        let body = |code: &str| json!({ "error": { "code": code, "message": "m" } });
        assert!(matches!(
            refusal(412, &body("precondition_failed")),
            ApiError::PreconditionFailed(m) if m == "m"
        ));
        assert!(matches!(
            refusal(404, &body("not_found")),
            ApiError::NotFound(_)
        ));
        assert!(matches!(
            refusal(400, &body("invalid")),
            ApiError::Invalid(_)
        ));
        assert!(matches!(
            refusal(401, &body("unauthorized")),
            ApiError::Unauthorized
        ));
        assert!(matches!(refusal(502, &Value::Null), ApiError::NoLeader(_)));
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(seg("demo-blocklist_1.x~"), "demo-blocklist_1.x~");
        assert_eq!(seg("a/b c?"), "a%2Fb%20c%3F");
    }
}
