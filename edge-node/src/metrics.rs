//! Prometheus metrics of the edge. Per-tenant handles are resolved once per config (not per
//! request), or on their first use in that config ([`outcomes`]).

mod outcomes;

use std::sync::{Arc, OnceLock};

pub use self::outcomes::Outcomes;
use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Every metric the edge exports.
pub struct Metrics {
    registry: Registry,
    sessions_active: IntGaugeVec,
    session_limit: IntGaugeVec,
    sessions_admitted: IntCounterVec,
    sessions_refused: IntCounterVec,
    /// `sessions_refused_total{tenant=""}` by [`RefusalReason`], made on first use.
    no_tenant_refused: [OnceLock<IntCounter>; RefusalReason::COUNT],
    requests: IntCounterVec,
    refusals: IntCounterVec,
    /// Requests and refusals of connections that belong to no tenant (label `tenant=""`).
    pub no_tenant: Outcomes,
    bytes: IntCounterVec,
    /// Connecting to an origin and to a parent proxy.
    pub connect_origin: Histogram,
    pub connect_upstream: Histogram,
    pub dns_duration: Histogram,
    pub config_generation: IntGauge,
    pub config_version: IntGauge,
    reloads: IntCounterVec,
    /// 1 while connected to a control plane.
    pub sync_connected: IntGauge,
    /// Unix time of the last frame from the control plane (0: none yet, or standalone).
    pub sync_last_contact: Gauge,
    /// Whole requests: forward (head in to response end), tunnel (CONNECT in to closed).
    pub duration_forward: Histogram,
    pub duration_tunnel: Histogram,
    sync_snapshots: IntCounterVec,
    pac_requests: IntCounterVec,
    pac_bytes: IntCounterVec,
}

/// One tenant's counters, cloned out of the vectors when the config is built.
#[derive(Clone)]
pub struct TenantMetrics {
    pub active: IntGauge,
    /// The local session limit in force (the grant in control-plane mode).
    pub limit: IntGauge,
    pub admitted: IntCounter,
    pub refused_limit: IntCounter,
    /// Connections refused at accept: too many from one source waiting to send a head.
    pub refused_source: IntCounter,
    /// `requests_total` and `refusals_total` of the tenant.
    pub outcomes: Arc<Outcomes>,
    pub bytes_up: IntCounter,
    pub bytes_down: IntCounter,
    /// `GET /pac/{tenant}.pac` answers by status (200, 304, 404, 503) and body bytes sent.
    pub pac_ok: IntCounter,
    pub pac_not_modified: IntCounter,
    pub pac_not_found: IntCounter,
    pub pac_unavailable: IntCounter,
    pub pac_bytes: IntCounter,
}

/// Why a session was refused, as the `reason` label says it.
#[derive(Clone, Copy, Debug)]
pub enum RefusalReason {
    UnknownSource,
    Ipv6Client,
    Limit,
    Draining,
    NotReady,
    /// A tenant contracted in another region (art. 5).
    ForeignRegion,
    /// A tenant of this region whose contracts do not give it the service (art. 6-1).
    NotInService,
    /// Too many connections from one source address waiting to send a request head.
    SourceLimit,
}

impl RefusalReason {
    const COUNT: usize = 8;

    fn label(self) -> &'static str {
        match self {
            RefusalReason::UnknownSource => "unknown_source",
            RefusalReason::Ipv6Client => "ipv6_client",
            RefusalReason::Limit => "limit",
            RefusalReason::Draining => "draining",
            RefusalReason::NotReady => "not_ready",
            RefusalReason::ForeignRegion => "foreign_region",
            RefusalReason::NotInService => "not_in_service",
            RefusalReason::SourceLimit => "source_limit",
        }
    }
}

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Whole requests: a forwarded request takes milliseconds, a tunnel up to hours.
const REQUEST_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
    3600.0,
];

/// The commit this binary was built from (the image build passes `BREAKOUT_COMMIT`).
const COMMIT: &str = match option_env!("BREAKOUT_COMMIT") {
    Some(c) => c,
    None => "unknown",
};

