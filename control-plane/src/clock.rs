//! The one clock of the control plane. Code that needs the time takes a [`Clock`] (an
//! [`Arc<dyn Clock>`](SharedClock)) instead of reading the system clock, so tests, and fault
//! tests later, can stop it or jump it forward ([`ManualClock`]).
//!
//! Two kinds of time: wall-clock milliseconds since the Unix epoch (`now_ms`, what a proposer
//! writes into `Request.at_ms` and what days are counted from) and a monotonic [`Instant`]
//! (`instant`, for ages and expiries that must not jump when the wall clock is set).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, NaiveDate, Utc};

/// A source of time.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// Wall-clock milliseconds since the Unix epoch (0 before it).
    fn now_ms(&self) -> u64;

    /// A monotonic instant.
    fn instant(&self) -> Instant;

    /// The UTC day of [`Clock::now_ms`].
    fn today(&self) -> NaiveDate {
        day_of(self.now_ms())
    }

    /// [`Clock::now_ms`] as a UTC date and time.
    fn now_utc(&self) -> DateTime<Utc> {
        i64::try_from(self.now_ms())
            .ok()
            .and_then(DateTime::from_timestamp_millis)
            .unwrap_or_default()
    }
}

/// The clock handle components keep.
pub type SharedClock = Arc<dyn Clock>;

/// The system's clocks.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    fn instant(&self) -> Instant {
        Instant::now()
    }
}

/// The system clock as a [`SharedClock`].
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// A clock that moves only when told: starts at `start_ms` and at the instant it was made.
/// [`ManualClock::advance`] moves both times; [`ManualClock::step_wall`] steps only the wall
/// clock, forwards or backwards, as an operator or NTP setting the time does.
#[derive(Debug)]
pub struct ManualClock {
    base: Instant,
    start_ms: u64,
    elapsed_ms: AtomicU64,
    wall_step_ms: AtomicI64,
}

impl ManualClock {
    pub fn new(start_ms: u64) -> Arc<Self> {
        Arc::new(ManualClock {
            base: Instant::now(),
            start_ms,
            elapsed_ms: AtomicU64::new(0),
            wall_step_ms: AtomicI64::new(0),
        })
    }

    /// Steps the wall clock by `by_ms` (negative: backwards); the monotonic clock stays.
    pub fn step_wall(&self, by_ms: i64) {
        self.wall_step_ms.fetch_add(by_ms, Ordering::SeqCst);
    }

    /// Moves both clocks forward by `by`.
    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.elapsed_ms.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        let moved = self
            .start_ms
            .saturating_add(self.elapsed_ms.load(Ordering::SeqCst));
        moved.saturating_add_signed(self.wall_step_ms.load(Ordering::SeqCst))
    }

    fn instant(&self) -> Instant {
        self.base + Duration::from_millis(self.elapsed_ms.load(Ordering::SeqCst))
    }
}

/// A wall clock shifted by a fixed offset (`--wall-clock-offset-ms`, for fault tests of a node
/// whose clock is wrong); the monotonic clock is the inner one's.
#[derive(Debug)]
pub struct OffsetClock {
    pub inner: SharedClock,
    pub offset_ms: i64,
}

impl Clock for OffsetClock {
    fn now_ms(&self) -> u64 {
        self.inner.now_ms().saturating_add_signed(self.offset_ms)
    }

    fn instant(&self) -> Instant {
        self.inner.instant()
    }
}

/// How long a peer's clock reading counts (peers are heard every heartbeat, 150 ms).
pub const PEER_READING_FRESH: Duration = Duration::from_secs(10);

/// The cluster's wall-clock time: the lower median of this node's own clock and the clocks of
/// the peers it heard from recently (Raft RPCs carry the sender's and the answerer's own wall
/// clock). What a node writes into a request's `at_ms` and counts contract days from comes from
/// here, so one node whose clock was stepped (a year ahead, say) cannot move every tenant's
/// policy day forward for good: on a 3-node cluster the two others outvote it; a follower that
/// hears only its leader takes the earlier of the two. A node alone uses its own clock. Peers
/// are always sent the node's *own* clock, never this estimate, so a wrong clock stays visible.
#[derive(Debug)]
pub struct ClusterClock {
    own: SharedClock,
    peers: Mutex<BTreeMap<u64, (u64, Instant)>>,
}

impl ClusterClock {
    pub fn new(own: SharedClock) -> Arc<Self> {
        Arc::new(ClusterClock {
            own,
            peers: Mutex::new(BTreeMap::new()),
        })
    }

    /// This node's own wall clock (what it tells its peers).
    pub fn own_ms(&self) -> u64 {
        self.own.now_ms()
    }

