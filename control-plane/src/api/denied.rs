//! Refused access attempts: a missing or wrong token (401), a tenant token on an operator route
//! or on a write it may not make (403), a tenant token naming another tenant (404, as if it did
//! not exist). Each is logged (`event = "access_denied"`, never the token), counted, and kept in
//! a bounded per-node ring served at `GET /v1/audit/denied` (operator).
//!
//! Not through Raft: anyone can make a failed attempt, and letting anonymous traffic write the
//! replicated log would hand it the cluster's disks. The replicated audit log (`/v1/audit`)
//! keeps every write, rejected ones included.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{MatchedPath, State};
use axum::Json;
use http::request::Parts;
use serde::Serialize;
use serde_json::{json, Value};

use super::auth::Operator;
use super::error::ApiResult;
use super::ApiContext;

/// Attempts a node keeps (oldest dropped first).
pub const DENIED_KEEP: usize = 1000;

/// One refused attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeniedAttempt {
    pub at_ms: u64,
    pub method: String,
    /// The route template (`/v1/tenants/{id}`), or the raw path when no route matched.
    pub route: String,
    pub path: String,
    pub status: u16,
    /// `no_token`, `bad_token`, `operator_only`, `not_allowed`, `other_tenant`, `not_granted`.
    pub reason: &'static str,
    /// `anonymous`, `operator` or `tenant:<id>`: who the token said it was, if it was valid.
    pub principal: String,
    pub source: Option<IpAddr>,
}

/// The ring, and a counter by reason.
pub struct DeniedLog {
    ring: Mutex<VecDeque<DeniedAttempt>>,
    counter: prometheus::IntCounterVec,
}

impl DeniedLog {
    pub fn new(registry: &prometheus::Registry) -> Result<Arc<Self>, prometheus::Error> {
        let counter = prometheus::IntCounterVec::new(
            prometheus::Opts::new(
                "breakout_control_api_denied_total",
                "API requests refused for their credentials or scope, by reason",
            ),
            &["reason"],
        )?;
        registry.register(Box::new(counter.clone()))?;
        Ok(Arc::new(DeniedLog {
            ring: Mutex::new(VecDeque::new()),
            counter,
        }))
    }

    /// Records a refusal, at `at_ms`, of the request whose head is `parts`.
    pub fn record(
        &self,
        at_ms: u64,
        parts: &Parts,
        status: u16,
        reason: &'static str,
        principal: String,
    ) {
        let path = parts.uri.path().to_string();
        let route = parts
            .extensions
            .get::<MatchedPath>()
            .map_or_else(|| path.clone(), |m| m.as_str().to_string());
        let attempt = DeniedAttempt {
            at_ms,
            method: parts.method.to_string(),
            route,
            path,
            status,
            reason,
            principal,
            source: super::ratelimit::client_ip(parts),
        };
        tracing::warn!(
            target: "breakout_control::audit",
            event = "access_denied",
            method = %attempt.method,
            route = %attempt.route,
            status,
            reason,
            principal = %attempt.principal,
            source = ?attempt.source,
            "access denied"
        );
        self.counter.with_label_values(&[reason]).inc();
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        if ring.len() >= DENIED_KEEP {
            ring.pop_front();
        }
        ring.push_back(attempt);
    }

    /// Every attempt kept, oldest first.
    pub fn recent(&self) -> Vec<DeniedAttempt> {
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        ring.iter().cloned().collect()
    }
}

/// `GET /v1/audit/denied` (operator): `{node_id, items: [DeniedAttempt]}`, this node's only.
pub async fn list(State(ctx): State<Arc<ApiContext>>, _: Operator) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({ "node_id": ctx.node_id, "items": ctx.denied.recent() }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(path: &str) -> Parts {
        http::Request::get(path)
            .body(())
            .expect("request")
            .into_parts()
            .0
    }

    #[test]
    fn attempts_are_kept_bounded_and_counted_by_reason() {
        let registry = prometheus::Registry::new();
        let log = DeniedLog::new(&registry).expect("log");
        for i in 0..DENIED_KEEP + 5 {
            log.record(
                i as u64,
                &parts(&format!("/v1/tenants/t{i}")),
                401,
                "bad_token",
                "anonymous".into(),
            );
        }
        let recent = log.recent();
        assert_eq!(recent.len(), DENIED_KEEP);
        assert_eq!(recent[0].path, "/v1/tenants/t5", "oldest dropped first");
        assert_eq!(
            recent[0].route, "/v1/tenants/t5",
            "no route matched: the path"
        );
        let text = prometheus::TextEncoder::new()
            .encode_to_string(&registry.gather())
            .expect("encode");
        assert!(
            text.contains("breakout_control_api_denied_total{reason=\"bad_token\"} 1005"),
            "{text}"
        );
    }
}
