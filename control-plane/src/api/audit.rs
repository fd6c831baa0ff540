//! `/v1/audit`: the write log, oldest first.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::auth::Operator;
use super::error::{ApiError, ApiResult};
use super::extract::{ApiQuery, ReadOpts};
use super::ApiContext;

/// Events per page when `limit` is not given, and the most a page may hold.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AuditQuery {
    /// Only events with a version greater than this.
    since: u64,
    limit: Option<usize>,
    stale: bool,
}

/// `GET /v1/audit?since=V&limit=N` (operator): `{version, items: [AuditEvent]}`, oldest first.
pub async fn list(
    State(ctx): State<Arc<ApiContext>>,
    Operator: Operator,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Response> {
    let state = ctx.read(ReadOpts { stale: q.stale }.consistency()).await?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if limit > MAX_LIMIT {
        return Err(ApiError::Invalid(format!(
            "limit: at most {MAX_LIMIT} events per page (ask again with since=)"
        )));
    }
    let items: Vec<_> = state
        .audit
        .iter()
        .filter(|e| e.version > q.since)
        .take(limit)
        .collect();
    Ok(Json(json!({ "version": state.version, "items": items })).into_response())
}
