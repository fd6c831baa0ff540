//! The replicated state and its pure state machine.
//!
//! `apply` is deterministic over plain data: the same requests in the same order give the same
//! state on every node. Business rejections (a conflict, a missing tenant, a failed `If-Match`)
//! are [`Outcome::Rejected`], never storage errors: a storage error stops a Raft node.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use breakout_policy::pac::PacSettings;
use breakout_policy::{Action, Destination, NamedList, Rule, SourceCidr, Tenant};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::contracts::dates::day_of;
use crate::contracts::{ContractRequest, PriceBook, PriceBooks, TemplateItem, TenantContracts};
use crate::templates::select::Subscription;

mod apply;
mod contracts;
mod endpoints;
mod lists;
mod read;
mod regions;
mod service;
mod templates;
mod tenants;
mod tokens;
mod webhooks;

#[cfg(test)]
mod tests;

pub use apply::apply;
pub use endpoints::{export_stable_since, export_view, may_pull_endpoints, may_update_lists};
pub use service::{next_policy_change, out_of_service, region_policy_at, serve_commands, tick_due};
pub use templates::{
    holds_template, withdrawn, Fetched, Quarantined, TemplateRecord, TemplateVersion,
    QUARANTINE_KEEP, TEMPLATE_HISTORY,
};
pub use webhooks::{Secret, Webhook, MAX_WEBHOOKS};

/// How many audit events the state keeps; older ones are dropped, oldest first.
pub const AUDIT_KEEP: usize = 10_000;

/// Most entries one named list may hold (the edge compiles every list into its matcher).
pub const MAX_LIST_ENTRIES: usize = 100_000;

/// Everything the control plane stores.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Index of the last applied log entry: the store version. Only increases.
    pub version: u64,
    pub regions: BTreeMap<String, Region>,
    pub tenants: BTreeMap<String, TenantRecord>,
    /// Tenant API tokens by token id (the secret itself is never stored, only its hash).
    pub tokens: BTreeMap<String, TokenRecord>,
    /// Every write, oldest first (bounded; see `AUDIT_KEEP`).
    pub audit: Vec<AuditEvent>,
    /// Each tenant's attributes, child contracts and options (issue 4), by tenant id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub contracts: BTreeMap<String, TenantContracts>,
    /// Every price book, by the day it applies from (annex 1).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub price_books: PriceBooks,
    /// Withdrawn template items (art. 11) and the day each withdrawal takes effect.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub withdrawn: BTreeMap<TemplateItem, NaiveDate>,
    /// The log's clock: the newest UTC day of any applied request (`Request.at_ms`, or a
    /// [`Command::Tick`]'s day); never goes back. What edges are given at this version is
    /// decided for this day ([`State::policy_day`]), so it is the same on every node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<NaiveDate>,
    /// List templates (art. 3): versions, the live one, quarantined candidates.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub templates: BTreeMap<TemplateItem, TemplateRecord>,
    /// Tenants' template subscriptions, by tenant id then item.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub subscriptions: BTreeMap<String, BTreeMap<TemplateItem, Subscription>>,
    /// The log index of the last `SyncTemplates`: the leader's poller polls every source now
    /// when it sees this move.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub template_sync: u64,
    /// Tenants' webhooks (docs/integration.md), by tenant id, then webhook id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub webhooks: BTreeMap<String, BTreeMap<String, Webhook>>,
    /// Per template, the live version tenants were last mailed about ([`crate::notify`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub notified: BTreeMap<TemplateItem, u32>,
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

/// A proposed write: who asks, when (the proposer's clock, so apply stays deterministic), what.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub actor: String,
    pub at_ms: u64,
    pub command: Command,
}

