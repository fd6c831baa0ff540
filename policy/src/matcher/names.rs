//! The domain-name table: one hash map keyed by domain suffix, probed with every label-aligned
//! suffix of the request host (`a.b.c.com`, `b.c.com`, `c.com`, `com`) as borrowed slices.

use std::cmp::Reverse;

use rustc_hash::FxHashMap;

use super::glob::labels_match;
use super::Cand;

/// Exact hosts, `*.suffix` parents and pattern anchors, all in one map.
#[derive(Debug, Default)]
pub(super) struct NameTable {
    nodes: FxHashMap<Box<str>, Node>,
    patterns: usize,
}

/// Everything anchored at one domain name. Each vector is in precedence order (see
/// [`NameTable::finish`]), so a lookup takes the first candidate whose rule allows the port.
#[derive(Debug, Default)]
struct Node {
    /// Rules naming this host exactly.
    exact: Vec<Cand>,
    /// Rules naming `*.<this host>` (strict subdomains).
    subdomains: Vec<Cand>,
    /// Patterns whose longest literal label suffix is this host.
    patterns: Vec<PatternCand>,
}

#[derive(Debug)]
struct PatternCand {
    /// The labels before the anchor, e.g. `autodiscover.*` for `autodiscover.*.onmicrosoft.com`.
    prefix: Box<str>,
    /// Non-`*` characters in `prefix`: the tie-break between patterns on the same anchor.
    literal: usize,
    cand: Cand,
}

/// Splits a pattern at its longest literal label suffix: `("autodiscover.*", "onmicrosoft.com")`.
/// `None` if the last label holds a `*` (there would be no anchor).
pub(super) fn split_pattern(pattern: &str) -> Option<(&str, &str)> {
    let star = pattern.rfind('*')?;
    let dot = star + pattern[star..].find('.')?;
    Some((&pattern[..dot], &pattern[dot + 1..]))
}

impl NameTable {
    pub(super) fn insert_exact(&mut self, host: &str, cand: Cand) {
        self.node(host).exact.push(cand);
    }

    pub(super) fn insert_subdomains(&mut self, parent: &str, cand: Cand) {
        self.node(parent).subdomains.push(cand);
    }

    /// `prefix` and `anchor` as returned by [`split_pattern`].
    pub(super) fn insert_pattern(&mut self, prefix: &str, anchor: &str, cand: Cand) {
        let literal = prefix.bytes().filter(|&b| b != b'*' && b != b'.').count();
        self.node(anchor).patterns.push(PatternCand {
            prefix: prefix.into(),
            literal,
            cand,
        });
        self.patterns += 1;
    }

    fn node(&mut self, key: &str) -> &mut Node {
        self.nodes.entry(key.into()).or_default()
    }

    /// Puts every node's candidates in precedence order and drops duplicates. Candidates were
    /// inserted in rule order, so exact and subdomain vectors are already sorted by rule; a stable
    /// sort keeps that order among equally specific patterns.
    pub(super) fn finish(&mut self) {
        for node in self.nodes.values_mut() {
            node.exact.dedup_by_key(|c| c.rule);
            node.subdomains.dedup_by_key(|c| c.rule);
            node.patterns.sort_by(|a, b| {
                (Reverse(a.literal), a.cand.rule, &a.prefix).cmp(&(
                    Reverse(b.literal),
                    b.cand.rule,
                    &b.prefix,
                ))
            });
            node.patterns
                .dedup_by(|b, a| a.cand.rule == b.cand.rule && a.prefix == b.prefix);
            node.exact.shrink_to_fit();
            node.subdomains.shrink_to_fit();
            node.patterns.shrink_to_fit();
        }
        self.nodes.shrink_to_fit();
    }

    /// The winning candidate for canonical `host` among those `allowed` (the port filter).
    ///
    /// One pass over the host's suffixes, longest first, which is also the order of decreasing
    /// anchor length. An exact hit returns at once; so does the first pattern hit, because a
    /// pattern outranks every suffix rule and later (shorter) anchors only hold weaker patterns.
    /// The first suffix hit is the longest one, but is only returned once no pattern can match.
    pub(super) fn find(&self, host: &str, allowed: impl Fn(&Cand) -> bool) -> Option<Cand> {
        let mut best_suffix: Option<Cand> = None;
        let mut start = 0;
        loop {
            let key = &host[start..];
            if let Some(node) = self.nodes.get(key) {
                if start == 0 {
                    if let Some(c) = node.exact.iter().find(|c| allowed(c)) {
                        return Some(*c);
                    }
                } else {
                    // The labels in front of the anchor, without the joining dot.
                    let front = &host[..start - 1];
                    let hit = node
                        .patterns
                        .iter()
                        .find(|p| allowed(&p.cand) && labels_match(&p.prefix, front));
                    if let Some(p) = hit {
                        return Some(p.cand);
                    }
                    if best_suffix.is_none() {
                        best_suffix = node.subdomains.iter().find(|c| allowed(c)).copied();
                        if best_suffix.is_some() && self.patterns == 0 {
                            return best_suffix;
                        }
                    }
                }
            }
            match key.find('.') {
                Some(dot) => start += dot + 1,
                None => return best_suffix,
            }
        }
    }

    pub(super) fn len(&self) -> usize {
        self.nodes.len()
    }

    pub(super) fn pattern_count(&self) -> usize {
        self.patterns
    }
}
