//! `/v1/templates`: list templates for operators (versions, diffs, quarantine, approve, reject,
//! rollback, sync, withdrawal) and `/v1/tenants/{id}/templates`: a tenant's subscriptions.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::auth::{Operator, Principal, TenantReader};
use super::error::{no_tenant, ApiError, ApiResult};
use super::extract::{parse_object, ApiBody, ApiPath, ApiQuery, ReadOpts};
use super::reply::Versioned;
use super::Ctx;
use crate::contracts::{Service, TemplateItem};
use crate::state::{
    ApproveTemplate, RejectTemplate, RollbackTemplate, SetSubscription, SyncTemplates,
    WithdrawTemplate,
};
use crate::state::{Command, State as Store, TemplateRecord, TemplateVersion};
use crate::store::Consistency;
use crate::templates::diff::diff;
use crate::templates::select::{compile, list_name, Subscription};

fn item_of(raw: &str) -> ApiResult<TemplateItem> {
    raw.parse()
        .map_err(|e| ApiError::NotFound(format!("template item: {e}")))
}

fn record(state: &Store, item: TemplateItem) -> ApiResult<&TemplateRecord> {
    state
        .templates
        .get(&item)
        .map(|r| &**r)
        .ok_or_else(|| ApiError::NotFound(format!("template {item} has no versions yet")))
}

/// One version without its content.
#[derive(Serialize)]
struct VersionSummary<'a> {
    number: u32,
    live: bool,
    hash: &'a str,
    source_version: &'a str,
    fetched_at_ms: u64,
    recorded_version: u64,
    entries: usize,
    added: usize,
    removed: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    approved_by: Option<&'a str>,
}

fn summary<'a>(rec: &TemplateRecord, v: &'a TemplateVersion) -> VersionSummary<'a> {
    let (added, removed) = v.diff.as_ref().map_or((0, 0), |d| d.counts());
    VersionSummary {
        number: v.number,
        live: rec.live == Some(v.number),
        hash: &v.hash,
        source_version: &v.content.source_version,
        fetched_at_ms: v.fetched_at_ms,
        recorded_version: v.recorded_version,
        entries: v.content.entries(),
        added,
        removed,
        approved_by: v.approved_by.as_deref(),
    }
}

/// A quarantined candidate without its content.
#[derive(Serialize)]
struct CandidateSummary<'a> {
    id: u32,
    reason: &'a str,
    source_version: &'a str,
    fetched_at_ms: u64,
    recorded_version: u64,
    entries: Option<usize>,
}

fn candidates(rec: &TemplateRecord) -> Vec<CandidateSummary<'_>> {
    rec.quarantine
        .iter()
        .map(|q| CandidateSummary {
            id: q.id,
            reason: &q.reason,
            source_version: &q.source_version,
            fetched_at_ms: q.fetched_at_ms,
            recorded_version: q.recorded_version,
            entries: q.content.as_ref().map(|c| c.entries()),
        })
        .collect()
}

/// `GET /v1/templates` (operator): per item, the live version, counts and withdrawal.
pub async fn list(
    State(ctx): Ctx,
    _: Operator,
    ApiQuery(opts): ApiQuery<ReadOpts>,
) -> ApiResult<Response> {
    let state = ctx.read(opts.consistency()).await?;
    let items: Vec<serde_json::Value> = TemplateItem::ALL
        .iter()
        .map(|item| {
            let rec = state.templates.get(item);
            let live = rec.and_then(|r| Some(summary(r, r.live_version()?)));
            serde_json::json!({
                "item": item,
                "live": live,
                "versions": rec.map_or(0, |r| r.versions.len()),
                "quarantined": rec.map_or(0, |r| r.quarantine.len()),
                "withdrawn": state.withdrawn.get(item),
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "version": state.version, "items": items })).into_response())
}

/// `?version=N`
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShowQuery {
    version: Option<u32>,
    stale: bool,
}

/// `GET /v1/templates/{item}` (operator): a version's whole content (default: the live one).
pub async fn show(
    State(ctx): Ctx,
    _: Operator,
    ApiPath(item): ApiPath<String>,
    ApiQuery(q): ApiQuery<ShowQuery>,
) -> ApiResult<Response> {
    let item = item_of(&item)?;
    let state = ctx.read(ReadOpts { stale: q.stale }.consistency()).await?;
    let rec = record(&state, item)?;
    let v = match q.version {
        Some(n) => rec.version(n),
        None => rec.live_version(),
    }
    .ok_or_else(|| ApiError::NotFound(format!("template {item} has no such version")))?;
    Ok(Json(serde_json::json!({
        "summary": summary(rec, v),
        "unsteerable": v.content.unsteerable(),
        "diff": v.diff,
        "content": v.content,
    }))
    .into_response())
}

