//! How long since the control plane was last heard from: a gauge of the last frame's time
//! (`breakout_edge_sync_last_contact_timestamp_seconds`, so `time() - x` is the staleness) and
//! a log line when the edge has been cut off for a while, repeated while it lasts, saying how
//! stale its configuration is. The edge keeps serving its last configuration and grants
//! meanwhile (docs/distribution.md); these only say so.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::shared::Shared;

/// Cut off this long: the first warning.
pub const STALE_AFTER: Duration = Duration::from_secs(30);
/// While cut off: a warning this often.
pub const REPEAT_EVERY: Duration = Duration::from_secs(60);
/// How often the watchdog looks.
const CHECK_EVERY: Duration = Duration::from_secs(5);

/// The last frame received, on this process's monotonic clock.
pub struct Contact {
    base: Instant,
    /// Milliseconds after `base` of the last frame, plus one; 0 = never.
    last_ms: AtomicU64,
}

impl Contact {
    pub fn new(base: Instant) -> Contact {
        Contact {
            base,
            last_ms: AtomicU64::new(0),
        }
    }

    /// A frame arrived now.
    pub fn touch(&self, shared: &Shared) {
        let ms = self.base.elapsed().as_millis() as u64 + 1;
        self.last_ms.store(ms, Ordering::Relaxed);
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        shared.metrics.sync_last_contact.set(unix.as_secs_f64());
    }

    /// When the last frame arrived (`None`: never).
    pub fn last(&self) -> Option<Instant> {
        match self.last_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(self.base + Duration::from_millis(ms - 1)),
        }
    }
}

/// What to log about contact, decided from times alone (so tests need no clock).
#[derive(Debug, Default)]
pub struct Staleness {
    /// The cut-off being reported: when it was last reported, and the contact it began after.
    reported: Option<(Instant, Instant)>,
}

/// A log line to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Cut off for this long (never heard from, if `ever` is false).
    CutOff { stale: Duration, ever: bool },
    /// In contact again after a reported cut-off; the gap between the two contacts.
    Restored { gap: Duration },
}

impl Staleness {
    /// The event at `now`, given the last contact (or the start, if none) and whether the
    /// edge is connected now.
    pub fn check(
        &mut self,
        now: Instant,
        last: Option<Instant>,
        start: Instant,
        connected: bool,
    ) -> Option<Event> {
        let since = last.unwrap_or(start);
        let stale = now.saturating_duration_since(since);
        if connected && stale < STALE_AFTER {
            let (_, cut) = self.reported.take()?;
            return Some(Event::Restored {
                gap: since.saturating_duration_since(cut),
            });
        }
        if stale < STALE_AFTER {
            return None;
        }
        let due = self
            .reported
            .is_none_or(|(r, _)| now.saturating_duration_since(r) >= REPEAT_EVERY);
        if !due {
            return None;
        }
        self.reported = Some((now, since));
        Some(Event::CutOff {
            stale,
            ever: last.is_some(),
        })
    }
}

/// Logs the edge's contact with the control plane, forever.
pub async fn watch(contact: Arc<Contact>, shared: Arc<Shared>) {
    let start = Instant::now();
    let mut staleness = Staleness::default();
    let mut tick = tokio::time::interval(CHECK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let connected = shared.metrics.sync_connected.get() == 1;
        let event = staleness.check(Instant::now(), contact.last(), start, connected);
        let version = shared.snapshot.load().version;
        match event {
            Some(Event::CutOff { stale, ever: true }) => tracing::warn!(
                stale_s = stale.as_secs(),
                version,
                "cut off from the control plane for {}s; serving configuration version {version} \
                 and the last grants (their floors once expired)",
                stale.as_secs()
            ),
            Some(Event::CutOff { stale, ever: false }) => tracing::warn!(
                stale_s = stale.as_secs(),
                "no contact with the control plane in the {}s since start; not ready",
                stale.as_secs()
            ),
            Some(Event::Restored { gap }) => tracing::warn!(
                gap_s = gap.as_secs(),
                "in contact with the control plane again after {}s",
                gap.as_secs()
            ),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_off_is_reported_after_a_while_repeated_and_then_restored() {
        let t0 = Instant::now();
        let s = |secs| t0 + Duration::from_secs(secs);
        let mut st = Staleness::default();
        assert_eq!(st.check(s(10), Some(t0), t0, true), None, "in contact");
        assert_eq!(
            st.check(s(20), Some(t0), t0, false),
            None,
            "lost, not for long"
        );
        let first = st.check(s(31), Some(t0), t0, false);
        assert_eq!(
            first,
            Some(Event::CutOff {
                stale: Duration::from_secs(31),
                ever: true
            })
        );
        assert_eq!(
            st.check(s(60), Some(t0), t0, false),
            None,
            "not again at once"
        );
        assert!(matches!(
            st.check(s(91), Some(t0), t0, false),
            Some(Event::CutOff { .. })
        ));
        assert_eq!(
            st.check(s(100), Some(s(99)), t0, true),
            Some(Event::Restored {
                gap: Duration::from_secs(99)
            })
        );
        assert_eq!(st.check(s(101), Some(s(100)), t0, true), None);
    }

    #[test]
    fn an_edge_that_never_had_contact_says_so() {
        let t0 = Instant::now();
        let mut st = Staleness::default();
        let e = st.check(t0 + Duration::from_secs(40), None, t0, false);
        assert_eq!(
            e,
            Some(Event::CutOff {
                stale: Duration::from_secs(40),
                ever: false
            })
        );
    }
}
