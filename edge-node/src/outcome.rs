//! How a request ended, in the stable words the access log and the metrics share:
//! `breakout_edge_requests_total{action, class, result}` and
//! `breakout_edge_refusals_total{reason}` (see `METRICS` in docs/edge-proxy.md).

/// What the tenant's rules decided for a request (`none`: it ended before they were asked).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    None,
    Direct,
    Upstream,
    Block,
}

impl Action {
    pub const ALL: [Action; 4] = [
        Action::None,
        Action::Direct,
        Action::Upstream,
        Action::Block,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Action::None => "none",
            Action::Direct => "direct",
            Action::Upstream => "upstream",
            Action::Block => "block",
        }
    }
}

impl From<breakout_policy::Route<'_>> for Action {
    fn from(r: breakout_policy::Route<'_>) -> Action {
        match r {
            breakout_policy::Route::Block => Action::Block,
            breakout_policy::Route::Direct => Action::Direct,
            breakout_policy::Route::Upstream(_) => Action::Upstream,
        }
    }
}

/// The `result` of a request and why the edge refused or failed it: the policy crate's words,
/// which the session report and the control plane share.
pub use breakout_policy::outcome::{Reason, RequestResult};

/// The `class` label of a status code: `1xx` … `5xx`.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes() {
        assert_eq!(status_class(101), "1xx");
        assert_eq!(status_class(204), "2xx");
        assert_eq!(status_class(304), "3xx");
        assert_eq!(status_class(403), "4xx");
        assert_eq!(status_class(502), "5xx");
    }
}
