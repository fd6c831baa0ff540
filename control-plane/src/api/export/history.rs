//! Each tenant's effective destinations as this node has seen them, per store version, so that
//! `?since=VERSION` can answer a delta. Soft state in memory: bounded, per node, lost on
//! restart; when it cannot answer for a version the caller serves the full list instead.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use breakout_policy::export::Entry;

/// Spans kept per tenant; older ones are dropped first.
pub const KEEP_SPANS: usize = 16;

/// A tenant's effective destinations, known to be exactly `entries` at every store version in
/// `from..=to`.
#[derive(Clone, Debug)]
struct Span {
    from: u64,
    to: u64,
    entries: Arc<Vec<Entry>>,
}

/// What the history knows about one version.
#[derive(Clone, Debug)]
pub enum Lookup {
    Found(Arc<Vec<Entry>>),
    /// Older than anything kept.
    TooOld,
    /// Not seen by this node (a version between two spans, newer than seen, or a tenant it has
    /// not served).
    Unknown,
}

/// The per-node history.
#[derive(Debug)]
pub struct History {
    keep: usize,
    // A std mutex held only for in-memory work, never across an await.
    tenants: Mutex<HashMap<String, VecDeque<Span>>>,
}

impl Default for History {
    fn default() -> Self {
        Self::new(KEEP_SPANS)
    }
}

impl History {
    pub fn new(keep: usize) -> Self {
        Self {
            keep: keep.max(1),
            tenants: Mutex::new(HashMap::new()),
        }
    }

    /// Notes that `tenant`'s destinations were `entries` at every version in `from..=at`.
    /// Observations older than the newest one kept are ignored (a lagging read).
    pub fn record(&self, tenant: &str, from: u64, at: u64, entries: &Arc<Vec<Entry>>) {
        let mut map = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
        let spans = map.entry(tenant.to_string()).or_default();
        if let Some(last) = spans.back_mut() {
            if at < last.to {
                return;
            }
            // The union is known only if the new span starts within or right after the last.
            if last.entries == *entries && from <= last.to.saturating_add(1) {
                last.to = at;
                return;
            }
        }
        spans.push_back(Span {
            from: from.min(at),
            to: at,
            entries: Arc::clone(entries),
        });
        while spans.len() > self.keep {
            spans.pop_front();
        }
    }

    /// The destinations of `tenant` at store `version`, if known.
    pub fn at(&self, tenant: &str, version: u64) -> Lookup {
        let map = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
        let Some(spans) = map.get(tenant) else {
            return Lookup::Unknown;
        };
        if spans.front().is_some_and(|s| version < s.from) {
            return Lookup::TooOld;
        }
        spans
            .iter()
            .rev()
            .find(|s| s.from <= version && version <= s.to)
            .map_or(Lookup::Unknown, |s| Lookup::Found(Arc::clone(&s.entries)))
    }

    /// Forgets `tenant` (deleted).
    pub fn forget(&self, tenant: &str) {
        let mut map = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(tenant);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use breakout_policy::export::effective;
    use breakout_policy::{Action, Rule, Tenant};

    use super::*;

    fn set(hosts: &[&str]) -> Arc<Vec<Entry>> {
        let tenant = Tenant {
            id: "t".into(),
            region: None,
            source_cidrs: Vec::new(),
            session_limit: 1,
            upstreams: BTreeMap::new(),
            rules: vec![Rule {
                name: None,
                action: Action::Direct,
                destinations: hosts.iter().map(|h| h.parse().expect("host")).collect(),
                lists: Vec::new(),
                ports: Vec::new(),
            }],
            default_action: Action::Block,
            lists: BTreeMap::new(),
            egress_address: None,
            pac: None,
        };
        Arc::new(effective(&tenant, &BTreeMap::new()))
    }

    fn found(l: Lookup) -> Option<Arc<Vec<Entry>>> {
        match l {
            Lookup::Found(e) => Some(e),
            _ => None,
        }
    }

    #[test]
    fn a_version_inside_a_known_span_is_found_and_gaps_are_unknown() {
        let h = History::new(4);
        let a = set(&["a.example"]);
        let b = set(&["b.example"]);
        h.record("t", 3, 5, &a);
        h.record("t", 3, 8, &a);
        h.record("t", 12, 14, &b);
        assert_eq!(found(h.at("t", 3)), Some(a.clone()));
        assert_eq!(found(h.at("t", 8)), Some(a));
        assert!(matches!(h.at("t", 10), Lookup::Unknown));
        assert_eq!(found(h.at("t", 13)), Some(b));
        assert!(matches!(h.at("t", 2), Lookup::TooOld));
        assert!(matches!(h.at("other", 5), Lookup::Unknown));
    }

    #[test]
    fn the_same_content_after_a_gap_starts_a_new_span() {
        let h = History::new(4);
        let a = set(&["a.example"]);
        h.record("t", 1, 2, &a);
        h.record("t", 6, 7, &a);
        assert!(matches!(h.at("t", 4), Lookup::Unknown));
        assert!(found(h.at("t", 6)).is_some());
    }

    #[test]
    fn history_is_bounded_and_ignores_lagging_reads() {
        let h = History::new(2);
        for v in 1..=5u64 {
            h.record("t", v, v, &set(&[&format!("h{v}.example")]));
        }
        assert!(matches!(h.at("t", 3), Lookup::TooOld));
        assert!(found(h.at("t", 4)).is_some());
        h.record("t", 1, 3, &set(&["late.example"]));
        assert!(matches!(h.at("t", 3), Lookup::TooOld));
    }
}
