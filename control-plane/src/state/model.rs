//! The replicated data: what every node holds after applying the same log.
//!
//! The large collections are persistent ([`imbl`]): a reader's `Arc<State>` and the state
//! being applied share everything the write did not touch, so applying a batch while a reader
//! holds the previous state copies a few tree nodes, never the whole state.

pub(super) mod sources;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use breakout_policy::Tenant;
use chrono::NaiveDate;
use imbl::{OrdMap, Vector};
use serde::{Deserialize, Serialize};

use super::template_record::TemplateRecord;
use crate::clock::day_of;
use crate::contracts::{PriceBooks, TemplateItem, TenantContracts};
use crate::templates::select::Subscription;
use sources::SourceIndex;

/// How many audit events the state keeps; older ones are dropped, oldest first.
pub const AUDIT_KEEP: usize = 10_000;

/// Most entries one named list may hold (the edge compiles every list into its matcher).
pub const MAX_LIST_ENTRIES: usize = 100_000;

/// Everything the control plane stores.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Index of the last applied log entry: the store version. Only increases.
    pub version: u64,
    pub regions: OrdMap<String, Region>,
    /// Shared records: changing one tenant copies that record only if a reader holds it.
    pub tenants: OrdMap<String, Arc<TenantRecord>>,
    /// The tenants' source networks by region (derived from `tenants`, never stored).
    #[serde(skip)]
    pub sources: SourceIndex,
    /// Tenant API tokens by token id (the secret itself is never stored, only its hash).
    pub tokens: OrdMap<String, TokenRecord>,
    /// Every write, oldest first (bounded; see `AUDIT_KEEP`).
    pub audit: Vector<AuditEvent>,
    /// Each tenant's attributes, child contracts and options (issue 4), by tenant id.
    #[serde(default, skip_serializing_if = "OrdMap::is_empty")]
    pub contracts: OrdMap<String, TenantContracts>,
    /// Every price book, by the day it applies from (annex 1).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub price_books: PriceBooks,
    /// Withdrawn template items (art. 11) and the day each withdrawal takes effect.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub withdrawn: BTreeMap<TemplateItem, NaiveDate>,
    /// The log's clock: the newest UTC day of any applied request (`Request.at_ms`, or a
    /// `tick` command's day); never goes back. What edges are given at this version is
    /// decided for this day ([`State::policy_day`]), so it is the same on every node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<NaiveDate>,
    /// List templates (art. 3): versions, the live one, quarantined candidates.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub templates: BTreeMap<TemplateItem, Arc<TemplateRecord>>,
    /// Tenants' template subscriptions, by tenant id then item.
    #[serde(default, skip_serializing_if = "OrdMap::is_empty")]
    pub subscriptions: OrdMap<String, Arc<BTreeMap<TemplateItem, Subscription>>>,
    /// The log index of the last `SyncTemplates`: the leader's poller polls every source now
    /// when it sees this move.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub template_sync: u64,
    /// Tenants' webhooks (docs/integration.md), by tenant id, then webhook id.
    #[serde(default, skip_serializing_if = "OrdMap::is_empty")]
    pub webhooks: OrdMap<String, BTreeMap<String, Webhook>>,
    /// Per template, the live version tenants were last mailed about ([`crate::notify`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub notified: BTreeMap<TemplateItem, u32>,
    /// The answers to recent client writes that carried an `Idempotency-Key` (bounded in time
    /// and count; `idempotency`).
    #[serde(default, skip_serializing_if = "Remembered::is_empty")]
    pub idempotency: Remembered,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl State {
    /// The day what edges are given at this version is decided for: [`State::day`], or for a
    /// state stored before it existed, the day of its newest audited write.
    pub fn policy_day(&self) -> NaiveDate {
        self.day
            .or_else(|| self.audit.last().map(|e| day_of(e.at_ms)))
            .unwrap_or_default()
    }
}

/// A region: where edges terminate traffic; each tenant is pinned to one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Region {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub created_version: u64,
    pub changed_version: u64,
}

