//! The template records the store keeps (art. 3): a template's versions, its live version,
//! quarantined candidates and what a poller fetched. Data and its lookups only: the steps that
//! change them are in `templates` and `template_writes`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::templates::diff::TemplateDiff;
use crate::templates::instance::{version_in, version_of};
use crate::templates::TemplateContent;

/// Versions kept per template (oldest dropped first, never the live or a pinned one).
pub const TEMPLATE_HISTORY: usize = 20;
/// Quarantined candidates kept per template (oldest dropped first).
pub const QUARANTINE_KEEP: usize = 10;

/// One template: its versions, which is live, and candidates waiting for an operator.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TemplateRecord {
    /// Oldest first.
    pub versions: Vec<TemplateVersion>,
    /// The version number edges are given (tenants without a pin).
    pub live: Option<u32>,
    /// Oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quarantine: Vec<Quarantined>,
    /// The next version or candidate number (one sequence for both).
    pub next: u32,
    /// Per Microsoft 365 instance, the newest vendor version recorded (applied, unchanged or
    /// quarantined): the poller does not fetch it again.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checked: BTreeMap<String, String>,
}

impl TemplateRecord {
    pub fn version(&self, number: u32) -> Option<&TemplateVersion> {
        self.versions.iter().find(|v| v.number == number)
    }

    pub fn live_version(&self) -> Option<&TemplateVersion> {
        self.live.and_then(|n| self.version(n))
    }

    /// Whether `source_version` (of `instance`, for templates made of Microsoft 365 instances)
    /// was recorded already, as a version or a candidate: the poller does not fetch it again.
    pub fn seen(&self, instance: Option<&str>, source_version: &str) -> bool {
        let Some(i) = instance else {
            return self
                .versions
                .iter()
                .any(|v| v.content.source_version == source_version)
                || self
                    .quarantine
                    .iter()
                    .any(|q| q.source_version == source_version);
        };
        let held = |q: &Quarantined| match &q.instance {
            Some(qi) => qi == i && q.source_version == source_version,
            None => version_in(&q.source_version, i).as_deref() == Some(source_version),
        };
        self.checked.get(i).is_some_and(|v| v == source_version)
            || self
                .versions
                .iter()
                .any(|v| version_of(&v.content, i).as_deref() == Some(source_version))
            || self.quarantine.iter().any(held)
    }
}

/// One version of a template's content.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TemplateVersion {
    pub number: u32,
    pub hash: String,
    pub fetched_at_ms: u64,
    /// The store version it was recorded at.
    pub recorded_version: u64,
    /// Against the version that was live when it was recorded (`None` for the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<TemplateDiff>,
    /// Who approved it out of quarantine, if it was held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    pub content: TemplateContent,
}

/// A candidate the guard held back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quarantined {
    pub id: u32,
    pub reason: String,
    pub source_version: String,
    pub fetched_at_ms: u64,
    pub recorded_version: u64,
    /// `None` when it could not be parsed (it can only be rejected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<TemplateContent>,
    /// The Microsoft 365 instance it is for (its content holds only that instance's sets);
    /// `None`: the whole template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
}

/// What a poller fetched: parsed content, or why it could not be parsed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fetched {
    pub source_version: String,
    pub fetched_at_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<TemplateContent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The Microsoft 365 instance fetched: `content` holds only its sets, which replace that
    /// instance's sets of the live version. `None`: the whole template (Google; entries written
    /// before instances were fetched apart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
}
