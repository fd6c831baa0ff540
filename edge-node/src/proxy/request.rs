//! Request checks a forward proxy must make itself (hyper parses leniently), and the header
//! rewriting between client and destination.

use std::borrow::Cow;
use std::ops::Range;

use breakout_policy::{canonical_host, Host};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::Authority;
use http::{Method, Request, Uri};

use super::error::ProxyError;

/// Where a request wants to go: the authority as the client wrote it (shared with the request,
/// not copied) and the canonical host it denotes, kept as a range of the authority's host when
/// that is already canonical (the usual case), so that no host is copied per request.
#[derive(Debug)]
pub struct Target {
    pub authority: Authority,
    pub port: u16,
    host: Canonical,
}

#[derive(Debug)]
enum Canonical {
    /// These bytes of `authority.host()`.
    Within(Range<usize>),
    /// A spelling that canonicalises to something else (or an IP address).
    Owned(Host<'static>),
}

impl Target {
    fn new(authority: Authority, port: u16) -> Result<Target, ProxyError> {
        let raw = authority.host();
        let host = match canonical_host(raw).map_err(|e| bad(e.to_string()))? {
            Host::Name(Cow::Borrowed(name)) => {
                let start = (name.as_ptr() as usize).wrapping_sub(raw.as_ptr() as usize);
                match raw.get(start..start + name.len()) {
                    Some(_) => Canonical::Within(start..start + name.len()),
                    None => Canonical::Owned(Host::Name(Cow::Owned(name.to_string()))),
                }
            }
            other => Canonical::Owned(other.into_owned()),
        };
        Ok(Target {
            authority,
            port,
            host,
        })
    }

    /// The canonical host.
    pub fn host(&self) -> Host<'_> {
        match &self.host {
            Canonical::Within(r) => Host::Name(Cow::Borrowed(
                self.authority.host().get(r.clone()).unwrap_or(""),
            )),
            Canonical::Owned(Host::Name(n)) => Host::Name(Cow::Borrowed(n)),
            Canonical::Owned(Host::Ipv4(a)) => Host::Ipv4(*a),
            Canonical::Owned(Host::Ipv6(a)) => Host::Ipv6(*a),
        }
    }
}

fn bad(msg: impl Into<String>) -> ProxyError {
    ProxyError::BadRequest(msg.into())
}

/// Validates a request's Host and target (framing was checked by `framing` already): a
/// `CONNECT`'s `host:port`, or an absolute-form `http://` URI that the Host header agrees with.
pub fn check<B>(req: &Request<B>, via_token: &str) -> Result<Target, ProxyError> {
    let host_header = check_common(req, via_token)?;
    if req.method() == Method::CONNECT {
        return connect_target(req.uri());
    }
    check_forward(req.uri(), host_header)
}

/// What every request must pass: not a loop, at most one Host (which it returns).
fn check_common<'r, B>(
    req: &'r Request<B>,
    via_token: &str,
) -> Result<Option<&'r HeaderValue>, ProxyError> {
    if req
        .headers()
        .get_all(header::VIA)
        .iter()
        .any(|v| v.to_str().is_ok_and(|v| v.contains(via_token)))
    {
        return Err(ProxyError::Loop);
    }
    let mut hosts = req.headers().get_all(header::HOST).iter();
    let host_header = hosts.next();
    if hosts.next().is_some() {
        return Err(bad("duplicate Host header"));
    }
    Ok(host_header)
}

