//! `/v1/tenants/{id}/billing`, `/v1/price-book`, `/v1/templates/{item}/withdraw`: charges
//! (art. 13, 14, annex 1, 2) and withdrawal (art. 11).

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::auth::{Operator, Principal, TenantReader};
use super::contracts::held;
use super::error::{ApiError, ApiResult};
use super::extract::{parse_json, ApiBody, ApiJson, ApiPath, ApiQuery, ReadOpts};
use super::reply::Versioned;
use super::ApiContext;
use crate::contracts::prices::book_at;
use crate::contracts::{
    self, ContractError, ErrorKind, PriceBook, Service, TemplateItem, YearMonth,
};
use crate::state::Command;
use crate::state::{SetPriceBook, WithdrawTemplate};
use crate::store::Consistency;

type Ctx = State<Arc<ApiContext>>;

/// `?month=YYYY-MM` (default: this month, UTC).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct BillingQuery {
    month: Option<YearMonth>,
    stale: bool,
}

/// `GET /v1/tenants/{id}/billing?month=YYYY-MM` (operator or the tenant itself) →
/// `{version, tenant, month, currency, lines: [Line], total}`.
pub async fn preview(
    State(ctx): Ctx,
    _: TenantReader,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<BillingQuery>,
) -> ApiResult<Response> {
    let state = ctx.read(ReadOpts { stale: q.stale }.consistency()).await?;
    let month = q.month.unwrap_or_else(|| YearMonth::of(ctx.today()));
    let bill =
        contracts::preview(held(&state, &id)?, &state.price_books, month).map_err(refusal)?;
    Ok(Json(json!({
        "version": state.version,
        "tenant": id,
        "month": bill.month,
        "currency": "JPY",
        "lines": bill.lines,
        "total": bill.total,
    }))
    .into_response())
}

/// `GET /v1/price-book` (operator) → `{version, current, items}`: the book in force today
/// (`null` before the first is set) and every book, oldest first.
pub async fn get_price_book(
    State(ctx): Ctx,
    Operator: Operator,
    ApiQuery(opts): ApiQuery<ReadOpts>,
) -> ApiResult<Response> {
    let state = ctx.read(opts.consistency()).await?;
    let current = book_at(&state.price_books, ctx.today());
    let items: Vec<_> = state.price_books.values().collect();
    Ok(
        Json(json!({ "version": state.version, "current": current, "items": items }))
            .into_response(),
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PriceBookQuery {
    effective_from: Option<NaiveDate>,
}

/// `PUT /v1/price-book?effective_from=YYYY-MM-DD` (operator): a `PriceBook` → `{version,
/// price_book}`. From today by default; never retroactive (400).
pub async fn put_price_book(
    State(ctx): Ctx,
    Operator: Operator,
    ApiQuery(q): ApiQuery<PriceBookQuery>,
    ApiJson(prices): ApiJson<PriceBook>,
) -> ApiResult<Versioned> {
    let command = Command::SetPriceBook(SetPriceBook {
        effective_from: q.effective_from,
        prices,
    });
    let version = ctx.write(&Principal::Operator, command).await?;
    let state = ctx.read(Consistency::Stale).await?;
    let record = state.price_books.values().find(|r| r.version == version);
    Ok(Versioned::ok(version).with("price_book", record))
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
    let item: TemplateItem = item
        .parse()
        .map_err(|e| ApiError::NotFound(format!("template item: {e}")))?;
    // The body is optional: none means "from today".
    let body: WithdrawBody = if raw.iter().all(u8::is_ascii_whitespace) {
        WithdrawBody::default()
    } else {
        parse_json(&raw)?
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

/// A refusal of the pure rules on a read (e.g. no price book yet).
fn refusal(e: ContractError) -> ApiError {
    let message = e.to_string();
    match e.kind {
        ErrorKind::Invalid => ApiError::Invalid(message),
        ErrorKind::NotFound => ApiError::NotFound(message),
        ErrorKind::Conflict => ApiError::Conflict(message),
    }
}
