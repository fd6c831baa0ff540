//! The domain-name table: one hash map keyed by domain suffix, probed with every label-aligned
//! suffix of the request host (`a.b.c.com`, `b.c.com`, `c.com`, `com`) as borrowed slices.
//!
//! Laid out for the lookup's cache misses (measured with `perf` on the matcher benchmark): a key
//! of up to [`INLINE`] bytes is stored in the map's own slot, and a slot's candidates are ranges of
//! flat arrays, so a probe that hits reads the slot and then the candidates, never a separately
//! allocated key or vector.

use std::borrow::Borrow;
use std::cmp::Reverse;
use std::hash::{Hash, Hasher};

use rustc_hash::{FxHashMap, FxHashSet};

use super::glob::labels_match;
use super::Cand;

/// Keys this long or shorter live inside the hash map's slots.
const INLINE: usize = 38;

/// A domain name as a hash-map key: inline when short, boxed otherwise. Hashes and compares as
/// its bytes, so the map can be probed with a borrowed `&[u8]`.
#[derive(Clone, Debug)]
enum Key {
    Inline { len: u8, bytes: [u8; INLINE] },
    Boxed(Box<[u8]>),
}

impl Key {
    fn new(name: &str) -> Key {
        let b = name.as_bytes();
        match u8::try_from(b.len()) {
            Ok(len) if b.len() <= INLINE => {
                let mut bytes = [0u8; INLINE];
                bytes[..b.len()].copy_from_slice(b);
                Key::Inline { len, bytes }
            }
            _ => Key::Boxed(b.into()),
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            Key::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Key::Boxed(b) => b,
        }
    }
}

impl Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Key {}

/// Exact hosts, `*.suffix` parents and pattern anchors, all in one map.
#[derive(Debug, Default)]
pub(super) struct NameTable {
    /// Until [`NameTable::finish`], each node's `exact` is its id in insertion order, and its
    /// candidates wait here as `(id, candidate)` in insertion (rule) order.
    pending: Pending,
    nodes: FxHashMap<Key, Node>,
    /// Exact and subdomain candidates of every node, each node's in one run.
    cands: Box<[Cand]>,
    patterns: Box<[PatternCand]>,
    pattern_count: usize,
}

#[derive(Debug, Default)]
struct Pending {
    exact: Vec<(u32, Cand)>,
    subdomains: Vec<(u32, Cand)>,
    patterns: Vec<(u32, PatternCand)>,
}

/// Everything anchored at one domain name, as ranges of `NameTable::cands` and `patterns`, each
/// in precedence order: a lookup takes the first candidate whose rule allows the port.
#[derive(Clone, Copy, Debug, Default)]
struct Node {
    /// `cands[exact..subdomains]`: rules naming this host exactly;
    /// `cands[subdomains..end]`: rules naming `*.<this host>` (strict subdomains).
    exact: u32,
    subdomains: u32,
    end: u32,
    /// `patterns[patterns..patterns_end]`: patterns whose longest literal label suffix is this
    /// host.
    patterns: u32,
    patterns_end: u32,
    /// Whether a pattern is anchored at a proper suffix of this name: if not, a `*.suffix` hit
    /// here is final (no shorter suffix can hold a pattern, which would outrank it).
    patterns_below: bool,
}

#[derive(Clone, Debug)]
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

/// The position of the first `.` in `b` (a plain byte loop: labels are short, and `str::find`
/// costs more in call overhead than it saves).
#[inline]
fn dot(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'.')
}

impl NameTable {
    /// Room for `n` more names without rehashing.
    pub(super) fn reserve(&mut self, n: usize) {
        self.nodes.reserve(n);
    }

    pub(super) fn insert_exact(&mut self, host: &str, cand: Cand) {
        let id = self.id(host);
        self.pending.exact.push((id, cand));
    }

    pub(super) fn insert_subdomains(&mut self, parent: &str, cand: Cand) {
        let id = self.id(parent);
        self.pending.subdomains.push((id, cand));
    }

    /// `prefix` and `anchor` as returned by [`split_pattern`].
    pub(super) fn insert_pattern(&mut self, prefix: &str, anchor: &str, cand: Cand) {
        let literal = prefix.bytes().filter(|&b| b != b'*' && b != b'.').count();
        let id = self.id(anchor);
        let pc = PatternCand {
            prefix: prefix.into(),
            literal,
            cand,
        };
        self.pending.patterns.push((id, pc));
        self.pattern_count += 1;
    }

    /// The id of `key`'s node, created if new.
    fn id(&mut self, key: &str) -> u32 {
        let next = self.nodes.len() as u32;
        self.nodes
            .entry(Key::new(key))
            .or_insert(Node {
                exact: next,
                ..Node::default()
            })
            .exact
    }

