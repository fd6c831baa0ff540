//! How a request ended, in the stable words the access log and the metrics share:
//! `breakout_edge_requests_total{action, class, result}` and
//! `breakout_edge_refusals_total{reason}` (see `METRICS` in docs/edge-proxy.md).

use breakout_policy::route::reason as policy;

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

/// The `result` of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestResult {
    /// Forwarded, or answered as asked (whatever status the destination gave).
    Ok,
    /// The edge's own refusal: a rule, the destination guard, a limit, the source.
    Refused,
    /// The way out failed: DNS, connecting, the destination or parent proxy.
    UpstreamError,
    /// The client's request was malformed.
    ClientError,
}

impl RequestResult {
    pub const ALL: [RequestResult; 4] = [
        RequestResult::Ok,
        RequestResult::Refused,
        RequestResult::UpstreamError,
        RequestResult::ClientError,
    ];

    pub fn label(self) -> &'static str {
        match self {
            RequestResult::Ok => "ok",
            RequestResult::Refused => "refused",
            RequestResult::UpstreamError => "upstream_error",
            RequestResult::ClientError => "client_error",
        }
    }
}

/// Why the edge refused or failed a request (or a connection, before any request).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    UnregisteredSource,
    WrongRegion,
    NotInService,
    Ipv6Client,
    SessionLimit,
    SourceConnectionLimit,
    Draining,
    NotReady,
    BlockedByRule,
    PortNotAllowed,
    DestinationIpProhibited,
    ProxyLoop,
    BadRequest,
    HeadersTooLarge,
    BadRequestBody,
    DnsError,
    ConnectionRefused,
    ConnectionTimeout,
    ConnectFailed,
    ParentProxyRefused,
    DestinationError,
    ResponseIncomplete,
    ResponseTimeout,
    DnsTimeout,
}

impl Reason {
    pub const COUNT: usize = 24;

    /// The stable snake_case word (the access log's `reason`, the metrics' `reason` label).
    pub fn label(self) -> &'static str {
        use Reason::*;
        match self {
            UnregisteredSource => "unregistered_source",
            WrongRegion => "wrong_region",
            NotInService => "not_in_service",
            Ipv6Client => "ipv6_client",
            SessionLimit => "session_limit",
            SourceConnectionLimit => "source_connection_limit",
            Draining => "draining",
            NotReady => "not_ready",
            BlockedByRule => policy::BLOCKED_BY_RULE,
            PortNotAllowed => policy::PORT_NOT_ALLOWED,
            DestinationIpProhibited => policy::DESTINATION_IP_PROHIBITED,
            ProxyLoop => policy::PROXY_LOOP,
            BadRequest => "bad_request",
            HeadersTooLarge => "headers_too_large",
            BadRequestBody => "bad_request_body",
            DnsError => policy::DNS_ERROR,
            ConnectionRefused => "connection_refused",
            ConnectionTimeout => "connection_timeout",
            ConnectFailed => "connect_failed",
            ParentProxyRefused => "parent_proxy_refused",
            DestinationError => "destination_error",
            ResponseIncomplete => "response_incomplete",
            ResponseTimeout => "response_timeout",
            DnsTimeout => "dns_timeout",
        }
    }

    /// Whether it is a refusal, the way out failing, or the client's fault.
    pub fn result(self) -> RequestResult {
        use Reason::*;
        match self {
            UnregisteredSource
            | WrongRegion
            | NotInService
            | Ipv6Client
            | SessionLimit
            | SourceConnectionLimit
            | Draining
            | NotReady
            | BlockedByRule
            | PortNotAllowed
            | DestinationIpProhibited
            | ProxyLoop => RequestResult::Refused,
            BadRequest | HeadersTooLarge | BadRequestBody => RequestResult::ClientError,
            DnsError | ConnectionRefused | ConnectionTimeout | ConnectFailed
            | ParentProxyRefused | DestinationError | ResponseIncomplete | ResponseTimeout
            | DnsTimeout => RequestResult::UpstreamError,
        }
    }

    /// A dense index (`0..COUNT`), for per-reason tables.
    pub fn index(self) -> usize {
        self as usize
    }
}

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
    fn reason_indices_are_dense_and_labels_distinct() {
        let all = [
            Reason::UnregisteredSource,
            Reason::WrongRegion,
            Reason::NotInService,
            Reason::Ipv6Client,
            Reason::SessionLimit,
            Reason::SourceConnectionLimit,
            Reason::Draining,
            Reason::NotReady,
            Reason::BlockedByRule,
            Reason::PortNotAllowed,
            Reason::DestinationIpProhibited,
            Reason::ProxyLoop,
            Reason::BadRequest,
            Reason::HeadersTooLarge,
            Reason::BadRequestBody,
            Reason::DnsError,
            Reason::ConnectionRefused,
            Reason::ConnectionTimeout,
            Reason::ConnectFailed,
            Reason::ParentProxyRefused,
            Reason::DestinationError,
            Reason::ResponseIncomplete,
            Reason::ResponseTimeout,
            Reason::DnsTimeout,
        ];
        assert_eq!(all.len(), Reason::COUNT);
        for (i, r) in all.iter().enumerate() {
            assert_eq!(r.index(), i);
        }
        let labels: std::collections::HashSet<_> = all.iter().map(|r| r.label()).collect();
        assert_eq!(labels.len(), Reason::COUNT);
    }

    #[test]
    fn status_classes() {
        assert_eq!(status_class(101), "1xx");
        assert_eq!(status_class(204), "2xx");
        assert_eq!(status_class(304), "3xx");
        assert_eq!(status_class(403), "4xx");
        assert_eq!(status_class(502), "5xx");
    }
}
