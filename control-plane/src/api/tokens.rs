//! `/v1/tokens`: tenant API tokens, `bk_<id>_<secret>`. The secret is shown once, at creation;
//! the store keeps only its SHA-256.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::auth::{Operator, Principal, TOKEN_PREFIX};
use super::error::ApiError;
use super::error::ApiResult;
use super::extract::{ApiJson, ApiPath, ApiQuery, ReadOpts};
use super::idempotency;
use super::reply::Versioned;
use super::{Ctx, Reply};
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
    let secret = rand::random::<[u8; 32]>();
    let command = Command::CreateToken(CreateToken {
        id: id.clone(),
        tenant: body.tenant.clone(),
        hash: sha256_hex(hex(&secret).as_bytes()),
        label: body.label.clone(),
    });
    // A retry with the same Idempotency-Key gets the first token: its id, and its secret
    // sealed with the key (the state keeps only the sealed form, and only for a while).
    let mut reply = Reply::from([("id".to_string(), id)]);
    if let Some(sealed) = idempotency::seal(&secret) {
        reply.insert("secret".into(), sealed);
    }
    let written = ctx.write_with(&Principal::Operator, command, reply).await?;
    let first = |name: &str| written.reply.get(name);
    let id = first("id").ok_or(ApiError::Internal)?;
    let secret = match first("secret").map(|s| idempotency::unseal(s)) {
        Some(Some(secret)) => hex(&secret),
        _ if !written.repeated => hex(&secret),
        _ => {
            return Err(ApiError::Conflict(format!(
                "token {id} was created by the first request with this Idempotency-Key; its \
                 secret cannot be shown again: revoke it and create another"
            )))
        }
    };
    Ok(Versioned::created(written.version)
        .with("id", id)
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