    /// Lays every node's candidates out in precedence order, without duplicates. Candidates were
    /// inserted in rule order, so a stable sort by node keeps exact and subdomain lists sorted by
    /// rule, and keeps rule order among equally specific patterns.
    pub(super) fn finish(&mut self) {
        let Pending {
            mut exact,
            mut subdomains,
            mut patterns,
        } = std::mem::take(&mut self.pending);
        exact.sort_by_key(|(id, _)| *id);
        subdomains.sort_by_key(|(id, _)| *id);
        patterns.sort_by(|(ia, a), (ib, b)| {
            (ia, Reverse(a.literal), a.cand.rule, &a.prefix).cmp(&(
                ib,
                Reverse(b.literal),
                b.cand.rule,
                &b.prefix,
            ))
        });
        // Spans by node id: exact, subdomains, end, patterns, patterns_end.
        let mut spans = vec![[0u32; 5]; self.nodes.len()];
        let mut cands = Vec::with_capacity(exact.len() + subdomains.len());
        let mut pats: Vec<PatternCand> = Vec::with_capacity(patterns.len());
        let (mut e, mut s, mut p) = (0, 0, 0);
        for (id, span) in spans.iter_mut().enumerate() {
            let id = id as u32;
            span[0] = cands.len() as u32;
            take_rules(&exact, &mut e, id, &mut cands);
            span[1] = cands.len() as u32;
            take_rules(&subdomains, &mut s, id, &mut cands);
            span[2] = cands.len() as u32;
            span[3] = pats.len() as u32;
            let first = pats.len();
            while let Some((_, pc)) = patterns.get_mut(p).filter(|x| x.0 == id) {
                let dup = pats[first..]
                    .last()
                    .is_some_and(|l| l.cand.rule == pc.cand.rule && l.prefix == pc.prefix);
                if !dup {
                    pats.push(PatternCand {
                        prefix: std::mem::take(&mut pc.prefix),
                        literal: pc.literal,
                        cand: pc.cand,
                    });
                }
                p += 1;
            }
            span[4] = pats.len() as u32;
        }
        // Owned: the loop below holds the map mutably. Pattern anchors are few.
        let anchors: FxHashSet<Vec<u8>> = self
            .nodes
            .iter()
            .filter(|(_, n)| spans.get(n.exact as usize).is_some_and(|s| s[3] < s[4]))
            .map(|(k, _)| k.as_bytes().to_vec())
            .collect();
        for (key, node) in self.nodes.iter_mut() {
            let mut rest = key.as_bytes();
            let mut patterns_below = false;
            while let Some(d) = dot(rest).filter(|_| !anchors.is_empty()) {
                rest = &rest[d + 1..];
                patterns_below |= anchors.contains(rest);
            }
            let [exact, subdomains, end, patterns, patterns_end] =
                spans.get(node.exact as usize).copied().unwrap_or_default();
            *node = Node {
                exact,
                subdomains,
                end,
                patterns,
                patterns_end,
                patterns_below,
            };
        }
        self.cands = cands.into();
        self.patterns = pats.into();
        self.nodes.shrink_to_fit();
    }

    /// The winning candidate for canonical `host` among those `allowed` (the port filter).
    ///
    /// One pass over the host's suffixes, longest first, which is also the order of decreasing
    /// anchor length. An exact hit returns at once; so does the first pattern hit, because a
    /// pattern outranks every suffix rule and later (shorter) anchors only hold weaker patterns.
    /// The first suffix hit is the longest one, and is returned once no shorter suffix holds a
    /// pattern.
    pub(super) fn find(&self, host: &str, allowed: impl Fn(&Cand) -> bool) -> Option<Cand> {
        let b = host.as_bytes();
        let mut start = 0;
        let mut best_suffix: Option<Cand> = None;
        loop {
            let key = &b[start..];
            if let Some(node) = self.nodes.get(key) {
                if start == 0 {
                    let exact = self.run(node.exact, node.subdomains);
                    if let Some(c) = exact.iter().find(|c| allowed(c)) {
                        return Some(*c);
                    }
                } else {
                    // The labels in front of the anchor, without the joining dot.
                    let front = &host[..start - 1];
                    let pats = self
                        .patterns
                        .get(node.patterns as usize..node.patterns_end as usize)
                        .unwrap_or_default();
                    let hit = pats
                        .iter()
                        .find(|p| allowed(&p.cand) && labels_match(&p.prefix, front));
                    if let Some(p) = hit {
                        return Some(p.cand);
                    }
                    if best_suffix.is_none() {
                        let subs = self.run(node.subdomains, node.end);
                        best_suffix = subs.iter().find(|c| allowed(c)).copied();
                        if best_suffix.is_some() && !node.patterns_below {
                            return best_suffix;
                        }
                    }
                }
            }
            match dot(key) {
                Some(d) => start += d + 1,
                None => return best_suffix,
            }
        }
    }

    fn run(&self, from: u32, to: u32) -> &[Cand] {
        self.cands
            .get(from as usize..to as usize)
            .unwrap_or_default()
    }

    pub(super) fn len(&self) -> usize {
        self.nodes.len()
    }

    pub(super) fn pattern_count(&self) -> usize {
        self.pattern_count
    }
}

/// Moves the candidates of node `id` from `sorted[*i..]` to `out`, one per rule.
fn take_rules(sorted: &[(u32, Cand)], i: &mut usize, id: u32, out: &mut Vec<Cand>) {
    let first = out.len();
    while let Some(&(_, c)) = sorted.get(*i).filter(|x| x.0 == id) {
        if out[first..].last().is_none_or(|last| last.rule != c.rule) {
            out.push(c);
        }
        *i += 1;
    }
}
