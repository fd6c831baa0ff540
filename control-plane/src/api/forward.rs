//! The per-route middleware: replays on the leader a request this node cannot serve (a write,
//! or a linearizable read, on a follower), relays the leader's answer, and counts every answer
//! by route template.
//!
//! Forwarding is one hop: the forwarded request carries `X-Breakout-Forwarded: 1`, and a node
//! that receives such a request while not leading answers 503 `no_leader` instead of forwarding
//! again, so two nodes that disagree about the leader cannot bounce a request between them.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, HeaderName, HeaderValue, Method, Uri};

use super::error::{ApiError, ForwardTo};
use super::export;
use super::extract::{BodyLimit, BodySlot};
use super::idempotency;
use super::reply::VERSION_HEADER;
use super::ApiContext;
use crate::http_client::FORWARDED_HEADER;

/// Request headers replayed on the leader.
static REQUEST_HEADERS: [&HeaderName; 5] = [
    &header::AUTHORIZATION,
    &header::CONTENT_TYPE,
    &header::IF_MATCH,
    &header::IF_NONE_MATCH,
    &idempotency::IDEMPOTENCY_KEY,
];

/// Which route a request matched, for the middleware.
#[derive(Clone)]
pub struct RouteScope {
    pub route: &'static str,
    pub ctx: Arc<ApiContext>,
    /// The route's body limit: what `Idempotency-Key` fingerprinting and [`super::extract::ApiBody`]
    /// read at most.
    pub max_body: usize,
}

/// Runs the handler (with the write's `Idempotency-Key`, if any); forwards to the leader when
/// it answers [`ApiError::NotLeader`].
pub async fn per_route(State(scope): State<RouteScope>, req: Request, next: Next) -> Response {
    let (method, uri, headers) = (
        req.method().clone(),
        req.uri().clone(),
        req.headers().clone(),
    );
    let started = std::time::Instant::now();
    let resp = match idempotency::prepare(req, scope.max_body).await {
        Err(e) => e.into_response(),
        Ok((mut req, keyed)) => {
            let slot = BodySlot::default();
            req.extensions_mut().insert(slot.clone());
            req.extensions_mut().insert(BodyLimit(scope.max_body));
            let resp = match &keyed {
                Some(k) => idempotency::KEYED.scope(k.clone(), next.run(req)).await,
                None => next.run(req).await,
            };
            let repeated = keyed.is_some_and(|k| k.repeated());
            forwarded(&scope, resp, slot, (&method, &uri, &headers), repeated).await
        }
    };
    let metrics = &scope.ctx.metrics;
    metrics.observe(scope.route, &method, resp.status());
    metrics.observe_duration(scope.route, &method, started.elapsed().as_secs_f64());
    resp
}

/// The handler's answer, or the leader's if the handler asked to forward; marked as a
/// repeat if the store answered it as one.
async fn forwarded(
    scope: &RouteScope,
    mut resp: Response,
    slot: BodySlot,
    (method, uri, headers): (&Method, &Uri, &HeaderMap),
    repeated: bool,
) -> Response {
    if repeated {
        let yes = HeaderValue::from_static("true");
        resp.headers_mut()
            .insert(idempotency::REPLAYED.clone(), yes);
    }
    if let Some(ForwardTo(leader)) = resp.extensions_mut().remove::<ForwardTo>() {
        resp = if headers.contains_key(&FORWARDED_HEADER) {
            let why = "forwarded request reached a node that does not lead; retry shortly";
            ApiError::NoLeader(why.into()).into_response()
        } else {
            // Handlers that take no body (reads, deletes) left the slot empty.
            let body = slot.0.get().cloned().unwrap_or_default();
            relay(&scope.ctx, &leader, method, uri, headers, body).await
        };
    }
    resp
}

/// Replays the request on the leader at `leader_api` and relays its answer.
async fn relay(
    ctx: &ApiContext,
    leader_api: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut req = ctx
        .client
        .request(method.clone(), format!("http://{leader_api}{path}"))
        .header(FORWARDED_HEADER.clone(), HeaderValue::from_static("1"))
        .body(body);
    for name in REQUEST_HEADERS {
        if let Some(value) = headers.get(name) {
            req = req.header(name.clone(), value.clone());
        }
    }
    let unreachable = |e: reqwest::Error| {
        // reqwest's message names the URL (path and query), never the headers.
        tracing::warn!(leader = leader_api, error = %e, "forwarding to the leader failed");
        ApiError::NoLeader(format!("the leader at {leader_api} did not answer")).into_response()
    };
    let upstream = match req.send().await {
        Ok(r) => r,
        Err(e) => return unreachable(e),
    };
    let status = upstream.status();
    let mut relayed = HeaderMap::new();
    for name in [
        &VERSION_HEADER,
        &header::ETAG,
        &header::CONTENT_TYPE,
        &header::RETRY_AFTER,
        &header::CACHE_CONTROL,
        &export::DELTA_HEADER,
        &export::DELTA_REASON_HEADER,
        &export::OMITTED_HEADER,
        &idempotency::REPLAYED,
    ] {
        if let Some(value) = upstream.headers().get(name) {
            relayed.insert(name.clone(), value.clone());
        }
    }
    relayed.insert(FORWARDED_HEADER.clone(), HeaderValue::from_static("1"));
    match upstream.bytes().await {
        Ok(body) => (status, relayed, body).into_response(),
        Err(e) => unreachable(e),
    }
}
