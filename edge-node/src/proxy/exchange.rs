//! One request (or tunnel) as the access log and metrics see it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use breakout_policy::Host;
use http::{header, HeaderValue, Method, Request, Response, Uri};
use prometheus::Histogram;

use super::body::{ProxyBody, Transfer};
pub use super::ending::Ending;
use super::error::ProxyError;
use super::PROXY_NAME;
use crate::access_log::{millis, now_rfc3339, AccessRecord, PendingRecord};
use crate::config::Settings;
use crate::metrics::Outcomes;
use crate::outcome::{Action, Reason, RequestResult};
use crate::shared::Shared;

/// The strings an access-log record needs (`host`, `rule`) are only made when the access log
/// is on: with it off, the request path formats and allocates none of them.
pub struct Exchange {
    pub start: Instant,
    pub client: SocketAddr,
    pub tenant: Option<Arc<str>>,
    pub method: Method,
    /// As requested (refcounted, not copied), for debug logs.
    uri: Uri,
    /// Whether a record will be written: `host` and `rule` are filled only then.
    log: bool,
    /// Whether the client is told resolved addresses and OS errors (`full_error_details`).
    full_details: bool,
    host: String,
    port: u16,
    /// What the tenant's rules decided (`None` until they are asked).
    pub action: Action,
    rule: String,
}

impl Exchange {
    pub fn new<B>(
        req: &Request<B>,
        client: SocketAddr,
        shared: &Shared,
        settings: &Settings,
    ) -> Exchange {
        let uri = req.uri();
        let log = shared.access_log.enabled();
        Exchange {
            start: Instant::now(),
            client,
            tenant: None,
            method: req.method().clone(),
            uri: uri.clone(),
            log,
            full_details: settings.full_error_details,
            host: match log {
                true => uri.host().unwrap_or_default().to_string(),
                false => String::new(),
            },
            port: uri.port_u16().unwrap_or(0),
            action: Action::None,
            rule: String::new(),
        }
    }

    pub fn set_target(&mut self, host: &Host<'_>, port: u16) {
        if self.log {
            self.host = host.to_string();
        }
        self.port = port;
    }

    pub fn decided(&mut self, action: Action, rule: &str) {
        self.action = action;
        if self.log {
            self.rule = rule.to_string();
        }
    }

    fn record(&self, status: u16, reason: Option<Reason>) -> AccessRecord {
        AccessRecord {
            ts: now_rfc3339(),
            tenant: self.tenant.clone().unwrap_or_else(|| Arc::from("")),
            client: self.client,
            method: self.method.to_string(),
            host: self.host.clone(),
            port: self.port,
            action: self.action.label(),
            rule: self.rule.clone(),
            status,
            result: reason.map_or(RequestResult::Ok, Reason::result).label(),
            reason: reason.map(Reason::label),
            bytes_up: 0,
            bytes_down: 0,
            duration_ms: millis(self.start),
        }
    }

    /// Counts an exchange answered with `status` by the destination (or the tunnel's `200`);
    /// what is left to do when its bytes stop flowing comes back.
    pub fn succeeded(
        &self,
        shared: &Shared,
        outcomes: &Outcomes,
        status: u16,
        up: Arc<Transfer>,
    ) -> Ending {
        outcomes.request(self.action, status, RequestResult::Ok);
        let record = shared.access_log.enabled().then(|| {
            PendingRecord::new(
                self.record(status, None),
                self.start,
                up,
                Arc::clone(&shared.access_log),
            )
        });
        Ending::new(self.start, self.duration(shared).clone(), record)
    }

    /// The request-duration histogram of this kind of exchange.
    fn duration<'s>(&self, shared: &'s Shared) -> &'s Histogram {
        match self.method == Method::CONNECT {
            true => &shared.metrics.duration_tunnel,
            false => &shared.metrics.duration_forward,
        }
    }

    /// Answers with `err`: counts it (in `outcomes`, or as no tenant's), logs it, and builds the
    /// response. A refused CONNECT always closes the connection (the client may already be
    /// sending tunnel bytes).
    pub fn fail(
        &self,
        shared: &Shared,
        outcomes: Option<&Outcomes>,
        err: &ProxyError,
    ) -> Response<ProxyBody> {
        let blocked = matches!(err, ProxyError::Blocked(_));
        let mut resp = err.response(PROXY_NAME, self.full_details);
        let status = resp.status().as_u16();
        let reason = err.reason();
        outcomes
            .unwrap_or(&shared.metrics.no_tenant)
            .failed(self.action, status, reason);
        self.duration(shared)
            .observe(self.start.elapsed().as_secs_f64());
        if self.method == Method::CONNECT {
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if shared.access_log.enabled() {
            shared.access_log.write(&self.record(status, Some(reason)));
        }
        if !blocked {
            tracing::debug!(client = %self.client, uri = %self.uri, error = %err, "request refused");
        }
        resp
    }
}
