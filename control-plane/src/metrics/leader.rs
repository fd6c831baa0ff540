//! `breakout_control_raft_leader_changes_total`: leaders this node has seen take office, counted
//! as they happen (a scrape-time gauge would miss a flap between two scrapes).

use prometheus::{IntCounter, Registry};
use tokio::sync::watch;

use crate::store::raft::RaftMetrics;

/// Turns a stream of (term, leader) observations into "a new leader" events (pure).
#[derive(Debug, Default)]
pub struct LeaderTracker {
    /// The last leader seen, with its term; `None` before the first one.
    last: Option<(u64, u64)>,
}

impl LeaderTracker {
    /// True when `leader` in `term` is a leader this node had not seen before. The first
    /// leader after start is not a change.
    pub fn observe(&mut self, term: u64, leader: Option<u64>) -> bool {
        let Some(leader) = leader else {
            return false;
        };
        match self.last.replace((term, leader)) {
            None => false,
            Some(prev) => prev != (term, leader),
        }
    }
}

/// Registers the counter and returns it.
pub fn counter(registry: &Registry) -> Result<IntCounter, prometheus::Error> {
    let c = IntCounter::new(
        "breakout_control_raft_leader_changes_total",
        "Times this node saw a new Raft leader take office (a term with a leader)",
    )?;
    registry.register(Box::new(c.clone()))?;
    Ok(c)
}

/// Counts leader changes from this node's Raft metrics until they stop.
pub async fn watch(mut metrics: watch::Receiver<RaftMetrics>, counter: IntCounter) {
    let mut tracker = LeaderTracker::default();
    loop {
        let (term, leader) = {
            let m = metrics.borrow_and_update();
            (m.current_term, m.current_leader)
        };
        if tracker.observe(term, leader) {
            counter.inc();
        }
        if metrics.changed().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::LeaderTracker;

    #[test]
    fn a_new_leader_or_term_counts_and_elections_in_between_do_not() {
        let mut t = LeaderTracker::default();
        let seen: Vec<bool> = [
            (1, Some(1)), // first leader after start
            (1, Some(1)), // same
            (2, None),    // election
            (2, Some(2)), // a change
            (3, Some(2)), // re-elected in a new term: still a change of office
            (3, Some(2)),
        ]
        .into_iter()
        .map(|(term, leader)| t.observe(term, leader))
        .collect();
        assert_eq!(seen, [false, false, false, true, true, false]);
    }
}
