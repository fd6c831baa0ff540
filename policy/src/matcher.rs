//! The compiled destination matcher: one tenant's rules turned into tables that decide a request
//! in O(labels of the host), without allocating, locking or scanning the rules.
//!
//! # Precedence
//!
//! The most specific matching destination wins, whatever the rule order:
//!
//! 1. an **exact host** (`good.bad.example.com`);
//! 2. a **wildcard pattern** (`autodiscover.*.onmicrosoft.com`, `*-files.sharepoint.com`); among
//!    patterns, the one whose literal label suffix (its *anchor*: `onmicrosoft.com`,
//!    `sharepoint.com`) has more labels wins, then the one with more literal characters;
//! 3. a **strict-subdomain wildcard** (`*.bad.example.com`); the longer parent wins, so `block` on
//!    `*.bad.example.com` beats `direct` on `*.example.com` for `x.bad.example.com`.
//!
//! At equal specificity the earlier rule wins. A rule whose `ports` do not include the request
//! port is skipped and the next candidate in this same order is considered (so a port-restricted
//! exact entry falls through to a pattern or a suffix, not straight to the default).
//!
//! IPv4 literal hosts are matched only against CIDR destinations: the longest prefix wins, then
//! the earlier rule, with the same port fall-through. IPv6 hosts never match a rule. IP literals
//! are never reverse-resolved, and names never match CIDRs.
//!
//! Matching is label-aligned: `*.example.com` matches neither `example.com` nor
//! `fakeexample.com`, and each `*` in a pattern matches within one label (never a dot).
//!
//! # Layout
//!
//! Names live in one hash map keyed by domain name (`names.rs`); a lookup probes it with each
//! label-aligned suffix of the host as a borrowed slice, longest first, and stops once no
//! shorter suffix can change the answer. Each key holds the rules naming it exactly, the rules
//! naming `*.key`, and the patterns anchored at it, as ranges of flat arrays. IPv4 uses one
//! hash map per prefix length in use, and a table by the address's top 12 bits of the lengths
//! worth probing (`cidr.rs`). Every candidate carries its rule and the entry it came from,
//! so [`Matcher::explain`] can say which list and entry decided.

mod cidr;
mod compile;
mod glob;
mod names;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::Serialize;

use self::cidr::CidrTable;
use self::names::NameTable;
use crate::action::Action;
use crate::canon::{Host, HostError};
use crate::destination::Destination;
use crate::error::PolicyError;
use crate::model::{NamedList, Rule, Tenant};

/// One tenant's rules, compiled for O(labels) lookups.
#[derive(Debug)]
pub struct Matcher {
    default_action: Action,
    rules: Box<[CompiledRule]>,
    /// Every destination inserted, indexed by [`Cand::entry`]; read only by `explain`.
    entries: Box<[Entry]>,
    list_names: Box<[Box<str>]>,
    names: NameTable,
    cidrs: CidrTable,
}

/// What the matcher decided for one request: borrowed from the matcher, cheap to copy.
#[derive(Clone, Copy, Debug)]
pub struct Decision<'m> {
    pub action: &'m Action,
    /// Index of the rule that matched; `None` means the default action applied.
    pub rule: Option<usize>,
}

/// A decision with everything that made it, for operators (`explain`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Explanation {
    pub host: String,
    pub port: u16,
    pub action: Action,
    pub rule: Option<usize>,
    pub rule_label: String,
    /// The list the matching entry came from; `None` for an inline destination or the default.
    pub list: Option<String>,
    /// The destination entry that matched, as written canonically.
    pub entry: Option<String>,
}

/// Sizes of the compiled tables, for logs and metrics after a (re)load.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MatcherStats {
    pub rules: usize,
    /// Destinations inserted (inline and from lists, before de-duplication).
    pub entries: usize,
    /// Distinct domain names keyed in the name table.
    pub names: usize,
    pub patterns: usize,
    pub cidrs: usize,
}

/// A rule as the hot path needs it.
#[derive(Debug)]
struct CompiledRule {
    label: Box<str>,
    action: Action,
    /// Sorted and de-duplicated; empty means every port.
    ports: Box<[u16]>,
}

impl CompiledRule {
    fn new(index: usize, rule: &Rule) -> Self {
        let label = match &rule.name {
            Some(name) => name.as_str().into(),
            None => format!("rules[{index}]").into(),
        };
        let mut ports = rule.ports.clone();
        ports.sort_unstable();
        ports.dedup();
        CompiledRule {
            label,
            action: rule.action.clone(),
            ports: ports.into(),
        }
    }