/// An absolute-form request's target, which the Host header (if any) must agree with.
fn check_forward(uri: &Uri, host_header: Option<&HeaderValue>) -> Result<Target, ProxyError> {
    let Some(authority) = uri.authority() else {
        return Err(bad("a proxy request needs an absolute URI (http://host/path); this edge serves no pages of its own at this path"));
    };
    match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("http") => {}
        Some(s) if s.eq_ignore_ascii_case("https") => {
            return Err(bad(
                "https:// URLs must be requested through a CONNECT tunnel",
            ))
        }
        _ => return Err(bad("only http:// URLs can be proxied in absolute form")),
    }
    if authority.as_str().contains('@') {
        return Err(bad("credentials in the request URI are not accepted"));
    }
    let port = authority.port_u16().unwrap_or(80);
    if port == 0 {
        return Err(bad("port 0 is not a port"));
    }
    let target = Target::new(authority.clone(), port)?;
    if let Some(h) = host_header {
        // Byte-equal is the same place (and the usual case): no second canonicalisation.
        let same = h
            .as_bytes()
            .eq_ignore_ascii_case(authority.as_str().as_bytes())
            || h.to_str()
                .ok()
                .and_then(|v| parse_authority(v, 80))
                .is_some_and(|(hh, hp)| hh == target.host() && hp == port);
        if !same {
            return Err(bad("the Host header does not match the request URI's host"));
        }
    }
    Ok(target)
}

fn connect_target(uri: &Uri) -> Result<Target, ProxyError> {
    let authority = match (uri.scheme(), uri.authority(), uri.path_and_query()) {
        (None, Some(a), None) => a,
        _ => return Err(bad("CONNECT needs a host:port target")),
    };
    if authority.as_str().contains('@') {
        return Err(bad("credentials in the CONNECT target are not accepted"));
    }
    let Some(port) = authority.port_u16().filter(|p| *p != 0) else {
        return Err(bad("CONNECT target needs a port"));
    };
    Target::new(authority.clone(), port)
}

/// `host[:port]` as in a Host header, canonicalised.
fn parse_authority(s: &str, default_port: u16) -> Option<(Host<'static>, u16)> {
    let a: Authority = s.parse().ok()?;
    let port = a.port_u16().unwrap_or(default_port);
    Some((canonical_host(a.host()).ok()?.into_owned(), port))
}

const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
];

/// Removes hop-by-hop headers and every header the `Connection` header names. Framing headers
/// (Transfer-Encoding) go too: hyper re-frames the body for the next hop.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // One pass over the few names present finds which of them are hop-by-hop: most messages
    // carry none, and a response usually carries only `Connection` (nginx: `keep-alive`), so
    // only those are removed (a hashed removal per name present, not nine per message).
    let mut present = 0u16;
    for name in headers.keys() {
        if let Some(i) = HOP_BY_HOP.iter().position(|h| h == name) {
            present |= 1 << i;
        } else if name == header::TRANSFER_ENCODING {
            present |= 1 << HOP_BY_HOP.len();
        }
    }
    if present == 0 {
        return;
    }
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for n in named {
        headers.remove(n);
    }
    for (i, n) in HOP_BY_HOP.iter().enumerate() {
        if present & (1 << i) != 0 {
            headers.remove(n);
        }
    }
    if present & (1 << HOP_BY_HOP.len()) != 0 {
        headers.remove(header::TRANSFER_ENCODING);
    }
}

/// Appends this edge to the `Via` header.
pub fn add_via(headers: &mut HeaderMap, via: &HeaderValue) {
    headers.append(header::VIA, via.clone());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(fields: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (n, v) in fields {
            m.append(
                HeaderName::from_bytes(n.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        m
    }

    #[test]
    fn hop_by_hop_fields_and_the_ones_connection_names_go_the_rest_stay() {
        let mut m = map(&[
            ("connection", "keep-alive, x-named"),
            ("keep-alive", "timeout=5"),
            ("x-named", "1"),
            ("te", "trailers"),
            ("transfer-encoding", "chunked"),
            ("proxy-authorization", "Basic x"),
            ("upgrade", "h2c"),
            ("content-type", "text/plain"),
            ("x-kept", "2"),
        ]);
        strip_hop_by_hop(&mut m);
        let left: Vec<&str> = m.keys().map(HeaderName::as_str).collect();
        assert_eq!(left, ["content-type", "x-kept"]);
    }

    #[test]
    fn a_message_without_hop_by_hop_fields_is_left_as_it_is() {
        let fields = [("content-type", "text/plain"), ("x-a", "1"), ("x-a", "2")];
        let mut m = map(&fields);
        strip_hop_by_hop(&mut m);
        assert_eq!(m, map(&fields));
    }
}
