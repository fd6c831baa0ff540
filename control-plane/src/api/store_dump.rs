//! `/v1/store/export` and `/v1/store/import` (operator): the whole state as one JSON dump, for
//! backups and for moving between the Raft and etcd stores (docs/operations.md).

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::auth::{Operator, Principal};
use super::error::{ApiError, ApiResult};
use super::extract::{ApiBody, ApiQuery};
use super::{idempotency, ApiContext, Reply, Written};
use crate::state::{split_dump, Command, ImportPart, ImportState};
use crate::store::Consistency;

/// What a dump says it is.
pub const FORMAT: &str = "breakout-store-dump/1";
/// The largest dump `import` takes.
pub const MAX_DUMP_BYTES: usize = 512 * 1024 * 1024;
/// About the most JSON one write of an import carries. One log entry of a whole large dump
/// (166 MiB at 100,000 tenants) held the Raft leader's core loop for longer than the election
/// timeout on every attempt, so it never committed; parts of this size commit in a fraction of
/// a second each.
pub const PART_BYTES: u64 = 2 * 1024 * 1024;

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
    let body = off_runtime("encoding a dump", move || {
        let dump = DumpRef {
            format: FORMAT,
            version: state.version,
            state: &state,
        };
        serde_json::to_vec(&dump).map_err(|e| {
            tracing::error!(error = %e, "encoding a dump");
            ApiError::Internal
        })
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// What [`export`] writes: a [`Dump`] without copying the state.
#[derive(Serialize)]
struct DumpRef<'a> {
    format: &'a str,
    version: u64,
    state: &'a crate::state::State,
}

/// Runs `f` on the blocking pool: a whole state (166 MiB of JSON at 100,000 tenants) takes
/// seconds to encode, decode or split, which on an async worker held up everything queued
/// behind it on this node, its Raft heartbeats included.
async fn off_runtime<T: Send + 'static>(
    what: &'static str,
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        tracing::error!(error = %e, "{what}");
        ApiError::Internal
    })?
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ImportQuery {
    /// Overwrite a store that already holds regions or tenants.
    replace: bool,
}

/// `POST /v1/store/import?replace=`: the dump's content replaces the state, in writes of about
/// [`PART_BYTES`] each: an [`ImportState`] with everything but most tenants, then
/// [`ImportPart`]s with the rest of the tenants, each refused if anything came between.
pub async fn import(
    State(ctx): State<Arc<ApiContext>>,
    Operator: Operator,
    ApiQuery(q): ApiQuery<ImportQuery>,
    // Read through the API's body extractor (not plain `Bytes`): a JSON content type, the
    // route's limit, and a copy kept so a follower can forward the import to the leader.
    ApiBody(body): ApiBody,
) -> ApiResult<Response> {
    let (from, (first, parts)) = off_runtime("reading a dump for import", move || {
        let dump: Dump = super::strict_json::from_slice(&body)
            .map_err(|e| ApiError::Invalid(format!("the body is not a store dump: {e}")))?;
        drop(body);
        if dump.format != FORMAT {
            return Err(ApiError::Invalid(format!(
                "format {:?} is not {FORMAT:?}",
                dump.format
            )));
        }
        Ok((dump.version, split_dump(*dump.state, PART_BYTES)))
    })
    .await?;
    let n = parts.len() + 1;
    let command = Command::ImportState(ImportState {
        state: Box::new(first),
        replace: q.replace,
    });
    let mut written = write_nth(&ctx, 0, command).await?;
    let mut repeats = usize::from(written.repeated);
    for (i, part) in parts.into_iter().enumerate() {
        let command = Command::ImportPart(ImportPart {
            after: written.version,
            part: Box::new(part),
        });
        written = write_nth(&ctx, i + 1, command)
            .await
            .map_err(|e| stopped(e, i + 2, n))?;
        repeats += usize::from(written.repeated);
    }
    // Answered as a repeat only if every write was one (a retry after a complete import).
    if repeats == n {
        idempotency::mark_repeated();
    }
    let body = json!({ "version": written.version, "imported_from": from, "parts": n });
    Ok(Json(body).into_response())
}

/// Writes `command` as write `i` of the import: under a key derived from the request's, if it
/// has one, so that a retry of an import stopped part-way repeats the parts written and makes
/// the rest.
async fn write_nth(ctx: &ApiContext, i: usize, command: Command) -> ApiResult<Written> {
    let write = ctx.write_with(&Principal::Operator, command, Reply::new());
    match idempotency::nth(i) {
        Some(key) => idempotency::KEYED.scope(key, write).await,
        None => write.await,
    }
}

/// What a part's write failing means for the import: the parts before it are written. A change
/// of leader is answered as 503, never forwarded: the new leader would start the whole import
/// again, which a store already holding tenants refuses without `replace`.
fn stopped(e: ApiError, part: usize, n: usize) -> ApiError {
    let what = |why: &str| {
        format!(
            "the import stopped at part {part} of {n} ({why}); the store may hold part of the \
             dump: run the import again with replace=true"
        )
    };
    match e {
        ApiError::NotLeader(_) => ApiError::NoLeader(what("the leader changed")),
        ApiError::NoLeader(m) => ApiError::NoLeader(what(&m)),
        ApiError::Conflict(m) => ApiError::Conflict(what(&m)),
        other => other,
    }
}