    fn allows(&self, port: u16) -> bool {
        self.ports.is_empty() || self.ports.binary_search(&port).is_ok()
    }
}

/// A match candidate: the rule it belongs to and the entry that put it there. Kept to 8 bytes so
/// the candidate vectors stay dense; the top bit of `entry` says the rule takes every port, so the
/// port check of most candidates does not touch the rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cand {
    rule: u32,
    entry: u32,
}

const ANY_PORT: u32 = 1 << 31;

impl Cand {
    /// `entry` must be below 2^31 (the compiler refuses more entries).
    fn new(rule: u32, entry: u32, any_port: bool) -> Cand {
        let flag = if any_port { ANY_PORT } else { 0 };
        Cand {
            rule,
            entry: (entry & !ANY_PORT) | flag,
        }
    }

    fn entry(self) -> usize {
        (self.entry & !ANY_PORT) as usize
    }

    fn any_port(self) -> bool {
        self.entry & ANY_PORT != 0
    }
}

/// Where a candidate came from, for `explain`.
#[derive(Debug)]
struct Entry {
    /// Index into `Matcher::list_names`; `None` for an inline destination.
    list: Option<u32>,
    /// The destination in canonical form.
    dest: Destination,
}

impl Matcher {
    /// Compiles `tenant`'s rules. List names resolve in the tenant's own lists first, then in
    /// `shared`; an unknown list, or a destination that does not canonicalise, is an error whose
    /// field names the rule or list entry relative to the tenant (`rules[2].lists[0]`): prefix it
    /// with [`PolicyError::within`].
    pub fn compile(
        tenant: &Tenant,
        shared: &BTreeMap<String, NamedList>,
    ) -> Result<Matcher, PolicyError> {
        compile::compile(tenant, shared)
    }

    /// The action for a request to `host` (which must come from [`crate::canon::canonical_host`])
    /// on `port`. Allocation-free; see the module docs for precedence.
    pub fn decide(&self, host: &Host<'_>, port: u16) -> Decision<'_> {
        match self.find(host, port) {
            Some(c) => Decision {
                action: &self.rule(c).action,
                rule: Some(c.rule as usize),
            },
            None => Decision {
                action: &self.default_action,
                rule: None,
            },
        }
    }

    /// The rule's `name`, or `rules[<index>]`; `"default"` for `None` (and for an index this
    /// matcher does not have).
    pub fn rule_label(&self, rule: Option<usize>) -> &str {
        rule.and_then(|i| self.rules.get(i))
            .map_or("default", |r| &r.label)
    }

    /// Canonicalises `host` and explains the decision for it: the rule, and the list and entry
    /// that matched.
    pub fn explain(&self, host: &str, port: u16) -> Result<Explanation, HostError> {
        let h = crate::canon::canonical_host(host)?;
        let hit = self.find(&h, port);
        let entry = hit.and_then(|c| self.entries.get(c.entry()));
        let rule = hit.map(|c| c.rule as usize);
        Ok(Explanation {
            host: h.to_string(),
            port,
            action: hit
                .map_or(&self.default_action, |c| &self.rule(c).action)
                .clone(),
            rule,
            rule_label: self.rule_label(rule).to_string(),
            list: entry
                .and_then(|e| e.list)
                .and_then(|l| self.list_names.get(l as usize))
                .map(|l| l.to_string()),
            entry: entry.map(|e| e.dest.to_string()),
        })
    }

    /// What happens to a destination no rule matches.
    pub fn default_action(&self) -> &Action {
        &self.default_action
    }

    /// Sizes of the compiled tables.
    pub fn stats(&self) -> MatcherStats {
        MatcherStats {
            rules: self.rules.len(),
            entries: self.entries.len(),
            names: self.names.len(),
            patterns: self.names.pattern_count(),
            cidrs: self.cidrs.len(),
        }
    }

    fn find(&self, host: &Host<'_>, port: u16) -> Option<Cand> {
        let allowed = |c: &Cand| c.any_port() || self.rule(*c).allows(port);
        match host {
            Host::Name(name) => self.names.find(name, allowed),
            Host::Ipv4(addr) => self.cidrs.find(*addr, allowed),
            Host::Ipv6(_) => None,
        }
    }

    /// Candidates only ever hold indices of rules compiled alongside them.
    fn rule(&self, c: Cand) -> &CompiledRule {
        &self.rules[c.rule as usize]
    }
}