    /// Records that `peer` said its wall clock read `wall_ms` just now.
    pub fn heard(&self, peer: u64, wall_ms: u64) {
        let at = self.own.instant();
        if let Ok(mut peers) = self.peers.lock() {
            peers.insert(peer, (wall_ms, at));
        }
    }

    /// The peers' clocks as they read now (readings older than [`PEER_READING_FRESH`] left out).
    fn peer_estimates(&self) -> Vec<u64> {
        let now = self.own.instant();
        let Ok(peers) = self.peers.lock() else {
            return Vec::new();
        };
        peers
            .values()
            .filter_map(|&(wall_ms, at)| {
                let age = now.checked_duration_since(at).unwrap_or_default();
                (age <= PEER_READING_FRESH)
                    .then(|| wall_ms.saturating_add(u64::try_from(age.as_millis()).unwrap_or(0)))
            })
            .collect()
    }
}

impl Clock for ClusterClock {
    fn now_ms(&self) -> u64 {
        let mut readings = self.peer_estimates();
        readings.push(self.own.now_ms());
        lower_median(readings)
    }

    fn instant(&self) -> Instant {
        self.own.instant()
    }
}

/// The middle reading, the earlier of the two middle ones for an even count (0 for none).
pub fn lower_median(mut readings: Vec<u64>) -> u64 {
    readings.sort_unstable();
    readings
        .get(readings.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or(0)
}

/// The UTC calendar day of `at_ms` (milliseconds since the Unix epoch).
pub fn day_of(at_ms: u64) -> NaiveDate {
    i64::try_from(at_ms)
        .ok()
        .and_then(DateTime::from_timestamp_millis)
        .map_or(NaiveDate::MAX, |t| t.date_naive())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_both_times_together_and_only_when_told() {
        let clock = ManualClock::new(1_700_000_000_000);
        let (ms, at) = (clock.now_ms(), clock.instant());
        assert_eq!(clock.now_ms(), ms);
        clock.advance(Duration::from_secs(86_400));
        assert_eq!(clock.now_ms(), ms + 86_400_000);
        assert_eq!(clock.instant() - at, Duration::from_secs(86_400));
        assert_eq!(clock.today(), day_of(ms).succ_opt().expect("a next day"));
    }

    #[test]
    fn a_wall_clock_step_leaves_the_monotonic_clock_alone() {
        let clock = ManualClock::new(1_700_000_000_000);
        let at = clock.instant();
        clock.step_wall(-3_600_000);
        assert_eq!(clock.now_ms(), 1_700_000_000_000 - 3_600_000);
        clock.step_wall(7_200_000);
        assert_eq!(clock.now_ms(), 1_700_000_000_000 + 3_600_000);
        assert_eq!(clock.instant(), at);
    }

    #[test]
    fn one_clock_stepped_ahead_is_outvoted_by_its_peers() {
        let own = ManualClock::new(1_700_000_000_000);
        let cluster = ClusterClock::new(own.clone());
        assert_eq!(cluster.now_ms(), 1_700_000_000_000, "alone: its own clock");
        own.step_wall(365 * 86_400_000);
        cluster.heard(2, 1_700_000_000_000);
        cluster.heard(3, 1_700_000_000_040);
        assert_eq!(cluster.now_ms(), 1_700_000_000_040);
        assert_eq!(cluster.own_ms(), 1_700_000_000_000 + 365 * 86_400_000);
        // Readings age with the monotonic clock, and go stale.
        own.advance(Duration::from_secs(2));
        assert_eq!(cluster.now_ms(), 1_700_000_002_040);
        own.advance(PEER_READING_FRESH);
        assert_eq!(cluster.now_ms(), own.now_ms(), "stale peers: its own clock");
    }

    #[test]
    fn a_follower_hearing_only_its_leader_takes_the_earlier_clock() {
        let own = ManualClock::new(1_700_000_000_000);
        let cluster = ClusterClock::new(own.clone());
        cluster.heard(1, 1_700_000_000_000 + 86_400_000);
        assert_eq!(cluster.now_ms(), 1_700_000_000_000, "the leader is ahead");
        own.step_wall(2 * 86_400_000);
        assert_eq!(
            cluster.now_ms(),
            1_700_000_000_000 + 86_400_000,
            "this node is"
        );
    }

    #[test]
    fn the_lower_median_of_none_one_two_and_three() {
        assert_eq!(lower_median(vec![]), 0);
        assert_eq!(lower_median(vec![7]), 7);
        assert_eq!(lower_median(vec![9, 7]), 7);
        assert_eq!(lower_median(vec![9, 1, 7]), 7);
    }

    #[test]
    fn days_are_utc() {
        assert_eq!(day_of(0).to_string(), "1970-01-01");
        assert_eq!(day_of(86_399_999).to_string(), "1970-01-01");
        assert_eq!(day_of(86_400_000).to_string(), "1970-01-02");
    }
}
