//! The clock leases are counted on (the node's monotonic clock, see the module above).

use std::time::Instant;

use crate::clock::SharedClock;

/// The clock leases are counted on: milliseconds of [`crate::clock::Clock::instant`] since `base`.
pub(super) struct LeaseClock {
    pub(super) clock: SharedClock,
    base: Instant,
}

impl LeaseClock {
    pub(super) fn new(clock: SharedClock) -> Self {
        let base = clock.instant();
        LeaseClock { clock, base }
    }

    /// (monotonic instant, its milliseconds since `base`).
    pub(super) fn now(&self) -> (Instant, u64) {
        let now = self.clock.instant();
        let ms = now.saturating_duration_since(self.base).as_millis();
        (now, u64::try_from(ms).unwrap_or(u64::MAX))
    }
}
