//! A bound on the region builds a node runs at once.

use std::sync::{Condvar, Mutex};

/// How many regions a node builds at once: half its cores, at least one. Builds are CPU-bound
/// and share the cores with the Raft core loop and the QUIC endpoint: with all 20 regions of a
/// 100,000-tenant template change building at once on 2 cores (3 nodes and the simulator), the
/// Raft leader changed in both runs, and the nodes' memory rose with the builds in flight.
pub struct BuildSlots {
    free: Mutex<usize>,
    freed: Condvar,
}

impl Default for BuildSlots {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        BuildSlots {
            free: Mutex::new((cores / 2).max(1)),
            freed: Condvar::new(),
        }
    }
}

impl BuildSlots {
    /// Runs `build` in a slot, waiting for one (blocking threads only).
    pub fn run<T>(&self, build: impl FnOnce() -> T) -> T {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= 1;
        drop(free);
        // Given back even if the build panics (the session reports the panic as an error).
        struct Release<'a>(&'a BuildSlots);
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                *self.0.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                self.0.freed.notify_one();
            }
        }
        let _release = Release(self);
        build()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};

    use super::*;

    fn with_slots(n: usize) -> BuildSlots {
        BuildSlots {
            free: Mutex::new(n),
            freed: Condvar::new(),
        }
    }

    #[test]
    fn no_more_builds_at_once_than_slots_and_a_panic_gives_its_slot_back() {
        let slots = Arc::new(with_slots(2));
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let start = Arc::new(Barrier::new(6));
        let threads: Vec<_> = (0..6)
            .map(|_| {
                let (slots, running, most, start) = (
                    Arc::clone(&slots),
                    Arc::clone(&running),
                    Arc::clone(&most),
                    Arc::clone(&start),
                );
                std::thread::spawn(move || {
                    start.wait();
                    slots.run(|| {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::yield_now();
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                })
            })
            .collect();
        for t in threads {
            t.join().expect("a build");
        }
        assert!(most.load(Ordering::SeqCst) <= 2);

        let one = with_slots(1);
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            one.run(|| panic!("a build that panics"))
        }));
        assert!(panicked.is_err());
        assert_eq!(one.run(|| 7), 7, "the slot came back");
    }
}
