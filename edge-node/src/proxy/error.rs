//! Every error the edge answers a client with, mapped in one place to its stable reason, and
//! through the reason to a status code and an RFC 9209 `Proxy-Status` error type.
//!
//! What a client reads (the `Proxy-Status` details and the body) names the host it asked for,
//! never the addresses the edge resolved it to or the operating system's error: those can be
//! internal. `full_error_details = true` (debugging) sends the whole message instead; the
//! edge's debug log always has it.

use std::borrow::Cow;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use breakout_policy::guard::Prohibited;
use breakout_policy::route::ALLOW_PRIVATE_HINT;
use http::{header, HeaderValue, Response, StatusCode};

use super::body::ProxyBody;
use crate::outcome::Reason;
use crate::resolve::ResolveError;

/// What went wrong, from the client's point of view.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("source address {0} is not registered to any tenant")]
    UnknownSource(Ipv4Addr),
    #[error("tenant {tenant} is contracted in region {home}, not {here} (art. 5)")]
    ForeignRegion {
        tenant: String,
        home: String,
        here: String,
    },
    #[error("tenant {tenant} is not in service ({reason})")]
    NotInService { tenant: String, reason: String },
    #[error("tenant {0} is at its session limit")]
    SessionLimit(String),
    #[error("{limit} connections from {addr} are already waiting to send a request")]
    SourceLimit { addr: Ipv4Addr, limit: u32 },
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
    #[error("the client's request body was malformed")]
    RequestBody,
    #[error("request would loop back into this proxy")]
    Loop,
    /// A destination or parent proxy could not be reached.
    #[error("{to}: {error}")]
    Dial {
        to: Hop,
        #[source]
        error: DialError,
    },
    #[error("parent proxy {name} answered {status}")]
    ParentStatus { name: String, status: u16 },
    #[error("parent proxy {name} did not answer the CONNECT in time")]
    ParentTimeout { name: String },
    #[error("parent proxy {name} sent a malformed answer")]
    ParentMalformed { name: String },
    #[error("parent proxy {name}: {source}")]
    ParentIo {
        name: String,
        #[source]
        source: io::Error,
    },
    /// The HTTP exchange with a destination or parent proxy failed.
    #[error("{hop}: {source}")]
    Exchange {
        hop: Hop,
        #[source]
        source: hyper::Error,
    },
    #[error("no response from {0}")]
    ResponseIncomplete(Hop),
    /// The destination or parent proxy took the request and sent no response head in time.
    #[error("{hop} did not answer within {ms} ms")]
    ResponseTimeout { hop: Hop, ms: u128 },
}

/// Why a connection could not be opened. Addresses and OS errors are kept as they are (typed):
/// the client is told less than the log (see `ProxyError::public_message`).
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error("no IPv4 address usable from the egress address")]
    NoUsableAddress,
    #[error("resolves to a {} ({addr}); refused", class.describe())]
    Prohibited { addr: IpAddr, class: Prohibited },
    #[error("an address to dial is this proxy's own listener")]
    Loop,
    #[error("connection to {addr} refused")]
    Refused { addr: SocketAddr },
    #[error("connection to {addr} timed out")]
    TimedOut { addr: SocketAddr },
    #[error("connecting to {addr}: {source}")]
    Failed {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("binding egress address {addr}: {source}")]
    Bind {
        addr: Ipv4Addr,
        #[source]
        source: io::Error,
    },
}

/// Where the edge was going when it failed.
#[derive(Debug)]
pub enum Hop {
    /// The destination, as the client named it (canonical host and port).
    Destination { host: String, port: u16 },
    /// A tenant's parent proxy, by name.
    Parent { name: String },
}

impl std::fmt::Display for Hop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Hop::Destination { host, port } => write!(f, "{host}:{port}"),
            Hop::Parent { name } => write!(f, "parent proxy {name}"),
        }
    }
}

impl Hop {
    /// The host as the client named it (a parent proxy by its name).
    fn host(&self) -> Cow<'_, str> {
        match self {
            Hop::Destination { host, .. } => Cow::Borrowed(host),
            Hop::Parent { name } => Cow::Owned(format!("parent proxy {name}")),
        }
    }
}

