//! Squid ACL files.
//!
//! - `dstdomain` (`acl x dstdomain "/path"`): `host` and `.parent`. Squid refuses to load
//!   entries one of which covers the other (`.example.com` with `www.example.com` or
//!   `.www.example.com`), so the covered entry is dropped and the covering one kept. `.parent`
//!   also matches `parent` itself, which Breakout's `*.parent` does not: Squid has no
//!   strict-subdomain form outside regular expressions (docs/integration.md).
//! - Patterns with a `*` inside (`autodiscover.*.onmicrosoft.com`) have no `dstdomain` form:
//!   they go to a separate `dstdom_regex` file (one anchored expression per line), unless a
//!   `.parent` entry of the `dstdomain` file already covers every name they match.
//! - IPv4 networks are `dst` ACL lines (`acl x dst "/path"`), rendered when asked for
//!   `kind=cidrs`.

use std::collections::BTreeSet;

use super::{Entry, Kind};
use crate::destination::Destination;

/// A Squid ACL file and what was left out of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SquidOutput {
    pub text: String,
    /// Entries covered by another entry of the same file, dropped.
    pub covered: usize,
    /// Patterns left to the `dstdom_regex` file.
    pub to_regex: usize,
}

/// The `dstdomain` file for the name entries of `entries`, one per line, sorted (IPv4
/// networks are left to [`render_squid_dst`]).
pub fn render_squid(entries: &[&Entry]) -> SquidOutput {
    let suffixes = suffixes(entries);
    let mut lines = BTreeSet::new();
    let mut covered = 0;
    let mut to_regex = 0;
    for e in entries {
        match &e.dest {
            Destination::Exact(h) => {
                if covered_by(h, &suffixes, true) {
                    covered += 1;
                } else {
                    lines.insert(h.clone());
                }
            }
            Destination::Suffix(p) => {
                if covered_by(p, &suffixes, false) {
                    covered += 1;
                } else {
                    lines.insert(format!(".{p}"));
                }
            }
            Destination::Pattern(_) => to_regex += 1,
            Destination::Cidr(_) => {}
        }
    }
    let text = lines.into_iter().fold(String::new(), |mut s, l| {
        s.push_str(&l);
        s.push('\n');
        s
    });
    SquidOutput {
        text,
        covered,
        to_regex,
    }
}

/// The `dst` file for the IPv4 networks of `entries`, one per line, sorted.
pub fn render_squid_dst(entries: &[&Entry]) -> SquidOutput {
    let lines: BTreeSet<String> = entries
        .iter()
        .filter_map(|e| match &e.dest {
            Destination::Cidr(net) => Some(format!("{net}\n")),
            _ => None,
        })
        .collect();
    SquidOutput {
        text: lines.into_iter().collect(),
        covered: 0,
        to_regex: 0,
    }
}

/// The `dstdom_regex` file: one anchored expression per pattern that the `dstdomain` file of
/// the same entries does not already cover.
pub fn render_squid_regex(entries: &[&Entry]) -> SquidOutput {
    let suffixes = suffixes(entries);
    let mut lines = BTreeSet::new();
    let mut covered = 0;
    for e in entries {
        let Destination::Pattern(p) = &e.dest else {
            continue;
        };
        // Every name the pattern matches ends in `.anchor` with a label before it.
        let anchor = anchor(p);
        if !anchor.is_empty() && covered_by(anchor, &suffixes, true) {
            covered += 1;
        } else {
            lines.insert(regex(p));
        }
    }
    let text = lines.into_iter().fold(String::new(), |mut s, l| {
        s.push_str(&l);
        s.push('\n');
        s
    });
    SquidOutput {
        text,
        covered,
        to_regex: 0,
    }
}

fn suffixes<'a>(entries: &[&'a Entry]) -> BTreeSet<&'a str> {
    entries
        .iter()
        .filter(|e| e.kind == Kind::Wildcard)
        .filter_map(|e| match &e.dest {
            Destination::Suffix(p) => Some(p.as_str()),
            _ => None,
        })
        .collect()
}

/// True when some `.parent` of `suffixes` matches `name` in Squid's sense (the name itself or
/// any subdomain); `including_self` says whether `name` itself counts as a parent.
fn covered_by(name: &str, suffixes: &BTreeSet<&str>, including_self: bool) -> bool {
    if including_self && suffixes.contains(name) {
        return true;
    }
    let mut rest = name;
    while let Some((_, parent)) = rest.split_once('.') {
        if suffixes.contains(parent) {
            return true;
        }
        rest = parent;
    }
    false
}

/// The literal labels after the last label holding a `*` (`onmicrosoft.com` for
/// `autodiscover.*.onmicrosoft.com`).
fn anchor(pattern: &str) -> &str {
    match pattern.rfind('*') {
        Some(i) => pattern[i..].split_once('.').map_or("", |(_, rest)| rest),
        None => pattern,
    }
}

/// `^autodiscover\.[^.]*\.onmicrosoft\.com$`: each `*` stays within one label.
fn regex(pattern: &str) -> String {
    let mut out = String::from("^");
    for c in pattern.chars() {
        match c {
            '*' => out.push_str("[^.]*"),
            '.' => out.push_str("\\."),
            c if c.is_ascii_alphanumeric() || c == '-' || c == '_' => out.push(c),
            c => {
                out.push('\\');
                out.push(c);
            }
        }
    }
    out.push('$');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchor_is_the_literal_tail() {
        assert_eq!(anchor("autodiscover.*.onmicrosoft.com"), "onmicrosoft.com");
        assert_eq!(anchor("*cdn.onenote.net"), "onenote.net");
        assert_eq!(anchor("a.b*"), "");
    }

    #[test]
    fn regex_keeps_a_star_inside_one_label() {
        assert_eq!(
            regex("autodiscover.*.onmicrosoft.com"),
            "^autodiscover\\.[^.]*\\.onmicrosoft\\.com$"
        );
    }
}
