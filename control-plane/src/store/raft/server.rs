//! The Raft RPC endpoint a node serves on its Raft listener (the client side is
//! [`super::network`]). Every route requires `Authorization: Bearer <cluster token>`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request as HttpRequest, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use openraft::error::RaftError;
use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest, VoteResponse};

use super::network::{
    clock_reading, APPEND_PATH, NODE_HEADER, SNAPSHOT_PATH, VOTE_PATH, WALL_CLOCK_HEADER,
};
use super::types::{NodeId, TypeConfig};
use super::RaftStore;
use crate::crypto::constant_time_eq;

/// Largest accepted RPC body: a batch of entries may carry large lists, and snapshot chunks are
/// JSON arrays of bytes (about 4x their size).
const MAX_BODY: usize = 128 * 1024 * 1024;

/// The router for the Raft listener: `POST /raft/append`, `/raft/vote`, `/raft/snapshot`.
/// Answers 401 without the cluster token.
pub fn raft_router(store: Arc<RaftStore>) -> Router {
    let token: Arc<str> = Arc::from(store.cluster_token.as_str());
    Router::new()
        .route(APPEND_PATH, post(append))
        .route(VOTE_PATH, post(vote))
        .route(SNAPSHOT_PATH, post(snapshot))
        // Layers added later run first: the token, then the gate, then the clocks.
        .route_layer(middleware::from_fn_with_state(Arc::clone(&store), clocks))
        .route_layer(middleware::from_fn_with_state(Arc::clone(&store), gate))
        .route_layer(middleware::from_fn_with_state(token, require_token))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(store)
}

/// Checks the bearer token before any body is read.
async fn require_token(State(token): State<Arc<str>>, req: HttpRequest, next: Next) -> Response {
    let presented = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match presented {
        Some(t) if constant_time_eq(t.as_bytes(), token.as_bytes()) => next.run(req).await,
        _ => (StatusCode::UNAUTHORIZED, "missing or wrong cluster token").into_response(),
    }
}

/// Answers 503 while the node holds its RPCs (see `RaftConfig::hold_rpcs_while_pristine`).
async fn gate(State(store): State<Arc<RaftStore>>, req: HttpRequest, next: Next) -> Response {
    if store.rpcs_open() {
        return next.run(req).await;
    }
    let why = "this node has empty storage and is not yet part of a cluster";
    (StatusCode::SERVICE_UNAVAILABLE, why).into_response()
}

/// Records the sender's clock reading and answers with this node's own (after the token check:
/// only members move the cluster's time).
async fn clocks(State(store): State<Arc<RaftStore>>, req: HttpRequest, next: Next) -> Response {
    if let Some((peer, wall_ms)) = clock_reading(req.headers()) {
        store.cluster_clock.heard(peer, wall_ms);
    }
    let mut resp = next.run(req).await;
    let headers = resp.headers_mut();
    headers.insert(NODE_HEADER, HeaderValue::from(store.node_id));
    headers.insert(
        WALL_CLOCK_HEADER,
        HeaderValue::from(store.cluster_clock.own_ms()),
    );
    resp
}

/// Bodies larger than this are decoded on the blocking pool: a catch-up append of import parts
/// or a snapshot chunk is MiBs of JSON, long enough on a worker thread to hold up this node's
/// own heartbeats and votes. Heartbeats and small writes stay on the async workers (no thread
/// hand-off).
const DECODE_INLINE_MAX: usize = 64 * 1024;

/// `body` as a `T`, or the answer to send instead (400 naming `what` for a body that is not
/// one).
async fn decode<T>(body: Bytes, what: &'static str) -> Result<T, Response>
where
    T: serde::de::DeserializeOwned + Send + 'static,
{
    let inline = body.len() <= DECODE_INLINE_MAX;
    let decode = move || serde_json::from_slice::<T>(&body);
    let decoded = if inline {
        decode()
    } else {
        tokio::task::spawn_blocking(decode).await.map_err(|e| {
            tracing::error!(error = %e, what, "decoding a raft rpc");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        })?
    };
    decoded.map_err(|e| (StatusCode::BAD_REQUEST, format!("not {what}: {e}")).into_response())
}

async fn append(State(store): State<Arc<RaftStore>>, body: Bytes) -> Response {
    match decode::<AppendEntriesRequest<TypeConfig>>(body, "an append").await {
        Ok(req) => Json(store.raft.append_entries(req).await).into_response(),
        Err(refused) => refused,
    }
}

async fn vote(
    State(store): State<Arc<RaftStore>>,
    Json(req): Json<VoteRequest<NodeId>>,
) -> Json<Result<VoteResponse<NodeId>, RaftError<NodeId>>> {
    Json(store.raft.vote(req).await)
}

async fn snapshot(State(store): State<Arc<RaftStore>>, body: Bytes) -> Response {
    match decode::<InstallSnapshotRequest<TypeConfig>>(body, "a snapshot chunk").await {
        Ok(req) => Json(store.raft.install_snapshot(req).await).into_response(),
        Err(refused) => refused,
    }
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn token_comparison_needs_equal_bytes() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
    }

    /// Small bodies are decoded in place, large ones on the blocking pool; both answer the
    /// same, and a body that is not the RPC is a 400 naming it.
    #[tokio::test]
    async fn bodies_decode_alike_whatever_their_size() {
        use super::{decode, Bytes, StatusCode, DECODE_INLINE_MAX};
        let small: Vec<u64> = vec![1, 2, 3];
        let large: Vec<u64> = (0..DECODE_INLINE_MAX as u64).collect();
        for value in [small, large] {
            let body = Bytes::from(serde_json::to_vec(&value).expect("encode"));
            let decoded: Vec<u64> = decode(body, "a list").await.expect("decodes");
            assert_eq!(decoded, value);
        }
        for body in [b"{".to_vec(), vec![b' '; 2 * DECODE_INLINE_MAX]] {
            let refused = decode::<Vec<u64>>(Bytes::from(body), "a list")
                .await
                .expect_err("not a list");
            assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        }
    }
}
