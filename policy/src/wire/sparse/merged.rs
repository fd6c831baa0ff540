//! A whole report as a receiver keeps it to merge sparse ones into. The node an edge is
//! connected to and the leader merge every report of every edge, and [`super::merge_into`]
//! moves renewed grants forward by walking all of an edge's tenants (thousands) per report: at
//! fleet scale that walk was the largest cost of the leader outside its rounds (BENCHMARKS.md).
//! Here a tenant whose grant is the report's grants epoch is stored as following it
//! ([`FOLLOWS`]): a renewal moves all of those by changing one number, and a merge touches only
//! what the sparse report lists. Read through [`Merged::tenants`] it is, entry for entry, the
//! report `merge_into` would hold (the property the tests check).
//!
//! The tenants are one sorted table rather than a `BTreeMap`: the leader's round walks every
//! edge's report beside the tenants, once per (edge, tenant) pair, and a table walks in
//! contiguous memory where a tree's nodes are scattered (`BTreeMap` iteration was 8 % of the
//! leader's samples at 500 edges × 100,000 tenants).

use std::collections::BTreeMap;

use super::{carried, sparsify_from, SparseError};
use crate::outcome::RefusalCounts;
use crate::wire::{Report, TenantUsage};

/// Stored in place of a holding epoch equal to the report's grants epoch: the grant is renewed
/// with every frame the edge applies ([`carried`]) until a report lists the tenant again. No
/// leader issues it (its term and its round would both be 2^32 − 1); a report that names it is
/// read as holding the report's epoch.
const FOLLOWS: u64 = u64::MAX;

/// A whole report, merged into as [`super::merge_into`] does, at the cost of what each report
/// lists.
#[derive(Clone, Debug, Default)]
pub struct Merged {
    /// The report without its tenants.
    report: Report,
    /// Its tenants by ascending id, holding epochs stored as above, `refused` nonzero only for
    /// `refusing`.
    tenants: Vec<(String, TenantUsage)>,
    /// The tenants stored with a `refused` count (the next report not listing one has it
    /// refuse nothing since: `carried`).
    refusing: Vec<String>,
    /// No tenant is stored with an explicit holding epoch above this: a renewal to a newer
    /// epoch cannot meet one that must start following, and walks nothing.
    explicit_max: u64,
}

impl From<Report> for Merged {
    fn from(report: Report) -> Self {
        Merged::new(report)
    }
}

impl Merged {
    /// Keeps `report`, a whole one.
    pub fn new(mut report: Report) -> Self {
        let (mut refusing, mut explicit_max) = (Vec::new(), 0);
        let epoch = report.grants_epoch;
        let tenants = std::mem::take(&mut report.tenants)
            .into_iter()
            .map(|(id, mut u)| {
                if u.refused != 0 {
                    refusing.push(id.clone());
                }
                store(&mut u, epoch, &mut explicit_max);
                (id, u)
            })
            .collect();
        Merged {
            report,
            tenants,
            refusing,
            explicit_max,
        }
    }

    /// [`super::merge_into`]: a whole `report` replaces what is kept; a sparse one is merged if
    /// it is based on it, else nothing changes.
    pub fn merge(&mut self, report: Report) -> Result<(), SparseError> {
        let Some(base) = report.base else {
            *self = Merged::new(report);
            return Ok(());
        };
        if base != self.report.seq {
            return Err(SparseError::BaseMismatch {
                seq: report.seq,
                base,
                last: self.report.seq,
            });
        }
        if !report.removed.is_empty() {
            let mut gone: Vec<&str> = report.removed.iter().map(String::as_str).collect();
            gone.sort_unstable();
            self.tenants
                .retain(|(id, _)| gone.binary_search(&id.as_str()).is_err());
            for id in &report.removed {
                self.report.refusals.remove(id);
            }
        }
        for id in std::mem::take(&mut self.refusing) {
            if let Some(i) = self.find(&id) {
                self.tenants[i].1.refused = 0;
            }
        }
        self.renew(report.grants_epoch);
        self.upsert(report.tenants, report.grants_epoch);
        self.report.refusals.extend(report.refusals);
        self.report.seq = report.seq;
        Ok(())
    }

