//! The one place where failures become HTTP answers: `{"error": {"code", "message"}}`, one
//! status per kind.

use axum::response::{IntoResponse, Response};
use axum::Json;
use http::{HeaderValue, StatusCode};
use serde_json::json;

use crate::state::RejectKind;
use crate::store::StoreError;

/// Why a request failed, as the client should see it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `invalid`: the payload, path or query is wrong (the message names the field).
    #[error("{0}")]
    Invalid(String),
    /// 401 `unauthorized`
    #[error("missing or invalid bearer token")]
    Unauthorized,
    /// 403 `forbidden`
    #[error("this token may not do that")]
    Forbidden,
    /// 403 `forbidden`, saying which contract or option is missing.
    #[error("{0}")]
    Denied(String),
    /// 404 `not_found`
    #[error("{0}")]
    NotFound(String),
    /// 405 `method_not_allowed`
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409 `conflict`
    #[error("{0}")]
    Conflict(String),
    /// 412 `precondition_failed`
    #[error("{0}")]
    PreconditionFailed(String),
    /// 409 `quota_exceeded`: the write would take a tenant over a quota (the message names
    /// it, the limit and the usage).
    #[error("{0}")]
    QuotaExceeded(String),
    /// 422 `idempotency_key_reused`: the `Idempotency-Key` was used for another request.
    #[error("{0}")]
    KeyReused(String),
    /// 413 `too_large`
    #[error("request body larger than {0} bytes")]
    TooLarge(usize),
    /// 415 `unsupported_media_type`: a body that is not sent as JSON (its `Content-Type`).
    #[error("{}", unsupported(.0.as_deref()))]
    UnsupportedMediaType(Option<String>),
    /// Another node leads; the router forwards the request there (see `forward`).
    #[error("not the leader; the leader is at {0}")]
    NotLeader(String),
    /// 503 `no_leader` with `Retry-After: 1`.
    #[error("{0}")]
    NoLeader(String),
    /// 429 `rate_limited` with `Retry-After` (whole seconds, at least 1): see `ratelimit`.
    #[error("too many requests; retry after {}s", retry_secs(.0))]
    RateLimited(std::time::Duration),
    /// 500 `internal`: the store failed; details go to the log, not to the client.
    #[error("internal error")]
    Internal,
    /// 503 `node_stopped`: this node's storage failed and its replication stopped; another
    /// node can serve the request (details in this node's log, not for the client).
    #[error("this node stopped after a storage failure (see its log); ask another node")]
    Stopped,
}

/// Marks a response whose request should be forwarded to the leader at this API address.
/// Set by [`ApiError::NotLeader`]; consumed by the per-route middleware.
#[derive(Clone, Debug)]
pub struct ForwardTo(pub String);

impl ApiError {
    /// A business rejection from `apply`.
    pub fn rejected(kind: RejectKind, message: String) -> Self {
        match kind {
            RejectKind::Invalid => ApiError::Invalid(message),
            RejectKind::NotFound => ApiError::NotFound(message),
            RejectKind::Conflict => ApiError::Conflict(message),
            RejectKind::PreconditionFailed => ApiError::PreconditionFailed(message),
            RejectKind::QuotaExceeded => ApiError::QuotaExceeded(message),
            RejectKind::KeyReused => ApiError::KeyReused(message),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Invalid(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden | ApiError::Denied(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) | ApiError::QuotaExceeded(_) => StatusCode::CONFLICT,
            ApiError::KeyReused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NotLeader(_) | ApiError::NoLeader(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Stopped => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Invalid(_) => "invalid",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden | ApiError::Denied(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::QuotaExceeded(_) => "quota_exceeded",
            ApiError::KeyReused(_) => "idempotency_key_reused",
            ApiError::PreconditionFailed(_) => "precondition_failed",
            ApiError::TooLarge(_) => "too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::NotLeader(_) | ApiError::NoLeader(_) => "no_leader",
            ApiError::RateLimited(_) => "rate_limited",
            ApiError::Stopped => "node_stopped",
            ApiError::Internal => "internal",
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotLeader {
                leader_api: Some(api),
                ..
            } => ApiError::NotLeader(api),
            StoreError::NotLeader {
                leader_api: None, ..
            } => ApiError::NoLeader("no leader is known; retry shortly".into()),
            StoreError::Unavailable(why) => ApiError::NoLeader(format!("no leader: {why}")),
            StoreError::Invalid(why) => ApiError::Invalid(why),
            StoreError::Fatal(why) => {
                tracing::error!(error = %why, "store failure");
                ApiError::Stopped
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code(), "message": self.to_string() } });
        let mut resp = (self.status(), Json(body)).into_response();
        if let ApiError::NotLeader(_) | ApiError::NoLeader(_) = self {
            resp.headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if let ApiError::RateLimited(wait) = self {
            resp.headers_mut().insert(
                http::header::RETRY_AFTER,
                HeaderValue::from(retry_secs(&wait)),
            );
        }
        if let ApiError::NotLeader(api) = self {
            resp.extensions_mut().insert(ForwardTo(api));
        }
        resp
    }
}

fn unsupported(content_type: Option<&str>) -> String {
    match content_type {
        Some(ct) => {
            format!("the body is sent as {ct:?}; send it as Content-Type: application/json")
        }
        None => "the body has no Content-Type; send it as Content-Type: application/json".into(),
    }
}

/// `Retry-After` in whole seconds, rounded up, at least 1.
fn retry_secs(wait: &std::time::Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// A handler's result.
pub type ApiResult<T> = Result<T, ApiError>;

/// 404 for a tenant that does not exist (or that the caller may not see).
pub(crate) fn no_tenant(id: &str) -> ApiError {
    ApiError::NotFound(format!("tenant {id:?} not found"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reject_kind_maps_to_its_status() {
        let cases = [
            (RejectKind::Invalid, 400),
            (RejectKind::NotFound, 404),
            (RejectKind::Conflict, 409),
            (RejectKind::PreconditionFailed, 412),
            (RejectKind::QuotaExceeded, 409),
            (RejectKind::KeyReused, 422),
        ];
        for (kind, status) in cases {
            assert_eq!(
                ApiError::rejected(kind, "x".into()).status().as_u16(),
                status
            );
        }
    }

    #[test]
    fn rate_limited_is_429_with_retry_after_in_whole_seconds() {
        let resp = ApiError::RateLimited(std::time::Duration::from_millis(1200)).into_response();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(resp.headers()[http::header::RETRY_AFTER], "2");
        let resp = ApiError::RateLimited(std::time::Duration::from_millis(1)).into_response();
        assert_eq!(resp.headers()[http::header::RETRY_AFTER], "1");
    }

    #[test]
    fn not_leader_without_address_is_no_leader_with_retry_after() {
        let err = ApiError::from(StoreError::NotLeader {
            leader_id: None,
            leader_api: None,
        });
        let resp = err.into_response();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers()[http::header::RETRY_AFTER], "1");
        assert!(resp.extensions().get::<ForwardTo>().is_none());
    }
}
