//! The grants frame for one edge: every grant of the round, or — when the edge reported holding
//! a round we still know — only what changed since, the rest renewed in one line
//! ([`Renewal`]). Pure: what the leader issued and what the edge reported in, the frame out.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use breakout_policy::wire::{Grant, Grants, Renewal, Report};

/// One round's grants for one edge, tenants shared with the round's table.
pub struct Issued<'a> {
    pub epoch: u64,
    pub grants: &'a [(Arc<str>, Grant)],
}

/// The frame that gives an edge `now`, each grant good for `ttl_ms`. `base` is the round the
/// edge reported holding (`report.grants_epoch`), if the leader still has it: then unchanged
/// grants are renewed rather than listed. A tenant the edge reported holding under another
/// epoch (it missed a renewal, or a frame arrived out of turn) is listed all the same, so an
/// edge never keeps an old grant the leader thinks renewed.
pub fn frame(
    now: &Issued<'_>,
    base: Option<&Issued<'_>>,
    report: Option<&Report>,
    ttl_ms: u64,
) -> Grants {
    let whole = || Grants {
        epoch: now.epoch,
        grants: now
            .grants
            .iter()
            .map(|(t, g)| (t.to_string(), Grant { ttl_ms, ..*g }))
            .collect(),
        ..Grants::default()
    };
    let (Some(base), Some(report)) = (base, report) else {
        return whole();
    };
    if report.grants_epoch != base.epoch || base.epoch == 0 {
        return whole();
    }
    let before: HashMap<&str, &Grant> = base.grants.iter().map(|(t, g)| (&**t, g)).collect();
    let mut grants = BTreeMap::new();
    let mut kept = std::collections::HashSet::with_capacity(now.grants.len());
    for (tenant, g) in now.grants {
        kept.insert(&**tenant);
        let same = before
            .get(&**tenant)
            .is_some_and(|b| (b.sessions, b.floor) == (g.sessions, g.floor));
        let held_there = report
            .tenants
            .get(&**tenant)
            .is_some_and(|u| u.holding_epoch == base.epoch);
        if !(same && held_there) {
            grants.insert(tenant.to_string(), Grant { ttl_ms, ..*g });
        }
    }
    let ends = base
        .grants
        .iter()
        .filter(|(t, _)| !kept.contains(&**t))
        .map(|(t, _)| t.to_string())
        .collect();
    Grants {
        epoch: now.epoch,
        grants,
        renew: Some(Renewal {
            from: base.epoch,
            ttl_ms,
            ends,
        }),
        sparse_reports: false,
    }
}

#[cfg(test)]
mod tests;
