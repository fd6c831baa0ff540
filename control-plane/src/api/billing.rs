//! `/v1/tenants/{id}/billing` and `/v1/price-book`: charges (art. 13, 14, annex 1, 2).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::json;

use super::auth::{Operator, Principal, TenantReader};
use super::contracts::held;
use super::error::{ApiError, ApiResult};
use super::extract::{ApiObject, ApiPath, ApiQuery, ReadOpts};
use super::reply::Versioned;
use super::Ctx;
use crate::contracts::prices::book_at;
use crate::contracts::{self, ContractError, ErrorKind, PriceBook, YearMonth};
use crate::state::Command;
use crate::state::SetPriceBook;
use crate::store::Consistency;

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
    ApiObject(prices): ApiObject<PriceBook>,
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

/// A refusal of the pure rules on a read (e.g. no price book yet).
fn refusal(e: ContractError) -> ApiError {
    let message = e.to_string();
    match e.kind {
        ErrorKind::Invalid => ApiError::Invalid(message),
        ErrorKind::NotFound => ApiError::NotFound(message),
        ErrorKind::Conflict => ApiError::Conflict(message),
    }
}
