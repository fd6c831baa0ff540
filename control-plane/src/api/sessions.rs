//! `GET /v1/sessions`: usage against limit per tenant and region, from the leader's soft state
//! (a follower forwards to the leader); `POST /v1/quota/exchange`: nodes relay their edges'
//! reports to the leader and get the edges' grants back (see `docs/distribution.md`).

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::header;
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
) -> ApiResult<Response> {
    let Some(items) = ctx.leases.usage() else {
        return Err(not_leading(&ctx).await);
    };
    let node_id = ctx.node_id;
    // At 100,000 tenants this is megabytes, asked for by every follower's console every
    // `console::series::STEP`: encoded from the round's rows as they are (no copy of them), off
    // the async workers that Raft and the edges' sessions share.
    let body = tokio::task::spawn_blocking(move || {
        serde_json::to_vec(&ListOut {
            node_id,
            items: Rows {
                items: &items,
                query: &q,
            },
        })
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|encoded| encoded.map_err(|e| e.to_string()))
    .map_err(|e| {
        tracing::error!(error = %e, "encoding the session usage failed");
        ApiError::Internal
    })?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// [`SessionList`] as it is encoded, borrowing the round's rows.
#[derive(Serialize)]
struct ListOut<'a> {
    node_id: u64,
    items: Rows<'a>,
}

/// The rows a query selects, encoded as a JSON array.
struct Rows<'a> {
    items: &'a [RegionUsage],
    query: &'a SessionQuery,
}

impl Serialize for Rows<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let q = self.query;
        s.collect_seq(
            self.items
                .iter()
                .filter(|u| q.tenant.as_ref().is_none_or(|t| **t == *u.tenant))
                .filter(|u| q.region.as_ref().is_none_or(|r| **r == *u.region)),
        )
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn row(tenant: &str, region: &str, sessions: u64) -> RegionUsage {
        RegionUsage {
            region: region.into(),
            tenant: tenant.into(),
            limit: 10,
            sessions,
            ..RegionUsage::default()
        }
    }

    #[test]
    fn the_encoded_rows_read_back_as_the_list_the_query_selects() {
        let items = vec![
            row("acme", "tokyo", 1),
            row("acme", "osaka", 2),
            row("globex", "tokyo", 3),
        ];
        let cases = [
            (None, None, vec![0, 1, 2]),
            (Some("acme"), None, vec![0, 1]),
            (None, Some("tokyo"), vec![0, 2]),
            (Some("globex"), Some("osaka"), vec![]),
        ];
        for (tenant, region, picked) in cases {
            let query = SessionQuery {
                tenant: tenant.map(str::to_string),
                region: region.map(str::to_string),
            };
            let json = serde_json::to_vec(&ListOut {
                node_id: 7,
                items: Rows {
                    items: &items,
                    query: &query,
                },
            })
            .expect("encode");
            let list: SessionList = serde_json::from_slice(&json).expect("a SessionList");
            assert_eq!(list.node_id, 7);
            let expected: Vec<RegionUsage> = picked.iter().map(|&i| items[i].clone()).collect();
            assert_eq!(list.items, expected, "{tenant:?} {region:?}");
        }
    }
}
