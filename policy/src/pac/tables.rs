//! The tenant's destinations sorted into the tables the PAC looks up, in the matcher's precedence
//! order.
//!
//! This mirrors `matcher/compile.rs` and `matcher/names.rs` (which keep their tables private):
//! the same canonicalisation, the same buckets (exact host, `*.parent`, pattern by anchor, IPv4
//! network by prefix length), the same order inside a bucket (rule order; patterns by literal
//! characters, then rule, then text). `policy/tests/pac_*.rs` check the result against
//! `Matcher::decide` through a real PAC engine.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use ipnet::Ipv4Net;

use crate::canon::{canonical_host, Host};
use crate::destination::Destination;
use crate::error::PolicyError;
use crate::model::{NamedList, Tenant};

/// A pattern candidate: `prefix` is everything before the anchor (`autodiscover.*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Pat {
    pub prefix: String,
    /// Labels in `prefix`: a host matches only with exactly this many labels before the anchor.
    pub labels: usize,
    /// Non-`*` characters of `prefix`: the tie-break between patterns on one anchor.
    pub literal: usize,
    pub rule: usize,
}

/// One tenant's (or the exceptions') destinations. Every vector is in precedence order; the
/// maps are sorted, so rendering them is deterministic.
#[derive(Debug, Default)]
pub(super) struct Tables {
    pub exact: BTreeMap<String, Vec<usize>>,
    pub suffix: BTreeMap<String, Vec<usize>>,
    /// By anchor (the pattern's longest literal label suffix).
    pub patterns: BTreeMap<String, Vec<Pat>>,
    /// By prefix length, longest first, then network address.
    pub cidrs: BTreeMap<Reverse<u8>, BTreeMap<u32, Vec<usize>>>,
    pub pattern_count: usize,
}

/// Every destination of `tenant`'s rules with its rule index, in the matcher's insertion order:
/// rule by rule, inline destinations first, then each list (the tenant's own before a shared
/// one of the same name). Unknown lists are skipped; `Matcher::compile` reports them.
pub(super) fn tenant_destinations<'a>(
    tenant: &'a Tenant,
    shared: &'a BTreeMap<String, NamedList>,
) -> Vec<(usize, &'a Destination)> {
    let mut out = Vec::new();
    for (i, rule) in tenant.rules.iter().enumerate() {
        out.extend(rule.destinations.iter().map(|d| (i, d)));
        for name in &rule.lists {
            if let Some(list) = tenant.lists.get(name).or_else(|| shared.get(name)) {
                out.extend(list.entries.iter().map(|d| (i, d)));
            }
        }
    }
    out
}

impl Tables {
    pub(super) fn build<'a>(
        destinations: impl IntoIterator<Item = (usize, &'a Destination)>,
    ) -> Result<Tables, PolicyError> {
        let mut t = Tables::default();
        for (rule, dest) in destinations {
            t.add(rule, dest)
                .map_err(|why| PolicyError::new("", format!("destination {dest}: {why}")))?;
        }
        for v in t.exact.values_mut().chain(t.suffix.values_mut()) {
            v.dedup();
        }
        for nets in t.cidrs.values_mut() {
            for v in nets.values_mut() {
                v.dedup();
            }
        }
        for v in t.patterns.values_mut() {
            v.sort_by(|a, b| {
                (Reverse(a.literal), a.rule, &a.prefix).cmp(&(
                    Reverse(b.literal),
                    b.rule,
                    &b.prefix,
                ))
            });
            v.dedup_by(|b, a| a.rule == b.rule && a.prefix == b.prefix);
        }
        Ok(t)
    }

    fn add(&mut self, rule: usize, dest: &Destination) -> Result<(), String> {
        match dest {
            Destination::Exact(host) => match canonical_host(host).map_err(|e| e.to_string())? {
                Host::Name(n) => push(&mut self.exact, n.into_owned(), rule),
                Host::Ipv4(a) => self.add_cidr(Ipv4Net::from(a), rule),
                Host::Ipv6(_) => return Err("IPv6 destinations are not supported".into()),
            },
            Destination::Suffix(parent) => {
                match canonical_host(parent).map_err(|e| e.to_string())? {
                    Host::Name(n) => push(&mut self.suffix, n.into_owned(), rule),
                    _ => return Err("a wildcard needs a domain name after \"*.\"".into()),
                }
            }
            Destination::Pattern(p) => self.add_pattern(p, rule)?,
            Destination::Cidr(net) => self.add_cidr(net.trunc(), rule),
        }
        Ok(())
    }

