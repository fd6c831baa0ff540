//! [`RaftTuning`]: the node's Raft timing, compaction and batching, from defaults and the
//! environment (docs/operations.md, "Raft timing" and "Group commit"), turned into openraft's
//! `Config`.

use anyhow::Context;
use openraft::{Config, SnapshotPolicy};

use super::batch;

/// Timing, compaction and batching knobs; `breakout-control` reads them with
/// [`RaftTuning::from_env`] and passes them to `RaftStore::open_with`.
#[derive(Clone, Debug)]
pub struct RaftTuning {
    /// Leader heartbeat interval; openraft also uses it as the timeout of each append RPC.
    pub heartbeat_ms: u64,
    /// A follower that hears no leader for a random time in `[min, max)` starts an election.
    pub election_timeout_min_ms: u64,
    pub election_timeout_max_ms: u64,
    /// Build a snapshot after this many entries since the last one.
    pub snapshot_every: u64,
    /// Entries already in a snapshot kept in the log, so a briefly lagging follower can catch up
    /// without a snapshot transfer.
    pub keep_in_snapshot: u64,
    /// Group commit: log entries submitted to Raft and not yet answered (`batch`).
    pub in_flight: usize,
}

/// The shortest election timeout, in heartbeats: a follower must miss at least this many before
/// it calls an election.
const MIN_HEARTBEATS_PER_ELECTION: u64 = 2;

impl Default for RaftTuning {
    fn default() -> Self {
        Self {
            // 150 ms bounds an append RPC including the follower's fsync (~0.2 ms on SSD) with
            // room to spare; a dead leader is replaced after at most one election timeout plus a
            // vote round (measured ~1.7 s in raft_cluster, including the old leader's shutdown).
            heartbeat_ms: 150,
            election_timeout_min_ms: 500,
            election_timeout_max_ms: 1000,
            snapshot_every: 1000,
            keep_in_snapshot: 100,
            in_flight: batch::IN_FLIGHT,
        }
    }
}

impl RaftTuning {
    /// The defaults, with these environment variables where set (a value that does not parse
    /// as a positive number is ignored with a warning):
    /// - `BREAKOUT_RAFT_HEARTBEAT_MS`;
    /// - `BREAKOUT_RAFT_ELECTION_TIMEOUT_MS`: the shortest election timeout; the longest is
    ///   twice that (elections are spread over `[t, 2t)`);
    /// - `BREAKOUT_RAFT_SNAPSHOT_EVERY`, `BREAKOUT_RAFT_IN_FLIGHT`.
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// [`Self::from_env`] over `var` (a variable's value, if set).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let knob = |name: &str| positive(name, &var(name)?);
        let mut t = Self::default();
        if let Some(v) = knob("BREAKOUT_RAFT_HEARTBEAT_MS") {
            t.heartbeat_ms = v;
        }
        if let Some(v) = knob("BREAKOUT_RAFT_ELECTION_TIMEOUT_MS") {
            t.election_timeout_min_ms = v;
            t.election_timeout_max_ms = v.saturating_mul(2);
        }
        if let Some(v) = knob("BREAKOUT_RAFT_SNAPSHOT_EVERY") {
            t.snapshot_every = v;
        }
        if let Some(v) = knob("BREAKOUT_RAFT_IN_FLIGHT") {
            t.in_flight = usize::try_from(v).unwrap_or(t.in_flight);
        }
        t
    }

    /// Why these values cannot run a cluster, if they cannot (checked again when the store
    /// opens; a node checks first, before it writes or binds anything).
    pub fn check(&self) -> anyhow::Result<()> {
        self.to_config().map(drop)
    }

    /// Openraft's configuration, or why these values cannot run a cluster.
    pub(super) fn to_config(&self) -> anyhow::Result<Config> {
        let least = self
            .heartbeat_ms
            .saturating_mul(MIN_HEARTBEATS_PER_ELECTION);
        anyhow::ensure!(
            self.election_timeout_min_ms >= least,
            "invalid raft tuning: an election timeout of {} ms is shorter than {} heartbeats of \
             {} ms (BREAKOUT_RAFT_ELECTION_TIMEOUT_MS, BREAKOUT_RAFT_HEARTBEAT_MS): followers \
             would call elections under a healthy leader",
            self.election_timeout_min_ms,
            MIN_HEARTBEATS_PER_ELECTION,
            self.heartbeat_ms,
        );
        let config = Config {
            cluster_name: "breakout".to_string(),
            heartbeat_interval: self.heartbeat_ms,
            election_timeout_min: self.election_timeout_min_ms,
            election_timeout_max: self.election_timeout_max_ms,
            install_snapshot_timeout: 10_000,
            max_payload_entries: 64,
            // `add_node` promotes a learner once it is this close; openraft wants it above the
            // snapshot interval so a snapshot transfer can bring a learner within range.
            replication_lag_threshold: self.snapshot_every.saturating_mul(2),
            snapshot_policy: SnapshotPolicy::LogsSinceLast(self.snapshot_every),
            snapshot_max_chunk_size: 1024 * 1024,
            max_in_snapshot_log_to_keep: self.keep_in_snapshot,
            ..Config::default()
        };
        config.validate().context("invalid raft tuning")
    }
}

fn positive(name: &str, raw: &str) -> Option<u64> {
    match raw.trim().parse::<u64>() {
        Ok(v) if v > 0 => Some(v),
        _ => {
            tracing::warn!(name, value = %raw, "ignoring a raft tuning variable that is not a positive number");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::RaftTuning;

    fn tuned(vars: &[(&str, &str)]) -> RaftTuning {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        RaftTuning::from_vars(|name| vars.get(name).cloned())
    }

    #[test]
    fn the_defaults_run() {
        let t = tuned(&[]);
        let config = t.to_config().expect("the defaults are valid");
        assert_eq!(
            (config.heartbeat_interval, config.election_timeout_min),
            (150, 500)
        );
        assert_eq!(config.election_timeout_max, 1000);
    }

    #[test]
    fn the_election_timeout_spreads_over_twice_its_value() {
        let t = tuned(&[
            ("BREAKOUT_RAFT_ELECTION_TIMEOUT_MS", "2000"),
            ("BREAKOUT_RAFT_HEARTBEAT_MS", "300"),
        ]);
        let config = t.to_config().expect("valid");
        assert_eq!(config.heartbeat_interval, 300);
        assert_eq!(
            (config.election_timeout_min, config.election_timeout_max),
            (2000, 4000)
        );
    }

    #[test]
    fn values_that_are_not_positive_numbers_are_ignored() {
        for bad in ["0", "-5", "soon", ""] {
            let t = tuned(&[
                ("BREAKOUT_RAFT_ELECTION_TIMEOUT_MS", bad),
                ("BREAKOUT_RAFT_HEARTBEAT_MS", bad),
            ]);
            assert_eq!(
                (t.heartbeat_ms, t.election_timeout_min_ms),
                (150, 500),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn an_election_timeout_within_two_heartbeats_is_refused_and_named() {
        let t = tuned(&[("BREAKOUT_RAFT_HEARTBEAT_MS", "400")]);
        let err = t.to_config().expect_err("500 ms < 2 × 400 ms").to_string();
        assert!(err.contains("BREAKOUT_RAFT_ELECTION_TIMEOUT_MS"), "{err}");
        assert!(err.contains("500 ms") && err.contains("400 ms"), "{err}");
    }
}
