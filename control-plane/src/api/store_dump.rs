//! `/v1/store/export` and `/v1/store/import` (operator): the whole state as one JSON dump, for
//! backups and for moving between the Raft and etcd stores (docs/operations.md).

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::auth::{Operator, Principal};
use super::error::{ApiError, ApiResult};
use super::extract::{ApiBody, ApiQuery};
use super::ApiContext;
use crate::state::{Command, ImportState};
use crate::store::Consistency;

/// What a dump says it is.
pub const FORMAT: &str = "breakout-store-dump/1";
/// The largest dump `import` takes.
pub const MAX_DUMP_BYTES: usize = 512 * 1024 * 1024;

/// A dump: the state at one version, as one consistent read gave it.
#[derive(Debug, Serialize, Deserialize)]
pub struct Dump {
    pub format: String,
    pub version: u64,
    pub state: Box<crate::state::State>,
}

/// `GET /v1/store/export`: a linearizable read of the whole state.
pub async fn export(State(ctx): State<Arc<ApiContext>>, Operator: Operator) -> ApiResult<Response> {
    let state = ctx.read(Consistency::Linearizable).await?;
    let body = json!({ "format": FORMAT, "version": state.version, "state": &*state });
    Ok(Json(body).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ImportQuery {
    /// Overwrite a store that already holds regions or tenants.
    replace: bool,
}

/// `POST /v1/store/import?replace=`: the dump's content replaces the state, as one write.
pub async fn import(
    State(ctx): State<Arc<ApiContext>>,
    Operator: Operator,
    ApiQuery(q): ApiQuery<ImportQuery>,
    // Read through the API's body extractor (not plain `Bytes`): a JSON content type, the
    // route's limit, and a copy kept so a follower can forward the import to the leader.
    ApiBody(body): ApiBody,
) -> ApiResult<Response> {
    let dump: Dump = super::strict_json::from_slice(&body)
        .map_err(|e| ApiError::Invalid(format!("the body is not a store dump: {e}")))?;
    if dump.format != FORMAT {
        return Err(ApiError::Invalid(format!(
            "format {:?} is not {FORMAT:?}",
            dump.format
        )));
    }
    let command = Command::ImportState(ImportState {
        state: dump.state,
        replace: q.replace,
    });
    let version = ctx.write(&Principal::Operator, command).await?;
    Ok(Json(json!({ "version": version, "imported_from": dump.version })).into_response())
}
