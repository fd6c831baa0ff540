//! The snapshots shipped in `deploy/lists/`: what a control plane with no network starts from.

use super::m365::AdapterError;
use super::model::TemplateContent;
use super::{expressroute, google, m365};
use crate::contracts::TemplateItem;

/// The Microsoft 365 worldwide answer shipped with the project, and its version string.
pub const M365_WORLDWIDE: &str =
    include_str!("../../../deploy/lists/m365-worldwide-endpoints.json");
pub const M365_VERSION: &str = "snapshot";
pub const GOOGLE_GOOG: &str = include_str!("../../../deploy/lists/google-goog.json");
pub const GOOGLE_CLOUD: &str = include_str!("../../../deploy/lists/google-cloud.json");
/// The curated Workspace host list (versioned inside the file).
pub const GOOGLE_HOSTS: &str = include_str!("../../../deploy/lists/google-workspace-hosts.json");

/// The shipped content of `item`.
pub fn content(item: TemplateItem) -> Result<TemplateContent, AdapterError> {
    match item {
        TemplateItem::Microsoft365 => m365::template(M365_WORLDWIDE, M365_VERSION),
        TemplateItem::AzureExpressroute => {
            expressroute::template(M365_WORLDWIDE, M365_VERSION, &[])
        }
        TemplateItem::GoogleWorkspace => google::template(GOOGLE_GOOG, GOOGLE_CLOUD, GOOGLE_HOSTS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_snapshot_builds() {
        for item in TemplateItem::ALL {
            let c = content(*item).expect("snapshot builds");
            assert_eq!(c.item, *item);
            assert!(c.entries() > 0, "{item}");
        }
    }
}

#[cfg(test)]
mod size {
    use super::*;

    /// A template version travels whole in one Raft entry and is kept (bounded) in the state:
    /// the shipped lists stay far below the Raft RPC body cap.
    #[test]
    fn a_template_version_is_small_enough_for_one_log_entry() {
        for item in TemplateItem::ALL {
            let c = content(*item).expect("snapshot builds");
            let bytes = serde_json::to_vec(&c).expect("json").len();
            eprintln!(
                "{item}: {} sets, {} entries, {bytes} bytes of JSON",
                c.sets.len(),
                c.entries()
            );
            assert!(bytes < 1024 * 1024, "{item}: {bytes} bytes");
        }
    }
}