/// A tenant and the versions it was created and last changed at.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TenantRecord {
    /// `tenant.region` is always `Some` here.
    pub tenant: Tenant,
    pub created_version: u64,
    pub changed_version: u64,
    /// The operator's cap on the tenant's session limit: edges get the smaller of it and the
    /// contracted capacity item (see `docs/contracts.md`). `None`: the contract alone decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_cap: Option<u32>,
    /// Where change notifications for the lists the tenant uses go (its operations contact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ops_contact: Option<String>,
    /// The tenant wants change notifications in business hours only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub notify_business_days: bool,
    /// The operator's overrides of the tenant's quotas (`quotas`); unset ones are the defaults.
    #[serde(default, skip_serializing_if = "Quotas::is_default")]
    pub quotas: Quotas,
}

/// A tenant's quotas as the operator set them: each `None` is the default
/// (docs/api.md#quotas). The same shape is the body of `PUT /v1/tenants/{id}/quotas`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quotas {
    /// Named lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lists: Option<u64>,
    /// Entries of the largest list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_entries: Option<u64>,
    /// Destinations in all: list entries plus rules' own destinations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entries: Option<u64>,
    /// The tenant's configuration (its record as JSON: lists, rules, upstreams, PAC), in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhooks: Option<u64>,
    /// API tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u64>,
}

impl Quotas {
    pub fn is_default(&self) -> bool {
        *self == Quotas::default()
    }
}

/// Answers to client writes that carried an `Idempotency-Key`, by the principal's key, and the
/// order they were written in (oldest first) to forget them by.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Remembered {
    pub answers: OrdMap<String, Answer>,
    /// `(key, index)`: a key written again later leaves its old place here stale (the index
    /// no longer matches its answer), and forgetting skips it.
    pub order: Vector<(String, u64)>,
}

impl Remembered {
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// What a keyed write was answered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// SHA-256 of the HTTP request (method, path and query, `If-Match`, body): a repeat must be
    /// the same request.
    pub fingerprint: String,
    /// The log index of the write and when it was proposed.
    pub index: u64,
    pub at_ms: u64,
    /// `Done` or `Rejected`: what a repeat is answered.
    pub outcome: Outcome,
    /// What the answer carried that the state does not keep (a generated id, a sealed secret).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub reply: BTreeMap<String, String>,
}

/// A tenant token: scoped to one tenant, stored hashed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: String,
    pub tenant: String,
    /// Hex SHA-256 of the secret.
    pub hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub created_version: u64,
    /// When the token stops working (Unix ms, the API node's clock); `None`: until revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<u64>,
}

/// One write, as the audit log keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub version: u64,
    pub at_ms: u64,
    pub actor: String,
    /// e.g. `tenant.create`, `tenant.update`, `list.put`, `token.create`.
    pub action: String,
    /// The object written, e.g. `tenant/acme`, `tenant/acme/list/blocklist`.
    pub target: String,
    /// `ok` or the rejection message.
    pub result: String,
}

/// A webhook's signing secret. Kept (signing needs it), never shown by the API and never
/// printed: its `Debug` hides it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// One registered webhook (docs/integration.md, "Webhooks").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    pub secret: Secret,
    pub created_version: u64,
}

/// What a write did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// Applied at `version` (the log index of the write).
    Done {
        version: u64,
    },
    Rejected {
        kind: RejectKind,
        message: String,
    },
    /// A repeat of a keyed client write that was applied at `version`: nothing changed now.
    /// `reply` is what the first answer carried that the state does not keep.
    Repeated {
        version: u64,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        reply: BTreeMap<String, String>,
    },
}

/// Why a write was refused; the API maps each kind to one status code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectKind {
    /// 400: the payload is wrong (names the field).
    Invalid,
    /// 404
    NotFound,
    /// 409: exists already, overlaps another tenant, still in use.
    Conflict,
    /// 412: `If-Match` named another version.
    PreconditionFailed,
    /// 409 `quota_exceeded`: the write would take the tenant over one of its quotas.
    QuotaExceeded,
    /// 422 `idempotency_key_reused`: the `Idempotency-Key` was used for another request.
    KeyReused,
}
