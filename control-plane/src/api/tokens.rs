//! `/v1/tokens`: tenant API tokens, `bk_<id>_<secret>`. The secret is shown once, at creation;
//! the store keeps only its SHA-256.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::auth::{Operator, Principal, TOKEN_PREFIX};
use super::error::ApiResult;
use super::extract::{ApiJson, ApiPath, ApiQuery, ReadOpts};
use super::reply::Versioned;
use super::Ctx;
use crate::crypto::{hex, sha256_hex};
use crate::state::Command;
use crate::state::{CreateToken, RevokeToken};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    tenant: String,
    #[serde(default)]
    label: Option<String>,
}

/// `POST /v1/tokens` (operator): `{tenant, label?}` → 201 `{version, id, tenant, label, token}`.
pub async fn create(
    State(ctx): Ctx,
    Operator: Operator,
    ApiJson(body): ApiJson<NewToken>,
) -> ApiResult<Versioned> {
    // Hex ids never contain `_`, so `bk_<id>_<secret>` splits unambiguously.
    let id = hex(&rand::random::<[u8; 8]>());
    let secret = hex(&rand::random::<[u8; 32]>());
    let command = Command::CreateToken(CreateToken {
        id: id.clone(),
        tenant: body.tenant.clone(),
        hash: sha256_hex(secret.as_bytes()),
        label: body.label.clone(),
    });
    let version = ctx.write(&Principal::Operator, command).await?;
    Ok(Versioned::created(version)
        .with("id", &id)
        .with("tenant", &body.tenant)
        .with("label", &body.label)
        .with("token", format!("{TOKEN_PREFIX}{id}_{secret}")))
}

/// `GET /v1/tokens` (operator): `{version, items: [{id, tenant, label, created_version}]}`.
pub async fn list(
    State(ctx): Ctx,
    Operator: Operator,
    ApiQuery(opts): ApiQuery<ReadOpts>,
) -> ApiResult<Response> {
    let state = ctx.read(opts.consistency()).await?;
    let items: Vec<_> = state
        .tokens
        .values()
        .map(|t| {
            json!({
                "id": t.id,
                "tenant": t.tenant,
                "label": t.label,
                "created_version": t.created_version,
            })
        })
        .collect();
    Ok(Json(json!({ "version": state.version, "items": items })).into_response())
}

/// `DELETE /v1/tokens/{id}` (operator).
pub async fn revoke(
    State(ctx): Ctx,
    Operator: Operator,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Versioned> {
    let version = ctx
        .write(
            &Principal::Operator,
            Command::RevokeToken(RevokeToken { id }),
        )
        .await?;
    Ok(Versioned::ok(version))
}
