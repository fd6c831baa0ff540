//! The template commands: each delegates to its step in [`super::templates`] (which keeps the
//! template records and the guard) and says how it is audited.

use serde::{Deserialize, Serialize};

use super::input;
use super::model::{AuditEvent, State};
use super::step::{Apply, LogEntry, Step};
use super::template_record::Fetched;
use super::templates;
use crate::contracts::TemplateItem;
use crate::templates::select::Subscription;

/// A poller fetched a template's source: unchanged content changes nothing; the guard (empty,
/// unparsable, shrunk by more than `max_shrink_percent`) quarantines a candidate, else it
/// becomes the live version. Audited as `template.record` (and `template.quarantine` when held).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordTemplate {
    pub item: TemplateItem,
    pub fetched: Fetched,
    pub max_shrink_percent: u8,
}

impl Apply for RecordTemplate {
    fn apply(&self, state: &mut State, entry: &LogEntry) -> Step {
        templates::record(
            state,
            entry.index,
            self.item,
            &self.fetched,
            self.max_shrink_percent,
        )
    }

    fn audit(&self) -> (&'static str, String) {
        ("template.record", format!("template/{}", self.item))
    }

    fn extra_audit(&self, state: &State, entry: &LogEntry) -> Option<AuditEvent> {
        templates::quarantine_event(state, entry.index, self.item, entry.at_ms, entry.actor)
    }
}

/// A quarantined candidate becomes the live version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApproveTemplate {
    pub item: TemplateItem,
    pub candidate: u32,
}

impl Apply for ApproveTemplate {
    fn apply(&self, state: &mut State, entry: &LogEntry) -> Step {
        templates::approve(state, entry.index, entry.actor, self.item, self.candidate)
    }

    fn audit(&self) -> (&'static str, String) {
        let (item, candidate) = (self.item, self.candidate);
        (
            "template.approve",
            format!("template/{item}/candidate/{candidate}"),
        )
    }
}

/// A quarantined candidate is dropped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RejectTemplate {
    pub item: TemplateItem,
    pub candidate: u32,
}

impl Apply for RejectTemplate {
    fn apply(&self, state: &mut State, _: &LogEntry) -> Step {
        templates::reject(state, self.item, self.candidate)
    }

    fn audit(&self) -> (&'static str, String) {
        let (item, candidate) = (self.item, self.candidate);
        (
            "template.reject",
            format!("template/{item}/candidate/{candidate}"),
        )
    }
}

/// A kept version becomes live again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RollbackTemplate {
    pub item: TemplateItem,
    pub to: u32,
}

impl Apply for RollbackTemplate {
    fn apply(&self, state: &mut State, _: &LogEntry) -> Step {
        templates::rollback(state, self.item, self.to)
    }

    fn audit(&self) -> (&'static str, String) {
        let (item, to) = (self.item, self.to);
        ("template.rollback", format!("template/{item}/version/{to}"))
    }
}

/// Asks the leader's poller to poll every source now (`breakoutctl template sync`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncTemplates {}

impl Apply for SyncTemplates {
    fn apply(&self, state: &mut State, entry: &LogEntry) -> Step {
        state.template_sync = entry.index;
        Ok(())
    }

    fn audit(&self) -> (&'static str, String) {
        ("template.sync", "templates".to_string())
    }
}

/// The leader mailed tenants about template `item`'s live version `version`
/// ([`crate::notify`]); it will not mail about it again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TemplateNotified {
    pub item: TemplateItem,
    pub version: u32,
}

impl Apply for TemplateNotified {
    fn apply(&self, state: &mut State, _: &LogEntry) -> Step {
        state.notified.insert(self.item, self.version);
        Ok(())
    }

    fn audit(&self) -> (&'static str, String) {
        let (item, version) = (self.item, self.version);
        (
            "template.notified",
            format!("template/{item}/version/{version}"),
        )
    }
}

/// Sets (`Some`) or clears (`None`) a tenant's subscription to a template; needs a
/// list-template contract for the item in force, and the item not withdrawn (art. 2, 11).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SetSubscription {
    pub tenant: String,
    pub item: TemplateItem,
    pub subscription: Option<Subscription>,
}

impl Apply for SetSubscription {
    fn apply(&self, state: &mut State, entry: &LogEntry) -> Step {
        let sub = self.subscription.as_ref();
        templates::subscribe(state, entry.today, &self.tenant, self.item, sub)
    }

    fn audit(&self) -> (&'static str, String) {
        let (tenant, item) = (&self.tenant, self.item);
        (
            "template.subscribe",
            format!("tenant/{tenant}/template/{item}"),
        )
    }

    fn check_input(&self) -> Step {
        let groups = self.subscription.iter().flat_map(|s| s.groups.iter());
        groups.enumerate().try_for_each(|(i, group)| {
            input::check_text(
                &format!("subscription.groups[{i}]"),
                group,
                input::LABEL_MAX,
            )
        })
    }

    fn tenant(&self) -> Option<&str> {
        Some(&self.tenant)
    }
}
