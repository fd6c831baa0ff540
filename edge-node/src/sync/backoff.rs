//! Reconnect delays: exponential with jitter, so edges that lost the same node do not come back
//! in lockstep.

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

/// Delays doubling from `first` up to `max`, each drawn from the upper half of its step.
#[derive(Debug)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    step: Duration,
    random: RandomState,
    draws: u64,
}

impl Backoff {
    pub fn new(first: Duration, max: Duration) -> Backoff {
        Backoff {
            first,
            max,
            step: first,
            random: RandomState::new(),
            draws: 0,
        }
    }

    /// The delay before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        self.draws += 1;
        let delay = jittered(self.step, self.random.hash_one(self.draws));
        self.step = (self.step * 2).min(self.max);
        delay
    }

    /// After a connection that worked: start again from the first step.
    pub fn reset(&mut self) {
        self.step = self.first;
    }
}

/// `step` scaled into [step/2, step] by `random`.
pub fn jittered(step: Duration, random: u64) -> Duration {
    let half = step / 2;
    let nanos = half.as_nanos() as u64;
    half + Duration::from_nanos(if nanos == 0 { 0 } else { random % (nanos + 1) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_in_the_upper_half_of_the_step() {
        let step = Duration::from_millis(800);
        for r in [0, 1, 399_999_999, 400_000_000, u64::MAX] {
            let d = jittered(step, r);
            assert!(d >= step / 2 && d <= step, "{d:?}");
        }
        assert_eq!(jittered(Duration::ZERO, 7), Duration::ZERO);
    }

    #[test]
    fn steps_double_up_to_the_cap_and_reset() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(400));
        let delays: Vec<_> = (0..5).map(|_| b.next_delay()).collect();
        let caps = [100, 200, 400, 400, 400].map(Duration::from_millis);
        for (d, cap) in delays.iter().zip(caps) {
            assert!(*d <= cap && *d >= cap / 2, "{d:?} vs {cap:?}");
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }
}
