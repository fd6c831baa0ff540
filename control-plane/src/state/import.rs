//! `store import`: the whole content of a dump (`breakoutctl store export`) replaces the
//! state's, as writes that reach every node and both stores through the same `apply`: an
//! [`ImportState`] and, for a dump larger than one write should be, [`ImportPart`]s with the
//! rest of the tenants ([`split`]; docs/operations.md, "Moving between Raft and etcd").

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::model::State;
use super::quotas::json_size;
use super::step::{Apply, LogEntry, Reject, Step, REPEAT};

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

/// One more part of a dump too large for one log entry (`api::store_dump` splits it): tenants
/// with what is keyed by them (contracts, subscriptions, webhooks, tokens), added to what the
/// [`ImportState`] and the parts before it wrote. Nothing may come between the parts of one
/// import: a part is refused unless the entry before it was the part `after` names (repeats of
/// keyed writes aside: they change nothing, and a retried import repeats its parts written).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImportPart {
    /// The version of the part before (the [`ImportState`] for the first of these).
    pub after: u64,
    pub part: Box<State>,
}

impl Apply for ImportPart {
    fn apply(&self, state: &mut State, _: &LogEntry) -> Step {
        // The audit event of the entry before this one (every applied entry records one),
        // past repeats of keyed writes, which change nothing (a retried import repeats the
        // parts it had written before it makes the rest).
        let before = state
            .audit
            .iter()
            .rev()
            .find(|e| !e.result.starts_with(REPEAT));
        let follows = before.is_some_and(|e| {
            e.version == self.after && e.result == "ok" && e.action.starts_with("store.import")
        });
        if !follows {
            let what = before.map_or("nothing".to_string(), |e| {
                format!("{} at version {}", e.action, e.version)
            });
            return Err(Reject::conflict(format!(
                "import part after version {}: the entry before it was {what}, another write \
                 came between the parts of the import; run the import again with replace",
                self.after
            )));
        }
        let p = &self.part;
        state.tenants.extend(p.tenants.clone());
        state.contracts.extend(p.contracts.clone());
        state.subscriptions.extend(p.subscriptions.clone());
        state.webhooks.extend(p.webhooks.clone());
        state.tokens.extend(p.tokens.clone());
        Ok(())
    }

    fn audit(&self) -> (&'static str, String) {
        ("store.import.part", "store".to_string())
    }
}

/// Splits a dump's state for an import in parts of about `part_bytes` of JSON each: the first
/// (for [`ImportState`]) holds everything but the tenants past the first part's, and each of the
/// rest (for [`ImportPart`]) a run of tenants, in id order, with their contracts,
/// subscriptions, webhooks and tokens. A tenant is never split, so a part holding one very
/// large tenant is larger. Pure: the parts together are the state again.
pub fn split(mut state: State, part_bytes: u64) -> (State, Vec<State>) {
    let mut tokens: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (id, token) in &state.tokens {
        tokens.entry(token.tenant.as_str()).or_default().push(id);
    }
    // Where each part after the first begins (tenant ids), by the JSON size of what moves.
    let (mut cuts, mut size) = (Vec::new(), 0u64);
    for (id, record) in &state.tenants {
        let id = id.as_str();
        let own_tokens = tokens.get(id).into_iter().flatten();
        let bytes = json_size(record)
            + state.contracts.get(id).map_or(0, json_size)
            + state.subscriptions.get(id).map_or(0, json_size)
            + state.webhooks.get(id).map_or(0, json_size)
            + own_tokens
                .map(|t| json_size(&state.tokens[*t]))
                .sum::<u64>();
        if size > 0 && size + bytes > part_bytes {
            cuts.push(id.to_string());
            size = 0;
        }
        size += bytes;
    }
    drop(tokens);
    let n = cuts.len() + 1;
    let mut parts: Vec<State> = (0..n).map(|_| State::default()).collect();
    macro_rules! deal {
        ($f:ident) => {
            for (k, v) in std::mem::take(&mut state.$f) {
                let i = cuts.partition_point(|c| *c <= k);
                parts[i].$f.insert(k, v);
            }
        };
    }
    deal!(tenants);
    deal!(contracts);
    deal!(subscriptions);
    deal!(webhooks);
    for (k, token) in std::mem::take(&mut state.tokens) {
        let i = cuts.partition_point(|c| *c <= token.tenant);
        parts[i].tokens.insert(k, token);
    }
    let mut parts = parts.into_iter();
    let first = parts.next().unwrap_or_default();
    (state.tenants, state.contracts, state.subscriptions) =
        (first.tenants, first.contracts, first.subscriptions);
    (state.webhooks, state.tokens) = (first.webhooks, first.tokens);
    (state, parts.collect())
}
