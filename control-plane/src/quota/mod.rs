//! Region-wide session capacity split into per-edge leases (pure, no I/O, no clock).
//!
//! A tenant's limit applies to the sum of its concurrent sessions over every edge of its region.
//! The leader turns the edges' reports into grants: each edge admits only within its grant, and
//! the sum of *live* grants never exceeds the limit, where live means "issued, not expired, and
//! not superseded by a newer grant the edge has acknowledged holding". A grant lowered for one
//! edge is only spent elsewhere once the edge acknowledged the lower one or the old one expired,
//! so sessions moving between edges never open a window of over-admission.
//!
//! Time is a caller-supplied millisecond clock; grant lifetimes are durations the edge counts
//! from receipt (so clocks of different machines never need to agree). Epochs must increase
//! across leaders (e.g. Raft term in the high bits): an edge's "holding epoch" is compared with
//! what this ledger issued.
//!
//! A leader that takes over cannot know everything its predecessor granted: an edge it has not
//! heard from yet may hold a grant. For one lease period ([`Ledger::taking_over`]) it counts each
//! edge's newest reported predecessor grant as issued (until the edge acknowledges one of its
//! own) and hands out at most the sum of those grants, never the part of the limit nobody has
//! reported holding: it renews, and moves budget between edges that reported (after the lower
//! grant was acknowledged, as always), but the unreported rest waits until every grant of the
//! predecessor has expired. Whatever the predecessor granted, its live grants fitted the limit
//! together, so what the edges reported holding does too.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

use in_force::ByEdge;

pub mod floor;
mod in_force;
#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;

/// Tuning of the allocator.
#[derive(Clone, Debug)]
pub struct QuotaConfig {
    /// How long a grant is good for after the edge receives it.
    pub ttl_ms: u64,
    /// Headroom kept on an idle edge, as a share of the limit (at least one session).
    pub idle_share: f64,
    /// Headroom an edge near its grant (or refusing) asks for, as a share of the limit; a
    /// refusing edge asks for at least the sessions it refused since its last report.
    pub busy_share: f64,
}

impl Default for QuotaConfig {
    fn default() -> Self {
        QuotaConfig {
            ttl_ms: 10_000,
            idle_share: 0.01,
            busy_share: 0.10,
        }
    }
}

/// What an edge last told us about one tenant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EdgeReport {
    /// Sessions open now.
    pub active: u32,
    /// Sessions refused since the previous report (demand beyond the grant).
    pub refused: u32,
    /// The newest grant epoch the edge holds (0: none yet).
    pub holding_epoch: u64,
    /// The sessions of that grant (what a leader that just took over may renew).
    pub holding_sessions: u32,
}

/// What an edge receives for one tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grant {
    /// Admit up to this many concurrent sessions while the grant is in force.
    pub sessions: u32,
    /// After the grant expires without renewal (control plane unreachable), admit up to this:
    /// the limit split evenly over at least the region's known edges ([`floor::divisor`]), so
    /// that edges cut off together never exceed the limit between them.
    pub floor: u32,
}

/// A grant as issued: `sessions` until `expires_ms` on the leader's clock (issue time + ttl,
/// which is never earlier than the edge's own expiry, counted from receipt).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Issued {
    pub epoch: u64,
    pub sessions: u32,
    pub expires_ms: u64,
}

impl Issued {
    /// Whether it counts for an edge holding `holding_epoch` at `now_ms`: not expired, and not
    /// older than what the edge holds (the edge applied a newer frame since).
    pub fn in_force(&self, holding_epoch: u64, now_ms: u64) -> bool {
        self.expires_ms > now_ms && self.epoch >= holding_epoch
    }
}

/// One tenant's grants in one region.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    /// Per edge: grants that may still be in force; while quiet, also the newest predecessor
    /// grant each edge reported holding.
    issued: ByEdge,
    /// Until then, grants issued before this ledger existed (by a previous leader) may still be
    /// live: hand out no more than the edges reported holding of them ([`Ledger::inherited`]).
    pub quiet_until_ms: u64,
    /// While quiet: per edge, the newest predecessor grant it reported holding (epoch,
    /// sessions). Their sum is the budget while quiet.
    inherited: BTreeMap<Arc<str>, (u64, u32)>,
    /// The first epoch this ledger issued: holdings of older epochs are a predecessor's.
    first_epoch: Option<u64>,
    /// What the last round split the floors over ([`floor::divisor`]; 0: no round yet).
    floor_over: u32,
}

