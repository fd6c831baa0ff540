//! One request's context — the configuration it is decided under, its tenant and session, and
//! the process's shared state — and the first step every kind of request takes with it.

use std::sync::Arc;

use breakout_policy::{Host, Route};
use http::{Method, Response};

use super::body::ProxyBody;
use super::ending::Ending;
use super::error::ProxyError;
use super::exchange::Exchange;
use super::session::Session;
use crate::shared::Shared;
use crate::snapshot::{Snapshot, TenantRuntime};
use crate::transfer::Transfer;

/// What a request is handled with.
#[derive(Clone, Copy)]
pub struct Call<'a> {
    pub snap: &'a Snapshot,
    pub tenant: &'a TenantRuntime,
    pub session: &'a Arc<Session>,
    pub shared: &'a Shared,
}

impl<'a> Call<'a> {
    /// The route for `host:port` — the decision `/explain` shows (`breakout_policy::route`) —
    /// or the answer that refuses it: a `CONNECT` to a port not allowed, a `block` rule. The
    /// refusal is counted and logged (and boxed: it is the rare path).
    pub fn decide_or_refuse(
        &self,
        ex: &mut Exchange,
        host: &Host<'_>,
        port: u16,
    ) -> Result<Route<'a>, Box<Response<ProxyBody>>> {
        let connect_ports = &self.snap.settings.allowed_connect_ports;
        if ex.method == Method::CONNECT && !connect_ports.contains(&port) {
            return Err(Box::new(self.fail(ex, &ProxyError::PortNotAllowed(port))));
        }
        let router = &self.tenant.router;
        let routed = router.route(host, port);
        let rule = router.rule_label(routed.rule);
        ex.decided(routed.route.into(), rule);
        match routed.route {
            Route::Block => {
                let refusal = self.fail(ex, &ProxyError::Blocked(rule.to_string()));
                Err(Box::new(refusal))
            }
            route => Ok(route),
        }
    }

    /// Counts, logs and answers a failed request.
    pub fn fail(&self, ex: &Exchange, err: &ProxyError) -> Response<ProxyBody> {
        ex.fail(self.shared, Some(&self.tenant.metrics.outcomes), err)
    }

    /// Counts a request the destination answered with `status` (or a tunnel's `200`).
    pub fn succeeded(&self, ex: &Exchange, status: u16, up: Arc<Transfer>) -> Ending {
        ex.succeeded(self.shared, &self.tenant.metrics.outcomes, status, up)
    }
}