    fn add_cidr(&mut self, net: Ipv4Net, rule: usize) {
        let nets = self.cidrs.entry(Reverse(net.prefix_len())).or_default();
        nets.entry(u32::from(net.network())).or_default().push(rule);
    }

    fn add_pattern(&mut self, pattern: &str, rule: usize) -> Result<(), String> {
        let lowered = pattern
            .strip_suffix('.')
            .unwrap_or(pattern)
            .to_ascii_lowercase();
        let Some((prefix, anchor)) = split_pattern(&lowered) else {
            if lowered.contains('*') {
                return Err("the last label may not be a wildcard".into());
            }
            return match canonical_host(&lowered).map_err(|e| e.to_string())? {
                Host::Name(n) => {
                    push(&mut self.exact, n.into_owned(), rule);
                    Ok(())
                }
                _ => Err("not a domain name".into()),
            };
        };
        if prefix.split('.').any(str::is_empty) {
            return Err("empty label".into());
        }
        // The PAC hands the prefix to shExpMatch, where `?` and regular-expression characters
        // may be special; the destination parser only lets these through anyway.
        if !prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_*.".contains(&b))
        {
            return Err(
                "a wildcard label may hold only ASCII letters, digits, '-', '_' and '*'".into(),
            );
        }
        let anchor = match canonical_host(anchor).map_err(|e| e.to_string())? {
            Host::Name(n) => n.into_owned(),
            _ => return Err("a pattern must end in a domain name".into()),
        };
        self.patterns.entry(anchor).or_default().push(Pat {
            prefix: prefix.to_string(),
            labels: prefix.split('.').count(),
            literal: prefix.bytes().filter(|&b| b != b'*' && b != b'.').count(),
            rule,
        });
        self.pattern_count += 1;
        Ok(())
    }
}

impl Tables {
    /// The networks as sorted, disjoint address ranges `(start, candidates)`, each range's
    /// candidates being those of the longest prefix containing it, then of the next shorter
    /// one, and so on: the first candidate whose rule allows the port is the matcher's answer.
    /// A range no network covers has no candidates; equal neighbours are merged. The first
    /// range starts at the lowest network address.
    pub(super) fn ranges(&self) -> Vec<(u32, Vec<usize>)> {
        let mut bounds: Vec<u64> = Vec::new();
        for (len, nets) in &self.cidrs {
            let size = 1u64 << (32 - u32::from(len.0));
            for &start in nets.keys() {
                bounds.push(u64::from(start));
                bounds.push(u64::from(start) + size);
            }
        }
        bounds.sort_unstable();
        bounds.dedup();
        let mut out: Vec<(u32, Vec<usize>)> = Vec::new();
        for b in bounds.into_iter().filter_map(|b| u32::try_from(b).ok()) {
            let mut cands = Vec::new();
            for (len, nets) in &self.cidrs {
                let mask = u32::MAX.checked_shl(32 - u32::from(len.0)).unwrap_or(0);
                if let Some(rules) = nets.get(&(b & mask)) {
                    cands.extend_from_slice(rules);
                }
            }
            if out.last().is_none_or(|(_, prev)| *prev != cands) {
                out.push((b, cands));
            }
        }
        out
    }
}

fn push(map: &mut BTreeMap<String, Vec<usize>>, key: String, rule: usize) {
    map.entry(key).or_default().push(rule);
}

/// `("autodiscover.*", "onmicrosoft.com")` for `autodiscover.*.onmicrosoft.com`; `None` when the
/// last label holds a `*` or there is no `*` (the matcher's `split_pattern`).
fn split_pattern(pattern: &str) -> Option<(&str, &str)> {
    let star = pattern.rfind('*')?;
    let dot = star + pattern[star..].find('.')?;
    Some((&pattern[..dot], &pattern[dot + 1..]))
}
