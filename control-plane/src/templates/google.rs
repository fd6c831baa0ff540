//! Google Workspace template: Google's own address ranges (goog.json minus cloud.json, a real
//! CIDR set difference) plus the curated Workspace host list shipped with the project
//! (`deploy/lists/google-workspace-hosts.json`, grouped, versioned).

use std::collections::BTreeMap;

use ipnet::IpNet;
use serde::Deserialize;

use super::cidr::difference;
use super::dialect::{translate, Dialect};
use super::m365::AdapterError;
use super::model::{Category, EndpointSet, TemplateContent};
use crate::contracts::TemplateItem;

/// Id of the set of address ranges.
pub const RANGES: &str = "google:ranges";

/// goog.json / cloud.json.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ranges {
    pub sync_token: String,
    #[serde(default)]
    pub creation_time: String,
    pub prefixes: Vec<Prefix>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Prefix {
    #[serde(default)]
    pub ipv4_prefix: Option<String>,
    #[serde(default)]
    pub ipv6_prefix: Option<String>,
}

/// The curated host list.
#[derive(Debug, Deserialize)]
pub struct HostList {
    pub version: String,
    #[serde(default)]
    pub source: String,
    pub groups: BTreeMap<String, Vec<String>>,
}

fn unparsable(name: &str, why: impl ToString) -> AdapterError {
    AdapterError::Unparsable {
        source_name: name.into(),
        why: why.to_string(),
    }
}

/// Parses goog.json or cloud.json (`name` says which, for errors).
pub fn parse_ranges(name: &str, json: &str) -> Result<Ranges, AdapterError> {
    serde_json::from_str(json).map_err(|e| unparsable(name, e))
}

fn nets(name: &str, r: &Ranges) -> Result<Vec<IpNet>, AdapterError> {
    r.prefixes
        .iter()
        .filter_map(|p| p.ipv4_prefix.as_deref().or(p.ipv6_prefix.as_deref()))
        .map(|s| {
            s.trim()
                .parse::<IpNet>()
                .map_err(|e| AdapterError::BadEntry {
                    source_name: name.into(),
                    set: RANGES.into(),
                    entry: s.into(),
                    why: e.to_string(),
                })
        })
        .collect()
}

/// The `google-workspace` template. The source version is `{goog syncToken}+hosts:{version}`.
pub fn template(goog: &str, cloud: &str, hosts: &str) -> Result<TemplateContent, AdapterError> {
    let goog = parse_ranges("goog.json", goog)?;
    let cloud = parse_ranges("cloud.json", cloud)?;
    let hosts: HostList =
        serde_json::from_str(hosts).map_err(|e| unparsable("google workspace hosts", e))?;
    let ranges = difference(&nets("goog.json", &goog)?, &nets("cloud.json", &cloud)?);
    let mut sets = vec![EndpointSet {
        id: RANGES.into(),
        group: "Ranges".into(),
        category: Category::new("Allow"),
        required: true,
        tcp_ports: Some("80,443".into()),
        udp_ports: Some("443".into()),
        express_route: false,
        notes: Some(format!(
            "goog.json minus cloud.json (syncToken {}, created {})",
            goog.sync_token, goog.creation_time
        )),
        hosts: Vec::new(),
        cidrs: ranges,
    }];
    for (group, entries) in &hosts.groups {
        let id = format!("google:{}", group.to_ascii_lowercase());
        let translated = entries
            .iter()
            .map(|e| {
                translate(Dialect::Google, e).map_err(|why| AdapterError::BadEntry {
                    source_name: "google workspace hosts".into(),
                    set: id.clone(),
                    entry: e.clone(),
                    why,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        sets.push(EndpointSet {
            id,
            group: group.clone(),
            category: Category::new("Allow"),
            required: true,
            tcp_ports: Some("80,443".into()),
            udp_ports: None,
            express_route: false,
            notes: None,
            hosts: translated,
            cidrs: Vec::new(),
        });
    }
    Ok(TemplateContent::new(
        TemplateItem::GoogleWorkspace,
        format!("{}+hosts:{}", goog.sync_token, hosts.version),
        sets,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOG: &str = include_str!("../../../tests/fixtures/google-goog.json");
    const CLOUD: &str = include_str!("../../../tests/fixtures/google-cloud.json");
    const HOSTS: &str = include_str!("../../../deploy/lists/google-workspace-hosts.json");

    #[test]
    fn ranges_are_goog_minus_cloud_v4_and_v6() {
        let t = template(GOOG, CLOUD, HOSTS).expect("parses");
        let ranges = &t
            .sets
            .iter()
            .find(|s| s.id == RANGES)
            .expect("ranges")
            .cidrs;
        let cloud = nets("c", &parse_ranges("c", CLOUD).expect("c")).expect("nets");
        let goog = nets("g", &parse_ranges("g", GOOG).expect("g")).expect("nets");
        assert!(ranges.iter().any(|n| matches!(n, IpNet::V4(_))));
        assert!(ranges.iter().any(|n| matches!(n, IpNet::V6(_))));
        // Nothing of cloud.json is left, and everything left came from goog.json.
        for r in ranges {
            assert!(!cloud.iter().any(|c| c.contains(r) || r.contains(c)), "{r}");
            assert!(goog.iter().any(|g| g.contains(r)), "{r}");
        }
        // Google's public DNS is not a Cloud range.
        assert!(ranges
            .iter()
            .any(|n| n.contains(&"8.8.8.8/32".parse::<IpNet>().expect("ip"))));
        assert!(t.source_version.starts_with("1714053903689+hosts:"));
    }

    #[test]
    fn hosts_grouped_with_one_label_wildcards_kept_one_label() {
        let t = template(GOOG, CLOUD, HOSTS).expect("parses");
        let mail = t.sets.iter().find(|s| s.id == "google:mail").expect("mail");
        assert!(mail.hosts.contains(&"mail.google.com".to_string()));
        let api = t.sets.iter().find(|s| s.id == "google:api").expect("api");
        assert!(api.hosts.contains(&"[*].googleapis.com".to_string()));
        for g in [
            "Mail", "Drive", "Meet", "Calendar", "API", "Sites", "Identity",
        ] {
            assert!(t.sets.iter().any(|s| s.group == g), "{g}");
        }
    }

    #[test]
    fn truncated_source_is_unparsable() {
        let cut = &GOOG[..GOOG.len() / 3];
        assert!(matches!(
            template(cut, CLOUD, HOSTS),
            Err(AdapterError::Unparsable { .. })
        ));
    }
}
