//! `store import`: the whole content of a dump (`breakoutctl store export`) replaces the
//! state's, as one write, so it reaches every node and both stores through the same `apply`
//! (docs/operations.md, "Moving between Raft and etcd").

use serde::{Deserialize, Serialize};

use super::model::State;
use super::step::{Apply, LogEntry, Reject, Step};

/// Replaces the content with `state`'s. The target keeps its own audit log (the import is
/// recorded in it); its version moves on as for any write.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImportState {
    pub state: Box<State>,
    /// Overwrite a store that already holds regions or tenants.
    #[serde(default)]
    pub replace: bool,
}

impl Apply for ImportState {
    fn apply(&self, state: &mut State, entry: &LogEntry) -> Step {
        if !self.replace && (!state.regions.is_empty() || !state.tenants.is_empty()) {
            return Err(Reject::conflict(
                "the store already holds regions or tenants; import with --replace to overwrite it",
            ));
        }
        let audit = std::mem::take(&mut state.audit);
        let day = state.day;
        *state = (*self.state).clone();
        state.audit = audit;
        state.version = entry.index;
        // The log's clock never goes back.
        state.day = state.day.max(day);
        Ok(())
    }

    fn audit(&self) -> (&'static str, String) {
        ("store.import", "store".to_string())
    }
}
