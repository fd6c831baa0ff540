//! Writing the tables as JavaScript data in front of the fixed lookup code (`runtime.js`).
//!
//! Everything is emitted from sorted maps and interned in first-use order, so the same input
//! gives the same bytes. One key per line keeps a diff between two versions readable.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::tables::{Pat, Tables};

/// The fixed lookup code; the [`PLACEHOLDER`] line is replaced by [`DNS_FALLBACK`] or removed.
const RUNTIME: &str = include_str!("runtime.js");
const PLACEHOLDER: &str = "  /*IP_RULES*/\n";

/// Only with `ip_rules`: the one place a generated PAC may call `dnsResolve`.
const DNS_FALLBACK: &str = "  a = dnsResolve(h);
  a = a ? bkIp4(String(a)) : -1;
  if (a >= 0) return bkAddress(a, port);
";

/// Interned result strings and port sets, shared by the exception and rule tables.
#[derive(Default)]
pub(super) struct Interner {
    pub results: Vec<String>,
    pub port_sets: Vec<Vec<u16>>,
}

impl Interner {
    pub fn result(&mut self, r: &str) -> usize {
        intern(&mut self.results, r.to_string())
    }

    /// `None` for "every port" (an empty port list).
    pub fn ports(&mut self, ports: &[u16]) -> Option<usize> {
        if ports.is_empty() {
            return None;
        }
        let mut p = ports.to_vec();
        p.sort_unstable();
        p.dedup();
        Some(intern(&mut self.port_sets, p))
    }
}

fn intern<T: PartialEq>(v: &mut Vec<T>, x: T) -> usize {
    match v.iter().position(|y| *y == x) {
        Some(i) => i,
        None => {
            v.push(x);
            v.len() - 1
        }
    }
}

/// What a rule contributes to a candidate list: (port set, result index).
pub(super) type RuleOut = (Option<usize>, usize);

/// Switches of the lookup code.
pub(super) struct Flags {
    pub plain_direct: bool,
    pub private_direct: bool,
    pub ip_rules: bool,
}

/// The body of the PAC (everything after the header comment).
pub(super) fn body(
    interner: &Interner,
    default: usize,
    flags: &Flags,
    except: &Tables,
    except_rules: &[RuleOut],
    rules: &Tables,
    rule_outs: &[RuleOut],
) -> String {
    let mut s = String::with_capacity(64 * 1024);
    s.push_str("var RESULTS = [");
    for (i, r) in interner.results.iter().enumerate() {
        let sep = if i == 0 { "" } else { ", " };
        let _ = write!(s, "{sep}{}", string(r));
    }
    let _ = writeln!(s, "];\nvar DEFAULT = {default};");
    let _ = writeln!(
        s,
        "var PLAIN_DIRECT = {}, PRIVATE_DIRECT = {};",
        flags.plain_direct, flags.private_direct
    );
    s.push_str("var PORTS = [");
    for (i, p) in interner.port_sets.iter().enumerate() {
        let sep = if i == 0 { "" } else { ", " };
        let list: Vec<String> = p.iter().map(u16::to_string).collect();
        let _ = write!(s, "{sep}[{}]", list.join(","));
    }
    s.push_str("];\n\n// Local exceptions: always DIRECT.\nvar EXCEPT = ");
    table(&mut s, except, except_rules);
    s.push_str(";\n\n// The tenant's rules.\nvar RULES = ");
    table(&mut s, rules, rule_outs);
    s.push_str(";\n");
    let dns = if flags.ip_rules { DNS_FALLBACK } else { "" };
    s.push_str(&RUNTIME.replace(PLACEHOLDER, dns));
    s
}