/// The reports of one allocation: per reporting edge its id and report, sorted by id without
/// repeats (what [`allocate_sorted`] reads; borrowed, so a round copies no id and no map). The
/// ledger keeps the ids it is given: a caller that passes the same `Arc` for an edge every
/// round has its ids matched by address, without comparing them.
pub type SortedReports<'a> = [(&'a Arc<str>, EdgeReport)];

/// `edge`'s report in `reports`, if it reported.
#[cfg(test)]
fn find<'r>(reports: &'r SortedReports<'_>, edge: &str) -> Option<&'r EdgeReport> {
    reports
        .binary_search_by(|(e, _)| str::cmp(e, edge))
        .ok()
        .map(|i| &reports[i].1)
}

impl Ledger {
    /// A ledger for a leader that just took over at `now_ms`: for one lease period it cannot
    /// know what its predecessor granted.
    pub fn taking_over(now_ms: u64, cfg: &QuotaConfig) -> Ledger {
        Ledger {
            quiet_until_ms: now_ms + cfg.ttl_ms,
            ..Ledger::default()
        }
    }

    /// While quiet: takes note of the predecessor grants edges report holding, each counted as
    /// issued until the edge acknowledges a grant of ours (or the quiet period ends, when every
    /// predecessor grant has expired). The budget: what they add up to, at most `limit`.
    fn inherit(&mut self, reports: &SortedReports<'_>, epoch: u64, limit: u32) -> u64 {
        let first = *self.first_epoch.get_or_insert(epoch);
        for (edge, r) in reports {
            if r.holding_epoch == 0 || r.holding_epoch >= first {
                continue;
            }
            let newest = self.inherited.entry(Arc::clone(edge)).or_insert((0, 0));
            if r.holding_epoch >= newest.0 {
                *newest = (r.holding_epoch, r.holding_sessions);
            }
            let grants = self.issued.entry(edge);
            match grants.find_mut(r.holding_epoch) {
                Some(g) => g.sessions = g.sessions.max(r.holding_sessions),
                None => grants.push(Issued {
                    epoch: r.holding_epoch,
                    sessions: r.holding_sessions,
                    expires_ms: self.quiet_until_ms,
                }),
            }
        }
        let reported: u64 = self.inherited.values().map(|(_, s)| u64::from(*s)).sum();
        reported.min(u64::from(limit))
    }

    /// The most sessions `edge` may be admitting under grants in force at `now_ms`.
    pub fn outstanding(&self, edge: &str, holding_epoch: u64, now_ms: u64) -> u32 {
        self.issued
            .get(edge)
            .map_or(0, |v| v.most(holding_epoch, now_ms))
    }

    /// Sum of what every edge may be admitting at `now_ms` (the invariant: ≤ the limit).
    pub fn committed(&self, reports: &BTreeMap<String, EdgeReport>, now_ms: u64) -> u64 {
        self.issued
            .keys()
            .map(|e| {
                let holding = reports.get(&**e).map_or(0, |r| r.holding_epoch);
                u64::from(self.outstanding(e, holding, now_ms))
            })
            .sum()
    }

    /// Forgets grants no longer in force (expired, or older than what their edge reports
    /// holding) and sets `held[i]` to what the edge of `reports[i]` may still admit under the
    /// rest; answers how many edges that did not report may still admit, and how much.
    /// One walk over the ledger beside the reports, both in edge order (a fleet round does
    /// this for every pair of tenant and edge: no lookups).
    fn settle(
        &mut self,
        reports: &SortedReports<'_>,
        now_ms: u64,
        held: &mut Vec<u32>,
    ) -> (usize, u64) {
        held.clear();
        held.resize(reports.len(), 0);
        let (mut absent_edges, mut absent) = (0usize, 0u64);
        let mut cursor = Cursor::new(reports);
        self.issued.retain(|edge, grants| {
            let report = cursor.seek(edge);
            let holding = report.map_or(0, |i| reports[i].1.holding_epoch);
            grants.retain(|g| g.in_force(holding, now_ms));
            let most = grants.most(holding, now_ms);
            match report {
                Some(i) => held[i] = most,
                None if !grants.is_empty() => {
                    absent_edges += 1;
                    absent += u64::from(most);
                }
                None => {}
            }
            !grants.is_empty()
        });
        (absent_edges, absent)
    }

