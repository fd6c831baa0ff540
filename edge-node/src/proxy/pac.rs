//! `GET /pac/{tenant}.pac` on the proxy listener: the tenant's PAC file (docs/pac.md), served
//! only to the tenant's own registered sources. The file was rendered and compressed when the
//! snapshot was built (`pac_file`); this only picks an encoding, compares ETags and copies
//! bytes.

mod encoding;

use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};

use super::body::ProxyBody;
use crate::snapshot::TenantRuntime;

/// The PAC media type browsers expect.
pub const CONTENT_TYPE: &str = "application/x-ns-proxy-autoconfig";
/// How long a browser or cache may reuse the file without asking again.
pub const CACHE_CONTROL: &str = "max-age=300";

/// True for an origin-form `GET`/`HEAD` of `/pac/…`: a PAC request rather than a proxy request.
pub fn is_pac_request<B>(req: &Request<B>) -> bool {
    req.uri().authority().is_none()
        && (req.method() == Method::GET || req.method() == Method::HEAD)
        && req.uri().path().starts_with("/pac/")
}

/// Answers a PAC request from a source of `tenant`. Any other tenant's file (or one that does
/// not exist) is the same 404, so a source learns nothing about other tenants.
pub fn serve<B>(req: &Request<B>, tenant: &TenantRuntime) -> Response<ProxyBody> {
    let m = &tenant.metrics;
    let wanted = req
        .uri()
        .path()
        .strip_prefix("/pac/")
        .and_then(|p| p.strip_suffix(".pac"));
    let pac = match (wanted, &tenant.pac) {
        (Some(id), Some(pac)) if id == &*tenant.id => pac,
        _ => {
            m.pac_not_found.inc();
            return text(StatusCode::NOT_FOUND, "no PAC file at this path\n");
        }
    };
    let file = match pac {
        Ok(file) => file,
        Err(_) => {
            m.pac_unavailable.inc();
            return text(
                StatusCode::SERVICE_UNAVAILABLE,
                "the PAC file could not be generated; see the edge's log\n",
            );
        }
    };
    let gzip = file
        .gzip
        .as_ref()
        .filter(|_| encoding::wants_gzip(req.headers()));
    let chosen = gzip.unwrap_or(&file.identity);
    let mut resp = if matches(req.headers(), &chosen.etag) {
        m.pac_not_modified.inc();
        let mut r = Response::new(ProxyBody::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        m.pac_ok.inc();
        let len = chosen.bytes.len();
        let body = match req.method() == Method::HEAD {
            true => ProxyBody::empty(),
            false => {
                // What goes on the wire: the compressed length when compressed.
                m.pac_bytes.inc_by(len as u64);
                ProxyBody::full(chosen.bytes.clone())
            }
        };
        let mut r = Response::new(body);
        let h = r.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        if gzip.is_some() {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        r
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&chosen.etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    // Every answer depends on Accept-Encoding, including the uncompressed one and 304s.
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    resp
}

/// `If-None-Match` names `etag` (or is `*`); weak comparison, as RFC 9110 says for it.
fn matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim())
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
}

/// The answer to a PAC path that names no file this source may have.
pub fn not_found() -> Response<ProxyBody> {
    text(StatusCode::NOT_FOUND, "no PAC file at this path\n")
}

fn text(status: StatusCode, msg: &'static str) -> Response<ProxyBody> {
    let mut r = Response::new(ProxyBody::full(msg));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_lists_and_weak_tags_match() {
        let mut h = HeaderMap::new();
        let tag = "\"abc\"";
        assert!(!matches(&h, tag));
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"x\", W/\"abc\""),
        );
        assert!(matches(&h, tag));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"abd\""));
        assert!(!matches(&h, tag));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(matches(&h, tag));
    }

    #[test]
    fn only_origin_form_gets_of_pac_paths_are_pac_requests() {
        let get = |uri: &str| Request::get(uri).body(()).expect("request");
        assert!(is_pac_request(&get("/pac/acme.pac")));
        assert!(!is_pac_request(&get("http://example.com/pac/acme.pac")));
        assert!(!is_pac_request(&get("/other")));
        let post = Request::post("/pac/acme.pac").body(()).expect("request");
        assert!(!is_pac_request(&post));
    }
}
