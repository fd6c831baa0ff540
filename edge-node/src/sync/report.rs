//! Reports: per tenant, the sessions open now and the refusals at the limit since the last
//! report (kept across connections, so refusals during an outage are reported after it), and
//! every refusal and failure by reason since the edge started (`Report::refusals`, read from
//! the tenant's own counters: nothing is counted twice on the request path).

use std::collections::HashMap;

use breakout_policy::wire::{refill_usage, sparse, Report, TenantUsage};

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
    /// The next report, from the serving snapshot's slots and counters, written over `into`
    /// (every field; the tenants' keys are kept when the snapshot has the same tenants).
    pub fn report(&mut self, snap: &Snapshot, quotas: &Quotas, into: &mut Report) {
        let now = std::time::Instant::now();
        self.seq += 1;
        let (tenants, refusals) = into.rewrite(self.seq);
        let ids = snap.tenants.iter().map(|t| &*t.id);
        quotas.with_holdings(now, |holding| {
            refill_usage(tenants, ids, |k, id| {
                let t = &snap.tenants[k];
                let counts = t.metrics.outcomes.refusal_counts();
                if !counts.is_empty() {
                    refusals.insert(id.to_owned(), counts);
                }
                self.usage(t, holding(id))
            })
        });
        // Every tenant reported is in `refused_seen`, so one more means one has left.
        if self.refused_seen.len() != tenants.len() {
            self.refused_seen
                .retain(|id, _| tenants.contains_key(id.as_str()));
        }
        into.grants_epoch = quotas.applied_epoch();
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
/// the node said it takes them (`Grants::sparse_reports`), and the one before it, which the next
/// report is written over (its tenants' keys kept: no allocation per tenant and second).
#[derive(Debug, Default)]
pub struct Outgoing {
    last: Option<Report>,
    spare: Report,
    pub sparse: bool,
}

impl Outgoing {
    /// What to send for the whole report `fill` writes (over a report it made before).
    pub fn next(&mut self, fill: impl FnOnce(&mut Report)) -> Report {
        let mut full = std::mem::take(&mut self.spare);
        fill(&mut full);
        let out = match &self.last {
            Some(prev) if self.sparse && !full.seq.is_multiple_of(WHOLE_EVERY) => {
                sparse::sparsify(prev, &full)
            }
            _ => full.clone(),
        };
        if let Some(before) = self.last.replace(full) {
            self.spare = before;
        }
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

    fn report(r: &mut Reporter, snap: &Snapshot) -> Report {
        let mut out = Report::default();
        r.report(snap, &Quotas::default(), &mut out);
        out
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
        let first = report(&mut r, &snap);
        assert_eq!(first.seq, 1);
        assert_eq!(
            (first.tenants["a"].active, first.tenants["a"].refused),
            (1, 3)
        );
        assert_eq!(first.tenants["b"], TenantUsage::default());
        a.metrics.refused_limit.inc();
        let second = report(&mut r, &snap);
        assert_eq!((second.seq, second.tenants["a"].refused), (2, 1));
        assert_eq!(report(&mut r, &snap).tenants["a"].refused, 0);
    }

    #[test]
    fn reports_written_over_older_ones_are_what_new_ones_would_be_across_tenant_changes() {
        let metrics = Metrics::new().expect("metrics");
        let two = snapshot(&metrics, TWO);
        let three = snapshot(
            &metrics,
            &format!("{TWO}[[tenants]]\nid = \"c\"\nsource_cidrs = [\"12.0.0.0/8\"]\nsession_limit = 2\n"),
        );
        let b = |snap: &Snapshot| snap.tenant_by_id("b").expect("b").metrics.clone();
        // Two reporters over the same counters: one writes over older reports (through a
        // connection's `Outgoing`, sparse), the other makes each anew.
        let (mut reused, mut fresh) = (Reporter::default(), Reporter::default());
        let mut out = Outgoing {
            sparse: true,
            ..Outgoing::default()
        };
        let mut received: Option<Report> = None;
        for snap in [&two, &two, &two, &three, &three, &two, &three, &three] {
            b(snap).refused_limit.inc();
            let sent = out.next(|r| reused.report(snap, &Quotas::default(), r));
            let want = report(&mut fresh, snap);
            let whole = match received.take() {
                Some(mut last) => {
                    sparse::merge_into(&mut last, sent).expect("based on the last");
                    last
                }
                None => sent,
            };
            assert_eq!(whole, want, "{:?}", snap.tenants.len());
            assert_eq!(whole.tenants["b"].refused, 1);
            received = Some(whole);
        }
        assert_eq!(reused.refused_seen, fresh.refused_seen);
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
        let first = report(&mut r, &snap);
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
        let second = report(&mut r, &rebuilt);
        assert_eq!(second.refusals["a"].get(Reason::BlockedByRule), 2);
        assert_eq!(second.refusals["a"].get(Reason::DestinationIpProhibited), 2);
    }
}
