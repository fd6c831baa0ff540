//! Every error the edge answers a client with, mapped in one place to a status code and an
//! RFC 9209 `Proxy-Status` error type.

use breakout_policy::guard::Prohibited;
use breakout_policy::route::ALLOW_PRIVATE_HINT;
use http::{header, HeaderValue, Response, StatusCode};

use super::body::ProxyBody;
use crate::outcome::Reason;

/// What went wrong, from the client's point of view.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("source address {0} is not registered to any tenant")]
    UnknownSource(String),
    #[error("tenant {tenant} is contracted in region {home}, not {here} (art. 5)")]
    ForeignRegion {
        tenant: String,
        home: String,
        here: String,
    },
    #[error("tenant {tenant} is not in service ({reason})")]
    NotInService { tenant: String, reason: String },
    #[error("IPv6 clients are not supported; connect over IPv4")]
    Ipv6Client,
    #[error("tenant {0} is at its session limit")]
    SessionLimit(String),
    #[error("the edge is shutting down")]
    Draining,
    #[error("the edge has no configuration from its control plane yet")]
    NotReady,
    #[error("blocked by rule {0}")]
    Blocked(String),
    #[error("CONNECT to port {0} is not allowed")]
    PortNotAllowed(u16),
    #[error("{0}")]
    BadRequest(String),
    #[error("request header fields too large: {0}")]
    HeadersTooLarge(String),
    #[error("{}", prohibited(host, addr, *class))]
    DestinationProhibited {
        host: String,
        addr: String,
        class: Prohibited,
    },
    #[error("{0}")]
    Dns(String),
    #[error("{0}")]
    DnsTimeout(String),
    #[error("connection to {0} refused")]
    ConnectRefused(String),
    #[error("connection to {0} timed out")]
    ConnectTimeout(String),
    #[error("connecting to {addr}: {message}")]
    ConnectFailed { addr: String, message: String },
    #[error("request would loop back into this proxy")]
    Loop,
    #[error("parent proxy {name} answered {status}")]
    UpstreamStatus { name: String, status: u16 },
    #[error("{0}")]
    Upstream(String),
    #[error("no response from {0}")]
    ResponseIncomplete(String),
    #[error("{0} did not answer within {1} ms")]
    ResponseTimeout(String, u128),
    #[error("the client's request body was malformed")]
    RequestBody,
}

/// The refusal of a destination the guard prohibits, with how a lab allows it where it can.
fn prohibited(host: &str, addr: &str, class: Prohibited) -> String {
    let why = class.describe();
    match class.always() {
        true => format!("{host} resolves to a {why} ({addr}); refused"),
        false => format!("{host} resolves to a {why} ({addr}); refused ({ALLOW_PRIVATE_HINT})"),
    }
}

