//! `/v1/tenants`: create, read, patch and delete tenants, and replace single fields.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use breakout_policy::pac::PacSettings;
use breakout_policy::{Action, Rule, SourceCidr, Tenant};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use super::auth::{Operator, Principal, TenantReader, TenantWriter};
use super::error::{no_tenant, ApiResult};
use super::extract::{
    parse_json, parse_object, ApiBody, ApiObject, ApiPath, ApiQuery, IfMatch, OnQuery, ReadOpts,
};
use super::reply::{etag, tenant_view_on, TenantView, Versioned};
use super::{ApiContext, Ctx};
use crate::state::{Command, TenantPatch};
use crate::state::{CreateTenant, DeleteTenant, UpdateTenant};
use crate::store::Consistency;

/// `GET /v1/tenants` (operator).
pub async fn list(
    State(ctx): Ctx,
    _: Operator,
    ApiQuery(opts): ApiQuery<ReadOpts>,
) -> ApiResult<Response> {
    let state = ctx.read(opts.consistency()).await?;
    let today = ctx.today();
    let items: Vec<TenantView> = state
        .tenants
        .values()
        .map(|r| TenantView::new(&state, r, today))
        .collect();
    Ok(Json(json!({ "version": state.version, "items": items })).into_response())
}

/// `POST /v1/tenants` (operator): a tenant of the edge model; `region` is required (`apply`
/// checks it).
pub async fn create(
    State(ctx): Ctx,
    Operator: Operator,
    ApiObject(tenant): ApiObject<Tenant>,
) -> ApiResult<Versioned> {
    let id = tenant.id.clone();
    let version = ctx
        .write(
            &Principal::Operator,
            Command::CreateTenant(CreateTenant { tenant }),
        )
        .await?;
    written(&ctx, Versioned::created(version), &id).await
}

/// `GET /v1/tenants/{id}?on=YYYY-MM-DD` (operator or the tenant itself), with
/// `ETag: "<changed_version>"`; `effective` is for `on` (default today, UTC).
pub async fn get(
    State(ctx): Ctx,
    _: TenantReader,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<OnQuery>,
) -> ApiResult<Response> {
    let state = ctx.read(q.consistency()).await?;
    let view = tenant_view_on(&state, &id, q.day(ctx.today())).ok_or_else(|| no_tenant(&id))?;
    Ok((
        [(http::header::ETAG, etag(view.changed_version))],
        Json(view),
    )
        .into_response())
}

/// `PATCH /v1/tenants/{id}` (operator): replace the fields present in the body.
pub async fn patch(
    State(ctx): Ctx,
    TenantWriter(who): TenantWriter,
    ApiPath(id): ApiPath<String>,
    IfMatch(if_match): IfMatch,
    ApiObject(patch): ApiObject<TenantPatch>,
) -> ApiResult<Versioned> {
    update(&ctx, &who, id, if_match, patch).await
}

/// `DELETE /v1/tenants/{id}` (operator).
pub async fn delete(
    State(ctx): Ctx,
    TenantWriter(who): TenantWriter,
    ApiPath(id): ApiPath<String>,
    IfMatch(if_match): IfMatch,
) -> ApiResult<Versioned> {
    let version = ctx
        .write(&who, Command::DeleteTenant(DeleteTenant { id, if_match }))
        .await?;
    Ok(Versioned::ok(version))
}

/// One field of a tenant that `PUT /v1/tenants/{id}/<field>` replaces whole: the body's type,
/// and the patch it makes.
pub trait TenantField: DeserializeOwned + Send + 'static {
    /// The body is a JSON object (or `null`): serde would take an array for a struct.
    const OBJECT: bool = false;

    fn into_patch(self) -> TenantPatch;
}

/// `PUT /v1/tenants/{id}/<field>` (operator): replaces one field, `F` says which.
pub async fn put_field<F: TenantField>(
    State(ctx): Ctx,
    TenantWriter(who): TenantWriter,
    ApiPath(id): ApiPath<String>,
    IfMatch(if_match): IfMatch,
    ApiBody(raw): ApiBody,
) -> ApiResult<Versioned> {
    let null = raw.trim_ascii() == b"null";
    let field: F = match F::OBJECT && !null {
        true => parse_object(&raw)?,
        false => parse_json(&raw)?,
    };
    update(&ctx, &who, id, if_match, field.into_patch()).await
}

/// `PUT …/source-cidrs`: `["a.b.c.d/n", …]` (IPv4 only).
impl TenantField for Vec<SourceCidr> {
    fn into_patch(self) -> TenantPatch {
        TenantPatch {
            source_cidrs: Some(self),
            ..TenantPatch::default()
        }
    }
}

/// `PUT …/rules`: `[Rule, …]`, replacing every rule.
impl TenantField for Vec<Rule> {
    fn into_patch(self) -> TenantPatch {
        TenantPatch {
            rules: Some(self),
            ..TenantPatch::default()
        }
    }
}

/// `PUT …/upstreams`: `{name: "host:port"}`.
impl TenantField for BTreeMap<String, String> {
    fn into_patch(self) -> TenantPatch {
        TenantPatch {
            upstreams: Some(self),
            ..TenantPatch::default()
        }
    }
}

/// `PUT …/default-action`: `{"action": "direct"}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultActionBody {
    action: Action,
}

impl TenantField for DefaultActionBody {
    const OBJECT: bool = true;

    fn into_patch(self) -> TenantPatch {
        TenantPatch {
            default_action: Some(self.action),
            ..TenantPatch::default()
        }
    }
}

/// `PUT …/session-limit`: `{"session_limit": 1000}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionLimitBody {
    session_limit: u32,
}

impl TenantField for SessionLimitBody {
    const OBJECT: bool = true;

    fn into_patch(self) -> TenantPatch {
        TenantPatch {
            session_limit: Some(self.session_limit),
            ..TenantPatch::default()
        }
    }
}

/// `PUT …/pac`: [`PacSettings`] (docs/pac.md), or `null` to remove them. Refused (409
/// `art. 6-4`) when the tenant has contracts but not the `pac` option.
impl TenantField for Option<PacSettings> {
    const OBJECT: bool = true;
    fn into_patch(self) -> TenantPatch {
        TenantPatch {
            pac: Some(self),
            ..TenantPatch::default()
        }
    }
}

async fn update(
    ctx: &ApiContext,
    who: &Principal,
    id: String,
    if_match: Option<u64>,
    patch: TenantPatch,
) -> ApiResult<Versioned> {
    let version = ctx
        .write(
            who,
            Command::UpdateTenant(UpdateTenant {
                id: id.clone(),
                if_match,
                patch,
            }),
        )
        .await?;
    written(ctx, Versioned::ok(version), &id).await
}

/// Adds the tenant as it is after the write to the answer. The write is applied on this node
/// when `write` returns, so a local read sees it (or something newer).
async fn written(ctx: &ApiContext, reply: Versioned, id: &str) -> ApiResult<Versioned> {
    let state = ctx.read(Consistency::Stale).await?;
    Ok(reply.with("tenant", tenant_view_on(&state, id, ctx.today())))
}
