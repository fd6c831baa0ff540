//! The admin listener: `/metrics`, `/healthz`, `/readyz`, and `/explain` for operators.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use breakout_policy::route::{ExplainContext, Resolution};
use breakout_policy::{canonical_host, Host};
use tokio::net::TcpListener;

use crate::resolve::ResolveError;
use crate::shared::Shared;

/// Serves until the process exits.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/explain", get(explain))
        .with_state(shared);
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!(error = %e, "admin listener failed");
    }
}

async fn metrics(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        shared.metrics.render(),
    )
}

/// Ready while serving with a loaded configuration; not ready once draining, so load balancers
/// stop sending new clients before the process exits, nor before the first configuration from
/// the control plane (a lost control plane later keeps the last one, and readiness).
async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    if shared.draining.load(Ordering::Acquire) {
        (StatusCode::SERVICE_UNAVAILABLE, "draining\n").into_response()
    } else if shared.awaiting_config.load(Ordering::Acquire) {
        let why = "waiting for the first configuration from the control plane\n";
        (StatusCode::SERVICE_UNAVAILABLE, why).into_response()
    } else {
        let snap = shared.snapshot.load();
        format!(
            "ready generation={} version={}\n",
            snap.generation, snap.version
        )
        .into_response()
    }
}

/// How long `/explain` waits for a name to resolve: an operator's question must get an answer
/// even when DNS does not.
const RESOLVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// `/explain?tenant=T&host=H&port=P[&resolve=false]`: what happens to the tenant's request for
/// the destination, and why: the rule, list and entry, and the destination guard's verdict on
/// the addresses this edge would dial (resolved here, as the proxy resolves them, unless
/// `resolve=false`). The same decision the proxy makes (`breakout_policy::route`).
async fn explain(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (Some(tenant), Some(host)) = (q.get("tenant"), q.get("host")) else {
        return (
            StatusCode::BAD_REQUEST,
            "query needs tenant= and host= (and optionally port=, resolve=false)\n",
        )
            .into_response();
    };
    let port = match q.get("port").map(|p| p.parse::<u16>()) {
        None => 443,
        Some(Ok(p)) => p,
        Some(Err(_)) => return (StatusCode::BAD_REQUEST, "port must be 0-65535\n").into_response(),
    };
    let resolve = !matches!(
        q.get("resolve").map(String::as_str),
        Some("false" | "0" | "no")
    );
    let snap = shared.snapshot.load_full();
    let Some(t) = snap.tenant_by_id(tenant) else {
        return (StatusCode::NOT_FOUND, format!("no tenant {tenant:?}\n")).into_response();
    };
    let canonical = match canonical_host(host) {
        Ok(h) => h,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    };
    let routed = t.router.route(&canonical, port);
    let target = routed.guard_target(&canonical, port);
    let resolved = match target {
        Some(target) if resolve && matches!(target.host, Host::Name(_)) => {
            let lookup = shared
                .resolver
                .resolve(&target.host, &snap.settings.static_hosts);
            Some(match tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await {
                Ok(Ok(addrs)) => Ok(addrs),
                Ok(Err(ResolveError::NotFound(h))) => Err(format!("{h} has no address")),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!(
                    "resolving {} took longer than {}s",
                    target.host,
                    RESOLVE_TIMEOUT.as_secs()
                )),
            })
        }
        _ => None,
    };
    let resolution = match &resolved {
        None => Resolution::NotResolved,
        Some(Ok(addrs)) => Resolution::Resolved(addrs),
        Some(Err(why)) => Resolution::Failed(why),
    };
    let cx = ExplainContext {
        guard: &snap.guard,
        connect_ports: Some(&snap.settings.allowed_connect_ports),
        listeners: &shared.own_addrs,
    };
    match t.router.explain(tenant, host, port, &cx, resolution) {
        Ok(e) => Json(e).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    }
}
