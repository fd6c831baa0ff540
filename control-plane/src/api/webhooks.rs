//! `/v1/tenants/{id}/webhooks`: a tenant's webhook registrations, and the delivery log
//! (docs/integration.md, "Webhooks"). The secret is taken at registration and never shown.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::auth::{Export, Gated, TenantReader};
use super::error::{no_tenant, ApiError, ApiResult};
use super::extract::{ApiObject, ApiPath, ApiQuery, ReadOpts};
use super::reply::Versioned;
use super::{Ctx, Reply};
use crate::crypto::hex;
use crate::state::{Command, Secret};
use crate::state::{CreateWebhook, DeleteWebhook};
use crate::store::Consistency;
use crate::webhooks::dial;

/// May register and delete the webhooks of the tenant named by `{id}`: the operator, or that
/// tenant's token while it holds an external-integration or list-template contract in force
/// (art. 2; otherwise 403 saying so). Another tenant's token gets 404.
type HookWriter = Gated<Export>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    url: String,
    secret: String,
}

/// `POST /v1/tenants/{id}/webhooks`: `{url, secret}` → 201 `{version, id, url}`.
pub async fn create(
    State(ctx): Ctx,
    Gated(who, _): HookWriter,
    ApiPath(tenant): ApiPath<String>,
    ApiObject(body): ApiObject<NewWebhook>,
) -> ApiResult<Versioned> {
    // A literal address the guard refuses is refused at once; a name is checked on every
    // delivery, on the address it resolves to then (docs/integration.md).
    if let Err(dial::Blocked::Prohibited { addr, class, .. }) =
        dial::check_literal(&ctx.webhooks.guard, &body.url)
    {
        return Err(ApiError::Invalid(format!(
            "url: {addr} is a {}; webhooks go to public addresses only",
            class.describe()
        )));
    }
    let id = hex(&rand::random::<[u8; 6]>());
    let command = Command::CreateWebhook(CreateWebhook {
        tenant,
        id: id.clone(),
        url: body.url.clone(),
        secret: Secret(body.secret),
    });
    // A retry with the same Idempotency-Key answers with the first request's id.
    let reply = Reply::from([("id".to_string(), id)]);
    let written = ctx.write_with(&who, command, reply).await?;
    let id = written.reply.get("id").ok_or(ApiError::Internal)?;
    Ok(Versioned::created(written.version)
        .with("id", id)
        .with("url", &body.url))
}

/// `GET /v1/tenants/{id}/webhooks`: `{version, items: [{id, url, created_version}]}`.
pub async fn list(
    State(ctx): Ctx,
    _: TenantReader,
    ApiPath(tenant): ApiPath<String>,
    ApiQuery(opts): ApiQuery<ReadOpts>,
) -> ApiResult<Response> {
    let state = ctx.read(opts.consistency()).await?;
    if !state.tenants.contains_key(&tenant) {
        return Err(no_tenant(&tenant));
    }
    let items: Vec<_> = state
        .webhooks
        .get(&tenant)
        .into_iter()
        .flat_map(|hooks| hooks.values())
        .map(|h| json!({ "id": h.id, "url": h.url, "created_version": h.created_version }))
        .collect();
    Ok(Json(json!({ "version": state.version, "items": items })).into_response())
}

/// `DELETE /v1/tenants/{id}/webhooks/{wid}`.
pub async fn delete(
    State(ctx): Ctx,
    Gated(who, _): HookWriter,
    ApiPath((tenant, id)): ApiPath<(String, String)>,
) -> ApiResult<Versioned> {
    let version = ctx
        .write(&who, Command::DeleteWebhook(DeleteWebhook { tenant, id }))
        .await?;
    Ok(Versioned::ok(version))
}

/// `GET /v1/tenants/{id}/webhook-deliveries`: `{node_id, items: [Attempt]}`, oldest first,
/// from the leader's log (a follower forwards; the log is the leader's soft state).
pub async fn deliveries(
    State(ctx): Ctx,
    _: TenantReader,
    ApiPath(tenant): ApiPath<String>,
) -> ApiResult<Response> {
    let status = ctx.store.status().await?;
    if status.leader != Some(ctx.node_id) {
        let leader = status
            .nodes
            .iter()
            .find(|n| Some(n.id) == status.leader)
            .map(|n| n.addr.api.clone());
        return Err(match leader {
            Some(api) => ApiError::NotLeader(api),
            None => ApiError::NoLeader("no leader is known; retry shortly".into()),
        });
    }
    let state = ctx.read(Consistency::Stale).await?;
    if !state.tenants.contains_key(&tenant) {
        return Err(no_tenant(&tenant));
    }
    let items = ctx.webhooks.log.of(&tenant);
    Ok(Json(json!({ "node_id": ctx.node_id, "items": items })).into_response())
}
