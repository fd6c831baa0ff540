//! `GET /v1/tenants/{id}/refusals`: what the tenant's edges refused or failed, by reason and
//! region, from the edges' session reports as the leader tallies them
//! ([`crate::distribute::refusals`]); a follower forwards to the leader. The tenant's own
//! region is always listed (with zeros when nothing was refused).

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::auth::TenantReader;
use super::error::{no_tenant, ApiResult};
use super::extract::ApiPath;
use super::sessions::not_leading;
use super::ApiContext;
use crate::distribute::refusals::RegionRefusals;
use crate::store::Consistency;

/// The answer of `GET /v1/tenants/{id}/refusals`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TenantRefusals {
    pub tenant: String,
    /// The leader that answered.
    pub node_id: u64,
    /// By region name.
    pub regions: Vec<RegionRefusals>,
}

/// `GET /v1/tenants/{id}/refusals` (the operator, or the tenant's own token).
pub async fn refusals(
    State(ctx): State<Arc<ApiContext>>,
    _: TenantReader,
    ApiPath(tenant): ApiPath<String>,
) -> ApiResult<Json<TenantRefusals>> {
    // The store's leader answers (its tally is empty for the moment its lease service takes
    // to start); any other node has the middleware forward.
    let status = ctx.store.status().await?;
    if status.leader != Some(ctx.node_id) {
        return Err(not_leading(&ctx).await);
    }
    let state = ctx.read(Consistency::Stale).await?;
    let Some(record) = state.tenants.get(&tenant) else {
        return Err(no_tenant(&tenant));
    };
    let mut regions = ctx.leases.refusals.of_tenant(&tenant, ctx.leases.wall_ms());
    let home = record.tenant.region.clone().unwrap_or_default();
    if !home.is_empty() && !regions.iter().any(|r| r.region == home) {
        regions.push(RegionRefusals {
            region: home,
            ..RegionRefusals::default()
        });
        regions.sort_by(|a, b| a.region.cmp(&b.region));
    }
    Ok(Json(TenantRefusals {
        tenant,
        node_id: ctx.node_id,
        regions,
    }))
}