impl ProxyError {
    pub fn status(&self) -> StatusCode {
        use ProxyError::*;
        match self {
            UnknownSource(_) | Ipv6Client | Blocked(_) | PortNotAllowed(_) => StatusCode::FORBIDDEN,
            ForeignRegion { .. } | NotInService { .. } => StatusCode::FORBIDDEN,
            DestinationProhibited { .. } => StatusCode::FORBIDDEN,
            SessionLimit(_) | Draining | NotReady => StatusCode::SERVICE_UNAVAILABLE,
            BadRequest(_) | RequestBody => StatusCode::BAD_REQUEST,
            HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Dns(_) | ConnectRefused(_) | ConnectFailed { .. } | UpstreamStatus { .. } => {
                StatusCode::BAD_GATEWAY
            }
            Upstream(_) | ResponseIncomplete(_) | Loop => StatusCode::BAD_GATEWAY,
            ConnectTimeout(_) | ResponseTimeout(..) | DnsTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The RFC 9209 error type.
    pub fn proxy_status_type(&self) -> &'static str {
        use ProxyError::*;
        match self {
            UnknownSource(_) | Ipv6Client | Blocked(_) | PortNotAllowed(_) => "http_request_denied",
            ForeignRegion { .. } | NotInService { .. } => "http_request_denied",
            SessionLimit(_) | Draining | NotReady => "http_request_denied",
            DestinationProhibited { .. } => "destination_ip_prohibited",
            BadRequest(_) | HeadersTooLarge(_) | RequestBody => "http_request_error",
            Dns(_) => "dns_error",
            DnsTimeout(_) => "dns_timeout",
            ConnectRefused(_) => "connection_refused",
            ConnectTimeout(_) => "connection_timeout",
            ConnectFailed { .. } => "destination_unavailable",
            Loop => "proxy_loop_detected",
            UpstreamStatus { .. } | Upstream(_) => "destination_unavailable",
            ResponseIncomplete(_) => "http_response_incomplete",
            ResponseTimeout(..) => "http_response_timeout",
        }
    }

    /// The stable reason the access log and `breakout_edge_refusals_total` give.
    pub fn reason(&self) -> Reason {
        use ProxyError::*;
        match self {
            UnknownSource(_) => Reason::UnregisteredSource,
            ForeignRegion { .. } => Reason::WrongRegion,
            NotInService { .. } => Reason::NotInService,
            Ipv6Client => Reason::Ipv6Client,
            SessionLimit(_) => Reason::SessionLimit,
            Draining => Reason::Draining,
            NotReady => Reason::NotReady,
            Blocked(_) => Reason::BlockedByRule,
            PortNotAllowed(_) => Reason::PortNotAllowed,
            BadRequest(_) => Reason::BadRequest,
            HeadersTooLarge(_) => Reason::HeadersTooLarge,
            RequestBody => Reason::BadRequestBody,
            DestinationProhibited { .. } => Reason::DestinationIpProhibited,
            Loop => Reason::ProxyLoop,
            Dns(_) => Reason::DnsError,
            DnsTimeout(_) => Reason::DnsTimeout,
            ConnectRefused(_) => Reason::ConnectionRefused,
            ConnectTimeout(_) => Reason::ConnectionTimeout,
            ConnectFailed { .. } => Reason::ConnectFailed,
            UpstreamStatus { .. } => Reason::ParentProxyRefused,
            Upstream(_) => Reason::DestinationError,
            ResponseIncomplete(_) => Reason::ResponseIncomplete,
            ResponseTimeout(..) => Reason::ResponseTimeout,
        }
    }

    /// Whether the client connection must close after this answer (the rest of its byte stream
    /// can no longer be trusted, or the session itself was refused).
    pub fn closes_connection(&self) -> bool {
        use ProxyError::*;
        matches!(
            self,
            UnknownSource(_)
                | ForeignRegion { .. }
                | NotInService { .. }
                | Ipv6Client
                | SessionLimit(_)
                | Draining
                | NotReady
                | BadRequest(_)
                | HeadersTooLarge(_)
                | RequestBody
                | PortNotAllowed(_)
        )
    }

    /// The response the client sees: status, `Proxy-Status`, a one-line plain-text body.
    pub fn response(&self, proxy_name: &str) -> Response<ProxyBody> {
        let details = self.to_string().replace(['"', '\\'], "'");
        let body = match self {
            ProxyError::Blocked(_) => format!("Blocked by Breakout: {self}\n"),
            _ => format!("{self}\n"),
        };
        let mut resp = Response::new(ProxyBody::full(body));
        *resp.status_mut() = self.status();
        let h = resp.headers_mut();
        let status = format!(
            "{proxy_name}; error={}; details=\"{details}\"",
            self.proxy_status_type()
        );
        if let Ok(v) = HeaderValue::from_str(&status) {
            h.insert("proxy-status", v);
        }
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if matches!(
            self,
            ProxyError::SessionLimit(_) | ProxyError::Draining | ProxyError::NotReady
        ) {
            h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if self.closes_connection() {
            h.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }
}