impl Metrics {
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let gauge_vec = |name: &str, help: &str, labels: &[&str]| {
            IntGaugeVec::new(Opts::new(name, help), labels)
        };
        let counter_vec = |name: &str, help: &str, labels: &[&str]| {
            IntCounterVec::new(Opts::new(name, help), labels)
        };
        let requests = counter_vec(
            "breakout_edge_requests_total",
            "Requests and tunnels, by the action the rules decided (none: not asked), the status \
             class answered and the result (ok, refused, upstream_error, client_error)",
            &["tenant", "action", "class", "result"],
        )?;
        let refusals = counter_vec(
            "breakout_edge_refusals_total",
            "Requests (and connections) the edge refused or failed, by reason",
            &["tenant", "reason"],
        )?;
        let request_duration = HistogramVec::new(
            HistogramOpts::new(
                "breakout_edge_request_duration_seconds",
                "Whole requests: forward (request head in to response end), tunnel (CONNECT in \
                 to tunnel closed)",
            )
            .buckets(REQUEST_BUCKETS.to_vec()),
            &["kind"],
        )?;
        let build_info = gauge_vec(
            "breakout_build_info",
            "Always 1: the version and commit of this binary",
            &["version", "commit"],
        )?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION"), COMMIT])
            .set(1);
        registry.register(Box::new(build_info))?;
        registry.register(Box::new(request_duration.clone()))?;
        #[cfg(target_os = "linux")]
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        let connect_duration = HistogramVec::new(
            HistogramOpts::new(
                "breakout_edge_connect_duration_seconds",
                "Time to connect to an origin or a parent proxy",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["kind"],
        )?;
        registry.register(Box::new(connect_duration.clone()))?;
        let m = Metrics {
            sessions_active: gauge_vec(
                "breakout_edge_sessions_active",
                "Client connections currently admitted, per tenant",
                &["tenant"],
            )?,
            session_limit: gauge_vec(
                "breakout_edge_session_limit",
                "Concurrent sessions this edge admits per tenant now (its grant in control-plane mode)",
                &["tenant"],
            )?,
            sessions_admitted: counter_vec(
                "breakout_edge_sessions_admitted_total",
                "Client connections admitted",
                &["tenant"],
            )?,
            sessions_refused: counter_vec(
                "breakout_edge_sessions_refused_total",
                "Client connections refused, by reason",
                &["tenant", "reason"],
            )?,
            requests: requests.clone(),
            refusals: refusals.clone(),
            no_tenant: Outcomes::new("", &requests, &refusals),
            bytes: counter_vec(
                "breakout_edge_bytes_total",
                "Body and tunnel bytes, up (client to destination) and down",
                &["tenant", "direction"],
            )?,
            connect_origin: connect_duration.with_label_values(&["origin"]),
            connect_upstream: connect_duration.with_label_values(&["upstream"]),
            no_tenant_refused: Default::default(),
            dns_duration: Histogram::with_opts(
                HistogramOpts::new("breakout_edge_dns_duration_seconds", "DNS resolution time")
                    .buckets(LATENCY_BUCKETS.to_vec()),
            )?,
            config_generation: IntGauge::new(
                "breakout_edge_config_generation",
                "Configurations applied by this process (1 = the one read at start)",
            )?,
            config_version: IntGauge::new(
                "breakout_edge_config_version",
                "Version of the applied policy (0 for a standalone file)",
            )?,
            reloads: counter_vec(
                "breakout_edge_config_reloads_total",
                "Configuration reloads, by result",
                &["result"],
            )?,
            sync_connected: IntGauge::new(
                "breakout_edge_sync_connected",
                "1 while connected to a control-plane node",
            )?,
            sync_last_contact: Gauge::new(
                "breakout_edge_sync_last_contact_timestamp_seconds",
                "Unix time of the last frame from the control plane (0: none, or standalone)",
            )?,
            duration_forward: request_duration.with_label_values(&["forward"]),
            duration_tunnel: request_duration.with_label_values(&["tunnel"]),
            sync_snapshots: counter_vec(
                "breakout_edge_sync_snapshots_total",
                "Snapshots received from the control plane, applied or rejected",
                &["result"],
            )?,
            pac_requests: counter_vec(
                "breakout_edge_pac_requests_total",
                "GET /pac/{tenant}.pac requests from the tenant's sources, by status",
                &["tenant", "status"],
            )?,
            pac_bytes: counter_vec(
                "breakout_edge_pac_bytes_total",
                "PAC file body bytes sent (compressed length when gzip)",
                &["tenant"],
            )?,
            registry,
        };
        m.registry.register(Box::new(m.sessions_active.clone()))?;
        m.registry.register(Box::new(m.sessions_admitted.clone()))?;
        m.registry.register(Box::new(m.session_limit.clone()))?;
        m.registry.register(Box::new(m.sessions_refused.clone()))?;
        m.registry.register(Box::new(m.requests.clone()))?;
        m.registry.register(Box::new(m.refusals.clone()))?;
        m.registry.register(Box::new(m.bytes.clone()))?;
        m.registry.register(Box::new(m.dns_duration.clone()))?;
        m.registry.register(Box::new(m.config_generation.clone()))?;
        m.registry.register(Box::new(m.config_version.clone()))?;
        m.registry.register(Box::new(m.reloads.clone()))?;
        m.registry.register(Box::new(m.sync_connected.clone()))?;
        m.registry.register(Box::new(m.sync_last_contact.clone()))?;
        m.registry.register(Box::new(m.sync_snapshots.clone()))?;
        m.registry.register(Box::new(m.pac_requests.clone()))?;
        m.registry.register(Box::new(m.pac_bytes.clone()))?;
        for r in ["ok", "error"] {
            m.reloads.with_label_values(&[r]);
        }
        for r in ["applied", "rejected"] {
            m.sync_snapshots.with_label_values(&[r]);
        }
        Ok(m)
    }