/// `GET /v1/templates/{item}/versions` (operator): versions (oldest first) and candidates.
pub async fn versions(
    State(ctx): Ctx,
    _: Operator,
    ApiPath(item): ApiPath<String>,
    ApiQuery(opts): ApiQuery<ReadOpts>,
) -> ApiResult<Response> {
    let item = item_of(&item)?;
    let state = ctx.read(opts.consistency()).await?;
    let rec = record(&state, item)?;
    let items: Vec<VersionSummary<'_>> = rec.versions.iter().map(|v| summary(rec, v)).collect();
    Ok(Json(serde_json::json!({
        "version": state.version,
        "live": rec.live,
        "items": items,
        "quarantine": candidates(rec),
    }))
    .into_response())
}

/// `?from=A&to=B`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffQuery {
    from: u32,
    to: Option<u32>,
}

/// `GET /v1/templates/{item}/diff?from=A[&to=B]` (operator; `to` defaults to the live version).
pub async fn diff_versions(
    State(ctx): Ctx,
    _: Operator,
    ApiPath(item): ApiPath<String>,
    ApiQuery(q): ApiQuery<DiffQuery>,
) -> ApiResult<Response> {
    let item = item_of(&item)?;
    let state = ctx.read(ReadOpts::default().consistency()).await?;
    let rec = record(&state, item)?;
    let get = |n: Option<u32>| {
        n.or(rec.live)
            .and_then(|n| rec.version(n))
            .ok_or_else(|| ApiError::NotFound(format!("template {item} has no version {n:?}")))
    };
    let (a, b) = (get(Some(q.from))?, get(q.to)?);
    Ok(Json(serde_json::json!({
        "from": a.number, "to": b.number, "diff": diff(&a.content, &b.content),
    }))
    .into_response())
}

/// `POST /v1/templates/{item}/candidates/{cid}/approve` (operator).
pub async fn approve(
    State(ctx): Ctx,
    _: Operator,
    ApiPath((item, candidate)): ApiPath<(String, u32)>,
) -> ApiResult<Versioned> {
    let item = item_of(&item)?;
    let command = Command::ApproveTemplate(ApproveTemplate { item, candidate });
    let version = ctx.write(&Principal::Operator, command).await?;
    let state = ctx.read(crate::store::Consistency::Stale).await?;
    Ok(Versioned::ok(version).with("live", state.templates.get(&item).and_then(|r| r.live)))
}

/// `POST /v1/templates/{item}/candidates/{cid}/reject` (operator).
pub async fn reject(
    State(ctx): Ctx,
    _: Operator,
    ApiPath((item, candidate)): ApiPath<(String, u32)>,
) -> ApiResult<Versioned> {
    let item = item_of(&item)?;
    let command = Command::RejectTemplate(RejectTemplate { item, candidate });
    Ok(Versioned::ok(
        ctx.write(&Principal::Operator, command).await?,
    ))
}

/// `{to}`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RollbackBody {
    to: u32,
}

/// `POST /v1/templates/{item}/rollback` (operator): `{to}` becomes live.
pub async fn rollback(
    State(ctx): Ctx,
    _: Operator,
    ApiPath(item): ApiPath<String>,
    ApiBody(raw): ApiBody,
) -> ApiResult<Versioned> {
    let item = item_of(&item)?;
    let body: RollbackBody = parse_object(&raw)?;
    let command = Command::RollbackTemplate(RollbackTemplate { item, to: body.to });
    let version = ctx.write(&Principal::Operator, command).await?;
    Ok(Versioned::ok(version).with("live", body.to))
}

/// `POST /v1/templates/sync` (operator): the leader's poller polls every source now.
pub async fn sync(State(ctx): Ctx, _: Operator) -> ApiResult<Versioned> {
    Ok(Versioned::ok(
        ctx.write(
            &Principal::Operator,
            Command::SyncTemplates(SyncTemplates {}),
        )
        .await?,
    ))
}

/// One subscription as a tenant sees it.
#[derive(Serialize)]
struct SubscriptionView<'a> {
    item: TemplateItem,
    subscription: &'a Subscription,
    /// The template version it compiles from now (pin, else live).
    template_version: Option<u32>,
    list: String,
}

/// `GET /v1/tenants/{id}/templates` (operator or the tenant): its subscriptions.
pub async fn subscriptions(
    State(ctx): Ctx,
    _: TenantReader,
    ApiPath(id): ApiPath<String>,
    ApiQuery(opts): ApiQuery<ReadOpts>,
) -> ApiResult<Response> {
    let state = ctx.read(opts.consistency()).await?;
    if !state.tenants.contains_key(&id) {
        return Err(no_tenant(&id));
    }
    let items: Vec<SubscriptionView<'_>> = state
        .subscriptions
        .get(&id)
        .into_iter()
        .flat_map(|subs| subs.iter())
        .map(|(item, sub)| {
            let rec = state.templates.get(item);
            let pinned = sub
                .pin
                .filter(|n| rec.is_some_and(|r| r.version(*n).is_some()));
            SubscriptionView {
                item: *item,
                subscription: sub,
                template_version: pinned.or(rec.and_then(|r| r.live)),
                list: list_name(*item),
            }
        })
        .collect();
    Ok(Json(serde_json::json!({ "version": state.version, "items": items })).into_response())
}

