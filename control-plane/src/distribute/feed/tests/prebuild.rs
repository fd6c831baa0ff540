//! Builds for no edge yet ([`RegionFeeds::prebuild`]) beside the sessions' builds.

use super::*;

fn one_slot() -> RegionFeeds {
    RegionFeeds {
        slots: BuildSlots::with_slots(1),
        ..RegionFeeds::default()
    }
}

#[test]
fn a_region_a_session_is_building_is_left_to_it() {
    let mut log = Log::new();
    log.on("2025-01-15", tenant("acme", "tokyo", "10.0.0.0/16"));
    let feeds = RegionFeeds::default();
    let gate = feeds.gate(&log.0, "tokyo");
    let building = gate.lock().expect("the session's gate");
    assert!(!feeds.prebuild(&log.0, "tokyo"), "left to the session");
    assert!(feeds.cached("tokyo").is_none());
    assert!(feeds.prebuild(&log.0, "osaka"), "another region is built");
    drop(building);
    assert!(feeds.prebuild(&log.0, "tokyo"));
    assert_eq!(
        feeds.cached("tokyo").map(|b| b.version),
        Some(log.0.version)
    );
    assert!(feeds.prebuild(&log.0, "tokyo"), "built before");
    assert!(!feeds.prebuild(&log.0, "nowhere"), "no such region");
}

/// A prebuild waiting for a slot holds no region's gate: a session of its region waits for a
/// slot as an urgent build, ahead of it.
#[test]
fn a_prebuild_waiting_for_a_slot_leaves_its_region_to_the_sessions() {
    let mut log = Log::new();
    log.on("2025-01-15", tenant("acme", "tokyo", "10.0.0.0/16"));
    let (feeds, state) = (Arc::new(one_slot()), Arc::new(log.0));
    let (held_tx, held_rx) = std::sync::mpsc::channel();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let holder = {
        let feeds = Arc::clone(&feeds);
        std::thread::spawn(move || {
            feeds.slots.run(Priority::Urgent, || {
                held_tx.send(()).expect("the test waits");
                go_rx.recv().expect("the test says go");
            })
        })
    };
    held_rx.recv().expect("the slot is held");
    let prebuild = {
        let (feeds, state) = (Arc::clone(&feeds), Arc::clone(&state));
        std::thread::spawn(move || feeds.prebuild(&state, "tokyo"))
    };
    crate::distribute::spin_until("the prebuild waits for a slot", || {
        feeds.slots.waiting(Priority::Background) == 1
    });
    assert!(
        feeds.gate(&state, "tokyo").try_lock().is_ok(),
        "the region's gate is free while the prebuild waits"
    );
    let session = {
        let (feeds, state) = (Arc::clone(&feeds), Arc::clone(&state));
        std::thread::spawn(move || feeds.get(&state, "tokyo"))
    };
    crate::distribute::spin_until("the session waits for a slot", || {
        feeds.slots.waiting(Priority::Urgent) == 1
    });
    go_tx.send(()).expect("the holder waits");
    holder.join().expect("no panic");
    let built = session.join().expect("no panic");
    assert_eq!(built.version, state.version);
    // Found built, or left to the session if it still held the gate: built once either way.
    prebuild.join().expect("no panic");
    let cached = feeds.cached("tokyo").expect("cached");
    assert!(Arc::ptr_eq(&cached, &built), "built once");
}
