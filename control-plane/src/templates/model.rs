//! A template's content: endpoint sets with their provenance, and its content hash.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::contracts::TemplateItem;

/// A vendor category. Microsoft's are `Optimize` > `Allow` > `Default` (most to least
/// latency-sensitive); any other value (a vendor may add one) sorts after them, by name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Category(pub String);

impl Category {
    pub fn new(s: &str) -> Self {
        Category(s.to_string())
    }

    fn rank(&self) -> u8 {
        match self.0.as_str() {
            "Optimize" => 0,
            "Allow" => 1,
            "Default" => 2,
            _ => 3,
        }
    }
}

impl Ord for Category {
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank()
            .cmp(&other.rank())
            .then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for Category {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One endpoint set, normalised, with where it came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointSet {
    /// Stable within a template: `m365:46`, `google:mail`, `google:ranges`, `servicetag:AzureCloud`.
    pub id: String,
    /// M365 serviceArea, ExpressRoute BGP community group (`12076:5010 Exchange`), Google group.
    pub group: String,
    pub category: Category,
    pub required: bool,
    /// Vendor syntax (`80,443`, `3478-3481`); `None`: none published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_ports: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub udp_ports: Option<String>,
    pub express_route: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Hosts as `breakout_policy::Destination` strings (the vendor's wildcard dialect already
    /// translated, see [`super::dialect`]), sorted and deduplicated.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// IPv4 and IPv6 ranges, sorted and deduplicated. Edges use the IPv4 ones; IPv6 is kept for
    /// exports and diffs.
    #[serde(default)]
    pub cidrs: Vec<IpNet>,
}

impl EndpointSet {
    /// A set with no TCP ports (Teams media over UDP) cannot be steered by a web proxy: it is
    /// kept and flagged, never silently dropped.
    pub fn steerable(&self) -> bool {
        !self.tcp_ports.as_deref().is_none_or(str::is_empty)
    }

    /// Hosts plus ranges.
    pub fn entries(&self) -> usize {
        self.hosts.len() + self.cidrs.len()
    }

    /// Sorts and deduplicates hosts and ranges.
    pub fn normalise(&mut self) {
        self.hosts.sort();
        self.hosts.dedup();
        self.cidrs.sort();
        self.cidrs.dedup();
    }
}

/// What one version of a template holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateContent {
    pub item: TemplateItem,
    /// The vendor's version (`2025102400` for M365, Google's `syncToken`, joined with the
    /// curated list's version when a template has several sources).
    pub source_version: String,
    /// Sorted by id.
    pub sets: Vec<EndpointSet>,
    /// Per Microsoft 365 instance, the vendor version its sets were fetched at (templates made
    /// of instances, [`super::instance`]); empty in versions recorded before instances were
    /// versioned apart (`source_version` then says it).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub instances: BTreeMap<String, String>,
}

impl TemplateContent {
    /// Normalises every set and sorts the sets by id, so equal content hashes equally.
    pub fn new(item: TemplateItem, source_version: String, mut sets: Vec<EndpointSet>) -> Self {
        sets.iter_mut().for_each(EndpointSet::normalise);
        sets.sort_by(|a, b| a.id.cmp(&b.id));
        TemplateContent {
            item,
            source_version,
            sets,
            instances: BTreeMap::new(),
        }
    }

    /// Hosts plus ranges over all sets.
    pub fn entries(&self) -> usize {
        self.sets.iter().map(EndpointSet::entries).sum()
    }

    /// Hex SHA-256 of the sets (not of the source version: a vendor version bump that changes
    /// nothing is not a new template version).
    pub fn hash(&self) -> String {
        // Serialising plain data with string keys cannot fail.
        let bytes = serde_json::to_vec(&self.sets).unwrap_or_default();
        crate::crypto::sha256_hex(&bytes)
    }

    /// Ids of the sets a web proxy cannot steer.
    pub fn unsteerable(&self) -> Vec<&str> {
        self.sets
            .iter()
            .filter(|s| !s.steerable())
            .map(|s| s.id.as_str())
            .collect()
    }
}

/// A required TCP 443 set of `group` and `category` holding `hosts`, for tests.
#[cfg(test)]
pub(crate) fn test_set(id: &str, group: &str, category: &str, hosts: &[&str]) -> EndpointSet {
    EndpointSet {
        id: id.into(),
        group: group.into(),
        category: Category::new(category),
        required: true,
        tcp_ports: Some("443".into()),
        udp_ports: None,
        express_route: false,
        notes: None,
        hosts: hosts.iter().map(|h| h.to_string()).collect(),
        cidrs: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(id: &str, hosts: &[&str]) -> EndpointSet {
        test_set(id, "g", "Allow", hosts)
    }

    #[test]
    fn categories_order_optimize_allow_default_then_others() {
        let mut c: Vec<Category> = ["Zeta", "Default", "Allow", "Optimize", "Alpha"]
            .iter()
            .map(|s| Category::new(s))
            .collect();
        c.sort();
        let names: Vec<&str> = c.iter().map(|c| c.0.as_str()).collect();
        assert_eq!(names, ["Optimize", "Allow", "Default", "Alpha", "Zeta"]);
    }

    #[test]
    fn hash_ignores_order_and_source_version() {
        let a = TemplateContent::new(
            TemplateItem::Microsoft365,
            "1".into(),
            vec![set("b", &["y.example", "x.example"]), set("a", &[])],
        );
        let b = TemplateContent::new(
            TemplateItem::Microsoft365,
            "2".into(),
            vec![
                set("a", &[]),
                set("b", &["x.example", "y.example", "x.example"]),
            ],
        );
        assert_eq!(a.hash(), b.hash());
        let c = TemplateContent::new(TemplateItem::Microsoft365, "1".into(), vec![set("a", &[])]);
        assert_ne!(a.hash(), c.hash());
    }

    #[test]
    fn udp_only_sets_are_flagged_not_dropped() {
        let mut s = set("m365:11", &[]);
        s.tcp_ports = None;
        s.udp_ports = Some("3478-3481".into());
        let c = TemplateContent::new(TemplateItem::Microsoft365, "1".into(), vec![s]);
        assert_eq!(c.unsteerable(), ["m365:11"]);
        assert_eq!(c.sets.len(), 1);
    }
}
