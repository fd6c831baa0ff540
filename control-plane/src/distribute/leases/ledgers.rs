//! The leader's ledgers, one per (region, tenant) of the limits table, kept in the table's
//! order: a round takes each by position, where a map keyed by the ids hashed and compared two
//! ids per pair of region and tenant every round (100,000 of them at fleet scale).

use std::collections::HashMap;
use std::sync::Arc;

use super::limits::Limits;
use crate::quota::Ledger;

#[derive(Default)]
pub(super) struct Ledgers {
    /// The table they are in the order of.
    of: Option<Arc<Limits>>,
    /// Per region of the table, per tenant: its ledger.
    by_region: Vec<Vec<Ledger>>,
}

impl Ledgers {
    /// The ledgers in the order of `limits`: a pair still in the table keeps its ledger, a new
    /// one gets a ledger quiet until `quiet_until_ms`, and those of pairs gone are dropped.
    pub(super) fn align(
        &mut self,
        limits: &Arc<Limits>,
        quiet_until_ms: u64,
    ) -> &mut [Vec<Ledger>] {
        if self.of.as_ref().is_some_and(|of| Arc::ptr_eq(of, limits)) {
            return &mut self.by_region;
        }
        let old = self.of.replace(Arc::clone(limits));
        let held = std::mem::take(&mut self.by_region);
        // A store version that changed no limit lists the same pairs: the ledgers stay put.
        if old.as_ref().is_some_and(|old| old.ids == limits.ids) {
            self.by_region = held;
            return &mut self.by_region;
        }
        let mut kept: HashMap<(&str, &str), Ledger> = HashMap::new();
        if let Some(old) = &old {
            for ((region, tenants), ledgers) in old.ids.iter().zip(held) {
                for (tenant, ledger) in tenants.iter().zip(ledgers) {
                    kept.insert((&**region, &**tenant), ledger);
                }
            }
        }
        self.by_region = limits
            .ids
            .iter()
            .map(|(region, tenants)| {
                tenants
                    .iter()
                    .map(|tenant| {
                        kept.remove(&(&**region, &**tenant)).unwrap_or_else(|| {
                            let mut ledger = Ledger::default();
                            ledger.quiet_until_ms = quiet_until_ms;
                            ledger
                        })
                    })
                    .collect()
            })
            .collect();
        &mut self.by_region
    }
}
