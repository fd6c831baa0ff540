//! The one clock of the control plane. Code that needs the time takes a [`Clock`] (an
//! [`Arc<dyn Clock>`](SharedClock)) instead of reading the system clock, so tests, and fault
//! tests later, can stop it or jump it forward ([`ManualClock`]).
//!
//! Two kinds of time: wall-clock milliseconds since the Unix epoch (`now_ms`, what a proposer
//! writes into `Request.at_ms` and what days are counted from) and a monotonic [`Instant`]
//! (`instant`, for ages and expiries that must not jump when the wall clock is set).

use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
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
    fn days_are_utc() {
        assert_eq!(day_of(0).to_string(), "1970-01-01");
        assert_eq!(day_of(86_399_999).to_string(), "1970-01-01");
        assert_eq!(day_of(86_400_000).to_string(), "1970-01-02");
    }
}
