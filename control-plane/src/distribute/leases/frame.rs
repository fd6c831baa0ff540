//! The grants frame for one edge: every grant of the round, or — when the edge reported holding
//! a round we still know — only what changed since, the rest renewed in one line
//! ([`Renewal`]). Pure: what the leader issued and what the edge reported in, the frame out.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use breakout_policy::wire::{Grant, Grants, Renewal, Report};

/// One round's grants for one edge, sorted by tenant id (the order of the state's tenants),
/// the ids shared with the round's limits table.
pub struct Issued<'a> {
    pub epoch: u64,
    pub grants: &'a [(Arc<str>, Grant)],
}

/// The frame that gives an edge `now`, each grant good for `ttl_ms`. `kept` are the rounds the
/// leader still has for the edge, `now`'s included (any order). If the edge reported holding
/// one of them (`report.grants_epoch`), the frame lists only what differs from that round or
/// any later one (frames of those rounds may have reached the edge since its report) and
/// renews the rest. A tenant the edge reported holding under another epoch than the one it
/// reported (it missed a renewal) is listed all the same, so no edge keeps an old grant long.
/// Every round's grants are sorted by tenant id (`Limits::of` sorts them).
pub fn frame(
    now: &Issued<'_>,
    kept: &[Issued<'_>],
    report: Option<&Report>,
    ttl_ms: u64,
) -> Grants {
    let listed = |g: &Grant| Grant { ttl_ms, ..*g };
    let reported = report.map_or(0, |r| r.grants_epoch);
    let bases: Vec<&Issued<'_>> = kept
        .iter()
        .filter(|b| b.epoch >= reported && b.epoch <= now.epoch)
        .collect();
    debug_assert!(
        now.grants.windows(2).all(|w| w[0].0 < w[1].0),
        "unsorted grants"
    );
    let (Some(report), true) = (report, bases.iter().any(|b| b.epoch == reported)) else {
        return Grants {
            epoch: now.epoch,
            grants: now
                .grants
                .iter()
                .map(|(t, g)| (t.to_string(), listed(g)))
                .collect(),
            ..Grants::default()
        };
    };
    // One walk over `now`, each base and the report together, all sorted by tenant id: no
    // hashing and, within one limits table, no string comparison (the ids are shared).
    let mut cursors = vec![0usize; bases.len()];
    let mut held = report.tenants.iter().peekable();
    let mut grants = BTreeMap::new();
    let mut ends: BTreeSet<&str> = BTreeSet::new();
    for (tenant, g) in now.grants {
        let mut same = true;
        for (base, at) in bases.iter().zip(cursors.iter_mut()) {
            while let Some((t, b)) = base.grants.get(*at) {
                let order = if Arc::ptr_eq(t, tenant) {
                    Ordering::Equal
                } else {
                    t.cmp(tenant)
                };
                match order {
                    Ordering::Less => ends.insert(&**t),
                    Ordering::Equal => {
                        same &= (b.sessions, b.floor) == (g.sessions, g.floor);
                        false
                    }
                    Ordering::Greater => break,
                };
                *at += 1;
                if order == Ordering::Equal {
                    break;
                }
            }
        }
        while held.next_if(|(t, _)| t.as_str() < &**tenant).is_some() {}
        let held_there = held
            .next_if(|(t, _)| t.as_str() == &**tenant)
            .is_some_and(|(_, u)| u.holding_epoch == reported);
        if !(same && held_there) {
            grants.insert(tenant.to_string(), listed(g));
        }
    }
    for (base, at) in bases.iter().zip(&cursors) {
        ends.extend(
            base.grants[(*at).min(base.grants.len())..]
                .iter()
                .map(|(t, _)| &**t),
        );
    }
    Grants {
        epoch: now.epoch,
        grants,
        renew: Some(Renewal {
            from: reported,
            also: bases
                .iter()
                .map(|b| b.epoch)
                .filter(|e| *e != reported)
                .collect(),
            ttl_ms,
            ends: ends.into_iter().map(str::to_string).collect(),
        }),
        sparse_reports: false,
    }
}

#[cfg(test)]
mod tests;
