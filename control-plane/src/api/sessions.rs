//! `GET /v1/sessions`: usage against limit per tenant and region, from the leader's soft state
//! (a follower forwards to the leader); `POST /v1/quota/exchange`: nodes relay their edges'
//! reports to the leader and get the edges' grants back (see `docs/distribution.md`).

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::auth::Operator;
use super::error::{ApiError, ApiResult};
use super::extract::{ApiObject, ApiQuery};
use super::ApiContext;
use crate::distribute::leases::RegionUsage;
use crate::distribute::pump::{Exchange, ExchangeAnswer};

/// `?tenant=T&region=R` filter.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SessionQuery {
    pub tenant: Option<String>,
    pub region: Option<String>,
}

/// The answer of `GET /v1/sessions`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SessionList {
    /// The leader that answered.
    pub node_id: u64,
    pub items: Vec<RegionUsage>,
}

/// Not leading: have the middleware forward to the leader (or say there is none).
pub(super) async fn not_leading(ctx: &ApiContext) -> ApiError {
    match ctx.store.status().await {
        Ok(s) => match s.nodes.iter().find(|n| Some(n.id) == s.leader) {
            Some(l) if l.id != ctx.node_id => ApiError::NotLeader(l.addr.api.clone()),
            _ => ApiError::NoLeader("no leader holds session leases right now".into()),
        },
        Err(e) => e.into(),
    }
}

/// `GET /v1/sessions` (operator).
pub async fn list(
    State(ctx): State<Arc<ApiContext>>,
    Operator: Operator,
    ApiQuery(q): ApiQuery<SessionQuery>,
) -> ApiResult<Json<SessionList>> {
    let Some(items) = ctx.leases.usage() else {
        return Err(not_leading(&ctx).await);
    };
    let items = items
        .iter()
        .filter(|u| q.tenant.as_ref().is_none_or(|t| **t == *u.tenant))
        .filter(|u| q.region.as_ref().is_none_or(|r| **r == *u.region))
        .cloned()
        .collect();
    Ok(Json(SessionList {
        node_id: ctx.node_id,
        items,
    }))
}

/// `POST /v1/quota/exchange` (operator; what nodes send the leader).
pub async fn exchange(
    State(ctx): State<Arc<ApiContext>>,
    Operator: Operator,
    ApiObject(body): ApiObject<Exchange>,
) -> ApiResult<Json<ExchangeAnswer>> {
    // Off the async workers: it waits for the leases' lock, which a round holds for a tenth of
    // a second and more at fleet scale.
    let leases = Arc::clone(&ctx.leases);
    let answer = tokio::task::spawn_blocking(move || leases.exchange(body.reports, &body.edges))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "the lease exchange failed");
            ApiError::Internal
        })?;
    match answer {
        Some(answer) => Ok(Json(answer)),
        None => Err(not_leading(&ctx).await),
    }
}
