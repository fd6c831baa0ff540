//! The IPv4 table: longest-prefix match with one hash map per prefix length in use.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use rustc_hash::FxHashMap;

use super::Cand;

/// CIDR candidates grouped by prefix length, longest first, so the first hit is the longest
/// prefix. A lookup probes only the lengths that have a network overlapping the address's /12
/// (`by_top12`), so an address far from every listed network costs one read, not one probe per
/// length in use.
#[derive(Debug, Default)]
pub(super) struct CidrTable {
    by_len: Vec<(u8, FxHashMap<u32, Vec<Cand>>)>,
    /// For each /12 (by the address's top 12 bits), an index into `masks`; empty until `finish`
    /// and when there are no networks. 8 KiB: a /16 index would cost 128 KiB per tenant.
    by_top12: Box<[u16]>,
    /// Bit `i` set: `by_len[i]` has a network overlapping the /12.
    masks: Box<[u64]>,
    count: usize,
}

fn mask(addr: u32, len: u8) -> u32 {
    match len {
        0 => 0,
        _ => addr & (u32::MAX << (32 - u32::from(len.min(32)))),
    }
}

impl CidrTable {
    pub(super) fn insert(&mut self, net: Ipv4Net, cand: Cand) {
        let len = net.prefix_len();
        let key = mask(u32::from(net.network()), len);
        let slot = match self.by_len.iter().position(|(l, _)| *l == len) {
            Some(i) => i,
            None => {
                self.by_len.push((len, FxHashMap::default()));
                self.by_len.len() - 1
            }
        };
        self.by_len[slot].1.entry(key).or_default().push(cand);
        self.count += 1;
    }

    /// Longest prefix first; candidates of one network stay in rule order (insertion order).
    pub(super) fn finish(&mut self) {
        self.by_len.sort_by_key(|(len, _)| std::cmp::Reverse(*len));
        for (_, map) in &mut self.by_len {
            for cands in map.values_mut() {
                cands.dedup_by_key(|c| c.rule);
                cands.shrink_to_fit();
            }
            map.shrink_to_fit();
        }
        if !self.by_len.is_empty() {
            self.index_top12();
        }
    }

    /// Fills `by_top12` and `masks`. At most 33 lengths, so a length's bit fits a `u64`.
    fn index_top12(&mut self) {
        let mut per12 = vec![0u64; 1 << 12];
        for (i, (len, map)) in self.by_len.iter().enumerate() {
            for &net in map.keys() {
                let first = net >> 20;
                let last = (net | !mask(u32::MAX, *len)) >> 20;
                for m in &mut per12[first as usize..=last as usize] {
                    *m |= 1 << i;
                }
            }
        }
        let mut masks = vec![0u64];
        let mut seen: FxHashMap<u64, u16> = FxHashMap::default();
        seen.insert(0, 0);
        let by_top12 = per12
            .iter()
            .map(|&m| {
                *seen.entry(m).or_insert_with(|| {
                    masks.push(m);
                    // 4,096 /12s give at most 4,096 distinct masks.
                    (masks.len() - 1) as u16
                })
            })
            .collect();
        self.by_top12 = by_top12;
        self.masks = masks.into();
    }

    /// The candidate of the longest matching prefix whose rule is `allowed`; a network whose
    /// rules all refuse the port falls through to the next shorter one.
    pub(super) fn find(&self, addr: Ipv4Addr, allowed: impl Fn(&Cand) -> bool) -> Option<Cand> {
        let addr = u32::from(addr);
        let slot = self.by_top12.get((addr >> 20) as usize).copied();
        let mut lens = slot.and_then(|i| self.masks.get(usize::from(i))).copied()?;
        while lens != 0 {
            let i = lens.trailing_zeros() as usize;
            lens &= lens - 1;
            let Some((len, map)) = self.by_len.get(i) else {
                break;
            };
            let hit = map
                .get(&mask(addr, *len))
                .and_then(|cands| cands.iter().find(|c| allowed(c)));
            if hit.is_some() {
                return hit.copied();
            }
        }
        None
    }

    pub(super) fn len(&self) -> usize {
        self.count
    }
}
