//! What changed between two versions of a template: hosts and ranges added and removed, per set.

use std::collections::{BTreeMap, BTreeSet};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::model::{EndpointSet, TemplateContent};

/// One set's changes; a set new in `to` has everything added, a set gone has everything removed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetDiff {
    pub set: String,
    pub group: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added_hosts: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed_hosts: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added_cidrs: Vec<IpNet>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed_cidrs: Vec<IpNet>,
    /// Category, ports, required, expressRoute or notes changed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub attributes_changed: bool,
}

impl SetDiff {
    fn is_empty(&self) -> bool {
        self.added_hosts.is_empty()
            && self.removed_hosts.is_empty()
            && self.added_cidrs.is_empty()
            && self.removed_cidrs.is_empty()
            && !self.attributes_changed
    }
}

/// Every set that changed, by set id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateDiff {
    pub sets: Vec<SetDiff>,
}

impl TemplateDiff {
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// (added, removed) hosts and ranges over all sets.
    pub fn counts(&self) -> (usize, usize) {
        self.sets.iter().fold((0, 0), |(a, r), s| {
            (
                a + s.added_hosts.len() + s.added_cidrs.len(),
                r + s.removed_hosts.len() + s.removed_cidrs.len(),
            )
        })
    }
}

fn minus<T: Ord + Clone>(a: &[T], b: &[T]) -> Vec<T> {
    let b: BTreeSet<&T> = b.iter().collect();
    a.iter().filter(|x| !b.contains(x)).cloned().collect()
}

fn attributes(s: &EndpointSet) -> impl PartialEq + '_ {
    (
        &s.group,
        &s.category,
        s.required,
        &s.tcp_ports,
        &s.udp_ports,
        s.express_route,
        &s.notes,
    )
}

/// The changes from `from` to `to`.
pub fn diff(from: &TemplateContent, to: &TemplateContent) -> TemplateDiff {
    let old: BTreeMap<&str, &EndpointSet> = from.sets.iter().map(|s| (s.id.as_str(), s)).collect();
    let new: BTreeMap<&str, &EndpointSet> = to.sets.iter().map(|s| (s.id.as_str(), s)).collect();
    let ids: BTreeSet<&str> = old.keys().chain(new.keys()).copied().collect();
    let empty = EndpointSet {
        id: String::new(),
        group: String::new(),
        category: super::Category::new(""),
        required: false,
        tcp_ports: None,
        udp_ports: None,
        express_route: false,
        notes: None,
        hosts: Vec::new(),
        cidrs: Vec::new(),
    };
    let sets = ids
        .into_iter()
        .filter_map(|id| {
            let (a, b) = (
                old.get(id).copied().unwrap_or(&empty),
                new.get(id).copied().unwrap_or(&empty),
            );
            let both = old.contains_key(id) && new.contains_key(id);
            let d = SetDiff {
                set: id.to_string(),
                group: if new.contains_key(id) {
                    &b.group
                } else {
                    &a.group
                }
                .clone(),
                added_hosts: minus(&b.hosts, &a.hosts),
                removed_hosts: minus(&a.hosts, &b.hosts),
                added_cidrs: minus(&b.cidrs, &a.cidrs),
                removed_cidrs: minus(&a.cidrs, &b.cidrs),
                attributes_changed: both && attributes(a) != attributes(b),
            };
            (!d.is_empty() || !both).then_some(d)
        })
        .collect();
    TemplateDiff { sets }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contracts::TemplateItem;
    use crate::templates::m365::template;

    const M365: &str = include_str!("../../../tests/fixtures/m365-worldwide-endpoints.json");

    #[test]
    fn added_and_removed_hosts_and_ranges_per_set() {
        let a = template(M365, "1").expect("parses");
        let mut b = a.clone();
        let s = b.sets.iter_mut().find(|s| s.id == "m365:1").expect("set 1");
        s.hosts.retain(|h| h != "outlook.office.com");
        s.hosts.push("new.outlook.example".into());
        s.cidrs.push("198.51.100.0/24".parse().expect("net"));
        b.sets.retain(|s| s.id != "m365:46");
        let b = TemplateContent::new(TemplateItem::Microsoft365, "2".into(), b.sets);
        let d = diff(&a, &b);
        let s1 = d
            .sets
            .iter()
            .find(|s| s.set == "m365:1")
            .expect("set 1 changed");
        assert_eq!(s1.added_hosts, ["new.outlook.example"]);
        assert_eq!(s1.removed_hosts, ["outlook.office.com"]);
        assert_eq!(
            s1.added_cidrs,
            ["198.51.100.0/24".parse::<IpNet>().expect("net")]
        );
        let gone = d
            .sets
            .iter()
            .find(|s| s.set == "m365:46")
            .expect("set 46 gone");
        assert!(gone.added_hosts.is_empty() && !gone.removed_hosts.is_empty());
        assert_eq!(d.sets.len(), 2);
        assert!(diff(&a, &a).is_empty());
    }

    #[test]
    fn port_changes_are_attribute_changes() {
        let a = template(M365, "1").expect("parses");
        let mut b = a.clone();
        b.sets[0].tcp_ports = Some("443".into());
        let d = diff(&a, &b);
        assert_eq!(d.sets.len(), 1);
        assert!(d.sets[0].attributes_changed);
        assert_eq!(d.counts(), (0, 0));
    }
}
