//! A tenant's subscription to a template → its named lists and rules: which groups and
//! categories, required-only, the action the list drives, the tenant's own additions and
//! exclusions (kept across template updates), an optional pinned version.

use std::collections::BTreeSet;

use breakout_policy::{Action, Destination, NamedList, Rule};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::dialect::covers;
use super::model::{Category, EndpointSet, TemplateContent};
use crate::contracts::TemplateItem;

/// What a tenant takes from one template.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    /// Groups (M365 serviceArea, ExpressRoute community group, Google group); empty: all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Categories (`Optimize`, `Allow`, `Default`, …); empty: all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<Category>,
    #[serde(default)]
    pub required_only: bool,
    /// What the list drives: `direct` or `upstream:<name>`.
    pub action: Action,
    /// The tenant's own entries, added whatever the template holds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<Destination>,
    /// Template entries the tenant does not want (compared in canonical form).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<Destination>,
    /// A template version number to stay on instead of the live one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<u32>,
}

/// Name of the list of what a subscription selects.
pub fn list_name(item: TemplateItem) -> String {
    format!("template-{item}")
}

/// Name of the list of unselected hosts a selected wildcard would otherwise capture.
pub fn shadowed_name(item: TemplateItem) -> String {
    format!("template-{item}-shadowed")
}

impl Subscription {
    /// Whether the subscription takes this set (only sets a web proxy can steer).
    pub fn selects(&self, set: &EndpointSet) -> bool {
        set.steerable()
            && (self.groups.is_empty() || self.groups.contains(&set.group))
            && (self.categories.is_empty() || self.categories.contains(&set.category))
            && (!self.required_only || set.required)
    }
}

/// What a subscription compiles to: lists and the rules that use them (the tenant's own rules
/// go first, so they win ties).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Compiled {
    pub lists: Vec<(String, NamedList)>,
    pub rules: Vec<Rule>,
}

fn entries(set: &EndpointSet) -> impl Iterator<Item = Destination> + '_ {
    let hosts = set.hosts.iter().filter_map(|h| h.parse().ok());
    let v4 = set.cidrs.iter().filter_map(|c| match c {
        IpNet::V4(n) => Some(Destination::Cidr(*n)),
        IpNet::V6(_) => None,
    });
    hosts.chain(v4)
}

/// Whether the selected wildcard `wide` would take the unselected name entry `d`.
fn shadows(wide: &str, d: &Destination) -> bool {
    match d {
        Destination::Exact(h) => covers(wide, h),
        Destination::Suffix(p) => wide
            .strip_prefix("*.")
            .is_some_and(|q| !q.contains('*') && p.ends_with(q) && p.len() > q.len()),
        _ => false,
    }
}

/// Compiles `sub` against `content`. Unselected hosts of the same template that a selected
/// wildcard would capture (a Default `cdn.odc.officeapps.live.com` under an Allow
/// `*.officeapps.live.com`) go to a second list driving `default_action`: being more specific,
/// they decide, as Microsoft's PAC tooling does by listing them first.
pub fn compile(
    item: TemplateItem,
    sub: &Subscription,
    content: &TemplateContent,
    default_action: &Action,
) -> Compiled {
    let exclude: BTreeSet<&Destination> = sub.exclude.iter().collect();
    let mut selected: BTreeSet<Destination> = BTreeSet::new();
    let mut rest: BTreeSet<Destination> = BTreeSet::new();
    for set in content.sets.iter().filter(|s| s.steerable()) {
        let target = if sub.selects(set) {
            &mut selected
        } else {
            &mut rest
        };
        target.extend(entries(set).filter(|d| !exclude.contains(d)));
    }
    selected.extend(sub.add.iter().cloned());
    let wildcards: Vec<String> = selected
        .iter()
        .filter(|d| matches!(d, Destination::Suffix(_) | Destination::Pattern(_)))
        .map(|d| d.to_string())
        .collect();
    let shadowed: Vec<Destination> = rest
        .into_iter()
        .filter(|d| !selected.contains(d) && wildcards.iter().any(|w| shadows(w, d)))
        .collect();
    let mut out = Compiled::default();
    let name = list_name(item);
    out.rules.push(Rule {
        name: Some(format!("template {item}")),
        action: sub.action.clone(),
        destinations: Vec::new(),
        lists: vec![name.clone()],
        ports: Vec::new(),
    });
    out.lists.push((
        name,
        NamedList {
            entries: selected.into_iter().collect(),
        },
    ));
    if !shadowed.is_empty() && *default_action != sub.action {
        let name = shadowed_name(item);
        out.rules.push(Rule {
            name: Some(format!("template {item}: shadowed, unselected")),
            action: default_action.clone(),
            destinations: Vec::new(),
            lists: vec![name.clone()],
            ports: Vec::new(),
        });
        out.lists.push((name, NamedList { entries: shadowed }));
    }
    out
}

#[cfg(test)]
mod tests;
