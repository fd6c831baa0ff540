//! The grants frame for one edge: every grant of the round, or — when the edge reported holding
//! a round we still know, or was answered one since its report — only what changed since, the
//! rest renewed in one line ([`Renewal`]). Pure: what the leader issued and what the edge
//! reported in, the frame out.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use breakout_policy::wire::sparse::Merged;
use breakout_policy::wire::{Grant, Grants, Renewal};

/// One round's grants for one edge, sorted by tenant id (the order of the state's tenants),
/// the ids shared with the round's limits table.
pub struct Issued<'a> {
    pub epoch: u64,
    pub grants: &'a [(Arc<str>, Grant)],
}

/// What a frame was made from (`breakout_control_lease_frames_total{base}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base {
    /// The round the edge reported holding: only what changed since is listed.
    Report,
    /// The round of the frame answered before, the report's round being gone: only what
    /// changed since is listed.
    Sent,
    /// Neither is kept: every grant is listed.
    Whole,
}

impl Base {
    pub fn label(self) -> &'static str {
        match self {
            Base::Report => "report",
            Base::Sent => "sent",
            Base::Whole => "whole",
        }
    }
}

/// The frame that gives an edge `now`, each grant good for `ttl_ms`. `kept` are the rounds the
/// leader still has for the edge, `now`'s included (any order). If the edge reported holding
/// one of them (`report.grants_epoch`), the frame lists only what differs from that round or
/// any later one (frames of those rounds may have reached the edge since its report) and
/// renews the rest. A tenant the edge reported holding under another epoch than the one it
/// reported (it missed a renewal) is listed all the same, so no edge keeps an old grant long.
///
/// `sent` is the round of the frame answered to the edge before (none since the edge reported
/// holding nothing). When the reported round is gone (a report late by more than the kept
/// rounds) the frame is made from `sent` the same way, without the report's check: if that
/// frame reached the edge, it holds that round; if not, the renewal renews nothing it holds
/// (epochs differ), and the grants it holds run out at their own expiry unless its next
/// report, naming this frame's round, gets them listed first (or the caller stops passing
/// `sent`: `FRAMES_FROM_SENT`). Without this a late report had every frame until the next one
/// list every grant, and the edges' work on those frames made their next reports later still
/// (BENCHMARKS.md).
/// Every round's grants are sorted by tenant id (`Limits::of` sorts them).
pub fn frame(
    now: &Issued<'_>,
    kept: &[Issued<'_>],
    report: Option<&Merged>,
    sent: Option<u64>,
    ttl_ms: u64,
) -> (Grants, Base) {
    let listed = |g: &Grant| Grant { ttl_ms, ..*g };
    let is_kept = |e: u64| kept.iter().any(|b| b.epoch == e && e <= now.epoch);
    debug_assert!(
        now.grants.windows(2).all(|w| w[0].0 < w[1].0),
        "unsorted grants"
    );
    let (from, report, base) = match (report, sent) {
        (Some(r), _) if is_kept(r.grants_epoch()) => (r.grants_epoch(), Some(r), Base::Report),
        (_, Some(s)) if is_kept(s) => (s, None, Base::Sent),
        _ => {
            let whole = Grants {
                epoch: now.epoch,
                grants: now
                    .grants
                    .iter()
                    .map(|(t, g)| (t.to_string(), listed(g)))
                    .collect(),
                ..Grants::default()
            };
            return (whole, Base::Whole);
        }
    };
    let bases: Vec<&Issued<'_>> = kept
        .iter()
        .filter(|b| b.epoch >= from && b.epoch <= now.epoch)
        .collect();
    // One walk over `now`, each base and the report together, all sorted by tenant id: no
    // hashing and, within one limits table, no string comparison (the ids are shared).
    let mut cursors = vec![0usize; bases.len()];
    let mut held = report.map(|r| r.tenants().peekable());
    let mut grants = BTreeMap::new();
    let mut ends: BTreeSet<&str> = BTreeSet::new();
    for (tenant, g) in now.grants {
        // Unchanged in every round since `from`, and issued in `from` itself (what the edge
        // holds at `from`, when the frame is made from the frame sent).
        let (mut same, mut in_from) = (true, false);
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
                        in_from |= base.epoch == from;
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
        let held_there = held.as_mut().map_or(in_from, |held| {
            while held.next_if(|(t, _)| t.as_str() < &**tenant).is_some() {}
            held.next_if(|(t, _)| t.as_str() == &**tenant)
                .is_some_and(|(_, u)| u.holding_epoch == from)
        });
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
    let frame = Grants {
        epoch: now.epoch,
        grants,
        renew: Some(Renewal {
            from,
            also: bases
                .iter()
                .map(|b| b.epoch)
                .filter(|e| *e != from)
                .collect(),
            ttl_ms,
            ends: ends.into_iter().map(str::to_string).collect(),
        }),
        sparse_reports: false,
    };
    (frame, base)
}

#[cfg(test)]
mod tests;
