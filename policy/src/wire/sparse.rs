//! Sparse reports: an edge reports every second, but between two reports most tenants change
//! nothing but the epoch of the grant they hold (renewed by the leader, [`super::Renewal`]). A
//! sparse report lists only the tenants whose entry differs from what [`carried`] predicts from
//! the previous report of the same connection; the node merges it into the whole report again.
//!
//! The two sides share one rule ([`carried`]), and [`sparsify`] lists a tenant whenever the rule
//! would be wrong about it, so `merge(prev, sparsify(prev, full)) == full` for any reports (the
//! property the tests check): a rule that predicts badly costs bytes, never correctness.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::{Report, TenantUsage};
use crate::outcome::RefusalCounts;

mod merged;
pub use merged::Merged;

/// Why a sparse report cannot be made whole.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SparseError {
    #[error("sparse report {seq} is based on report {base}, but the last one here is {last}")]
    BaseMismatch { seq: u64, base: u64, last: u64 },
}

/// What a tenant absent from a sparse report has, given its entry in the previous report and
/// the grants epochs of both: its sessions as before, no refusals, and its grant as before —
/// renewed to the new epoch if it was the one of the previous frame (renewals move every
/// unchanged grant forward together).
pub fn carried(prev: &TenantUsage, prev_epoch: u64, epoch: u64) -> TenantUsage {
    let renewed = prev.holding_epoch != 0 && prev.holding_epoch == prev_epoch;
    TenantUsage {
        active: prev.active,
        refused: 0,
        holding_epoch: if renewed { epoch } else { prev.holding_epoch },
        holding_sessions: prev.holding_sessions,
    }
}

/// `full` as a sparse report after `prev` (the last report sent on this connection, whole):
/// only the tenants and refusal counts that [`merge`] would not carry over. `full` itself when
/// it cannot be expressed that way (a tenant's refusal counts disappeared without the tenant).
pub fn sparsify(prev: &Report, full: &Report) -> Report {
    let tenants = prev.tenants.iter().map(|(id, u)| (id, *u));
    sparsify_from(tenants, prev.seq, prev.grants_epoch, &prev.refusals, full)
}

/// [`sparsify`] against a previous report given as its parts: its tenants in id order, its seq,
/// grants epoch and refusal counts (a [`Merged`] lends its tenants resolved, not as stored).
fn sparsify_from<'p>(
    prev_tenants: impl Iterator<Item = (&'p String, TenantUsage)>,
    prev_seq: u64,
    prev_epoch: u64,
    prev_refusals: &BTreeMap<String, RefusalCounts>,
    full: &Report,
) -> Report {
    // One walk over both maps in key order (linear), not a search of `prev` per tenant, and
    // one comparison of ids per step: an edge, or the fleet simulator's thousand, does this for
    // every report.
    let mut changed = Vec::new();
    let mut removed = Vec::new();
    let mut old = prev_tenants.peekable();
    for (id, usage) in &full.tenants {
        let mut same = false;
        while let Some(&(p, prev)) = old.peek() {
            let order = p.cmp(id);
            if order == Ordering::Greater {
                break;
            }
            old.next();
            if order == Ordering::Equal {
                same = carried(&prev, prev_epoch, full.grants_epoch) == *usage;
                break;
            }
            removed.push(p.clone());
        }
        if !same {
            changed.push((id.clone(), *usage));
        }
    }
    removed.extend(old.map(|(id, _)| id.clone()));
    let tenants: BTreeMap<String, TenantUsage> = changed.into_iter().collect();
    // Cumulative counts only grow while the edge runs; one that vanished (the tenant left and
    // came back within a report) is sent whole rather than given a removal list of its own.
    let lost_counts = prev_refusals
        .keys()
        .any(|id| !full.refusals.contains_key(id) && full.tenants.contains_key(id));
    if lost_counts {
        return full.clone();
    }
    let refusals = full
        .refusals
        .iter()
        .filter(|(id, counts)| prev_refusals.get(*id) != Some(counts))
        .map(|(id, counts)| (id.clone(), counts.clone()))
        .collect();
    Report {
        seq: full.seq,
        tenants,
        refusals,
        grants_epoch: full.grants_epoch,
        base: Some(prev_seq),
        removed,
    }
}

/// The whole report `report` stands for after `prev` (the last whole report of the same
/// connection); a whole report is returned as it is.
pub fn merge(prev: &Report, report: Report) -> Result<Report, SparseError> {
    let mut whole = prev.clone();
    merge_into(&mut whole, report)?;
    Ok(whole)
}

/// [`merge`] in place: `last` (the last whole report) becomes the whole report `report` stands
/// for, or stays as it was if `report` is not based on it. Touches only what the report lists,
/// apart from moving renewed grants forward (which walks every tenant: a receiver that merges
/// every report keeps a [`Merged`] instead).
pub fn merge_into(last: &mut Report, report: Report) -> Result<(), SparseError> {
    let Some(base) = report.base else {
        *last = report;
        return Ok(());
    };
    if base != last.seq {
        return Err(SparseError::BaseMismatch {
            seq: report.seq,
            base,
            last: last.seq,
        });
    }
    for id in &report.removed {
        last.tenants.remove(id);
        last.refusals.remove(id);
    }
    let (prev_epoch, epoch) = (last.grants_epoch, report.grants_epoch);
    for usage in last.tenants.values_mut() {
        *usage = carried(usage, prev_epoch, epoch);
    }
    last.tenants.extend(report.tenants);
    last.refusals.extend(report.refusals);
    last.seq = report.seq;
    last.grants_epoch = epoch;
    Ok(())
}

#[cfg(test)]
mod tests;
