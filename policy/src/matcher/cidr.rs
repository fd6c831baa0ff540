//! The IPv4 table: longest-prefix match with one hash map per prefix length in use.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use rustc_hash::FxHashMap;

use super::Cand;

/// CIDR candidates grouped by prefix length, longest first, so a lookup visits only the lengths
/// some rule uses (at most 33 probes) and the first hit is the longest prefix.
#[derive(Debug, Default)]
pub(super) struct CidrTable {
    by_len: Vec<(u8, FxHashMap<u32, Vec<Cand>>)>,
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
    }

    /// The candidate of the longest matching prefix whose rule is `allowed`; a network whose
    /// rules all refuse the port falls through to the next shorter one.
    pub(super) fn find(&self, addr: Ipv4Addr, allowed: impl Fn(&Cand) -> bool) -> Option<Cand> {
        let addr = u32::from(addr);
        self.by_len.iter().find_map(|(len, map)| {
            map.get(&mask(addr, *len))
                .and_then(|cands| cands.iter().find(|c| allowed(c)))
                .copied()
        })
    }

    pub(super) fn len(&self) -> usize {
        self.count
    }
}
