//! `/metrics` (served on the metrics listener, never the API's: see [`crate::metrics`]): Raft
//! gauges refreshed from `Store::status` at scrape time, edge and template gauges from this
//! node's view, and API request counts and durations labelled by route template (never the raw
//! path, which would carry ids).

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::{header, Method, StatusCode};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
    TEXT_FORMAT,
};

use super::ApiContext;
use crate::distribute::leases;
use crate::metrics::edges::{self, EdgeGauges};
use crate::metrics::templates::TemplateGauges;
use crate::store::Consistency;

/// The API's metrics and the registry `/metrics` serves (which may hold others, e.g. the Raft
/// store's apply histogram).
pub struct ApiMetrics {
    registry: Registry,
    term: IntGauge,
    leader: IntGauge,
    is_leader: IntGauge,
    last_log_index: IntGauge,
    applied_index: IntGauge,
    /// Only when the store can tell its commit index (`Store::status` does not carry it).
    commit_index: Option<(IntGauge, CommitIndexFn)>,
    requests: IntCounterVec,
    duration: HistogramVec,
    edges: EdgeGauges,
    templates: TemplateGauges,
}

/// Reads the store's commit index at scrape time.
pub type CommitIndexFn = Box<dyn Fn() -> Option<u64> + Send + Sync>;

impl ApiMetrics {
    pub fn new(registry: Registry) -> Result<Self, prometheus::Error> {
        let gauge = |name: &str, help: &str| -> Result<IntGauge, prometheus::Error> {
            let g = IntGauge::new(name, help)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let requests = IntCounterVec::new(
            Opts::new(
                "breakout_control_api_requests_total",
                "API requests answered",
            ),
            &["route", "method", "status"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "breakout_control_api_request_duration_seconds",
                "Time to answer an API request (forwarding to the leader included)",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["route", "method"],
        )?;
        registry.register(Box::new(duration.clone()))?;
        crate::metrics::register_process(&registry)?;
        Ok(Self {
            term: gauge("breakout_control_raft_term", "Current Raft term")?,
            leader: gauge(
                "breakout_control_raft_leader",
                "Leader node id (0: none known)",
            )?,
            is_leader: gauge("breakout_control_raft_is_leader", "1 if this node leads")?,
            last_log_index: gauge(
                "breakout_control_raft_last_log_index",
                "Index of the last entry in this node's log",
            )?,
            applied_index: gauge(
                "breakout_control_raft_applied_index",
                "Index of the last entry applied on this node (the store version)",
            )?,
            commit_index: None,
            requests,
            duration,
            edges: EdgeGauges::new(&registry)?,
            templates: TemplateGauges::new(&registry)?,
            registry,
        })
    }

    /// Exports `breakout_control_raft_commit_index`, read through `f` at scrape time.
    pub fn with_commit_index(mut self, f: CommitIndexFn) -> Result<Self, prometheus::Error> {
        let g = IntGauge::new(
            "breakout_control_raft_commit_index",
            "Index of the last entry known committed",
        )?;
        self.registry.register(Box::new(g.clone()))?;
        self.commit_index = Some((g, f));
        Ok(self)
    }

    /// Counts one answered request. `route` is the route template, e.g. `/v1/tenants/{id}`.
    pub fn observe(&self, route: &str, method: &Method, status: StatusCode) {
        self.requests
            .with_label_values(&[route, method.as_str(), status.as_str()])
            .inc();
    }

    /// Records how long one request took to answer.
    pub fn observe_duration(&self, route: &str, method: &Method, seconds: f64) {
        self.duration
            .with_label_values(&[route, method.as_str()])
            .observe(seconds);
    }

    /// The registry `/metrics` serves, for metrics registered outside the API.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    async fn refresh(&self, ctx: &ApiContext) {
        let gauge = |v: Option<u64>| i64::try_from(v.unwrap_or(0)).unwrap_or(i64::MAX);
        if let Some((g, f)) = &self.commit_index {
            g.set(gauge(f()));
        }
        match ctx.store.status().await {
            Ok(s) => {
                self.term.set(gauge(Some(s.term)));
                self.leader.set(gauge(s.leader));
                self.is_leader.set(i64::from(s.leader == Some(ctx.node_id)));
                self.last_log_index.set(gauge(s.last_log_index));
                self.applied_index.set(gauge(s.last_applied));
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading the store status for /metrics");
                self.leader.set(0);
                self.is_leader.set(0);
            }
        }
        if let Ok(state) = ctx.store.read(Consistency::Stale).await {
            let views = ctx.edges.list(std::time::Instant::now());
            let regions = state.regions.keys().map(String::as_str);
            self.edges
                .show(&edges::rows(regions, &views, state.version));
            self.templates.show(&state);
        }
    }
}

/// `GET /metrics` on the metrics listener (no auth): Prometheus text format. The registry's
/// metrics, then on the leader the per (region, tenant) lease gauges
/// ([`leases::encode_usage`]). Encoded off the async workers: at 100,000 tenants the page is
/// about 20 MB.
pub async fn scrape(State(ctx): State<Arc<ApiContext>>) -> Response {
    ctx.metrics.refresh(&ctx).await;
    let page = Arc::clone(&ctx);
    let encoded = tokio::task::spawn_blocking(move || {
        let mut body = Vec::new();
        TextEncoder::new().encode(&page.metrics.registry.gather(), &mut body)?;
        if let Some(usage) = page.leases.usage() {
            leases::encode_usage(&usage, &mut body);
        }
        Ok::<_, prometheus::Error>(body)
    })
    .await;
    match encoded {
        Ok(Ok(body)) => ([(header::CONTENT_TYPE, TEXT_FORMAT)], body).into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "encoding metrics");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "the metrics encoder failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// The metrics listener's router: `GET /metrics` (Prometheus text format), no credentials; keep
/// the listener on a network only Prometheus reaches.
pub fn listener_router(ctx: Arc<ApiContext>) -> Router {
    Router::new().route("/metrics", get(scrape)).with_state(ctx)
}