    /// Records `sessions[i]` as issued to the edge of `reports[i]`, and answers what every edge
    /// may admit now ([`Ledger::committed`]); the same walk as [`Ledger::settle`].
    fn record(
        &mut self,
        reports: &SortedReports<'_>,
        sessions: &[u32],
        issue: impl Fn(u32) -> Issued,
        now_ms: u64,
    ) -> u64 {
        let (mut committed, mut recorded) = (0u64, 0usize);
        let mut cursor = Cursor::new(reports);
        for (edge, grants) in self.issued.iter_mut() {
            let report = cursor.seek(edge);
            if let Some(i) = report {
                grants.push(issue(sessions[i]));
                recorded += 1;
            }
            let holding = report.map_or(0, |i| reports[i].1.holding_epoch);
            committed += u64::from(grants.most(holding, now_ms));
        }
        if recorded == reports.len() {
            return committed;
        }
        // Edges new to the ledger (rare once a fleet runs).
        for ((edge, r), sessions) in reports.iter().zip(sessions) {
            if let Some(grants) = self.issued.add(edge) {
                grants.push(issue(*sessions));
                committed += u64::from(grants.most(r.holding_epoch, now_ms));
            }
        }
        committed
    }
}

/// A walk through sorted reports by ascending edge ids.
struct Cursor<'r, 'a> {
    reports: &'r SortedReports<'a>,
    next: usize,
}

impl<'r, 'a> Cursor<'r, 'a> {
    fn new(reports: &'r SortedReports<'a>) -> Self {
        Cursor { reports, next: 0 }
    }

    /// The index of `edge`'s report; each call must name a greater id than the one before.
    /// The same `Arc` is the same id without a comparison: once a fleet runs, every seek finds
    /// its id at the cursor, and `memcmp` of ids had been a tenth of the leader's CPU.
    fn seek(&mut self, edge: &Arc<str>) -> Option<usize> {
        while let Some((e, _)) = self.reports.get(self.next) {
            let order = if Arc::ptr_eq(e, edge) {
                Ordering::Equal
            } else {
                str::cmp(e, edge)
            };
            match order {
                Ordering::Less => self.next += 1,
                Ordering::Equal => {
                    self.next += 1;
                    return Some(self.next - 1);
                }
                Ordering::Greater => return None,
            }
        }
        None
    }
}

/// Computes new grants for the edges in `reports` (the ones connected now). Edges that stopped
/// reporting keep counting with what they may still hold until it expires.
pub fn allocate(
    limit: u32,
    ledger: &mut Ledger,
    reports: &BTreeMap<String, EdgeReport>,
    now_ms: u64,
    epoch: u64,
    cfg: &QuotaConfig,
) -> BTreeMap<String, Grant> {
    let ids: Vec<Arc<str>> = reports.keys().map(|e| Arc::from(e.as_str())).collect();
    let sorted: Vec<(&Arc<str>, EdgeReport)> = ids.iter().zip(reports.values().cloned()).collect();
    let mut grants = Vec::with_capacity(sorted.len());
    allocate_sorted(limit, ledger, &sorted, now_ms, epoch, cfg, &mut grants);
    reports.keys().cloned().zip(grants).collect()
}

