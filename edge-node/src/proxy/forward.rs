//! Absolute-form HTTP requests: to the origin (`direct`, sent in origin form) or to the tenant's
//! parent proxy (`upstream`, sent in absolute form). Bodies stream both ways.

use std::sync::Arc;

use breakout_policy::route::ParentProxy;
use breakout_policy::{Host, Route};
use http::uri::{Authority, PathAndQuery};
use http::{header, HeaderValue, Request, Response, Uri};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self as client, SendRequest};
use hyper_util::rt::TokioIo;

use super::body::{ProxyBody, RequestBody, Transfer};
use super::dial::{dial, DialKind};
use super::error::ProxyError;
use super::exchange::Exchange;
use super::request::{add_via, strip_hop_by_hop};
use super::{Session, Shared};
use crate::snapshot::{Snapshot, TenantRuntime};

/// Where a reusable connection leads.
#[derive(Clone, Debug, PartialEq, Eq)]
enum HopKey {
    Origin {
        host: Host<'static>,
        port: u16,
        egress: Option<std::net::Ipv4Addr>,
    },
    Upstream(Arc<ParentProxy>),
}

/// A connection kept for the session's next request.
pub struct CachedHop {
    key: HopKey,
    sender: SendRequest<RequestBody>,
}

#[allow(clippy::too_many_arguments)]
pub async fn forward(
    req: Request<Incoming>,
    mut ex: Exchange,
    host: Host<'static>,
    port: u16,
    authority: Authority,
    snap: &Snapshot,
    tenant: &TenantRuntime,
    session: &Session,
    shared: &Shared,
) -> Response<ProxyBody> {
    let outcomes = Some(&*tenant.metrics.outcomes);
    let routed = tenant.router.route(&host, port);
    let rule = tenant.router.rule_label(routed.rule);
    ex.decided(routed.route.into(), rule);
    let key = match routed.route {
        Route::Block => {
            return ex.fail(shared, outcomes, &ProxyError::Blocked(rule.to_string()));
        }
        Route::Direct => HopKey::Origin {
            host,
            port,
            egress: tenant.router.egress(),
        },
        Route::Upstream(parent) => HopKey::Upstream(Arc::clone(parent)),
    };
    let (mut parts, body) = req.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    add_via(&mut parts.headers, &shared.via);
    // The Host sent on is the URI's authority; a client Host that says exactly that is kept
    // as it is (no copy).
    let same = parts
        .headers
        .get(header::HOST)
        .is_some_and(|h| h.as_bytes() == authority.as_str().as_bytes());
    if !same {
        let Ok(host_value) = HeaderValue::from_str(authority.as_str()) else {
            return ex.fail(
                shared,
                outcomes,
                &ProxyError::BadRequest("bad authority".into()),
            );
        };
        parts.headers.insert(header::HOST, host_value);
    }
    if matches!(key, HopKey::Origin { .. }) {
        let pq = parts
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        parts.uri = Uri::from(pq);
    }
    let transfer = Arc::new(Transfer::default());
    let body = RequestBody::new(body, tenant.metrics.bytes_up.clone(), Arc::clone(&transfer));
    let req = Request::from_parts(parts, body);

    // A destination or parent proxy that takes the request and never answers must not hold the
    // client (and its session slot) for ever.
    let limit = snap.settings.response_timeout;
    let sent = match tokio::time::timeout(limit, send(req, &key, snap, session, shared)).await {
        Ok(sent) => sent,
        Err(_) => Err(ProxyError::ResponseTimeout(
            hop_name(&key),
            limit.as_millis(),
        )),
    };
    match sent {
        Ok(resp) => {
            let (mut parts, body) = resp.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            let status = parts.status.as_u16();
            let ending = ex.succeeded(shared, &tenant.metrics.outcomes, status, transfer);
            Response::from_parts(
                parts,
                ProxyBody::stream(body, tenant.metrics.bytes_down.clone(), ending),
            )
        }
        Err(e) => {
            let e = if transfer.failed.load(std::sync::atomic::Ordering::Relaxed) {
                ProxyError::RequestBody
            } else {
                e
            };
            ex.fail(shared, outcomes, &e)
        }
    }
}

/// Sends on the session's cached connection to the same hop if it is still open, else on a new
/// one. A request the cached connection could not even start sending is retried once, fresh.
async fn send(
    req: Request<RequestBody>,
    key: &HopKey,
    snap: &Snapshot,
    session: &Session,
    shared: &Shared,
) -> Result<Response<Incoming>, ProxyError> {
    let cached = session.take_cached(key);
    let req = match cached {
        Some(mut sender) => match sender.ready().await {
            Ok(()) => match sender.try_send_request(req).await {
                Ok(resp) => {
                    session.put_cached(key, sender);
                    return Ok(resp);
                }
                Err(mut e) => match e.take_message() {
                    Some(req) => req,
                    None => return Err(response_error(e.into_error(), key)),
                },
            },
            Err(_) => req,
        },
        None => req,
    };
    let mut sender = open(key, snap, shared).await?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| response_error(e, key))?;
    session.put_cached(key, sender);
    Ok(resp)
}

async fn open(
    key: &HopKey,
    snap: &Snapshot,
    shared: &Shared,
) -> Result<SendRequest<RequestBody>, ProxyError> {
    let stream = match key {
        HopKey::Origin { host, port, egress } => {
            dial(shared, snap, host, *port, *egress, DialKind::Origin).await?
        }
        HopKey::Upstream(p) => {
            dial(shared, snap, p.host(), p.port(), None, DialKind::Upstream).await?
        }
    };
    let (sender, conn) = client::Builder::new()
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|e| ProxyError::Upstream(format!("handshake: {e}")))?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "destination connection ended with an error");
        }
    });
    Ok(sender)
}

/// The next hop as messages name it: `host:port` or `parent proxy NAME`.
fn hop_name(key: &HopKey) -> String {
    match key {
        HopKey::Origin { host, port, .. } => format!("{host}:{port}"),
        HopKey::Upstream(p) => format!("parent proxy {p}"),
    }
}

fn response_error(e: hyper::Error, key: &HopKey) -> ProxyError {
    let hop = hop_name(key);
    if e.is_incomplete_message() || e.is_canceled() {
        ProxyError::ResponseIncomplete(hop)
    } else {
        ProxyError::Upstream(format!("{hop}: {e}"))
    }
}

impl Session {
    fn take_cached(&self, key: &HopKey) -> Option<SendRequest<RequestBody>> {
        let mut slot = self.cached.lock().ok()?;
        match slot.take() {
            Some(c) if c.key == *key && !c.sender.is_closed() => Some(c.sender),
            _ => None,
        }
    }

    fn put_cached(&self, key: &HopKey, sender: SendRequest<RequestBody>) {
        if let Ok(mut slot) = self.cached.lock() {
            *slot = Some(CachedHop {
                key: key.clone(),
                sender,
            });
        }
    }
}
