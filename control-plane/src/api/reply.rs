//! Answers to writes: the new store version in the body (`"version"`) and in
//! `X-Breakout-Version`; and the tenant view every tenant answer uses.

use axum::response::{IntoResponse, Response};
use axum::Json;
use breakout_policy::Tenant;
use chrono::NaiveDate;
use http::{HeaderName, HeaderValue, StatusCode};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::contracts::{Effective, TenantContracts};
use crate::state::{served_limit, SessionLimit, State, TenantRecord};

/// The header carrying the store version a write produced.
pub static VERSION_HEADER: HeaderName = HeaderName::from_static("x-breakout-version");

/// A write's answer: `{"version": v, …fields}` with `X-Breakout-Version: v`.
pub struct Versioned {
    pub status: StatusCode,
    pub version: u64,
    pub fields: Map<String, Value>,
}

impl Versioned {
    /// `200 {"version": v}`.
    pub fn ok(version: u64) -> Self {
        Self {
            status: StatusCode::OK,
            version,
            fields: Map::new(),
        }
    }

    /// `201 {"version": v}`.
    pub fn created(version: u64) -> Self {
        Self {
            status: StatusCode::CREATED,
            ..Self::ok(version)
        }
    }

    /// Adds `key: value` to the body.
    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        // Serializing our own view types cannot fail (string keys, no non-finite floats).
        let value = serde_json::to_value(value).unwrap_or(Value::Null);
        self.fields.insert(key.to_string(), value);
        self
    }
}

impl IntoResponse for Versioned {
    fn into_response(mut self) -> Response {
        self.fields.insert("version".into(), self.version.into());
        let mut resp = (self.status, Json(Value::Object(self.fields))).into_response();
        resp.headers_mut()
            .insert(VERSION_HEADER.clone(), HeaderValue::from(self.version));
        resp
    }
}

/// A tenant as the API shows it: the policy model's fields, what its contracts entitle it to
/// on the day asked about (`effective`: in service, session limit, region), and its versions.
#[derive(Clone, Debug, Serialize)]
pub struct TenantView {
    #[serde(flatten)]
    pub tenant: Tenant,
    pub effective: Effective,
    /// The operator's cap on the contracted session limit (edges get the smaller).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_cap: Option<u32>,
    /// The limit the region's edges enforce on the day asked about, and whether the contract's
    /// capacity or the operator's cap sets it; absent when edges do not serve the tenant that
    /// day (the tenant's own `session_limit` is then enforced by nobody).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_limit_in_force: Option<SessionLimit>,
    /// Where change notifications go.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ops_contact: Option<String>,
    /// Change notifications wait for business hours.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub notify_business_days: bool,
    pub created_version: u64,
    pub changed_version: u64,
}

impl TenantView {
    /// `r` as stored in `state`, with its entitlements on `on`.
    pub fn new(state: &State, r: &TenantRecord, on: NaiveDate) -> Self {
        let effective = state.contracts.get(&r.tenant.id).map_or_else(
            || TenantContracts::default().effective(on),
            |c| c.effective(on),
        );
        let region = r.tenant.region.as_deref().unwrap_or_default();
        Self {
            tenant: r.tenant.clone(),
            effective,
            session_cap: r.session_cap,
            session_limit_in_force: served_limit(state, r, region, on),
            ops_contact: r.ops_contact.clone(),
            notify_business_days: r.notify_business_days,
            created_version: r.created_version,
            changed_version: r.changed_version,
        }
    }
}

/// The tenant `id` in `state` as a view with its entitlements on `on`.
pub fn tenant_view_on(state: &State, id: &str, on: NaiveDate) -> Option<TenantView> {
    state.tenants.get(id).map(|r| TenantView::new(state, r, on))
}

/// `"<version>"`, the ETag of an object changed at `version`.
pub fn etag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}
