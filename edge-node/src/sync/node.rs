//! What the sync protocol ([`super::session`]) drives on the edge's side: the configuration it
//! applies, the reports it sends, the grants it receives, its contact record. The protocol is
//! written once against [`SyncNode`]; the edge process implements it with [`EdgeNode`] (its
//! snapshot, metrics and quotas), and the fleet simulator (`tests/src/bin/fleet-sim.rs`) with a
//! light node that keeps the policy without compiling matchers, so a thousand sessions speak the
//! same protocol code from one process.

use std::sync::{Arc, Mutex};

use breakout_policy::wire::{Grants, Report, SnapshotFrame, UpdateFrame};

use super::apply::{Applied, Applier, Held};
use super::contact::Contact;
use super::report::Reporter;
use crate::shared::Shared;

/// A configuration to apply: whole, or the changes from the version serving.
#[derive(Debug)]
pub enum Config {
    Snapshot(SnapshotFrame),
    Update(UpdateFrame),
}

impl Config {
    /// The version it brings.
    pub fn version(&self) -> u64 {
        match self {
            Config::Snapshot(s) => s.version,
            Config::Update(u) => u.to,
        }
    }
}

/// The edge's side of the protocol, as [`super::session`] uses it.
pub trait SyncNode: Send + Sync + 'static {
    /// The version serving (0: none) and the digest of its content, announced in the hello.
    fn held(&self) -> Held;
    /// Applies a configuration, or says why not (then nothing changed). CPU-bound: the session
    /// calls it on a blocking thread. Never applies a version older than the one serving.
    fn apply(&self, config: Config) -> Result<Applied, String>;
    /// The next report (sessions open, refusals since the last one, grants held), written over
    /// every field of `into`: a report this node made before, whose tenants' keys it may keep.
    fn report(&self, into: &mut Report);
    /// Grants arrived, in a frame of `wire_bytes` (header included).
    fn grants(&self, grants: &Grants, wire_bytes: usize);
    /// A report (whole or sparse) was sent, in a frame of `wire_bytes`.
    fn report_sent(&self, _wire_bytes: usize) {}
    /// A frame arrived from the control plane (contact).
    fn touch(&self);
    /// The session with the node at `target` is up (true) or ended (false).
    fn connected(&self, target: &str, up: bool);
    /// A configuration was accepted (true) or refused (false).
    fn applied(&self, ok: bool);
}

/// The edge process: its one applier, contact record, shared state and reporter.
pub struct EdgeNode {
    pub applier: Arc<Applier>,
    pub contact: Arc<Contact>,
    pub shared: Arc<Shared>,
    reporter: Mutex<Reporter>,
}

impl EdgeNode {
    pub fn new(applier: Arc<Applier>, contact: Arc<Contact>, shared: Arc<Shared>) -> EdgeNode {
        EdgeNode {
            applier,
            contact,
            shared,
            reporter: Mutex::new(Reporter::default()),
        }
    }
}

impl SyncNode for EdgeNode {
    fn held(&self) -> Held {
        self.applier.held()
    }

    fn apply(&self, config: Config) -> Result<Applied, String> {
        match config {
            Config::Snapshot(s) => self.applier.apply(s.version, &s.policy),
            Config::Update(u) => self.applier.apply_update(u.from, u.to, &u.changes),
        }
    }

    fn report(&self, into: &mut Report) {
        // Held only while a report is built; a panic inside leaves a usable reporter.
        let mut reporter = self.reporter.lock().unwrap_or_else(|e| e.into_inner());
        reporter.report(&self.shared.snapshot.load(), &self.shared.quotas, into)
    }

    fn grants(&self, grants: &Grants, _wire_bytes: usize) {
        let now = std::time::Instant::now();
        self.shared.quotas.receive(grants, now);
        self.shared
            .snapshot
            .load()
            .apply_limits(&self.shared.quotas, now);
    }

    fn touch(&self) {
        self.contact.touch(&self.shared);
    }

    fn connected(&self, _target: &str, up: bool) {
        self.shared.metrics.sync_connected.set(i64::from(up));
    }

    fn applied(&self, ok: bool) {
        self.shared.metrics.snapshot(ok);
    }
}
