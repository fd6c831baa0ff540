//! How a request ended, in the stable words every part says it with: the edge's access log
//! (`reason`), its metrics (`breakout_edge_refusals_total{reason}`, the `result` of
//! `breakout_edge_requests_total`), its session report ([`RefusalCounts`] per tenant) and the
//! control plane's API and console. One enum, so no part spells a reason its own way.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Whether a request was refused, failed on the way out, or was the client's fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

    pub const fn label(self) -> &'static str {
        match self {
            RequestResult::Ok => "ok",
            RequestResult::Refused => "refused",
            RequestResult::UpstreamError => "upstream_error",
            RequestResult::ClientError => "client_error",
        }
    }
}

/// Why the edge refused or failed a request (or a connection, before any request).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

    /// Every reason, in index order.
    pub const ALL: [Reason; Reason::COUNT] = [
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

    /// The stable snake_case word (the access log's `reason`, the metrics' `reason` label, the
    /// report's and the API's keys).
    pub const fn label(self) -> &'static str {
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
            BlockedByRule => "blocked_by_rule",
            PortNotAllowed => "port_not_allowed",
            DestinationIpProhibited => "destination_ip_prohibited",
            ProxyLoop => "proxy_loop",
            BadRequest => "bad_request",
            HeadersTooLarge => "headers_too_large",
            BadRequestBody => "bad_request_body",
            DnsError => "dns_error",
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

    /// The reason a label names (`None`: a word this build does not know).
    pub fn from_label(label: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.label() == label)
    }

    /// Whether it is a refusal, the way out failing, or the client's fault.
    pub const fn result(self) -> RequestResult {
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
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.label())
    }
}

impl<'de> Deserialize<'de> for Reason {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Reason, D::Error> {
        let word = String::deserialize(d)?;
        Reason::from_label(&word)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown reason {word:?}")))
    }
}

/// Counts by reason (only reasons that happened are present). On the wire and in the API a map
/// `{"blocked_by_rule": 3, …}`; a reason this build does not know (a newer edge's) is skipped
/// when decoding rather than failing the whole report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RefusalCounts(pub BTreeMap<Reason, u64>);

impl RefusalCounts {
    /// Adds `n` to `reason` (a zero is not stored).
    pub fn add(&mut self, reason: Reason, n: u64) {
        if n > 0 {
            let c = self.0.entry(reason).or_insert(0);
            *c = c.saturating_add(n);
        }
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &RefusalCounts) {
        for (r, n) in &other.0 {
            self.add(*r, *n);
        }
    }

    pub fn get(&self, reason: Reason) -> u64 {
        self.0.get(&reason).copied().unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The total of reasons whose result is `result`.
    pub fn total(&self, result: RequestResult) -> u64 {
        self.0
            .iter()
            .filter(|(r, _)| r.result() == result)
            .map(|(_, n)| *n)
            .fold(0u64, u64::saturating_add)
    }
}

impl Serialize for RefusalCounts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for RefusalCounts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RefusalCounts, D::Error> {
        let words = BTreeMap::<String, u64>::deserialize(d)?;
        Ok(RefusalCounts(
            words
                .into_iter()
                .filter_map(|(w, n)| Some((Reason::from_label(&w)?, n)))
                .filter(|(_, n)| *n > 0)
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_are_dense_and_labels_distinct_and_round_trip() {
        for (i, r) in Reason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
            assert_eq!(Reason::from_label(r.label()), Some(*r));
        }
        let labels: std::collections::HashSet<_> = Reason::ALL.iter().map(|r| r.label()).collect();
        assert_eq!(labels.len(), Reason::COUNT);
        assert_eq!(Reason::from_label("nope"), None);
    }

    #[test]
    fn counts_are_a_map_of_words_and_skip_unknown_words() {
        let mut c = RefusalCounts::default();
        c.add(Reason::BlockedByRule, 3);
        c.add(Reason::DnsError, 1);
        c.add(Reason::SessionLimit, 0);
        let json = serde_json::to_string(&c).expect("json");
        assert_eq!(json, r#"{"blocked_by_rule":3,"dns_error":1}"#);
        let back: RefusalCounts = serde_json::from_str(
            r#"{"blocked_by_rule":3,"dns_error":1,"future_reason":9,"proxy_loop":0}"#,
        )
        .expect("decodes");
        assert_eq!(back, c);
        assert_eq!(c.total(RequestResult::Refused), 3);
        assert_eq!(c.total(RequestResult::UpstreamError), 1);
    }
}
