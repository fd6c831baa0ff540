//! A tenant's session usage for its overview: the leader's sampled series (the chart) and its
//! usage now. Only the leader receives the edges' reports through its leases, so a follower's
//! console asks the leader's (`GET /ui/t/{id}/series.json` with the session's token, checked
//! there like an API bearer token): every node shows the same series. Every node also samples
//! the leader's usage into its own series ([`leader_usage`]), so a new leader's chart goes on
//! from the points before the change.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::series::Point;
use super::session::Credential;
use super::{relay, scope, Console, Page};
use crate::api::auth::Principal;
use crate::api::sessions::SessionList;
use crate::api::ApiContext;
use crate::distribute::leases::RegionUsage;

/// One region's series of a tenant.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RegionSeries {
    pub region: String,
    pub points: Vec<Point>,
}

/// The series as one node has them.
#[derive(Debug, Serialize, Deserialize)]
pub struct SeriesAnswer {
    pub node_id: u64,
    pub series: Vec<RegionSeries>,
}

fn local(c: &Console, id: &str) -> Vec<RegionSeries> {
    c.series
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .of_tenant(id)
        .into_iter()
        .map(|(region, points)| RegionSeries { region, points })
        .collect()
}

/// The leader's usage now (`GET /v1/sessions` on the leader with the node's operator token);
/// `None` when there is no leader or it did not answer (that sample is skipped).
pub async fn leader_usage(api: &ApiContext) -> Option<Vec<RegionUsage>> {
    let leader = relay::leader(api).await.ok()??;
    let credential = Credential::new(api.node_token.bearer());
    let call = relay::Call::get("/v1/sessions".to_string());
    match relay::send_as::<SessionList>(api, &leader, &credential, call).await {
        Ok(list) => Some(list.items),
        Err(e) => {
            tracing::debug!(error = %e, "console: sampling the leader's usage");
            None
        }
    }
}

/// `GET /ui/t/{id}/series.json` with `Authorization: Bearer`: this node's series of the tenant
/// (what another node's console asks the leader for). The token's scope is the API's.
pub async fn series_json(
    State(c): State<Arc<Console>>,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    let (mut parts, _) = req.into_parts();
    let principal = match Principal::from_request_parts(&mut parts, &c.api).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    if let Err(e) = scope(&principal, &id) {
        return e.into_response();
    }
    Json(SeriesAnswer {
        node_id: c.api.node_id,
        series: local(c.as_ref(), &id),
    })
    .into_response()
}

/// The tenant's series: this node's when it leads, else the leader's (an error says why none).
pub async fn series(c: &Console, page: &Page, id: &str) -> (Vec<RegionSeries>, Option<String>) {
    match relay::leader(&c.api).await {
        Ok(None) => (local(c, id), None),
        Ok(Some(leader)) => {
            let call = relay::Call::get(format!("/ui/t/{}/series.json", relay::seg(id)));
            match relay::send(&c.api, &leader, &page.session.credential, call).await {
                Ok((body, _)) => match serde_json::from_value::<SeriesAnswer>(body) {
                    Ok(a) => (a.series, None),
                    Err(e) => (Vec::new(), Some(format!("the leader's series: {e}"))),
                },
                Err(e) => (Vec::new(), Some(e.to_string())),
            }
        }
        Err(e) => (Vec::new(), Some(e.to_string())),
    }
}
