//! `/v1/tenants/{id}/lists`: a tenant's named destination lists. Replacing (`PUT`) and
//! patching (`PATCH`) a list is open to the operator and, with the `list-update-api` option
//! (art. 10-4), to the tenant's own token.

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use breakout_policy::{Destination, NamedList};
use serde_json::Value;

use super::auth::{Gated, ListUpdates, TenantReader, TenantWriter};
use super::error::{no_tenant, ApiError, ApiResult};
use super::extract::{parse_json, ApiBody, ApiPath, ApiQuery, IfMatch, ReadOpts};
use super::reply::Versioned;
use super::Ctx;
use crate::state::{Command, MAX_LIST_ENTRIES};
use crate::state::{DeleteList, PatchList, PutList};

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

/// May replace or patch the lists of the tenant named by `{id}`: the operator, or that
/// tenant's token while the tenant holds the `list-update-api` option in force (art. 10-4;
/// otherwise 403 naming the option). Another tenant's token gets 404.
type ListWriter = Gated<ListUpdates>;

/// `PUT /v1/tenants/{id}/lists/{name}`: `["entry", …]` or `{entries: […]}`.
pub async fn put(
    State(ctx): Ctx,
    Gated(who, _): ListWriter,
    ApiPath((tenant, name)): ApiPath<(String, String)>,
    IfMatch(if_match): IfMatch,
    ApiBody(body): ApiBody,
) -> ApiResult<Versioned> {
    let list = parse_list(&body)?;
    let version = ctx
        .write(
            &who,
            Command::PutList(PutList {
                tenant,
                name,
                list,
                if_match,
            }),
        )
        .await?;
    Ok(Versioned::ok(version))
}

/// `PATCH /v1/tenants/{id}/lists/{name}`: `{"add": […], "remove": […]}` (either may be
/// absent); removals first, entries already present are not added twice.
pub async fn patch(
    State(ctx): Ctx,
    Gated(who, _): ListWriter,
    ApiPath((tenant, name)): ApiPath<(String, String)>,
    IfMatch(if_match): IfMatch,
    ApiBody(body): ApiBody,
) -> ApiResult<Versioned> {
    let (add, remove) = parse_patch(&body)?;
    let version = ctx
        .write(
            &who,
            Command::PatchList(PatchList {
                tenant,
                name,
                add,
                remove,
                if_match,
            }),
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
            Command::DeleteList(DeleteList {
                tenant,
                name,
                if_match,
            }),
        )
        .await?;
    Ok(Versioned::ok(version))
}

/// A list body is a bare array or `{"entries": [...]}`. Parsed entry by entry rather than
/// through `NamedList`'s untagged representation, so that an error names the bad entry and its
/// index (`entries[3]: destination "a..b": empty label`).
fn parse_list(body: &Bytes) -> ApiResult<NamedList> {
    let value: Value = parse_json(body)?;
    let items = match &value {
        Value::Array(items) => items,
        Value::Object(o) if o.len() == 1 && o.contains_key("entries") => match &o["entries"] {
            Value::Array(items) => items,
            _ => return Err(ApiError::Invalid("entries: must be an array".into())),
        },
        _ => {
            return Err(ApiError::Invalid(
                "request body must be a JSON array of entries or {\"entries\": [...]}".into(),
            ))
        }
    };
    parse_entries("entries", items).map(NamedList::new)
}

/// `{"add": [...], "remove": [...]}`.
fn parse_patch(body: &Bytes) -> ApiResult<(Vec<Destination>, Vec<Destination>)> {
    let value: Value = parse_json(body)?;
    let Value::Object(o) = value else {
        return Err(ApiError::Invalid(
            "request body must be {\"add\": [...], \"remove\": [...]}".into(),
        ));
    };
    if let Some(other) = o.keys().find(|k| *k != "add" && *k != "remove") {
        return Err(ApiError::Invalid(format!(
            "{other}: unknown field; expected add and remove"
        )));
    }
    let field = |name: &str| match o.get(name) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => parse_entries(name, items),
        Some(_) => Err(ApiError::Invalid(format!("{name}: must be an array"))),
    };
    Ok((field("add")?, field("remove")?))
}

/// Each item a string that parses as a destination (FQDN, `*.suffix`, a pattern with `*`
/// inside labels, an IPv4 address or CIDR), at most [`MAX_LIST_ENTRIES`] of them.
fn parse_entries(field: &str, items: &[Value]) -> ApiResult<Vec<Destination>> {
    if items.len() > MAX_LIST_ENTRIES {
        return Err(ApiError::Invalid(format!(
            "{field}: {} entries; a list holds at most {MAX_LIST_ENTRIES}",
            items.len()
        )));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let Value::String(s) = item else {
                return Err(ApiError::Invalid(format!(
                    "{field}[{i}]: expected a string, got {item}"
                )));
            };
            parse_entry(s).map_err(|why| ApiError::Invalid(format!("{field}[{i}]: {why}")))
        })
        .collect()
}

/// One list entry (the rule every list write applies; the console checks each line with it).
pub fn parse_entry(s: &str) -> Result<Destination, String> {
    s.parse::<Destination>().map_err(|e| e.message)
}

fn no_list(tenant: &str, name: &str) -> ApiError {
    ApiError::NotFound(format!("tenant {tenant:?} has no list {name:?}"))
}