impl ProxyError {
    /// The stable reason the access log and `breakout_edge_refusals_total` give; the status
    /// and `Proxy-Status` type follow from it.
    pub fn reason(&self) -> Reason {
        use ProxyError::*;
        match self {
            UnknownSource(_) => Reason::UnregisteredSource,
            ForeignRegion { .. } => Reason::WrongRegion,
            NotInService { .. } => Reason::NotInService,
            SessionLimit(_) => Reason::SessionLimit,
            SourceLimit { .. } => Reason::SourceConnectionLimit,
            Draining => Reason::Draining,
            NotReady => Reason::NotReady,
            Blocked(_) => Reason::BlockedByRule,
            PortNotAllowed(_) => Reason::PortNotAllowed,
            BadRequest(_) => Reason::BadRequest,
            HeadersTooLarge(_) => Reason::HeadersTooLarge,
            RequestBody => Reason::BadRequestBody,
            Loop => Reason::ProxyLoop,
            Dial { error, .. } => match error {
                DialError::Resolve(ResolveError::TimedOut(_)) => Reason::DnsTimeout,
                DialError::Resolve(_) | DialError::NoUsableAddress => Reason::DnsError,
                DialError::Prohibited { .. } => Reason::DestinationIpProhibited,
                DialError::Loop => Reason::ProxyLoop,
                DialError::Refused { .. } => Reason::ConnectionRefused,
                DialError::TimedOut { .. } => Reason::ConnectionTimeout,
                DialError::Failed { .. } | DialError::Bind { .. } => Reason::ConnectFailed,
            },
            ParentStatus { .. } => Reason::ParentProxyRefused,
            ParentTimeout { .. } => Reason::ConnectionTimeout,
            ParentMalformed { .. } | ParentIo { .. } | Exchange { .. } => Reason::DestinationError,
            ResponseIncomplete(_) => Reason::ResponseIncomplete,
            ResponseTimeout { .. } => Reason::ResponseTimeout,
        }
    }

    pub fn status(&self) -> StatusCode {
        status_of(self.reason())
    }

