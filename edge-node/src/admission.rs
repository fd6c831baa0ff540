//! Session admission: a tenant's concurrent-session limit, enforced exactly.
//!
//! A session is one accepted client connection. `try_acquire` never lets the count exceed the
//! limit, even under concurrent connects (compare-and-swap), and the returned guard gives the
//! slot back on every exit path by being dropped.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use prometheus::IntGauge;

/// One tenant's slots. Outlives config reloads: a reload finds the tenant's existing `Slots` by
/// id and only changes the limit, so sessions admitted under the old config stay counted.
#[derive(Debug)]
pub struct Slots {
    active: AtomicU32,
    limit: AtomicU32,
}

/// An admitted session; dropping it frees the slot.
#[derive(Debug)]
pub struct SessionGuard {
    slots: Arc<Slots>,
    gauge: IntGauge,
}

impl Slots {
    pub fn new(limit: u32) -> Arc<Slots> {
        Arc::new(Slots {
            active: AtomicU32::new(0),
            limit: AtomicU32::new(limit),
        })
    }

    pub fn set_limit(&self, limit: u32) {
        self.limit.store(limit, Ordering::Release);
    }

    pub fn limit(&self) -> u32 {
        self.limit.load(Ordering::Acquire)
    }

    pub fn active(&self) -> u32 {
        self.active.load(Ordering::Acquire)
    }

    /// Takes a slot if the tenant is under its limit. A lowered limit refuses new sessions until
    /// enough old ones end; it never cuts sessions already admitted.
    pub fn try_acquire(self: &Arc<Self>, gauge: &IntGauge) -> Option<SessionGuard> {
        let limit = self.limit();
        self.active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .ok()?;
        gauge.inc();
        Some(SessionGuard {
            slots: Arc::clone(self),
            gauge: gauge.clone(),
        })
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.slots.active.fetch_sub(1, Ordering::AcqRel);
        self.gauge.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_is_exact_and_slots_come_back() {
        let g = IntGauge::new("g", "g").expect("gauge");
        let s = Slots::new(2);
        let a = s.try_acquire(&g).expect("first");
        let _b = s.try_acquire(&g).expect("second");
        assert!(s.try_acquire(&g).is_none());
        drop(a);
        assert_eq!(s.active(), 1);
        assert!(s.try_acquire(&g).is_some());
        assert_eq!(
            s.active(),
            1,
            "the guard from the last line was dropped at once"
        );
    }

    #[test]
    fn concurrent_acquires_never_exceed_the_limit() {
        let g = IntGauge::new("g", "g").expect("gauge");
        let s = Slots::new(10);
        let held: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        (0..100)
                            .filter_map(|_| s.try_acquire(&g))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("thread"))
                .collect()
        });
        assert_eq!(held.len(), 10);
        assert_eq!(g.get(), 10);
        drop(held);
        assert_eq!(s.active(), 0);
        assert_eq!(g.get(), 0);
    }
}
