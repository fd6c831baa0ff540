//! `/v1/regions`: where tenants are pinned.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::auth::{Operator, Principal};
use super::error::ApiResult;
use super::extract::{ApiObject, ApiPath, ApiQuery, ReadOpts};
use super::reply::Versioned;
use super::Ctx;
use crate::state::{Command, Region};
use crate::state::{CreateRegion, DeleteRegion};
use crate::store::Consistency;

/// `GET /v1/regions` (any principal): `{version, items: [Region]}`.
pub async fn list(
    State(ctx): Ctx,
    _: Principal,
    ApiQuery(opts): ApiQuery<ReadOpts>,
) -> ApiResult<Response> {
    let state = ctx.read(opts.consistency()).await?;
    let items: Vec<&Region> = state.regions.values().collect();
    Ok(Json(json!({ "version": state.version, "items": items })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRegion {
    name: String,
    #[serde(default)]
    description: Option<String>,
}

/// `POST /v1/regions` (operator): `{name, description?}` → 201 `{version, region}`.
pub async fn create(
    State(ctx): Ctx,
    Operator: Operator,
    ApiObject(body): ApiObject<NewRegion>,
) -> ApiResult<Versioned> {
    let name = body.name.clone();
    let command = Command::CreateRegion(CreateRegion {
        name: body.name,
        description: body.description,
    });
    let version = ctx.write(&Principal::Operator, command).await?;
    let state = ctx.read(Consistency::Stale).await?;
    Ok(Versioned::created(version).with("region", state.regions.get(&name)))
}

/// `DELETE /v1/regions/{name}` (operator; 409 while tenants use it).
pub async fn delete(
    State(ctx): Ctx,
    Operator: Operator,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Versioned> {
    let version = ctx
        .write(
            &Principal::Operator,
            Command::DeleteRegion(DeleteRegion { name }),
        )
        .await?;
    Ok(Versioned::ok(version))
}
