//! Capacity across a leader change, with real processes: a 3-node control plane, two edges of
//! one region, clients that come and go beyond a tenant's limit, and the leader SIGKILLed as
//! the demand moves from one edge to the other. The region must never hold more than its limit,
//! and the new leader must give the whole limit back within about a lease (issue 13, item 1: it
//! renewed each edge's grant only up to its sessions of the moment and gave nothing back until a
//! lease after it took over; the edges' limits once summed to 28 of 40 and took about 16 s to
//! return, refusing clients with slots free; here, before the fix, 11–14 of 40 and 17–19 s).

use std::time::Duration;

use breakout_control::store::etcd::SESSION_TTL_S;
use breakout_tests::capacity::{leader_kill_under_load, FailoverFigures, Placement, LEASE};
use breakout_tests::etcd::store_is_etcd;

const LIMIT: u32 = 40;

/// What the store adds to a takeover beyond the Raft store's election: on etcd no node can win
/// until the killed leader's session lease has expired (its TTL; etcd notices the expiry up to
/// about a second late). The bounds below are from the kill, so they include it (CI measured a
/// first grant of the new leader 5.3 s after the kill on etcd, and the limit back 2.0 s later).
fn takeover_allowance() -> Duration {
    if store_is_etcd() {
        Duration::from_secs(SESSION_TTL_S.unsigned_abs())
    } else {
        Duration::ZERO
    }
}

/// A lease after the takeover, when the new leader's quiet period ends (and an election and a
/// round on top). The bound also when part of the limit was moving between the edges at the
/// kill: the new leader cannot tell that part from a grant of its predecessor still on its way
/// to an edge, or held by an edge it has not heard from, so it gives it out only then
/// (docs/distribution.md, "A new leader"; CI once measured 12.9 s on etcd).
fn quiet_period_bound() -> Duration {
    LEASE + Duration::from_secs(3) + takeover_allowance()
}

/// Checks `f` against `bound`, or against [`quiet_period_bound`] if the edges' limits summed
/// to less than the limit at the kill.
fn check(f: &FailoverFigures, bound: Duration) {
    eprintln!("{f:?}");
    let bound = if f.at_kill < u64::from(LIMIT) {
        bound.max(quiet_period_bound())
    } else {
        bound
    };
    assert!(
        f.peak_active <= u64::from(LIMIT),
        "the region held {} sessions > its limit {LIMIT}",
        f.peak_active
    );
    assert!(f.samples > 100, "too few samples: {f:?}");
    let to_full = f
        .to_full
        .unwrap_or_else(|| panic!("capacity lost after the leader change never came back: {f:?}"));
    assert!(
        to_full <= bound,
        "capacity took {to_full:?} to return to {LIMIT} after the leader kill (bound {bound:?}; \
         lowest sum of the edges' limits {}): {f:?}",
        f.min_limits
    );
}

/// Both edges stay connected (to followers): the new leader learns every holding from the
/// edges' next reports and moves the budget to where the demand went within the election and
/// a few rounds (about 4 s here; before the fix it left it on the edge that had become quiet
/// for a whole lease after it took over, and this took 17–19 s). Unless the kill lands while
/// budget is moving between the edges ([`quiet_period_bound`]).
#[test]
fn after_a_leader_kill_the_budget_follows_the_demand_within_most_of_a_lease() {
    // Sampled well past the old leader's longest lease, so the figure is about the new leader's
    // grants, not what the edges still held from the old one.
    let f = leader_kill_under_load(LIMIT, LEASE * 2, Placement::Followers);
    check(&f, LEASE * 7 / 10 + takeover_allowance());
}

/// The edge holding most of the budget was connected to the killed leader: the budget moves
/// once it has reconnected and reported. Had its grant expired first, the share it no longer
/// holds would stay ungranted until every grant of the old leader has expired, a lease after
/// the new one took over (the election and a round on top).
#[test]
fn an_edge_of_the_killed_leader_gives_its_budget_back_within_a_lease() {
    let f = leader_kill_under_load(LIMIT, LEASE * 2, Placement::OneOnLeader);
    check(&f, quiet_period_bound());
}
