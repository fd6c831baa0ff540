//! Reports: per tenant, the sessions open now and the refusals at the limit since the last
//! report (kept across connections, so refusals during an outage are reported after it), and
//! every refusal and failure by reason since the edge started (`Report::refusals`, read from
//! the tenant's own counters: nothing is counted twice on the request path).

use std::collections::HashMap;

use breakout_policy::wire::{sparse, Report, TenantUsage};

use crate::quota::Quotas;
use crate::snapshot::{Snapshot, TenantRuntime};

/// Builds successive reports of one edge process.
#[derive(Debug, Default)]
pub struct Reporter {
    seq: u64,
    /// Each tenant's refusal counter at the previous report.
    refused_seen: HashMap<String, u64>,
}

impl Reporter {
    /// The next report, from the serving snapshot's slots and counters.
    pub fn report(&mut self, snap: &Snapshot, quotas: &Quotas) -> Report {
        let now = std::time::Instant::now();
        self.seq += 1;
        let mut refusals = std::collections::BTreeMap::new();
        // Collected, not inserted one by one: the snapshot's tenants are in id order, so the map
        // is built in one pass instead of a search per tenant.
        let tenants: std::collections::BTreeMap<String, TenantUsage> =
            quotas.with_holdings(now, |holding| {
                snap.tenants
                    .iter()
                    .map(|t| {
                        let counts = t.metrics.outcomes.refusal_counts();
                        if !counts.is_empty() {
                            refusals.insert(t.id.to_string(), counts);
                        }
                        (t.id.to_string(), self.usage(t, holding(&t.id)))
                    })
                    .collect()
            });
        self.refused_seen
            .retain(|id, _| tenants.contains_key(id.as_str()));
        Report {
            seq: self.seq,
            tenants,
            refusals,
            grants_epoch: quotas.applied_epoch(),
            ..Report::default()
        }
    }

    /// `t`'s entry: its open sessions, its refusals at the limit since the last report, and
    /// the grant it holds (`holding`: epoch and sessions).
    fn usage(
        &mut self,
        t: &TenantRuntime,
        (holding_epoch, holding_sessions): (u64, u32),
    ) -> TenantUsage {
        let total = t.metrics.refused_limit.get();
        let seen = match self.refused_seen.get_mut(&*t.id) {
            Some(seen) => std::mem::replace(seen, total),
            None => {
                self.refused_seen.insert(t.id.to_string(), total);
                0
            }
        };
        TenantUsage {
            active: t.slots.active(),
            refused: u32::try_from(total.saturating_sub(seen)).unwrap_or(u32::MAX),
            holding_epoch,
            holding_sessions,
        }
    }
}

/// Every this many reports one goes whole even on a connection that takes sparse ones, so a
/// node that lost track of the connection's reports recovers within that many seconds.
pub const WHOLE_EVERY: u64 = 30;

/// What one connection sent: the last whole report, to send the next one sparse against once
/// the node said it takes them (`Grants::sparse_reports`).
#[derive(Debug, Default)]
pub struct Outgoing {
    last: Option<Report>,
    pub sparse: bool,
}

impl Outgoing {
    /// What to send for the whole report `full`.
    pub fn next(&mut self, full: Report) -> Report {
        let out = match &self.last {
            Some(prev) if self.sparse && !full.seq.is_multiple_of(WHOLE_EVERY) => {
                sparse::sparsify(prev, &full)
            }
            _ => full.clone(),
        };
        self.last = Some(full);
        out
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::EdgeConfig;
    use crate::metrics::Metrics;

    fn snapshot(metrics: &Metrics, tenants: &str) -> Snapshot {
        let text = format!("region = \"tokyo\"\n{tenants}");
        let cfg = EdgeConfig::parse(&text).expect("config");
        Snapshot::build(&cfg.policy, Arc::new(cfg.settings), None, metrics, 1).expect("build")
    }

    const TWO: &str = "[[tenants]]\nid = \"a\"\nsource_cidrs = [\"10.0.0.0/8\"]\nsession_limit = 2\n\
                       [[tenants]]\nid = \"b\"\nsource_cidrs = [\"11.0.0.0/8\"]\nsession_limit = 2\n";

    #[test]
    fn reports_count_open_sessions_and_refusals_since_the_last_report() {
        let metrics = Metrics::new().expect("metrics");
        let snap = snapshot(&metrics, TWO);
        let a = snap.tenant_by_id("a").expect("a");
        let _held = a.slots.try_acquire(&a.metrics.active).expect("slot");
        a.metrics.refused_limit.inc_by(3);
        let mut r = Reporter::default();
        let first = r.report(&snap, &Quotas::default());
        assert_eq!(first.seq, 1);
        assert_eq!(
            (first.tenants["a"].active, first.tenants["a"].refused),
            (1, 3)
        );
        assert_eq!(first.tenants["b"], TenantUsage::default());
        a.metrics.refused_limit.inc();
        let second = r.report(&snap, &Quotas::default());
        assert_eq!((second.seq, second.tenants["a"].refused), (2, 1));
        assert_eq!(r.report(&snap, &Quotas::default()).tenants["a"].refused, 0);
    }

    #[test]
    fn reports_carry_every_reason_since_the_start_and_across_a_reload() {
        use breakout_policy::outcome::Reason;

        use crate::outcome::Action;
        let metrics = Metrics::new().expect("metrics");
        let snap = snapshot(&metrics, TWO);
        let a = snap.tenant_by_id("a").expect("a");
        a.metrics
            .outcomes
            .failed(Action::Block, 403, Reason::BlockedByRule);
        a.metrics
            .outcomes
            .failed(Action::Direct, 403, Reason::DestinationIpProhibited);
        a.metrics
            .outcomes
            .failed(Action::Direct, 403, Reason::DestinationIpProhibited);
        let mut r = Reporter::default();
        let first = r.report(&snap, &Quotas::default());
        assert_eq!(first.refusals["a"].get(Reason::BlockedByRule), 1);
        assert_eq!(first.refusals["a"].get(Reason::DestinationIpProhibited), 2);
        assert!(!first.refusals.contains_key("b"), "no counts, not listed");
        // A new configuration keeps the counts (cumulative since the edge started).
        let cfg = EdgeConfig::parse(&format!("region = \"tokyo\"\n{TWO}")).expect("config");
        let rebuilt = Snapshot::build(
            &cfg.policy,
            Arc::new(cfg.settings),
            Some(&snap),
            &metrics,
            2,
        )
        .expect("rebuild");
        let a = rebuilt.tenant_by_id("a").expect("a");
        a.metrics
            .outcomes
            .failed(Action::Block, 403, Reason::BlockedByRule);
        let second = r.report(&rebuilt, &Quotas::default());
        assert_eq!(second.refusals["a"].get(Reason::BlockedByRule), 2);
        assert_eq!(second.refusals["a"].get(Reason::DestinationIpProhibited), 2);
    }
}