    /// The RFC 9209 error type.
    pub fn proxy_status_type(&self) -> &'static str {
        proxy_status_of(self.reason())
    }

    /// Whether the client connection must close after this answer (the rest of its byte stream
    /// can no longer be trusted, or the session itself was refused).
    pub fn closes_connection(&self) -> bool {
        use Reason::*;
        matches!(
            self.reason(),
            UnregisteredSource
                | WrongRegion
                | NotInService
                | Ipv6Client
                | SessionLimit
                | SourceConnectionLimit
                | Draining
                | NotReady
                | BadRequest
                | HeadersTooLarge
                | BadRequestBody
                | PortNotAllowed
        )
    }

    /// What the client is told: the message without resolved addresses and OS errors.
    pub fn public_message(&self) -> Cow<'_, str> {
        let ProxyError::Dial { to, error } = self else {
            return match self {
                ProxyError::ParentIo { name, .. } => {
                    Cow::Owned(format!("parent proxy {name} failed"))
                }
                ProxyError::Exchange { hop, .. } => {
                    Cow::Owned(format!("{hop}: the exchange failed"))
                }
                _ => Cow::Owned(self.to_string()),
            };
        };
        Cow::Owned(match error {
            DialError::Prohibited { class, .. } => {
                let why = class.describe();
                match class.always() {
                    true => format!("{} resolves to a {why}; refused", to.host()),
                    false => format!(
                        "{} resolves to a {why}; refused ({ALLOW_PRIVATE_HINT})",
                        to.host()
                    ),
                }
            }
            DialError::Resolve(ResolveError::NotFound(_)) => {
                format!("{} has no address", to.host())
            }
            DialError::Resolve(ResolveError::Failed { .. }) => {
                format!("resolving {} failed", to.host())
            }
            DialError::Resolve(ResolveError::TimedOut(_)) => {
                format!("resolving {}: no answer in time", to.host())
            }
            DialError::NoUsableAddress => {
                format!(
                    "{} has no IPv4 address usable from the egress address",
                    to.host()
                )
            }
            DialError::Loop => "request would loop back into this proxy".to_string(),
            DialError::Refused { .. } => format!("connection to {to} refused"),
            DialError::TimedOut { .. } => format!("connection to {to} timed out"),
            DialError::Failed { .. } | DialError::Bind { .. } => {
                format!("connecting to {to} failed")
            }
        })
    }

    /// The response the client sees: status, `Proxy-Status`, a one-line plain-text body.
    /// `full` puts the whole message (resolved addresses, OS errors) in both.
    pub fn response(&self, proxy_name: &str, full: bool) -> Response<ProxyBody> {
        let message = match full {
            true => Cow::Owned(self.to_string()),
            false => self.public_message(),
        };
        let details = message.replace(['"', '\\'], "'");
        let body = match self {
            ProxyError::Blocked(_) => format!("Blocked by Breakout: {message}\n"),
            _ => format!("{message}\n"),
        };
        let reason = self.reason();
        let mut resp = Response::new(ProxyBody::full(body));
        *resp.status_mut() = status_of(reason);
        let h = resp.headers_mut();
        let status = format!(
            "{proxy_name}; error={}; details=\"{details}\"",
            proxy_status_of(reason)
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
            reason,
            Reason::SessionLimit
                | Reason::SourceConnectionLimit
                | Reason::Draining
                | Reason::NotReady
        ) {
            h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if self.closes_connection() {
            h.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }
}

fn status_of(reason: Reason) -> StatusCode {
    use Reason::*;
    match reason {
        UnregisteredSource
        | WrongRegion
        | NotInService
        | Ipv6Client
        | BlockedByRule
        | PortNotAllowed
        | DestinationIpProhibited => StatusCode::FORBIDDEN,
        SessionLimit | Draining | NotReady => StatusCode::SERVICE_UNAVAILABLE,
        SourceConnectionLimit => StatusCode::TOO_MANY_REQUESTS,
        BadRequest | BadRequestBody => StatusCode::BAD_REQUEST,
        HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        ConnectionTimeout | ResponseTimeout | DnsTimeout => StatusCode::GATEWAY_TIMEOUT,
        ProxyLoop | DnsError | ConnectionRefused | ConnectFailed | ParentProxyRefused
        | DestinationError | ResponseIncomplete => StatusCode::BAD_GATEWAY,
    }
}

fn proxy_status_of(reason: Reason) -> &'static str {
    use Reason::*;
    match reason {
        UnregisteredSource
        | WrongRegion
        | NotInService
        | Ipv6Client
        | SessionLimit
        | SourceConnectionLimit
        | Draining
        | NotReady
        | BlockedByRule
        | PortNotAllowed => "http_request_denied",
        DestinationIpProhibited => "destination_ip_prohibited",
        BadRequest | HeadersTooLarge | BadRequestBody => "http_request_error",
        DnsError => "dns_error",
        DnsTimeout => "dns_timeout",
        ConnectionRefused => "connection_refused",
        ConnectionTimeout => "connection_timeout",
        ConnectFailed | ParentProxyRefused | DestinationError => "destination_unavailable",
        ProxyLoop => "proxy_loop_detected",
        ResponseIncomplete => "http_response_incomplete",
        ResponseTimeout => "http_response_timeout",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dial(error: DialError) -> ProxyError {
        let to = Hop::Destination {
            host: "intranet.example".into(),
            port: 443,
        };
        ProxyError::Dial { to, error }
    }

    fn details(resp: &Response<ProxyBody>) -> String {
        let h = resp.headers().get("proxy-status").expect("proxy-status");
        h.to_str().expect("ascii").to_string()
    }

    #[test]
    fn clients_are_not_told_resolved_addresses_unless_full_details_are_on() {
        let internal = IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3));
        let addr = SocketAddr::new(internal, 443);
        let refused = dial(DialError::Prohibited {
            addr: internal,
            class: Prohibited::Private,
        });
        let os = std::io::Error::from_raw_os_error(113);
        let failed = dial(DialError::Failed { addr, source: os });
        for e in [refused, failed, dial(DialError::Refused { addr })] {
            let safe = details(&e.response("edge", false));
            assert!(!safe.contains("10.1.2.3"), "{safe}");
            assert!(safe.contains("intranet.example"), "{safe}");
            let full = details(&e.response("edge", true));
            assert!(full.contains("10.1.2.3"), "{full}");
        }
    }

    #[test]
    fn each_reason_has_its_status_and_type() {
        let e = dial(DialError::TimedOut {
            addr: "203.0.113.1:443".parse().expect("addr"),
        });
        assert_eq!(e.status(), StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(e.proxy_status_type(), "connection_timeout");
        let e = ProxyError::SourceLimit {
            addr: Ipv4Addr::LOCALHOST,
            limit: 5,
        };
        let resp = e.response("edge", false);
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(resp.headers().contains_key(header::RETRY_AFTER));
        assert!(e.closes_connection());
        let hop = Hop::Parent { name: "hq".into() };
        let e = ProxyError::ResponseTimeout { hop, ms: 60_000 };
        assert_eq!(e.status(), StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(e.proxy_status_type(), "http_response_timeout");
        let e = dial(DialError::Resolve(ResolveError::TimedOut(
            "x.example".into(),
        )));
        assert_eq!(e.status(), StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(e.proxy_status_type(), "dns_timeout");
    }
}
