//! A tenant's subscription to a template → its named lists and rules: which groups and
//! categories, required-only, the action the list drives, the tenant's own additions and
//! exclusions (kept across template updates), an optional pinned version.

use std::collections::BTreeSet;

use breakout_policy::{Action, Destination, NamedList, Rule};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::dialect::covers;
use super::instance::{self, WORLDWIDE};
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
    /// The Microsoft 365 instance whose sets it takes (`microsoft365`, `azure-expressroute`;
    /// absent: Worldwide). A tenant never gets another instance's endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
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
    /// The instance it takes sets of (Worldwide unless it names one).
    pub fn instance(&self) -> &str {
        self.instance.as_deref().unwrap_or(WORLDWIDE)
    }

    /// Whether `set` is of the subscription's instance (sets of templates without instances
    /// always are).
    pub fn of_its_instance(&self, set: &EndpointSet) -> bool {
        instance::of(set).is_none_or(|i| i == self.instance())
    }

    /// Whether the subscription takes this set (only sets a web proxy can steer).
    pub fn selects(&self, set: &EndpointSet) -> bool {
        set.steerable()
            && self.of_its_instance(set)
            && (self.groups.is_empty() || self.groups.contains(&set.group))
            && (self.categories.is_empty() || self.categories.contains(&set.category))
            && (!self.required_only || set.required)
    }
}

/// Refuses a subscription that names what `content` (the version it would compile against)
/// does not hold: an instance without sets, a group or a category no set of its instance has;
/// the message lists the valid ones. Without a version there is nothing to check against.
pub fn check(
    item: TemplateItem,
    sub: &Subscription,
    content: Option<&TemplateContent>,
) -> Result<(), String> {
    if sub.instance.is_some() && !instance::has_instances(item) {
        return Err(format!(
            "subscription.instance: template {item} has no Microsoft 365 instances"
        ));
    }
    let Some(content) = content else {
        return Ok(());
    };
    let own: Vec<&EndpointSet> = content
        .sets
        .iter()
        .filter(|s| sub.of_its_instance(s))
        .collect();
    if instance::has_instances(item) && own.is_empty() {
        let held: Vec<&str> = instance::present(content).into_iter().collect();
        return Err(format!(
            "subscription.instance: template {item} holds no sets of instance {}; it holds: {}",
            sub.instance(),
            held.join(", ")
        ));
    }
    let of = match &sub.instance {
        Some(i) => format!(" (instance {i})"),
        None => String::new(),
    };
    let groups: BTreeSet<&str> = own.iter().map(|s| s.group.as_str()).collect();
    if let Some(bad) = sub.groups.iter().find(|g| !groups.contains(g.as_str())) {
        let valid: Vec<&str> = groups.into_iter().collect();
        return Err(format!(
            "subscription.groups: template {item}{of} has no group {bad:?}; its groups: {}",
            valid.join(", ")
        ));
    }
    let categories: BTreeSet<&Category> = own.iter().map(|s| &s.category).collect();
    if let Some(bad) = sub.categories.iter().find(|c| !categories.contains(c)) {
        let valid: Vec<&str> = categories.iter().map(|c| c.0.as_str()).collect();
        return Err(format!(
            "subscription.categories: template {item}{of} has no category \"{bad}\"; its \
             categories: {}",
            valid.join(", ")
        ));
    }
    Ok(())
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
    // Other instances' sets are neither selected nor shadowed: they are not the tenant's.
    let own = |s: &&EndpointSet| s.steerable() && sub.of_its_instance(s);
    for set in content.sets.iter().filter(own) {
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
    out.lists
        .push((name, NamedList::new(selected.into_iter().collect())));
    if !shadowed.is_empty() && *default_action != sub.action {
        let name = shadowed_name(item);
        out.rules.push(Rule {
            name: Some(format!("template {item}: shadowed, unselected")),
            action: default_action.clone(),
            destinations: Vec::new(),
            lists: vec![name.clone()],
            ports: Vec::new(),
        });
        out.lists.push((name, NamedList::new(shadowed)));
    }
    out
}

#[cfg(test)]
mod tests;
