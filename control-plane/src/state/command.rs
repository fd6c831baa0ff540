//! Every write the control plane knows, as one serialized enum of command structs (the Raft
//! log's payload), and the dispatch from a command to the [`Apply`] that runs it.
//!
//! The log format is the serde shape of [`Request`]: `{"actor", "at_ms", "command": {"op":
//! "create_region", …fields}}`. `tests/log_format.rs` replays a log written by the first format,
//! so a change here that would make old logs unreadable fails there.

use serde::{Deserialize, Serialize};

use super::contracts::{ContractChange, SetPriceBook, WithdrawTemplate};
use super::idempotency::IdempotencyKey;
use super::import::{ImportPart, ImportState};
use super::input;
use super::lists::{DeleteList, PatchList, PutList};
use super::regions::{CreateRegion, DeleteRegion};
use super::service::Tick;
use super::step::{Apply, Reject, Step};
use super::template_writes::{
    ApproveTemplate, RecordTemplate, RejectTemplate, RollbackTemplate, SetSubscription,
    SyncTemplates, TemplateNotified,
};
use super::tenants::{CreateTenant, DeleteTenant, UpdateTenant};
use super::tokens::{CreateToken, RevokeToken};
use super::webhooks::{CreateWebhook, DeleteWebhook};
use crate::contracts::{Attributes, ContractKind, ContractOrder, ContractRequest, TemplateItem};

/// A proposed write: who asks, when (the proposer's clock, so apply stays deterministic), what.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub actor: String,
    pub at_ms: u64,
    pub command: Command,
}

/// Every write the control plane knows; each command's struct says what it does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    CreateRegion(CreateRegion),
    DeleteRegion(DeleteRegion),
    CreateTenant(CreateTenant),
    UpdateTenant(UpdateTenant),
    DeleteTenant(DeleteTenant),
    PutList(PutList),
    DeleteList(DeleteList),
    PatchList(PatchList),
    CreateToken(CreateToken),
    RevokeToken(RevokeToken),
    Contract(ContractChange),
    SetPriceBook(SetPriceBook),
    WithdrawTemplate(WithdrawTemplate),
    Tick(Tick),
    RecordTemplate(RecordTemplate),
    ApproveTemplate(ApproveTemplate),
    RejectTemplate(RejectTemplate),
    RollbackTemplate(RollbackTemplate),
    SyncTemplates(SyncTemplates),
    TemplateNotified(TemplateNotified),
    SetSubscription(SetSubscription),
    CreateWebhook(CreateWebhook),
    DeleteWebhook(DeleteWebhook),
    Client(Box<ClientWrite>),
    ImportState(ImportState),
    ImportPart(ImportPart),
}

/// A client's write through the API: `command` passed [`Command::check_input`] when it was
/// proposed, and it is held to its tenant's quotas when applied (`quotas`); a bare command
/// (the leader's own writes, and every entry written before clients' writes were wrapped) is
/// not. With `idempotency`, a repeat gets the first answer (`idempotency`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientWrite {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency: Option<IdempotencyKey>,
    pub command: Command,
}

impl Command {
    /// The command as the write it is.
    pub(super) fn write(&self) -> &dyn Apply {
        match self {
            Command::CreateRegion(c) => c,
            Command::DeleteRegion(c) => c,
            Command::CreateTenant(c) => c,
            Command::UpdateTenant(c) => c,
            Command::DeleteTenant(c) => c,
            Command::PutList(c) => c,
            Command::DeleteList(c) => c,
            Command::PatchList(c) => c,
            Command::CreateToken(c) => c,
            Command::RevokeToken(c) => c,
            Command::Contract(c) => c,
            Command::SetPriceBook(c) => c,
            Command::WithdrawTemplate(c) => c,
            Command::Tick(c) => c,
            Command::RecordTemplate(c) => c,
            Command::ApproveTemplate(c) => c,
            Command::RejectTemplate(c) => c,
            Command::RollbackTemplate(c) => c,
            Command::SyncTemplates(c) => c,
            Command::TemplateNotified(c) => c,
            Command::SetSubscription(c) => c,
            Command::CreateWebhook(c) => c,
            Command::DeleteWebhook(c) => c,
            Command::Client(c) => c.command.write(),
            Command::ImportState(c) => c,
            Command::ImportPart(c) => c,
        }
    }

    /// What a client may send (see `input`): every string in the command bounded and free of
    /// control characters, and the command's own rules for the ids it creates and its text.
    /// Run by the API before proposing, never on replay.
    pub fn check_input(&self) -> Step {
        if let Command::Client(_) = self {
            return Err(Reject::invalid("a client write cannot wrap another"));
        }
        // The command's own rules first: their limits are the tighter, named ones.
        self.write().check_input()?;
        // An import carries a whole stored state, which the log's replay rules govern (names
        // valid when they were written stay loadable), not the rules of a new write.
        if let Command::ImportState(_) | Command::ImportPart(_) = self {
            return Ok(());
        }
        input::check_strings(self)
    }

    /// The audit `action` and `target` this command is recorded under.
    pub fn audit(&self) -> (&'static str, String) {
        self.write().audit()
    }
}

/// The writes that put `tenant` in service in its own region from the day they are applied
/// (for labs and tests): the private-backbone attribute (art. 6-2), a `microsoft365`
/// list-template contract and a cloud-bypass contract of `capacity` sessions (art. 3, 6-1).
/// A tenant that already holds any of them refuses the repeated order (art. 1).
pub fn serve_commands(tenant: &str, capacity: u32) -> Vec<Command> {
    let order = |kind| ContractOrder {
        kind,
        item: None,
        plan: None,
        capacity: None,
        region: None,
        billing_start: None,
        options: Vec::new(),
    };
    let requests = [
        ContractRequest::SetAttributes {
            attributes: Attributes {
                private_backbone: true,
                internet_access_contract_date: None,
            },
        },
        ContractRequest::AddContract {
            order: ContractOrder {
                item: Some(TemplateItem::Microsoft365),
                ..order(ContractKind::ListTemplate)
            },
        },
        ContractRequest::AddContract {
            order: ContractOrder {
                capacity: Some(capacity),
                ..order(ContractKind::CloudBypass)
            },
        },
    ];
    requests
        .into_iter()
        .map(|request| {
            Command::Contract(ContractChange {
                tenant: tenant.to_string(),
                request,
            })
        })
        .collect()
}
