//! What the etcd store counts: full reloads and why, keys that did not decode, write conflicts.

use prometheus::{IntCounter, IntCounterVec, Opts, Registry};

/// The etcd store's metrics; [`EtcdMetrics::register`] adds them to a registry.
#[derive(Clone)]
pub struct EtcdMetrics {
    /// `breakout_control_etcd_reloads_total{reason}`: `start`, `compacted`, `backwards`,
    /// `stream` (the watch broke and could not resume).
    pub reloads: IntCounterVec,
    /// `breakout_control_etcd_bad_keys_total`: keys under the prefix that did not decode (each
    /// time they are read).
    pub bad_keys: IntCounter,
    /// `breakout_control_etcd_write_conflicts_total`: writes retried because another instance
    /// wrote first.
    pub conflicts: IntCounter,
}

impl EtcdMetrics {
    pub fn new() -> prometheus::Result<Self> {
        Ok(Self {
            reloads: IntCounterVec::new(
                Opts::new(
                    "breakout_control_etcd_reloads_total",
                    "Full reloads of the state from etcd, by reason",
                ),
                &["reason"],
            )?,
            bad_keys: IntCounter::new(
                "breakout_control_etcd_bad_keys_total",
                "Keys under the etcd prefix whose value did not decode (skipped)",
            )?,
            conflicts: IntCounter::new(
                "breakout_control_etcd_write_conflicts_total",
                "Writes retried because another instance changed the store first",
            )?,
        })
    }

    pub fn register(&self, registry: &Registry) -> prometheus::Result<()> {
        registry.register(Box::new(self.reloads.clone()))?;
        registry.register(Box::new(self.bad_keys.clone()))?;
        registry.register(Box::new(self.conflicts.clone()))
    }
}
