//! A tenant's effective destinations, as external devices consume them (docs/integration.md):
//! every destination its rules name, inline or through a list, with the action of the rule that
//! decides it, rendered as JSON, plain text (external dynamic lists), Squid ACL files or CSV.
//! Pure: the control plane brings the tenant and the shared lists, and serves the bytes.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::destination::Destination;
use crate::model::{NamedList, Tenant};

mod csv;
mod json;
mod squid;
mod text;

#[cfg(test)]
mod tests;

pub use csv::render_csv;
pub use json::{render_delta_json, render_json};
pub use squid::{render_squid, render_squid_dst, render_squid_regex, SquidOutput};
pub use text::{render_text, TextOutput};

/// How a destination is written, for filtering and for the consumers that treat them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// One host name.
    Host,
    /// `*.parent`: strict subdomains of `parent`.
    Wildcard,
    /// A name with `*` inside a label or in the middle (`autodiscover.*.onmicrosoft.com`).
    Pattern,
    /// An IPv4 network (a single address is a /32).
    Cidr,
}

impl Kind {
    pub fn of(dest: &Destination) -> Kind {
        match dest {
            Destination::Exact(_) => Kind::Host,
            Destination::Suffix(_) => Kind::Wildcard,
            Destination::Pattern(_) => Kind::Pattern,
            Destination::Cidr(_) => Kind::Cidr,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Host => "host",
            Kind::Wildcard => "wildcard",
            Kind::Pattern => "pattern",
            Kind::Cidr => "cidr",
        }
    }
}

/// One effective destination. Ordered by action, then destination: the order of every output.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Entry {
    /// `direct`, `block` or `upstream:<name>`.
    pub action: String,
    #[serde(rename = "value", serialize_with = "as_string")]
    pub dest: Destination,
    pub kind: Kind,
    /// Where it came from: `list:<name>` or `rule:<label>` (an inline destination).
    pub source: String,
    /// The rule's ports; empty means every port.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<u16>,
}

fn as_string<S: serde::Serializer>(d: &Destination, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(d)
}

/// A tenant's effective destinations, in [`Entry`] order.
pub type Endpoints = Vec<Entry>;

/// Every destination `tenant`'s rules name, each once, with the action of the **first** rule
/// naming it (the matcher gives ties to the earlier rule; a destination named again later can
/// never decide). Lists are looked up in the tenant's own lists first, then in `shared`; a
/// missing list contributes nothing (validation refuses such a policy before edges get it).
pub fn effective(tenant: &Tenant, shared: &BTreeMap<String, NamedList>) -> Endpoints {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (i, rule) in tenant.rules.iter().enumerate() {
        let label = rule.name.clone().unwrap_or_else(|| format!("rules[{i}]"));
        let action = String::from(rule.action.clone());
        let inline = rule
            .destinations
            .iter()
            .map(|d| (d, format!("rule:{label}")));
        let listed = rule.lists.iter().flat_map(|name| {
            let list = tenant.lists.get(name).or_else(|| shared.get(name));
            list.into_iter()
                .flat_map(|l| l.entries.iter())
                .map(move |d| (d, format!("list:{name}")))
        });
        for (dest, source) in inline.chain(listed) {
            if seen.insert(dest.clone()) {
                out.push(Entry {
                    action: action.clone(),
                    kind: Kind::of(dest),
                    dest: dest.clone(),
                    source,
                    ports: rule.ports.clone(),
                });
            }
        }
    }
    out.sort();
    out
}

/// Which entries an answer holds: `action` (`direct`, `block`, `upstream` for any parent or
/// `upstream:<name>`) and `kind` (`hosts`: every name form, `cidrs`: IPv4 networks).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    pub action: Option<String>,
    pub kind: Option<KindFilter>,
}

/// `kind=hosts|cidrs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KindFilter {
    Hosts,
    Cidrs,
}

impl std::str::FromStr for KindFilter {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "hosts" => Ok(KindFilter::Hosts),
            "cidrs" => Ok(KindFilter::Cidrs),
            _ => Err(format!("kind {s:?}: expected \"hosts\" or \"cidrs\"")),
        }
    }
}

impl Filter {
    pub fn keeps(&self, e: &Entry) -> bool {
        let action_ok = match self.action.as_deref() {
            None => true,
            Some("upstream") => e.action.starts_with("upstream:"),
            Some(a) => e.action == a,
        };
        let kind_ok = match self.kind {
            None => true,
            Some(KindFilter::Hosts) => e.kind != Kind::Cidr,
            Some(KindFilter::Cidrs) => e.kind == Kind::Cidr,
        };
        action_ok && kind_ok
    }

    /// The entries of `all` this filter keeps, in order.
    pub fn apply<'a>(&self, all: &'a [Entry]) -> Vec<&'a Entry> {
        all.iter().filter(|e| self.keeps(e)).collect()
    }
}

/// What changed between two effective sets: entries only in the new one, entries only in the
/// old one (an entry whose action or source changed is in both), each in [`Entry`] order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Delta {
    pub added: Vec<Entry>,
    pub removed: Vec<Entry>,
}

impl Delta {
    pub fn between(old: &[Entry], new: &[Entry]) -> Delta {
        let old_set: BTreeSet<&Entry> = old.iter().collect();
        let new_set: BTreeSet<&Entry> = new.iter().collect();
        Delta {
            added: new_set.difference(&old_set).map(|e| (*e).clone()).collect(),
            removed: old_set.difference(&new_set).map(|e| (*e).clone()).collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }

    /// The same delta with only the entries `filter` keeps.
    pub fn filtered(&self, filter: &Filter) -> Delta {
        let keep = |v: &[Entry]| v.iter().filter(|e| filter.keeps(e)).cloned().collect();
        Delta {
            added: keep(&self.added),
            removed: keep(&self.removed),
        }
    }
}