    pub fn tenant(&self, id: &str) -> TenantMetrics {
        let bytes = |dir: &str| self.bytes.with_label_values(&[id, dir]);
        TenantMetrics {
            active: self.sessions_active.with_label_values(&[id]),
            limit: self.session_limit.with_label_values(&[id]),
            admitted: self.sessions_admitted.with_label_values(&[id]),
            refused_limit: self.sessions_refused.with_label_values(&[id, "limit"]),
            refused_source: self
                .sessions_refused
                .with_label_values(&[id, RefusalReason::SourceLimit.label()]),
            outcomes: Arc::new(Outcomes::new(id, &self.requests, &self.refusals)),
            bytes_up: bytes("up"),
            bytes_down: bytes("down"),
            pac_ok: self.pac_requests.with_label_values(&[id, "200"]),
            pac_not_modified: self.pac_requests.with_label_values(&[id, "304"]),
            pac_not_found: self.pac_requests.with_label_values(&[id, "404"]),
            pac_unavailable: self.pac_requests.with_label_values(&[id, "503"]),
            pac_bytes: self.pac_bytes.with_label_values(&[id]),
        }
    }

    /// Counts a refused session of no tenant of this region (`tenant=""`); a tenant's own are
    /// in its [`TenantMetrics`].
    pub fn refused(&self, reason: RefusalReason) {
        self.no_tenant_refused[reason as usize]
            .get_or_init(|| {
                self.sessions_refused
                    .with_label_values(&["", reason.label()])
            })
            .inc();
    }

    pub fn reload(&self, ok: bool) {
        self.reloads
            .with_label_values(&[if ok { "ok" } else { "error" }])
            .inc();
    }

    /// Counts a snapshot from the control plane.
    pub fn snapshot(&self, applied: bool) {
        let result = if applied { "applied" } else { "rejected" };
        self.sync_snapshots.with_label_values(&[result]).inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metric families.
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::warn!(error = %e, "encoding metrics");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}
