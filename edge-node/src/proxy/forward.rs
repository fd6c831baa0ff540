//! Absolute-form HTTP requests: to the origin (`direct`, sent in origin form) or to the tenant's
//! parent proxy (`upstream`, sent in absolute form). Bodies stream both ways.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use breakout_policy::Route;
use http::uri::PathAndQuery;
use http::{header, HeaderValue, Request, Response, Uri};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self as client, SendRequest};
use hyper_util::rt::TokioIo;

use super::body::{ProxyBody, RequestBody, Transfer};
use super::call::Call;
use super::dial::{dial, DialKind};
use super::error::{Hop, ProxyError};
use super::exchange::Exchange;
use super::hop::{CachedHop, Next};
use super::request::{add_via, strip_hop_by_hop, Target};

/// Forwards an absolute-form request the rules let through.
pub async fn forward(
    req: Request<Incoming>,
    mut ex: Exchange,
    target: &Target,
    call: &Call<'_>,
) -> Response<ProxyBody> {
    let host = target.host();
    let next = match call.decide_or_refuse(&mut ex, &host, target.port) {
        Err(refusal) => return *refusal,
        Ok(Route::Upstream(parent)) => Next::Upstream(parent),
        Ok(_) => Next::Origin {
            host: &host,
            port: target.port,
            egress: call.tenant.router.egress(),
        },
    };
    let (mut parts, body) = req.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    add_via(&mut parts.headers, &call.shared.via);
    // The Host sent on is the URI's authority; a client Host that says exactly that is kept
    // as it is (no copy).
    let authority = target.authority.as_str();
    let same = parts
        .headers
        .get(header::HOST)
        .is_some_and(|h| h.as_bytes() == authority.as_bytes());
    if !same {
        let Ok(host_value) = HeaderValue::from_str(authority) else {
            return call.fail(&ex, &ProxyError::BadRequest("bad authority".into()));
        };
        parts.headers.insert(header::HOST, host_value);
    }
    if matches!(next, Next::Origin { .. }) {
        let pq = parts
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        parts.uri = Uri::from(pq);
    }
    let metrics = &call.tenant.metrics;
    let transfer = Arc::new(Transfer::default());
    let body = RequestBody::new(body, metrics.bytes_up.clone(), Arc::clone(&transfer));
    let req = Request::from_parts(parts, body);

    // A destination or parent proxy that takes the request and never answers must not hold the
    // client (and its session slot) for ever.
    let limit = call.snap.settings.response_timeout;
    let sent = match tokio::time::timeout(limit, send(req, next, call)).await {
        Ok(sent) => sent,
        Err(_) => Err(ProxyError::ResponseTimeout {
            hop: hop(next),
            ms: limit.as_millis(),
        }),
    };
    match sent {
        Ok(resp) => {
            let (mut parts, body) = resp.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            let ending = call.succeeded(&ex, parts.status.as_u16(), transfer);
            let body = ProxyBody::stream(body, metrics.bytes_down.clone(), ending);
            Response::from_parts(parts, body)
        }
        Err(e) if transfer.failed.load(Ordering::Relaxed) => {
            tracing::debug!(error = %e, "request body broke");
            call.fail(&ex, &ProxyError::RequestBody)
        }
        Err(e) => call.fail(&ex, &e),
    }
}

/// Sends on the session's cached connection to the same hop if it is still open, else on a new
/// one. A request the cached connection could not even start sending is retried once, fresh.
async fn send(
    req: Request<RequestBody>,
    next: Next<'_>,
    call: &Call<'_>,
) -> Result<Response<Incoming>, ProxyError> {
    let cache = &call.session.hops;
    let req = match cache.take(next) {
        Some(mut cached) => match cached.sender.ready().await {
            Ok(()) => match cached.sender.try_send_request(req).await {
                Ok(resp) => {
                    cache.put(cached);
                    return Ok(resp);
                }
                Err(mut e) => match e.take_message() {
                    Some(req) => req,
                    None => return Err(response_error(e.into_error(), next)),
                },
            },
            Err(_) => req,
        },
        None => req,
    };
    let mut sender = open(next, call).await?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| response_error(e, next))?;
    cache.put(CachedHop::new(next, sender));
    Ok(resp)
}

async fn open(next: Next<'_>, call: &Call<'_>) -> Result<SendRequest<RequestBody>, ProxyError> {
    let dialled = match next {
        Next::Origin { host, port, .. } => dial(call, host, port, DialKind::Origin).await,
        Next::Upstream(p) => dial(call, p.host(), p.port(), DialKind::Upstream).await,
    };
    let stream = dialled.map_err(|error| ProxyError::Dial {
        to: hop(next),
        error,
    })?;
    let (sender, conn) = client::Builder::new()
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|source| ProxyError::Exchange {
            hop: hop(next),
            source,
        })?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "destination connection ended with an error");
        }
    });
    Ok(sender)
}

fn hop(next: Next<'_>) -> Hop {
    match next {
        Next::Origin { host, port, .. } => Hop::Destination {
            host: host.to_string(),
            port,
        },
        Next::Upstream(p) => Hop::Parent {
            name: p.name().to_string(),
        },
    }
}

fn response_error(e: hyper::Error, next: Next<'_>) -> ProxyError {
    if e.is_incomplete_message() || e.is_canceled() {
        ProxyError::ResponseIncomplete(hop(next))
    } else {
        ProxyError::Exchange {
            hop: hop(next),
            source: e,
        }
    }
}