/// [`allocate`] over reports sorted by edge id: `grants` is cleared and gets one grant per
/// report, in the same order. Answers what the region's edges may admit under the grants in
/// force afterwards ([`Ledger::committed`]; never more than `limit`).
pub fn allocate_sorted(
    limit: u32,
    ledger: &mut Ledger,
    reports: &SortedReports<'_>,
    now_ms: u64,
    epoch: u64,
    cfg: &QuotaConfig,
    grants: &mut Vec<Grant>,
) -> u64 {
    debug_assert!(
        reports.windows(2).all(|w| w[0].0 < w[1].0),
        "unsorted reports"
    );
    grants.clear();
    let quiet = now_ms < ledger.quiet_until_ms;
    // While quiet, what the predecessor granted is known only from what edges say they hold.
    let budget = if quiet {
        ledger.inherit(reports, epoch, limit)
    } else {
        ledger.inherited.clear();
        u64::from(limit)
    };
    // Grants that cost nothing new: up to what each reporting edge may already hold (while
    // quiet, a predecessor's grant an edge reported holding counts as issued: `inherit`).
    let mut held = Vec::new();
    let (absent_edges, absent) = ledger.settle(reports, now_ms, &mut held);
    let mut sessions: Vec<u32> = Vec::with_capacity(reports.len());
    let demand = reports.iter().map(|(_, r)| r);
    split(limit, budget, absent, demand, &held, cfg, &mut sessions);
    ledger.floor_over = floor::divisor(absent_edges + reports.len(), ledger.floor_over);
    let floor = limit / ledger.floor_over;
    grants.extend(sessions.iter().map(|&sessions| Grant { sessions, floor }));
    let issue = |sessions| Issued {
        epoch,
        sessions,
        expires_ms: now_ms + cfg.ttl_ms,
    };
    ledger.record(reports, &sessions, issue, now_ms)
}

/// One round's grants, given what each reporting edge may already admit (`held[i]` for the
/// `i`th report) and what edges that did not report may (`absent`): `sessions` gets one grant
/// per report, in order. Each edge asks for its sessions plus headroom; what is free of
/// `budget` goes busiest first.
///
/// After a limit was lowered below what is committed (`over`), admitted sessions are never
/// cut, and no edge is given more than it may already admit: each grant only lowers what its
/// edge may admit until the edge acknowledges it, and the grants together fit the budget, so
/// once every edge has acknowledged, the limit holds again. Within that, edges keep headroom
/// (an idle edge dropped to 0 would refuse every client until the next round).
fn split<'r>(
    limit: u32,
    budget: u64,
    absent: u64,
    reports: impl Iterator<Item = &'r EdgeReport>,
    held: &[u32],
    cfg: &QuotaConfig,
    sessions: &mut Vec<u32>,
) {
    sessions.clear();
    let committed: u64 = absent + held.iter().map(|h| u64::from(*h)).sum::<u64>();
    let over = committed > budget;
    let share = |s: f64| ((f64::from(limit) * s).ceil() as u32).max(1);
    // (index into `reports`, sessions wanted beyond the base, its refused and active).
    let mut wants: Vec<(usize, u32, u32, u32)> = Vec::new();
    for (i, (r, held)) in reports.zip(held).enumerate() {
        let busy = r.refused > 0 || held.saturating_sub(r.active) < share(cfg.idle_share);
        // What it refused is demand it could not serve: asking for just a tenth of the limit
        // a round would leave clients refused for many rounds while the budget sits unused.
        let headroom = if busy {
            share(cfg.busy_share).max(r.refused)
        } else {
            share(cfg.idle_share)
        };
        let desired = r.active.saturating_add(headroom).min(limit);
        let (base, most) = if over {
            (desired.min(*held).min(r.active), desired.min(*held))
        } else {
            (desired.min(*held), desired)
        };
        sessions.push(base);
        if most > base {
            wants.push((i, most - base, r.refused, r.active));
        }
    }
    // Budget left after everything that may still be in use (when over: once every reporting
    // edge holds its new grant).
    let mut free = if over {
        let bases: u64 = sessions.iter().map(|s| u64::from(*s)).sum();
        budget.saturating_sub(absent + bases)
    } else {
        budget - committed
    };
    // Busiest first: the edge refusing most (then with most sessions) is served first; ties
    // in edge order (the index: a sort that needs no buffer, unlike a stable one).
    wants.sort_unstable_by_key(|&(i, want, refused, active)| {
        (
            std::cmp::Reverse(refused),
            std::cmp::Reverse(active),
            want,
            i,
        )
    });
    let total_want: u64 = wants.iter().map(|(_, w, ..)| u64::from(*w)).sum();
    for (i, want, ..) in wants {
        if free == 0 {
            break;
        }
        let fair = if total_want <= free {
            u64::from(want)
        } else {
            (u64::from(want) * free).div_ceil(total_want.max(1))
        };
        let give = fair.min(free).min(u64::from(want)) as u32;
        free -= u64::from(give);
        sessions[i] += give;
    }
}
