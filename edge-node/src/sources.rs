//! Which tenant a client belongs to: longest-prefix match of its IPv4 source address over the
//! registered source CIDRs of the region's tenants.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use rustc_hash::FxHashMap;

/// Source CIDRs compiled for lookup: one hash map per prefix length present, longest first, so a
/// lookup costs at most one probe per distinct prefix length.
#[derive(Debug, Default)]
pub struct SourceTable {
    by_len: Vec<(u8, FxHashMap<u32, usize>)>,
}

impl SourceTable {
    /// `entries` pairs each network with the index of its tenant.
    pub fn build(entries: impl IntoIterator<Item = (Ipv4Net, usize)>) -> SourceTable {
        let mut by_len: Vec<(u8, FxHashMap<u32, usize>)> = Vec::new();
        for (net, tenant) in entries {
            let len = net.prefix_len();
            let key = u32::from(net.network());
            match by_len.iter_mut().find(|(l, _)| *l == len) {
                Some((_, map)) => {
                    map.entry(key).or_insert(tenant);
                }
                None => by_len.push((len, FxHashMap::from_iter([(key, tenant)]))),
            }
        }
        by_len.sort_by_key(|(len, _)| std::cmp::Reverse(*len));
        SourceTable { by_len }
    }

    pub fn lookup(&self, addr: Ipv4Addr) -> Option<usize> {
        let bits = u32::from(addr);
        self.by_len.iter().find_map(|(len, map)| {
            let mask = if *len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(*len))
            };
            map.get(&(bits & mask)).copied()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().expect("net")
    }

    #[test]
    fn longest_prefix_wins_and_unknown_is_none() {
        let t = SourceTable::build([
            (net("10.0.0.0/8"), 0),
            (net("10.1.0.0/16"), 1),
            (net("192.0.2.7/32"), 2),
        ]);
        assert_eq!(t.lookup("10.2.3.4".parse().expect("ip")), Some(0));
        assert_eq!(t.lookup("10.1.3.4".parse().expect("ip")), Some(1));
        assert_eq!(t.lookup("192.0.2.7".parse().expect("ip")), Some(2));
        assert_eq!(t.lookup("192.0.2.8".parse().expect("ip")), None);
    }
}
