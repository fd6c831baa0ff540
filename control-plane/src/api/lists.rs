//! `/v1/tenants/{id}/lists`: a tenant's named destination lists.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use breakout_policy::{Destination, NamedList};
use serde::Deserialize;

use super::auth::{TenantReader, TenantWriter};
use super::error::{ApiError, ApiResult};
use super::extract::{parse_json, ApiBody, ApiPath, ApiQuery, IfMatch, ReadOpts};
use super::reply::Versioned;
use super::tenants::no_tenant;
use super::ApiContext;
use crate::state::Command;

type Ctx = State<Arc<ApiContext>>;

/// `GET /v1/tenants/{id}/lists`: `{name: {entries: […]}}`.
pub async fn list_all(
    State(ctx): Ctx,
    _: TenantReader,
    ApiPath(id): ApiPath<String>,
    ApiQuery(opts): ApiQuery<ReadOpts>,
) -> ApiResult<Response> {
    let state = ctx.read(opts.consistency()).await?;
    let record = state.tenants.get(&id).ok_or_else(|| no_tenant(&id))?;
    Ok(Json(&record.tenant.lists).into_response())
}

/// `GET /v1/tenants/{id}/lists/{name}`: `{entries: […]}`.
pub async fn get(
    State(ctx): Ctx,
    _: TenantReader,
    ApiPath((id, name)): ApiPath<(String, String)>,
    ApiQuery(opts): ApiQuery<ReadOpts>,
) -> ApiResult<Response> {
    let state = ctx.read(opts.consistency()).await?;
    let record = state.tenants.get(&id).ok_or_else(|| no_tenant(&id))?;
    let list = record
        .tenant
        .lists
        .get(&name)
        .ok_or_else(|| no_list(&id, &name))?;
    Ok(Json(list).into_response())
}

/// `PUT /v1/tenants/{id}/lists/{name}`: `["entry", …]` or `{entries: […]}`.
pub async fn put(
    State(ctx): Ctx,
    TenantWriter(who): TenantWriter,
    ApiPath((tenant, name)): ApiPath<(String, String)>,
    IfMatch(if_match): IfMatch,
    ApiBody(body): ApiBody,
) -> ApiResult<Versioned> {
    let list = parse_list(&body)?;
    let version = ctx
        .write(
            &who,
            Command::PutList {
                tenant,
                name,
                list,
                if_match,
            },
        )
        .await?;
    Ok(Versioned::ok(version))
}

/// `DELETE /v1/tenants/{id}/lists/{name}` (409 while a rule uses it).
pub async fn delete(
    State(ctx): Ctx,
    TenantWriter(who): TenantWriter,
    ApiPath((tenant, name)): ApiPath<(String, String)>,
    IfMatch(if_match): IfMatch,
) -> ApiResult<Versioned> {
    let version = ctx
        .write(
            &who,
            Command::DeleteList {
                tenant,
                name,
                if_match,
            },
        )
        .await?;
    Ok(Versioned::ok(version))
}

/// A list body is a bare array or `{"entries": [...]}`. Parsed by shape rather than through
/// `NamedList`'s untagged representation, whose error ("did not match any variant") would hide
/// which entry is wrong.
fn parse_list(body: &Bytes) -> ApiResult<NamedList> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Table {
        entries: Vec<Destination>,
    }
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => parse_json::<Vec<Destination>>(body).map(|entries| NamedList { entries }),
        Some(b'{') => parse_json::<Table>(body).map(|t| NamedList { entries: t.entries }),
        _ => Err(ApiError::Invalid(
            "request body must be a JSON array of entries or {\"entries\": [...]}".into(),
        )),
    }
}

fn no_list(tenant: &str, name: &str) -> ApiError {
    ApiError::NotFound(format!("tenant {tenant:?} has no list {name:?}"))
}
