//! When a source is polled next: the regular interval with jitter, exponential backoff after
//! failures, and a vendor's `Retry-After` honoured. Pure: the caller brings the clock and the
//! random jitter.

use std::time::Duration;

/// Longest backoff after repeated failures (never longer than the regular interval).
const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// First backoff after a failure.
const FIRST_BACKOFF: Duration = Duration::from_secs(30);

/// One source's schedule, in milliseconds of the caller's clock.
#[derive(Clone, Debug, Default)]
pub struct Schedule {
    pub next_due_ms: u64,
    pub failures: u32,
}

/// How a poll ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Result {
    Ok,
    Failed,
    /// The vendor said 429 with `Retry-After` (seconds; `None`: not given).
    TooMany(Option<u64>),
}

impl Schedule {
    pub fn due(&self, now_ms: u64) -> bool {
        now_ms >= self.next_due_ms
    }

    /// Records a poll's end at `now_ms`; `jitter` in [0, 1) spreads polls of many installations
    /// (up to 10% of the interval, or of the backoff).
    pub fn after(&mut self, now_ms: u64, result: Result, interval: Duration, jitter: f64) -> u64 {
        let spread =
            |d: Duration| d.as_millis() as u64 + (d.as_millis() as f64 * 0.1 * jitter) as u64;
        let wait = match result {
            Result::Ok => {
                self.failures = 0;
                spread(interval)
            }
            Result::Failed | Result::TooMany(None) => {
                self.failures = self.failures.saturating_add(1);
                let exp =
                    FIRST_BACKOFF.saturating_mul(1 << self.failures.min(16).saturating_sub(1));
                spread(exp.min(MAX_BACKOFF).min(interval.max(FIRST_BACKOFF)))
            }
            Result::TooMany(Some(secs)) => {
                self.failures = self.failures.saturating_add(1);
                spread(Duration::from_secs(secs).max(FIRST_BACKOFF))
            }
        };
        self.next_due_ms = now_ms.saturating_add(wait);
        self.next_due_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn hourly_with_jitter_then_backoff_doubling_up_to_the_interval() {
        let mut s = Schedule::default();
        assert!(s.due(0));
        assert_eq!(s.after(0, Result::Ok, HOUR, 0.0), 3_600_000);
        assert_eq!(s.after(0, Result::Ok, HOUR, 0.5), 3_780_000);
        let waits: Vec<u64> = (0..9)
            .map(|_| s.after(0, Result::Failed, HOUR, 0.0))
            .collect();
        assert_eq!(&waits[..4], [30_000, 60_000, 120_000, 240_000]);
        assert_eq!(*waits.last().expect("some"), 3_600_000);
        s.after(0, Result::Ok, HOUR, 0.0);
        assert_eq!(s.failures, 0);
    }

    #[test]
    fn retry_after_is_honoured() {
        let mut s = Schedule::default();
        assert_eq!(
            s.after(1_000, Result::TooMany(Some(7200)), HOUR, 0.0),
            7_201_000
        );
        assert!(!s.due(7_200_999));
        assert!(s.due(7_201_000));
    }
}
