//! Extractors whose rejections are [`ApiError`]s, so axum's plain-text rejections never reach a
//! client: JSON bodies, path segments, query strings, `If-Match`.

use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use chrono::NaiveDate;
use http::request::Parts;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::error::ApiError;
use crate::store::Consistency;

/// The largest request body accepted (a tenant with big vendor lists stays well below).
pub const MAX_BODY: usize = 16 * 1024 * 1024;

/// A JSON body, sent as `Content-Type: application/json` (or any `…+json`; else 415
/// `unsupported_media_type`); a body that is not JSON, or not the expected shape, is a 400
/// `invalid` whose message carries serde's path to the field and its complaint
/// (e.g. `source_cidrs[0]: "2001:db8::/32" is IPv6; …`).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ApiBody(body) = ApiBody::from_request(req, state).await?;
        parse_json(&body).map(ApiJson)
    }
}

/// A body that must be a JSON object: [`ApiJson`] that also refuses any other JSON value at the
/// top (a map type would otherwise be the only check; structs refuse arrays at any depth through
/// [`super::strict_json`]).
pub struct ApiObject<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiObject<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ApiBody(body) = ApiBody::from_request(req, state).await?;
        parse_object(&body).map(ApiObject)
    }
}

/// [`parse_json`] for a body that must be a JSON object.
pub fn parse_object<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => parse_json(body),
        _ => Err(ApiError::Invalid(
            "request body must be a JSON object".into(),
        )),
    }
}

/// A route's body limit when it is not [`MAX_BODY`] (the store import's), put into the request's
/// extensions by the per-route middleware.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimit(pub usize);

/// The raw body of a JSON route, up to the route's limit ([`MAX_BODY`] unless a [`BodyLimit`]
/// says otherwise; 413 `too_large` beyond). A non-empty
/// body must say it is JSON (`Content-Type: application/json`): anything else is a 415, so a
/// form post or a file sent with the wrong type is refused by name rather than parsed.
pub struct ApiBody(pub Bytes);

/// Where [`ApiBody`] leaves a copy of the body it read, so that the request can still be
/// forwarded to the leader after the handler consumed it. Put into the request's extensions by
/// the per-route middleware; the body is only read by handlers, after authentication.
#[derive(Clone, Default)]
pub struct BodySlot(pub Arc<OnceLock<Bytes>>);

impl<S: Send + Sync> FromRequest<S> for ApiBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        let slot = req.extensions().get::<BodySlot>().cloned();
        let limit = req
            .extensions()
            .get::<BodyLimit>()
            .map_or(MAX_BODY, |l| l.0);
        let content_type = req
            .headers()
            .get(http::header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let body = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|_| ApiError::TooLarge(limit))?;
        if !body.is_empty() && !is_json(content_type.as_deref()) {
            return Err(ApiError::UnsupportedMediaType(content_type));
        }
        if let Some(BodySlot(slot)) = slot {
            let _ = slot.set(body.clone());
        }
        Ok(ApiBody(body))
    }
}

/// `application/json` or `application/<anything>+json`, parameters (`; charset=utf-8`) ignored.
fn is_json(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else {
        return false;
    };
    let essence = ct.split(';').next().unwrap_or_default().trim();
    let Some((kind, sub)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (sub.eq_ignore_ascii_case("json") || sub.to_ascii_lowercase().ends_with("+json"))
}

/// The deepest nesting of arrays and objects a body may have (the deepest real body, a tenant
/// with PAC settings, is 4 levels); refused before serde sees it.
pub const MAX_JSON_DEPTH: usize = 32;

/// The deepest nesting of `[`/`{` in `body`, outside strings; stops counting past `limit`.
fn json_depth(body: &[u8], limit: usize) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in body {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
                if deepest > limit {
                    return deepest;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Parses a JSON body into `T`, mapping every failure to a 400 `invalid` naming the field.
pub fn parse_json<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    if json_depth(body, MAX_JSON_DEPTH) > MAX_JSON_DEPTH {
        return Err(ApiError::Invalid(format!(
            "request body is nested deeper than {MAX_JSON_DEPTH} levels"
        )));
    }
    super::strict_json::from_slice(body).map_err(|e| {
        use serde_json::error::Category;
        let what = match e.inner().classify() {
            Category::Data => "wrong shape",
            Category::Syntax | Category::Eof => "not JSON",
            Category::Io => "unreadable",
        };
        // serde_path_to_error writes "<path>: <serde message>" (the message alone at the top);
        // a policy error with an empty field path leaves an empty segment: "[0]: : why".
        let detail = e.to_string().replace(": : ", ": ");
        ApiError::Invalid(format!("request body is {what}: {detail}"))
    })
}

/// Path parameters; a segment of the wrong type is a 400 `invalid`.
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|e| ApiError::Invalid(e.body_text()))
    }
}

