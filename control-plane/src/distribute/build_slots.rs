//! A bound on the region builds a node runs at once, the builds edges wait for first.

use std::sync::{Condvar, Mutex};

/// How many regions a node builds at once: half its cores, at least one. Builds are CPU-bound
/// and share the cores with the Raft core loop and the QUIC endpoint: with all 20 regions of a
/// 100,000-tenant template change building at once on 2 cores (3 nodes and the simulator), the
/// Raft leader changed in both runs, and the nodes' memory rose with the builds in flight.
pub struct BuildSlots {
    state: Mutex<Slots>,
    freed: Condvar,
}

struct Slots {
    free: usize,
    /// Builds an edge's session waits for, waiting for a slot: background builds wait for them.
    urgent_waiting: usize,
    /// Background builds waiting for a slot.
    background_waiting: usize,
}

/// Who waits for a build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    /// An edge's session.
    Urgent,
    /// Nobody yet ([`super::prebuild`]): a slot only while no urgent build waits for one.
    Background,
}

impl Slots {
    fn waiting(&mut self, priority: Priority) -> &mut usize {
        match priority {
            Priority::Urgent => &mut self.urgent_waiting,
            Priority::Background => &mut self.background_waiting,
        }
    }
}

impl Default for BuildSlots {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        BuildSlots::with_slots((cores / 2).max(1))
    }
}

impl BuildSlots {
    pub(super) fn with_slots(n: usize) -> BuildSlots {
        BuildSlots {
            state: Mutex::new(Slots {
                free: n,
                urgent_waiting: 0,
                background_waiting: 0,
            }),
            freed: Condvar::new(),
        }
    }

    /// How many builds of `priority` wait for a slot.
    #[cfg(test)]
    pub(super) fn waiting(&self, priority: Priority) -> usize {
        *self.state.lock().expect("slots").waiting(priority)
    }

    /// Runs `build` in a slot, waiting for one (blocking threads only).
    pub fn run<T>(&self, priority: Priority, build: impl FnOnce() -> T) -> T {
        let mut slots = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let urgent = priority == Priority::Urgent;
        *slots.waiting(priority) += 1;
        while slots.free == 0 || (!urgent && slots.urgent_waiting > 0) {
            slots = self.freed.wait(slots).unwrap_or_else(|e| e.into_inner());
        }
        slots.free -= 1;
        *slots.waiting(priority) -= 1;
        drop(slots);
        // Given back even if the build panics (the session reports the panic as an error).
        struct Release<'a>(&'a BuildSlots);
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                self.0.state.lock().unwrap_or_else(|e| e.into_inner()).free += 1;
                // Every waiter: a background one woken alone would leave an urgent one asleep.
                self.0.freed.notify_all();
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

    #[test]
    fn no_more_builds_at_once_than_slots_and_a_panic_gives_its_slot_back() {
        let slots = Arc::new(BuildSlots::with_slots(2));
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
                    slots.run(Priority::Urgent, || {
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

        let one = BuildSlots::with_slots(1);
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            one.run(Priority::Urgent, || panic!("a build that panics"))
        }));
        assert!(panicked.is_err());
        assert_eq!(one.run(Priority::Background, || 7), 7, "the slot came back");
    }

    /// Waits until `ready` holds of the slots' counts.
    fn until(what: &str, slots: &BuildSlots, ready: impl Fn(&Slots) -> bool) {
        crate::distribute::spin_until(what, || ready(&slots.state.lock().expect("slots")));
    }

    #[test]
    fn a_background_build_waits_while_an_urgent_one_does() {
        // Without priorities the order would be whichever waiter is woken first: repeated so
        // that a broken order fails.
        for _ in 0..20 {
            let slots = Arc::new(BuildSlots::with_slots(1));
            let order = Arc::new(Mutex::new(Vec::new()));
            let (held_tx, held_rx) = std::sync::mpsc::channel();
            let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
            // Holds the one slot until told to let go.
            let holder = {
                let slots = Arc::clone(&slots);
                std::thread::spawn(move || {
                    slots.run(Priority::Urgent, || {
                        held_tx.send(()).expect("the test waits");
                        go_rx.recv().expect("the test says go");
                    })
                })
            };
            held_rx.recv().expect("the slot is held");
            let waiter = |priority, name: &'static str| {
                let (slots, order) = (Arc::clone(&slots), Arc::clone(&order));
                std::thread::spawn(move || {
                    slots.run(priority, || order.lock().expect("order").push(name))
                })
            };
            // The background build queued first, the urgent one after it, both counted
            // before the slot is given back.
            let background = waiter(Priority::Background, "background");
            until("the background build waits", &slots, |s| {
                s.background_waiting == 1
            });
            let urgent = waiter(Priority::Urgent, "urgent");
            until("the urgent build waits", &slots, |s| s.urgent_waiting == 1);
            go_tx.send(()).expect("the holder waits");
            for t in [holder, background, urgent] {
                t.join().expect("no panic");
            }
            assert_eq!(*order.lock().expect("order"), ["urgent", "background"]);
        }
    }
}
