//! `GET /v1/tenants/{id}/explain?host=H[&port=P]`: what the tenant's edges do with a request
//! for `HOST:PORT`, and why. The answer is [`breakout_policy::route`]'s, over the tenant exactly
//! as the edges of its region get it at this store version ([`served_tenant`]), so `breakoutctl
//! explain`, the console and the edge's `/explain` cannot disagree with the proxy.
//!
//! The control plane resolves nothing: an IP literal gets the destination guard's verdict (with
//! the guard's strict default: no private destinations), a name "checked after resolution".

use axum::extract::State;
use axum::Json;
use breakout_policy::guard::GuardOptions;
use breakout_policy::route::{ExplainContext, Explanation, Resolution};
use breakout_policy::Router;
use serde::{Deserialize, Serialize};

use super::auth::TenantReader;
use super::error::{no_tenant, ApiError, ApiResult};
use super::extract::{ApiPath, ApiQuery};
use super::Ctx;
use crate::state::{out_of_service, served_tenant, State as Data};
use crate::store::Consistency;

/// The port explained when none is given (a `CONNECT` for HTTPS).
pub const DEFAULT_PORT: u16 = 443;

/// `?host=H&port=P&stale=true`.
#[derive(Debug, Deserialize)]
pub struct ExplainQuery {
    pub host: String,
    pub port: Option<u16>,
    #[serde(default)]
    pub stale: bool,
}

/// The answer: the store version and region it was made for, and either the route's
/// explanation or why the region's edges do not serve the tenant at all.
#[derive(Debug, Serialize)]
pub struct ExplainAnswer {
    pub version: u64,
    pub region: Option<String>,
    /// `false`: the edges refuse every request of the tenant (`not_served` says why).
    pub served: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_served: Option<String>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Explanation>,
}

/// `GET /v1/tenants/{id}/explain` (operator or the tenant itself).
pub async fn get(
    State(ctx): Ctx,
    _: TenantReader,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<ExplainQuery>,
) -> ApiResult<Json<ExplainAnswer>> {
    let consistency = if q.stale {
        Consistency::Stale
    } else {
        Consistency::Linearizable
    };
    let state = ctx.read(consistency).await?;
    explain(&state, &id, &q.host, q.port.unwrap_or(DEFAULT_PORT)).map(Json)
}

/// What the edges of the tenant's region do with its request for `host:port` at `state`'s
/// version (pure; the API and the console both call it).
pub fn explain(state: &Data, id: &str, host: &str, port: u16) -> ApiResult<ExplainAnswer> {
    let record = state.tenants.get(id).ok_or_else(|| no_tenant(id))?;
    let region = record.tenant.region.clone();
    let day = state.policy_day();
    let served = region
        .as_deref()
        .and_then(|r| served_tenant(state, record, r, day));
    let Some(tenant) = served else {
        let why = region
            .as_deref()
            .and_then(|r| {
                out_of_service(state, r, day)
                    .into_iter()
                    .find(|o| o.tenant == id)
                    .map(|o| o.reason)
            })
            .unwrap_or_else(|| "the tenant is not in service in any region".to_string());
        return Ok(ExplainAnswer {
            version: state.version,
            region,
            served: false,
            not_served: Some(why),
            explanation: None,
        });
    };
    let router = Router::compile(&tenant, &Default::default())
        .map_err(|e| ApiError::Invalid(format!("the tenant's policy does not compile: {e}")))?;
    let guard = GuardOptions::default();
    let cx = ExplainContext {
        guard: &guard,
        connect_ports: None,
        listeners: &[],
    };
    let explanation = router
        .explain(id, host, port, &cx, Resolution::NotResolved)
        .map_err(|e| ApiError::Invalid(format!("host {host:?}: {e}")))?;
    Ok(ExplainAnswer {
        version: state.version,
        region,
        served: true,
        not_served: None,
        explanation: Some(explanation),
    })
}
