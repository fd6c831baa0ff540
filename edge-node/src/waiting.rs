//! Connections that have not sent their first complete request head yet, counted per source
//! address and capped (`max_pending_per_source`), so that one address cannot hold descriptors
//! open by connecting and sending nothing (or one byte at a time) until the head timeout.
//!
//! A [`Ticket`] is taken at accept and given back when the connection's first head is complete
//! (or refused, or the connection ends). Counts live in a few mutex-guarded maps chosen by
//! address, so different sources rarely share a lock; an address whose count is back to 0 is
//! removed, so the table holds only addresses with a connection waiting.

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, MutexGuard};

use rustc_hash::FxHashMap;

const SHARDS: usize = 32;

/// The waiting connections of every source address.
#[derive(Debug)]
pub struct Waiting {
    shards: Box<[Mutex<FxHashMap<Ipv4Addr, u32>>]>,
}

/// One waiting connection; dropping it gives its place back.
#[derive(Debug)]
pub struct Ticket {
    table: Arc<Waiting>,
    addr: Ipv4Addr,
}

impl Default for Waiting {
    fn default() -> Self {
        Waiting {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }
}

impl Waiting {
    /// A place for one more waiting connection from `addr`, unless it already has `cap`.
    pub fn enter(self: &Arc<Self>, addr: Ipv4Addr, cap: u32) -> Option<Ticket> {
        let mut shard = self.shard(addr);
        let n = shard.entry(addr).or_insert(0);
        if *n >= cap {
            if *n == 0 {
                shard.remove(&addr);
            }
            return None;
        }
        *n += 1;
        Some(Ticket {
            table: Arc::clone(self),
            addr,
        })
    }

    /// Connections from `addr` waiting now.
    pub fn count(&self, addr: Ipv4Addr) -> u32 {
        self.shard(addr).get(&addr).copied().unwrap_or(0)
    }

    /// Addresses with a connection waiting now.
    pub fn sources(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }

    fn shard(&self, addr: Ipv4Addr) -> MutexGuard<'_, FxHashMap<Ipv4Addr, u32>> {
        // Fibonacci hashing: the top bits of the product spread neighbouring addresses.
        let i = (u32::from(addr).wrapping_mul(0x9E37_79B1) >> 27) as usize % SHARDS;
        lock(&self.shards[i])
    }
}

// Held for a map update only; every update leaves the map whole, so a poisoned lock is usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut shard = self.table.shard(self.addr);
        if let Some(n) = shard.get_mut(&self.addr) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                shard.remove(&self.addr);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_holds_per_address_and_places_come_back() {
        let w = Arc::new(Waiting::default());
        let a = Ipv4Addr::new(10, 0, 0, 1);
        let b = Ipv4Addr::new(10, 0, 0, 2);
        let held: Vec<_> = (0..3)
            .map(|_| w.enter(a, 3).expect("under the cap"))
            .collect();
        assert!(w.enter(a, 3).is_none(), "a fourth from the same address");
        let other = w.enter(b, 3).expect("another address is not affected");
        assert_eq!((w.count(a), w.count(b)), (3, 1));
        drop(held);
        assert_eq!(w.count(a), 0);
        assert!(w.enter(a, 3).is_some());
        drop(other);
        assert_eq!(
            w.sources(),
            0,
            "addresses with nothing waiting are forgotten"
        );
        assert!(w.enter(a, 0).is_none());
        assert_eq!(w.sources(), 0);
    }

    #[test]
    fn concurrent_entries_never_exceed_the_cap() {
        let w = Arc::new(Waiting::default());
        let a = Ipv4Addr::new(192, 0, 2, 1);
        let held: Vec<Ticket> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..8)
                .map(|_| s.spawn(|| (0..50).filter_map(|_| w.enter(a, 20)).collect::<Vec<_>>()))
                .collect();
            hs.into_iter()
                .flat_map(|h| h.join().expect("thread"))
                .collect()
        });
        assert_eq!(held.len(), 20);
        drop(held);
        assert_eq!(w.count(a), 0);
    }
}
