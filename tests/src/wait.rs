//! Waiting on conditions with a deadline; tests never sleep to synchronise.

use std::time::{Duration, Instant};

/// Polls `cond` until it returns true; panics naming `what` if `timeout` passes first.
pub fn wait_until(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    wait_for(timeout, what, || cond().then_some(()))
}

/// Polls `probe` until it yields a value; panics naming `what` if `timeout` passes first.
pub fn wait_for<T>(timeout: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let mut found = None;
    if poll_until(timeout, || {
        found = probe();
        found.is_some()
    }) {
        if let Some(v) = found {
            return v;
        }
    }
    panic!("timed out after {timeout:?} waiting for: {what}");
}

/// Polls `cond` until it returns true or `timeout` passes; returns whether it became true.
pub fn poll_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    // The interval grows so fast conditions are seen quickly and slow ones cost little CPU.
    let mut interval = Duration::from_millis(5);
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(interval);
        interval = (interval * 2).min(Duration::from_millis(100));
    }
}

/// Short deadline for things that should happen almost at once on loopback.
pub const SOON: Duration = Duration::from_secs(10);