/// `GET /v1/tenants/{id}/templates/{item}` (operator or the tenant): the subscription, the
/// template version it compiles from, and the lists and rules that compile to for the tenant
/// (what its edges get while its contracts put it in service).
pub async fn subscription(
    State(ctx): Ctx,
    _: TenantReader,
    ApiPath((tenant, item)): ApiPath<(String, String)>,
    ApiQuery(opts): ApiQuery<ReadOpts>,
) -> ApiResult<Response> {
    let item = item_of(&item)?;
    let state = ctx.read(opts.consistency()).await?;
    let record = state
        .tenants
        .get(&tenant)
        .ok_or_else(|| no_tenant(&tenant))?;
    let sub = state
        .subscriptions
        .get(&tenant)
        .and_then(|subs| subs.get(&item))
        .ok_or_else(|| {
            ApiError::NotFound(format!("tenant {tenant} has no subscription to {item}"))
        })?;
    let rec = state.templates.get(&item);
    let version = rec.and_then(|r| sub.pin.and_then(|n| r.version(n)).or(r.live_version()));
    let compiled = version.map(|v| compile(item, sub, &v.content, &record.tenant.default_action));
    let lists: serde_json::Map<String, serde_json::Value> = compiled
        .iter()
        .flat_map(|c| c.lists.iter())
        .map(|(name, list)| (name.clone(), serde_json::json!(list)))
        .collect();
    Ok(Json(serde_json::json!({
        "version": state.version,
        "item": item,
        "subscription": sub,
        "template_version": version.map(|v| v.number),
        "source_version": version.map(|v| v.content.source_version.as_str()),
        "lists": lists,
        "rules": compiled.map(|c| c.rules).unwrap_or_default(),
    }))
    .into_response())
}

/// `PUT /v1/tenants/{id}/templates/{item}` (operator or the tenant): sets the subscription.
pub async fn subscribe(
    State(ctx): Ctx,
    TenantReader(who): TenantReader,
    ApiPath((tenant, item)): ApiPath<(String, String)>,
    ApiBody(raw): ApiBody,
) -> ApiResult<Versioned> {
    let item = item_of(&item)?;
    let subscription: Subscription = parse_object(&raw)?;
    let command = Command::SetSubscription(SetSubscription {
        tenant,
        item,
        subscription: Some(subscription),
    });
    Ok(Versioned::ok(ctx.write(&who, command).await?))
}

/// `DELETE /v1/tenants/{id}/templates/{item}` (operator or the tenant).
pub async fn unsubscribe(
    State(ctx): Ctx,
    TenantReader(who): TenantReader,
    ApiPath((tenant, item)): ApiPath<(String, String)>,
) -> ApiResult<Versioned> {
    let item = item_of(&item)?;
    let command = Command::SetSubscription(SetSubscription {
        tenant,
        item,
        subscription: None,
    });
    Ok(Versioned::ok(ctx.write(&who, command).await?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WithdrawBody {
    effective: Option<NaiveDate>,
}

/// One tenant a withdrawal reaches.
#[derive(Serialize)]
struct Affected {
    tenant: String,
    contracts: Vec<String>,
    /// In service the day before the withdrawal and not on its day (art. 6-1).
    leaves_service: bool,
}

/// `POST /v1/templates/{item}/withdraw` (operator): `{effective?}` → `{version, item,
/// effective, affected: [{tenant, contracts, leaves_service}]}` (art. 11).
pub async fn withdraw(
    State(ctx): Ctx,
    Operator: Operator,
    ApiPath(item): ApiPath<String>,
    ApiBody(raw): ApiBody,
) -> ApiResult<Versioned> {
    let item = item_of(&item)?;
    // The body is optional: none means "from today".
    let body: WithdrawBody = if raw.iter().all(u8::is_ascii_whitespace) {
        WithdrawBody::default()
    } else {
        parse_object(&raw)?
    };
    let effective = body.effective;
    let command = Command::WithdrawTemplate(WithdrawTemplate { item, effective });
    let version = ctx.write(&Principal::Operator, command).await?;
    let state = ctx.read(Consistency::Stale).await?;
    let day = state
        .withdrawn
        .get(&item)
        .copied()
        .unwrap_or_else(|| ctx.today());
    let eve = day.pred_opt().unwrap_or(day);
    let affected: Vec<Affected> = state
        .contracts
        .iter()
        .filter_map(|(tenant, held)| {
            let ended: Vec<String> = held
                .contracts
                .iter()
                .filter(|c| c.service == Service::ListTemplate { item })
                .filter(|c| c.changed_version == version)
                .map(|c| c.id.clone())
                .collect();
            let leaves_service = held.effective(eve).in_service && !held.effective(day).in_service;
            (!ended.is_empty()).then(|| Affected {
                tenant: tenant.clone(),
                contracts: ended,
                leaves_service,
            })
        })
        .collect();
    Ok(Versioned::ok(version)
        .with("item", item)
        .with("effective", day)
        .with("affected", affected))
}
