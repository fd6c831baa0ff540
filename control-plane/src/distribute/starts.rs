//! `breakout_control_edge_session_starts_total{sent}`: edge sessions of this node by the first
//! configuration sent on them: `snapshot` (the region's whole policy) or `empty_update` (the
//! edge's hello announced the content this node has, so an update without changes confirmed it;
//! docs/distribution.md, "Reconnects without a snapshot"). After a full fleet reconnect the
//! ratio says how much of it cost a snapshot per edge.

use prometheus::{IntCounter, IntCounterVec, Opts, Registry};

/// The counters, one per kind of first send.
#[derive(Clone)]
pub struct SessionStarts {
    snapshot: IntCounter,
    empty_update: IntCounter,
}

/// What a session started with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    Snapshot,
    EmptyUpdate,
}

impl SessionStarts {
    /// Counters registered in `registry` (the node's `/metrics`).
    pub fn register(registry: &Registry) -> Result<SessionStarts, prometheus::Error> {
        let family = new_family()?;
        registry.register(Box::new(family.clone()))?;
        SessionStarts::of(&family)
    }

    fn of(family: &IntCounterVec) -> Result<SessionStarts, prometheus::Error> {
        Ok(SessionStarts {
            snapshot: family.get_metric_with_label_values(&["snapshot"])?,
            empty_update: family.get_metric_with_label_values(&["empty_update"])?,
        })
    }

    /// Counts a session's first send.
    pub fn count(&self, start: Start) {
        match start {
            Start::Snapshot => self.snapshot.inc(),
            Start::EmptyUpdate => self.empty_update.inc(),
        }
    }

    /// (snapshot, empty_update) so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.snapshot.get(), self.empty_update.get())
    }
}

fn new_family() -> Result<IntCounterVec, prometheus::Error> {
    IntCounterVec::new(
        Opts::new(
            "breakout_control_edge_session_starts_total",
            "Edge sessions by the first configuration sent on them: the region's snapshot, or an \
             empty update confirming the content the edge announced",
        ),
        &["sent"],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_kinds_are_exported_from_the_start_and_counted_apart() {
        let registry = Registry::new();
        let starts = SessionStarts::register(&registry).expect("register");
        starts.count(Start::EmptyUpdate);
        starts.count(Start::EmptyUpdate);
        starts.count(Start::Snapshot);
        assert_eq!(starts.counts(), (1, 2));
        let text = prometheus::TextEncoder::new()
            .encode_to_string(&registry.gather())
            .expect("text");
        assert!(
            text.contains("breakout_control_edge_session_starts_total{sent=\"empty_update\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("breakout_control_edge_session_starts_total{sent=\"snapshot\"} 1"),
            "{text}"
        );
    }
}
