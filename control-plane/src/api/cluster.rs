//! Health, readiness and cluster membership.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::auth::Operator;
use super::error::{ApiError, ApiResult};
use super::extract::{ApiObject, ApiPath};
use super::{ApiContext, Ctx};
use crate::store::{ClusterStatus, NodeAddr};

/// `GET /healthz`: the process is up.
pub async fn healthz(State(ctx): Ctx) -> ApiResult<Json<serde_json::Value>> {
    stopped(&ctx).await?;
    Ok(Json(json!({ "status": "ok" })))
}

/// 503 `node_stopped` once this node's replication stopped for good (a storage failure): a
/// supervisor should restart it once the disk is repaired (the reason is in its log).
async fn stopped(ctx: &ApiContext) -> ApiResult<()> {
    match ctx.store.status().await?.stopped {
        Some(why) => {
            tracing::error!(reason = %why, "this node stopped; restart it once its disk is repaired");
            Err(ApiError::Stopped)
        }
        None => Ok(()),
    }
}

/// `GET /readyz`: 200 when a leader is known, else 503 `no_leader` (`node_stopped` once this
/// node stopped).
pub async fn readyz(State(ctx): Ctx) -> ApiResult<Response> {
    stopped(&ctx).await?;
    match ctx.store.status().await?.leader {
        Some(leader) => Ok(Json(json!({ "status": "ready", "leader": leader })).into_response()),
        None => Err(ApiError::NoLeader("no leader is known".into())),
    }
}

/// What `GET /v1/cluster/self` answers: who this node is and where to reach it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelfInfo {
    pub node_id: u64,
    pub api_addr: String,
    pub raft_addr: String,
}

/// `GET /v1/cluster/self` (no auth): how a joining node introduces itself.
pub async fn whoami(State(ctx): Ctx) -> Json<SelfInfo> {
    Json(SelfInfo {
        node_id: ctx.node_id,
        api_addr: ctx.addr.api.clone(),
        raft_addr: ctx.addr.raft.clone(),
    })
}

/// `GET /v1/cluster/status` (operator).
pub async fn status(State(ctx): Ctx, Operator: Operator) -> ApiResult<Json<ClusterStatus>> {
    Ok(Json(ctx.store.status().await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewNode {
    id: u64,
    /// `host:port` of the node's API.
    api_addr: String,
}

/// `POST /v1/cluster/nodes` (operator): `{id, api_addr}`. Asks the node for its Raft address
/// (and checks it is the node it claims to be), then adds it: learner first, voter once caught up.
pub async fn add_node(
    State(ctx): Ctx,
    Operator: Operator,
    ApiObject(body): ApiObject<NewNode>,
) -> ApiResult<Json<ClusterStatus>> {
    if body.api_addr.is_empty() || body.api_addr.contains('/') {
        return Err(ApiError::Invalid(format!(
            "api_addr: {:?} is not host:port (no scheme, no path)",
            body.api_addr
        )));
    }
    let info = probe(&ctx, &body.api_addr).await?;
    if info.node_id != body.id {
        return Err(ApiError::Invalid(format!(
            "id: the node at {} is node {}, not {}",
            body.api_addr, info.node_id, body.id
        )));
    }
    let addr = NodeAddr {
        api: body.api_addr,
        raft: info.raft_addr,
    };
    Ok(Json(ctx.store.add_node(body.id, addr).await?))
}

/// `DELETE /v1/cluster/nodes/{id}` (operator).
pub async fn remove_node(
    State(ctx): Ctx,
    Operator: Operator,
    ApiPath(id): ApiPath<u64>,
) -> ApiResult<Json<ClusterStatus>> {
    Ok(Json(ctx.store.remove_node(id).await?))
}

async fn probe(ctx: &ApiContext, api_addr: &str) -> ApiResult<SelfInfo> {
    let url = format!("http://{api_addr}/v1/cluster/self");
    let unreachable =
        |e: reqwest::Error| ApiError::Invalid(format!("api_addr: cannot ask {url} who it is: {e}"));
    let resp = ctx.client.get(&url).send().await.map_err(unreachable)?;
    if !resp.status().is_success() {
        return Err(ApiError::Invalid(format!(
            "api_addr: {url} answered {}; is it a breakout-control node?",
            resp.status()
        )));
    }
    resp.json::<SelfInfo>().await.map_err(unreachable)
}