    /// Moves the kept grants epoch to `epoch`, with what follows it; walks every tenant only
    /// when an explicit holding could meet the new epoch (an epoch going back, to 0, or a
    /// holding newer than the frame applied: none of it from an edge working as it should).
    fn renew(&mut self, epoch: u64) {
        let prev = self.report.grants_epoch;
        if epoch != prev && epoch <= self.explicit_max {
            self.explicit_max = 0;
            for (_, u) in &mut self.tenants {
                let mut next = carried(&resolve(*u, prev), prev, epoch);
                store(&mut next, epoch, &mut self.explicit_max);
                *u = next;
            }
        }
        self.report.grants_epoch = epoch;
    }

    /// Stores the tenants a sparse report of grants epoch `epoch` lists: those held are
    /// updated in place; new ones are merged in with one pass over the table (inserting each
    /// would move the table's tail once per tenant).
    fn upsert(&mut self, listed: BTreeMap<String, TenantUsage>, epoch: u64) {
        let mut new = Vec::new();
        for (id, mut u) in listed {
            if u.refused != 0 {
                self.refusing.push(id.clone());
            }
            store(&mut u, epoch, &mut self.explicit_max);
            match self.find(&id) {
                Some(i) => self.tenants[i].1 = u,
                None => new.push((id, u)),
            }
        }
        if new.is_empty() {
            return;
        }
        let held = std::mem::take(&mut self.tenants);
        let mut new = new.into_iter().peekable();
        self.tenants.reserve(held.len() + new.len());
        for t in held {
            while let Some(n) = new.next_if(|n| n.0 < t.0) {
                self.tenants.push(n);
            }
            self.tenants.push(t);
        }
        self.tenants.extend(new);
    }

    fn find(&self, tenant: &str) -> Option<usize> {
        self.tenants
            .binary_search_by(|(id, _)| id.as_str().cmp(tenant))
            .ok()
    }

    pub fn seq(&self) -> u64 {
        self.report.seq
    }

    pub fn grants_epoch(&self) -> u64 {
        self.report.grants_epoch
    }

    pub fn refusals(&self) -> &BTreeMap<String, RefusalCounts> {
        &self.report.refusals
    }

    /// The tenants in id order, as the whole report has them.
    pub fn tenants(&self) -> impl Iterator<Item = (&String, TenantUsage)> + Clone + '_ {
        let epoch = self.report.grants_epoch;
        self.tenants
            .iter()
            .map(move |(id, u)| (id, resolve(*u, epoch)))
    }

    pub fn get(&self, tenant: &str) -> Option<TenantUsage> {
        let (_, u) = &self.tenants[self.find(tenant)?];
        Some(resolve(*u, self.report.grants_epoch))
    }

    /// The whole report.
    pub fn to_report(&self) -> Report {
        let r = &self.report;
        Report {
            seq: r.seq,
            tenants: self.tenants().map(|(id, u)| (id.clone(), u)).collect(),
            refusals: r.refusals.clone(),
            grants_epoch: r.grants_epoch,
            base: r.base,
            removed: r.removed.clone(),
        }
    }

    /// [`super::sparsify`] against the whole report.
    pub fn sparsify(&self, full: &Report) -> Report {
        let r = &self.report;
        sparsify_from(self.tenants(), r.seq, r.grants_epoch, &r.refusals, full)
    }
}

/// `u` as stored under grants epoch `epoch`, with the bound on explicit holdings kept.
fn store(u: &mut TenantUsage, epoch: u64, explicit_max: &mut u64) {
    if u.holding_epoch != 0 && u.holding_epoch == epoch {
        u.holding_epoch = FOLLOWS;
    } else {
        *explicit_max = (*explicit_max).max(u.holding_epoch);
    }
}

/// `u` as stored, read under grants epoch `epoch`.
fn resolve(mut u: TenantUsage, epoch: u64) -> TenantUsage {
    if u.holding_epoch == FOLLOWS {
        u.holding_epoch = epoch;
    }
    u
}
