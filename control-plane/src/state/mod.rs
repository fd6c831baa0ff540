//! The replicated state and its pure state machine.
//!
//! `apply` is deterministic over plain data: the same requests in the same order give the same
//! state on every node. Business rejections (a conflict, a missing tenant, a failed `If-Match`)
//! are [`Outcome::Rejected`], never storage errors: a storage error stops a Raft node.
//!
//! Imports point down: [`model`] (the data) ← `step` (what every write shares: [`LogEntry`],
//! [`Apply`], rejections, tenant lookup) ← one file per family of commands, each command a
//! struct with its `apply` and its audit description ← `command` (the [`Command`] enum and
//! [`Request`]) ← `apply` (the dispatcher). Reads (`read`, `service`, `export`, `gates`) sit
//! beside the commands and use only the data.

mod apply;
mod command;
mod contracts;
mod export;
mod gates;
mod idempotency;
mod import;
mod input;
mod lists;
pub mod model;
mod quotas;
mod read;
mod regions;
mod service;
mod step;
mod template_record;
mod template_writes;
mod templates;
mod tenants;
mod tokens;
mod webhooks;

#[cfg(test)]
mod tests;

pub use apply::apply;
pub use command::{serve_commands, ClientWrite, Command, Request};
pub use contracts::{ContractChange, SetPriceBook, WithdrawTemplate};
pub use export::{export_stable_since, export_view};
pub use gates::{may_export, may_update_lists};
pub use idempotency::{IdempotencyKey, KEEP as IDEMPOTENCY_KEEP, KEEP_MS as IDEMPOTENCY_KEEP_MS};
pub use import::{split as split_dump, ImportPart, ImportState};
pub use input::{ID_MAX, ID_RULE, STRING_MAX};
pub use lists::{DeleteList, PatchList, PutList};
pub use model::{
    Answer, AuditEvent, Outcome, Quotas, Region, RejectKind, Remembered, Secret, State,
    TenantRecord, TokenRecord, Webhook, AUDIT_KEEP, MAX_LIST_ENTRIES,
};
pub use quotas::{json_size, usage, Quota, Usage};
pub use regions::{CreateRegion, DeleteRegion};
pub use service::{
    foreign_sources, next_policy_change, out_of_service, region_policy_at, served_limit,
    served_tenant, served_tenant_with, session_limits_by_region, tenant_out_of_service, tick_due,
    LimitBy, SessionLimit, Tick,
};
pub use step::Reject;
pub use template_record::{
    Fetched, Quarantined, TemplateRecord, TemplateVersion, QUARANTINE_KEEP, TEMPLATE_HISTORY,
};
pub use template_writes::{
    ApproveTemplate, RecordTemplate, RejectTemplate, RollbackTemplate, SetSubscription,
    SyncTemplates, TemplateNotified,
};
pub use templates::{compile_subscription, holds_template, withdrawn, SubscriptionCompiler};
pub use tenants::{CreateTenant, DeleteTenant, TenantPatch, UpdateTenant};
pub use tokens::{CreateToken, RevokeToken};
pub use webhooks::{CreateWebhook, DeleteWebhook, MAX_WEBHOOKS};
