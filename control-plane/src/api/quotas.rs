//! `GET /v1/tenants/{id}/quotas`: a tenant's quotas, what it holds against each, and the
//! operator's overrides (`PUT …/quotas` replaces those: [`crate::state::Quotas`], see
//! [`super::tenants::TenantField`]). docs/api.md#quotas.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::auth::TenantReader;
use super::error::{no_tenant, ApiResult};
use super::extract::{ApiPath, ApiQuery, ReadOpts};
use super::reply::etag;
use super::tenants::TenantField;
use super::Ctx;
use crate::state::{usage, Quota, Quotas, TenantPatch};

/// One quota as shown: the limit in force, the default and what the tenant holds.
#[derive(Serialize)]
struct Shown {
    limit: u64,
    default: u64,
    used: u64,
}

/// `GET /v1/tenants/{id}/quotas` (operator or the tenant): `{version, tenant, changed_version,
/// overrides, quotas: {name: {limit, default, used}}}` with the tenant's `ETag`.
pub async fn get(
    State(ctx): Ctx,
    _: TenantReader,
    ApiPath(id): ApiPath<String>,
    ApiQuery(opts): ApiQuery<ReadOpts>,
) -> ApiResult<Response> {
    let state = ctx.read(opts.consistency()).await?;
    let record = state.tenants.get(&id).ok_or_else(|| no_tenant(&id))?;
    let used = usage(&state, &id);
    let mut quotas = Map::new();
    for q in Quota::ALL {
        let shown = Shown {
            limit: record.quotas.limit(q),
            default: q.default_limit(),
            used: used.of(q),
        };
        quotas.insert(q.name().into(), json!(shown));
    }
    let body = json!({
        "version": state.version,
        "tenant": id,
        "changed_version": record.changed_version,
        "overrides": record.quotas,
        "quotas": Value::Object(quotas),
    });
    let tag = [(http::header::ETAG, etag(record.changed_version))];
    Ok((tag, Json(body)).into_response())
}

/// `PUT /v1/tenants/{id}/quotas` (operator): [`Quotas`] replacing every override, or `null`
/// for the defaults.
impl TenantField for Option<Quotas> {
    const OBJECT: bool = true;

    fn into_patch(self) -> TenantPatch {
        TenantPatch {
            quotas: Some(self),
            ..TenantPatch::default()
        }
    }
}
