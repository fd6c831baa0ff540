//! One tenant's `breakout_edge_requests_total{action, class, result}` and
//! `breakout_edge_refusals_total{reason}` handles. Most label combinations never happen, so a
//! handle is made on its first use (one hash and lock, then never again for this tenant and
//! configuration) rather than up front (80 empty series per tenant); after that, counting is
//! one atomic load and one atomic add.

use std::sync::OnceLock;

use breakout_policy::outcome::RefusalCounts;
use prometheus::{IntCounter, IntCounterVec};

use crate::outcome::{status_class, Action, Reason, RequestResult};

const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];
const REQUEST_CELLS: usize = Action::ALL.len() * CLASSES.len() * RequestResult::ALL.len();

/// A tenant's request and refusal counters (tenant `""`: connections of no tenant).
pub struct Outcomes {
    tenant: Box<str>,
    requests: IntCounterVec,
    refusals: IntCounterVec,
    request_cells: Box<[OnceLock<IntCounter>]>,
    refusal_cells: Box<[OnceLock<IntCounter>]>,
}

impl Outcomes {
    pub fn new(tenant: &str, requests: &IntCounterVec, refusals: &IntCounterVec) -> Outcomes {
        Outcomes {
            tenant: tenant.into(),
            requests: requests.clone(),
            refusals: refusals.clone(),
            request_cells: (0..REQUEST_CELLS).map(|_| OnceLock::new()).collect(),
            refusal_cells: (0..Reason::COUNT).map(|_| OnceLock::new()).collect(),
        }
    }

    /// Counts a request answered with `status`.
    pub fn request(&self, action: Action, status: u16, result: RequestResult) {
        let class = status_class(status);
        let c = CLASSES.iter().position(|k| *k == class).unwrap_or(4);
        let a = action as usize;
        let r = result as usize;
        let i = (a * CLASSES.len() + c) * RequestResult::ALL.len() + r;
        if let Some(cell) = self.request_cells.get(i) {
            cell.get_or_init(|| {
                self.requests.with_label_values(&[
                    &*self.tenant,
                    action.label(),
                    class,
                    result.label(),
                ])
            })
            .inc();
        }
    }

    /// Counts a refusal or failure.
    pub fn refusal(&self, reason: Reason) {
        if let Some(cell) = self.refusal_cells.get(reason.index()) {
            cell.get_or_init(|| {
                self.refusals
                    .with_label_values(&[&*self.tenant, reason.label()])
            })
            .inc();
        }
    }

    /// Every reason counted so far, with its count since the edge started (for the session
    /// report: the counters themselves, read without a lock; a reason never counted is absent).
    pub fn refusal_counts(&self) -> RefusalCounts {
        let mut out = RefusalCounts::default();
        for (reason, cell) in Reason::ALL.iter().zip(self.refusal_cells.iter()) {
            if let Some(c) = cell.get() {
                out.add(*reason, c.get());
            }
        }
        out
    }

    /// A failed request: counted in both families.
    pub fn failed(&self, action: Action, status: u16, reason: Reason) {
        self.request(action, status, reason.result());
        self.refusal(reason);
    }
}

#[cfg(test)]
mod tests {
    use prometheus::Opts;

    use super::*;

    #[test]
    fn each_combination_has_its_own_series_made_on_first_use() {
        let req = IntCounterVec::new(
            Opts::new("r", "r"),
            &["tenant", "action", "class", "result"],
        )
        .expect("vec");
        let refs = IntCounterVec::new(Opts::new("f", "f"), &["tenant", "reason"]).expect("vec");
        let o = Outcomes::new("acme", &req, &refs);
        o.request(Action::Direct, 200, RequestResult::Ok);
        o.request(Action::Direct, 204, RequestResult::Ok);
        o.failed(Action::Direct, 502, Reason::DnsError);
        o.failed(Action::None, 400, Reason::BadRequest);
        let get = |l: &[&str]| req.with_label_values(l).get();
        assert_eq!(get(&["acme", "direct", "2xx", "ok"]), 2);
        assert_eq!(get(&["acme", "direct", "5xx", "upstream_error"]), 1);
        assert_eq!(get(&["acme", "none", "4xx", "client_error"]), 1);
        assert_eq!(refs.with_label_values(&["acme", "dns_error"]).get(), 1);
        assert_eq!(refs.with_label_values(&["acme", "bad_request"]).get(), 1);
        let counts = o.refusal_counts();
        assert_eq!(counts.get(Reason::DnsError), 1);
        assert_eq!(counts.get(Reason::BadRequest), 1);
        assert_eq!(counts.0.len(), 2, "reasons never counted are absent");
    }
}
