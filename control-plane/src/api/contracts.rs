//! `/v1/tenants/{id}/attributes`, `…/contracts`, `…/options`: a tenant's child contracts and
//! options (issue 4). The operator writes; the tenant's own token may read. Every rule is
//! decided by `apply` (see `contracts::rules`); refusals answer 400/404/409 with the article.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::json;

use super::auth::{Principal, TenantReader, TenantWriter};
use super::error::{no_tenant, ApiError, ApiResult};
use super::extract::{ApiObject, ApiPath, ApiQuery, OnQuery};
use super::reply::Versioned;
use super::{ApiContext, Ctx};
use crate::contracts::view::{ContractView, OptionView};
use crate::contracts::{
    Attributes, ContractOrder, ContractRequest, EndRequest, OptionKind, TenantContracts,
};
use crate::state::ContractChange;
use crate::state::{Command, State as Stored};
use crate::store::Consistency;

/// The tenant's contracts (empty if it has none yet), or 404 if the tenant does not exist.
pub(crate) fn held<'a>(state: &'a Stored, id: &str) -> ApiResult<&'a TenantContracts> {
    static EMPTY: std::sync::OnceLock<TenantContracts> = std::sync::OnceLock::new();
    if !state.tenants.contains_key(id) {
        return Err(no_tenant(id));
    }
    Ok(state
        .contracts
        .get(id)
        .unwrap_or_else(|| EMPTY.get_or_init(TenantContracts::default)))
}

/// `GET /v1/tenants/{id}/attributes` → `{version, attributes}`.
pub async fn get_attributes(
    State(ctx): Ctx,
    _: TenantReader,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<OnQuery>,
) -> ApiResult<Response> {
    let state = ctx.read(q.consistency()).await?;
    let held = held(&state, &id)?;
    Ok(Json(json!({ "version": state.version, "attributes": held.attributes })).into_response())
}

/// `PUT /v1/tenants/{id}/attributes`: `{private_backbone, internet_access_contract_date?}`.
pub async fn put_attributes(
    State(ctx): Ctx,
    TenantWriter(who): TenantWriter,
    ApiPath(id): ApiPath<String>,
    ApiObject(attributes): ApiObject<Attributes>,
) -> ApiResult<Versioned> {
    let version = change(
        &ctx,
        &who,
        &id,
        ContractRequest::SetAttributes { attributes },
    )
    .await?;
    let state = ctx.read(Consistency::Stale).await?;
    Ok(Versioned::ok(version).with("attributes", &held(&state, &id)?.attributes))
}

/// `GET /v1/tenants/{id}/contracts?on=` → `{version, on, effective, items: [Contract]}`.
pub async fn list_contracts(
    State(ctx): Ctx,
    _: TenantReader,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<OnQuery>,
) -> ApiResult<Response> {
    let state = ctx.read(q.consistency()).await?;
    let (held, on) = (held(&state, &id)?, q.day(ctx.today()));
    let items: Vec<ContractView> = held
        .contracts
        .iter()
        .map(|c| ContractView::new(c, on))
        .collect();
    let effective = held.effective(on);
    let body =
        json!({ "version": state.version, "on": on, "effective": effective, "items": items });
    Ok(Json(body).into_response())
}