/// A query string; unknown parameters are ignored, malformed known ones are a 400 `invalid`.
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e| ApiError::Invalid(e.body_text()))
    }
}

/// `?stale=true`: read this node's state instead of a linearizable read.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReadOpts {
    pub stale: bool,
}

impl ReadOpts {
    pub fn consistency(&self) -> Consistency {
        if self.stale {
            Consistency::Stale
        } else {
            Consistency::Linearizable
        }
    }
}

/// `?stale=true&on=YYYY-MM-DD`: the day states and entitlements are shown for (default today).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OnQuery {
    pub stale: bool,
    pub on: Option<NaiveDate>,
}

impl OnQuery {
    pub fn consistency(&self) -> Consistency {
        if self.stale {
            Consistency::Stale
        } else {
            Consistency::Linearizable
        }
    }

    /// The day asked about, or `today`.
    pub fn day(&self, today: NaiveDate) -> NaiveDate {
        self.on.unwrap_or(today)
    }
}

/// `If-Match: "12"` (quoted or bare; `*` or absent means no precondition).
pub struct IfMatch(pub Option<u64>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match parts.headers.get(http::header::IF_MATCH) {
            None => Ok(IfMatch(None)),
            Some(value) => value
                .to_str()
                .ok()
                .and_then(parse_if_match)
                .map(IfMatch)
                .ok_or_else(|| {
                    ApiError::Invalid(
                        "If-Match: expected a version such as \"12\" (quoted or bare) or *".into(),
                    )
                }),
        }
    }
}

/// `Some(None)` for `*`, `Some(Some(v))` for a version, `None` when unparsable.
fn parse_if_match(raw: &str) -> Option<Option<u64>> {
    let raw = raw.trim();
    if raw == "*" {
        return Some(None);
    }
    let unquoted = match raw.strip_prefix('"') {
        Some(rest) => rest.strip_suffix('"')?,
        None => raw,
    };
    unquoted.parse().ok().map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_takes_quoted_bare_and_star() {
        assert_eq!(parse_if_match("\"12\""), Some(Some(12)));
        assert_eq!(parse_if_match(" 7 "), Some(Some(7)));
        assert_eq!(parse_if_match("*"), Some(None));
        assert_eq!(parse_if_match("\"12"), None);
        assert_eq!(parse_if_match("W/\"12\""), None);
        assert_eq!(parse_if_match("twelve"), None);
    }

    #[test]
    fn json_content_types() {
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/merge-patch+json",
        ] {
            assert!(is_json(Some(ok)), "{ok}");
        }
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "json",
            "",
        ] {
            assert!(!is_json(Some(bad)), "{bad}");
        }
        assert!(!is_json(None));
    }

    #[test]
    fn json_depth_counts_nesting_outside_strings() {
        assert_eq!(json_depth(br#"{"a": [1, {"b": []}]}"#, 99), 4);
        assert_eq!(json_depth(br#"["[[[[", "\"[[["]"#, 99), 1);
        assert_eq!(json_depth(b"", 99), 0);
        let deep = "[".repeat(10_000);
        assert_eq!(json_depth(deep.as_bytes(), 5), 6, "stops past the limit");
    }

    #[test]
    fn bodies_nested_too_deep_are_refused_before_parsing() {
        let ok = format!(
            "{}{}",
            "[".repeat(MAX_JSON_DEPTH),
            "]".repeat(MAX_JSON_DEPTH)
        );
        assert!(parse_json::<serde_json::Value>(&Bytes::from(ok)).is_ok());
        let deep = format!(
            "{}1{}",
            "[".repeat(MAX_JSON_DEPTH + 1),
            "]".repeat(MAX_JSON_DEPTH + 1)
        );
        let err = parse_json::<serde_json::Value>(&Bytes::from(deep));
        assert!(matches!(err, Err(ApiError::Invalid(m)) if m.contains("nested deeper")));
    }

    #[test]
    fn json_errors_name_the_field() {
        #[derive(Debug, Deserialize)]
        struct Body {
            #[allow(dead_code)]
            limit: u32,
        }
        let err = parse_json::<Body>(&Bytes::from_static(br#"{"limit": "x"}"#));
        let Err(ApiError::Invalid(message)) = err else {
            panic!("expected invalid: {err:?}")
        };
        assert!(message.contains("limit"), "{message}");
        let err = parse_json::<Body>(&Bytes::from_static(b"{nope"));
        assert!(matches!(err, Err(ApiError::Invalid(m)) if m.contains("not JSON")));
    }
}