fn table(s: &mut String, t: &Tables, outs: &[RuleOut]) {
    // One node per name: [exact, *.name, patterns anchored at name], -1 where there are none.
    type Node<'a> = (
        Option<&'a Vec<usize>>,
        Option<&'a Vec<usize>>,
        Option<&'a Vec<Pat>>,
    );
    let mut nodes: BTreeMap<&str, Node> = BTreeMap::new();
    for (k, v) in &t.exact {
        nodes.entry(k).or_default().0 = Some(v);
    }
    for (k, v) in &t.suffix {
        nodes.entry(k).or_default().1 = Some(v);
    }
    for (k, v) in &t.patterns {
        nodes.entry(k).or_default().2 = Some(v);
    }
    let ranges = t.ranges();
    let any = u8::from(!nodes.is_empty() || !ranges.is_empty());
    let _ = write!(s, "{{any: {any}, n: {},\nm: {{", t.pattern_count);
    names(s, &nodes, |s, (exact, suffix, patterns)| {
        s.push('[');
        cands(s, exact.map_or(&[][..], |v| v), outs);
        s.push_str(", ");
        cands(s, suffix.map_or(&[][..], |v| v), outs);
        if let Some(pats) = patterns {
            s.push_str(", [");
            for (i, p) in pats.iter().enumerate() {
                pattern(s, i, p, outs);
            }
            s.push(']');
        }
        s.push(']');
    });
    s.push_str("},\nc: [[");
    for (i, (start, _)) in ranges.iter().enumerate() {
        let sep = if i == 0 { "" } else { "," };
        let _ = write!(s, "{sep}{start}");
    }
    s.push_str("],\n[");
    for (i, (_, rules)) in ranges.iter().enumerate() {
        s.push_str(if i == 0 { "" } else { "," });
        cands(s, rules, outs);
    }
    s.push_str("]]}");
}

/// `[labels, head, tail, glob, portSet, result]`: head and tail are the literal text before the
/// first and after the last `*`; glob is the whole prefix for shExpMatch when it holds more
/// than one `*` (0 otherwise: head and tail then decide alone).
fn pattern(s: &mut String, i: usize, p: &Pat, outs: &[RuleOut]) {
    let (ports, result) = outs[p.rule];
    let first = p.prefix.find('*').unwrap_or(0);
    let last = p.prefix.rfind('*').unwrap_or(0);
    let glob = match first == last {
        true => "0".to_string(),
        false => string(&p.prefix),
    };
    let sep = if i == 0 { "" } else { ", " };
    let _ = write!(
        s,
        "{sep}[{}, {}, {}, {glob}, {}, {result}]",
        p.labels,
        string(&p.prefix[..first]),
        string(&p.prefix[last + 1..]),
        port_index(ports)
    );
}

/// The name map: `{".name": node, ...}`, one entry per line. Keys get a leading dot so that none
/// is ever an `Object.prototype` member (see `bkNames`).
fn names<V>(s: &mut String, m: &BTreeMap<&str, V>, mut value: impl FnMut(&mut String, &V)) {
    for (i, (k, v)) in m.iter().enumerate() {
        let sep = if i == 0 { "\n" } else { ",\n" };
        let _ = write!(s, "{sep}{}: ", string(&format!(".{k}")));
        value(s, v);
    }
    if !m.is_empty() {
        s.push('\n');
    }
}

/// A candidate list (rule indices in precedence order) as the lookup code reads it: -1 when
/// empty, the result index when every port gets the same result, else `[portSet, result, ...]`
/// up to and including the first candidate for every port (later ones can never be picked).
fn cands(s: &mut String, rules: &[usize], outs: &[RuleOut]) {
    if rules.is_empty() {
        s.push_str("-1");
        return;
    }
    let mut list: Vec<RuleOut> = Vec::new();
    for &rule in rules {
        list.push(outs[rule]);
        if outs[rule].0.is_none() {
            break;
        }
    }
    let ends_open = list.last().is_some_and(|(p, _)| p.is_none());
    if ends_open && list.iter().all(|(_, r)| *r == list[0].1) {
        let _ = write!(s, "{}", list[0].1);
        return;
    }
    s.push('[');
    for (i, (ports, result)) in list.iter().enumerate() {
        let sep = if i == 0 { "" } else { "," };
        let _ = write!(s, "{sep}{},{result}", port_index(*ports));
    }
    s.push(']');
}

fn port_index(p: Option<usize>) -> i64 {
    p.map_or(-1, |i| i as i64)
}

/// A JSON (and so JS) string literal. `<`, `>`, `&` and U+2028/9 are escaped too, so the text
/// is also safe inside HTML or an older engine's string grammar.
pub(super) fn string(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || "<>&\u{2028}\u{2029}".contains(c) || !c.is_ascii() => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