/// `POST /v1/tenants/{id}/contracts`: a `ContractOrder` → 201 `{version, contracts, options,
/// effective}` with what the order created (a cloud bypass may bring options, 10-3).
pub async fn add_contract(
    State(ctx): Ctx,
    TenantWriter(who): TenantWriter,
    ApiPath(id): ApiPath<String>,
    ApiObject(order): ApiObject<ContractOrder>,
) -> ApiResult<Versioned> {
    let version = change(&ctx, &who, &id, ContractRequest::AddContract { order }).await?;
    let state = ctx.read(Consistency::Stale).await?;
    let (held, on) = (held(&state, &id)?, ctx.today());
    let contracts: Vec<ContractView> = held
        .contracts
        .iter()
        .filter(|c| c.created_version == version)
        .map(|c| ContractView::new(c, on))
        .collect();
    Ok(Versioned::created(version)
        .with("contracts", contracts)
        .with("options", created_options(held, version, on))
        .with("effective", held.effective(on)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapacityBody {
    capacity: u32,
    #[serde(default)]
    effective: Option<NaiveDate>,
}

/// `POST /v1/tenants/{id}/contracts/{cid}/capacity`: `{capacity, effective?}` → `{version,
/// contract}` (art. 9: same plan only; a one-time fee).
pub async fn change_capacity(
    State(ctx): Ctx,
    TenantWriter(who): TenantWriter,
    ApiPath((id, cid)): ApiPath<(String, String)>,
    ApiObject(body): ApiObject<CapacityBody>,
) -> ApiResult<Versioned> {
    let request = ContractRequest::ChangeCapacity {
        contract: cid.clone(),
        capacity: body.capacity,
        effective: body.effective,
    };
    let version = change(&ctx, &who, &id, request).await?;
    contract_answer(&ctx, version, &id, &cid).await
}

/// `POST /v1/tenants/{id}/contracts/{cid}/cancel`: `{requested_end?, provider_fault?,
/// stop_options?}` → `{version, contract, options, effective_at_end}` (art. 12).
pub async fn cancel(
    State(ctx): Ctx,
    TenantWriter(who): TenantWriter,
    ApiPath((id, cid)): ApiPath<(String, String)>,
    ApiObject(end): ApiObject<EndRequest>,
) -> ApiResult<Versioned> {
    let request = ContractRequest::Cancel {
        contract: cid.clone(),
        end,
    };
    let version = change(&ctx, &who, &id, request).await?;
    let answer = contract_answer(&ctx, version, &id, &cid).await?;
    let state = ctx.read(Consistency::Stale).await?;
    let held = held(&state, &id)?;
    let ends = held
        .contracts
        .iter()
        .find(|c| c.id == cid)
        .and_then(|c| c.term.effective_end)
        .unwrap_or_else(|| ctx.today());
    let stopped: Vec<OptionView> = held
        .options
        .iter()
        .filter(|o| o.changed_version == version)
        .map(|o| OptionView::new(o, ctx.today()))
        .collect();
    Ok(answer
        .with("options", stopped)
        .with("effective_at_end", held.effective(ends)))
}

/// `GET /v1/tenants/{id}/options?on=` → `{version, on, items: [Option]}`.
pub async fn list_options(
    State(ctx): Ctx,
    _: TenantReader,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<OnQuery>,
) -> ApiResult<Response> {
    let state = ctx.read(q.consistency()).await?;
    let (held, on) = (held(&state, &id)?, q.day(ctx.today()));
    let items: Vec<OptionView> = held
        .options
        .iter()
        .map(|o| OptionView::new(o, on))
        .collect();
    Ok(Json(json!({ "version": state.version, "on": on, "items": items })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionBody {
    kind: OptionKind,
    #[serde(default)]
    billing_start: Option<NaiveDate>,
}

/// `POST /v1/tenants/{id}/options`: `{kind, billing_start?}` → 201 `{version, option}`.
pub async fn add_option(
    State(ctx): Ctx,
    TenantWriter(who): TenantWriter,
    ApiPath(id): ApiPath<String>,
    ApiObject(body): ApiObject<OptionBody>,
) -> ApiResult<Versioned> {
    let request = ContractRequest::AddOption {
        kind: body.kind,
        billing_start: body.billing_start,
    };
    let version = change(&ctx, &who, &id, request).await?;
    let state = ctx.read(Consistency::Stale).await?;
    let option = created_options(held(&state, &id)?, version, ctx.today()).pop();
    Ok(Versioned::created(version).with("option", option))
}

/// `POST /v1/tenants/{id}/options/{kind}/stop`: `{requested_end?, provider_fault?}` →
/// `{version, option}` (10-5).
pub async fn stop_option(
    State(ctx): Ctx,
    TenantWriter(who): TenantWriter,
    ApiPath((id, kind)): ApiPath<(String, String)>,
    ApiObject(end): ApiObject<EndRequest>,
) -> ApiResult<Versioned> {
    let kind: OptionKind = kind
        .parse()
        .map_err(|e| ApiError::NotFound(format!("option kind: {e}")))?;
    let version = change(&ctx, &who, &id, ContractRequest::StopOption { kind, end }).await?;
    let state = ctx.read(Consistency::Stale).await?;
    let option = held(&state, &id)?
        .options
        .iter()
        .rev()
        .find(|o| o.kind == kind && o.changed_version == version)
        .map(|o| OptionView::new(o, ctx.today()));
    Ok(Versioned::ok(version).with("option", option))
}

/// Proposes `request` for tenant `id`.
async fn change(
    ctx: &ApiContext,
    who: &Principal,
    id: &str,
    request: ContractRequest,
) -> ApiResult<u64> {
    let command = Command::Contract(ContractChange {
        tenant: id.to_string(),
        request,
    });
    ctx.write(who, command).await
}

fn created_options(held: &TenantContracts, version: u64, on: NaiveDate) -> Vec<OptionView> {
    held.options
        .iter()
        .filter(|o| o.created_version == version)
        .map(|o| OptionView::new(o, on))
        .collect()
}

/// `{version, contract}` with contract `cid` as it is after the write.
async fn contract_answer(
    ctx: &ApiContext,
    version: u64,
    id: &str,
    cid: &str,
) -> ApiResult<Versioned> {
    let state = ctx.read(Consistency::Stale).await?;
    let contract = held(&state, id)?
        .contracts
        .iter()
        .find(|c| c.id == cid)
        .map(|c| ContractView::new(c, ctx.today()));
    Ok(Versioned::ok(version).with("contract", contract))
}