/// Every write the control plane knows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    CreateRegion {
        name: String,
        description: Option<String>,
    },
    /// Refused while any tenant is pinned to the region.
    DeleteRegion {
        name: String,
    },
    /// `tenant.region` must name an existing region.
    CreateTenant {
        tenant: Tenant,
    },
    UpdateTenant {
        id: String,
        if_match: Option<u64>,
        patch: TenantPatch,
    },
    DeleteTenant {
        id: String,
        if_match: Option<u64>,
    },
    PutList {
        tenant: String,
        name: String,
        list: NamedList,
        if_match: Option<u64>,
    },
    DeleteList {
        tenant: String,
        name: String,
        if_match: Option<u64>,
    },
    /// Art. 10-4: add and remove entries of an existing list (removals first; entries already
    /// present are not added twice, absent ones are not an error).
    PatchList {
        tenant: String,
        name: String,
        add: Vec<Destination>,
        remove: Vec<Destination>,
        if_match: Option<u64>,
    },
    CreateToken {
        id: String,
        tenant: String,
        hash: String,
        label: Option<String>,
        /// When the token stops working (Unix ms); `None`: until revoked.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expires_at_ms: Option<u64>,
    },
    RevokeToken {
        id: String,
    },
    /// A change to one tenant's attributes, contracts or options, checked by
    /// [`crate::contracts::check`] on the request's UTC day.
    Contract {
        tenant: String,
        request: ContractRequest,
    },
    /// A new price book from `effective_from` (default: the request's day; never earlier).
    SetPriceBook {
        effective_from: Option<NaiveDate>,
        prices: PriceBook,
    },
    /// Art. 11: withdraw a template item from `effective` (default: the request's day).
    WithdrawTemplate {
        item: TemplateItem,
        effective: Option<NaiveDate>,
    },
    /// The leader's clock reached `day`, on which what edges are given changes without any
    /// other write (a contract starts or ends, a capacity change takes effect): moves
    /// [`State::day`] on, so the change gets a store version of its own. Audited as
    /// `clock.tick`.
    Tick {
        day: NaiveDate,
    },
    /// A poller fetched a template's source: unchanged content changes nothing; the guard
    /// (empty, unparsable, shrunk by more than `max_shrink_percent`) quarantines a candidate,
    /// else it becomes the live version. Audited as `template.record` (and
    /// `template.quarantine` when held).
    RecordTemplate {
        item: TemplateItem,
        fetched: Fetched,
        max_shrink_percent: u8,
    },
    /// A quarantined candidate becomes the live version.
    ApproveTemplate {
        item: TemplateItem,
        candidate: u32,
    },
    /// A quarantined candidate is dropped.
    RejectTemplate {
        item: TemplateItem,
        candidate: u32,
    },
    /// A kept version becomes live again.
    RollbackTemplate {
        item: TemplateItem,
        to: u32,
    },
    /// Asks the leader's poller to poll every source now (`breakoutctl template sync`).
    SyncTemplates,
    /// The leader mailed tenants about template `item`'s live version `version`
    /// ([`crate::notify`]); it will not mail about it again.
    TemplateNotified {
        item: TemplateItem,
        version: u32,
    },
    /// Sets (`Some`) or clears (`None`) a tenant's subscription to a template; needs a
    /// list-template contract for the item in force, and the item not withdrawn (art. 2, 11).
    SetSubscription {
        tenant: String,
        item: TemplateItem,
        subscription: Option<Subscription>,
    },
    /// Registers a webhook of `tenant`: `url` gets each change of its exported endpoints,
    /// signed with `secret`.
    CreateWebhook {
        tenant: String,
        id: String,
        url: String,
        secret: Secret,
    },
    DeleteWebhook {
        tenant: String,
        id: String,
    },
}

/// Fields of a tenant to replace; `None` leaves a field as it is. The region cannot change
/// (art. 5).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_cidrs: Option<Vec<SourceCidr>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstreams: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<Rule>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_action: Option<Action>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_limit: Option<u32>,
    /// `Some(None)` clears the egress address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress_address: Option<Option<Ipv4Addr>>,
    /// The operator's cap on the contracted session limit ([`TenantRecord::session_cap`]);
    /// `Some(None)` (JSON `null`) removes it.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub session_cap: Option<Option<u32>>,
    /// PAC settings (art. 10-3, docs/pac.md); `Some(None)` (JSON `null`) removes them. Needs the
    /// `pac` option once the tenant has contracts (art. 6-4).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub pac: Option<Option<PacSettings>>,
    /// The operations contact's e-mail address ([`TenantRecord::ops_contact`]); `Some(None)`
    /// (JSON `null`) removes it.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub ops_contact: Option<Option<String>>,
    /// [`TenantRecord::notify_business_days`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_business_days: Option<bool>,
}

/// A field that may be absent (`None`: unchanged), `null` (`Some(None)`: removed) or a value.
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
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
}
