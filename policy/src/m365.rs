//! Microsoft 365's published endpoint list (`GET https://endpoints.office.com/endpoints/Worldwide`)
//! turned into named lists: what a `microsoft365` list template compiles to. Pure: the caller
//! reads the JSON (a snapshot ships in `deploy/lists/m365-worldwide-endpoints.json`).

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::destination::Destination;
use crate::error::PolicyError;
use crate::model::NamedList;

/// Name of the list of Optimize and Allow URLs and IPv4 ranges (the ones to break out locally).
pub const OPTIMIZE_ALLOW: &str = "m365-optimize-allow";
/// Name of the list of Default URLs (Microsoft publishes no addresses for them).
pub const DEFAULT: &str = "m365-default";

/// One endpoint set of the list. `serviceArea` and `category` stay strings: Microsoft adds new
/// values over time.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSet {
    pub id: u32,
    pub service_area: String,
    #[serde(default)]
    pub service_area_display_name: Option<String>,
    #[serde(default)]
    pub urls: Vec<String>,
    #[serde(default)]
    pub ips: Vec<String>,
    #[serde(default)]
    pub tcp_ports: Option<String>,
    #[serde(default)]
    pub udp_ports: Option<String>,
    pub category: String,
    pub required: bool,
    pub express_route: bool,
    #[serde(default)]
    pub notes: Option<String>,
}

/// Parses the list's JSON (an array of endpoint sets).
pub fn parse(json: &str) -> Result<Vec<EndpointSet>, PolicyError> {
    serde_json::from_str(json).map_err(|e| PolicyError::new("m365", e.to_string()))
}

/// The named lists built from the endpoint sets, and what could not be expressed.
#[derive(Clone, Debug)]
pub struct M365Lists {
    /// URLs and IPv4 ranges of Optimize and Allow sets.
    pub optimize_allow: NamedList,
    /// URLs (and any IPv4 ranges) of Default sets.
    pub default: NamedList,
    /// Sets with no TCP ports (Teams media over UDP): a web proxy cannot steer them, so they are
    /// reported here instead of being dropped silently.
    pub udp_only: Vec<u32>,
}

/// Sorts every set's URLs and IPv4 ranges into the Optimize+Allow and Default lists (entries
/// deduplicated, in canonical order). IPv6 ranges are left out: IPv6 destinations always take
/// the default action. An entry the destination parser refuses is an error naming the set.
pub fn lists(sets: &[EndpointSet]) -> Result<M365Lists, PolicyError> {
    let mut optimize_allow = BTreeSet::new();
    let mut default = BTreeSet::new();
    let mut udp_only = Vec::new();
    for set in sets {
        if set.tcp_ports.as_deref().is_none_or(str::is_empty) {
            udp_only.push(set.id);
            continue;
        }
        let target = match set.category.as_str() {
            "Optimize" | "Allow" => &mut optimize_allow,
            _ => &mut default,
        };
        let ipv4 = set.ips.iter().filter(|ip| !ip.contains(':'));
        for entry in set.urls.iter().chain(ipv4) {
            let dest = entry.parse::<Destination>().map_err(|e| {
                PolicyError::new(format!("m365[id={}]", set.id), format!("{entry:?}: {e}"))
            })?;
            target.insert(dest);
        }
    }
    Ok(M365Lists {
        optimize_allow: NamedList::new(optimize_allow.into_iter().collect()),
        default: NamedList::new(default.into_iter().collect()),
        udp_only,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETS: &str = r#"[
      {"id": 1, "serviceArea": "Exchange", "urls": ["outlook.office365.com", "*.protection.outlook.com"],
       "ips": ["13.107.6.152/31", "2603:1006::/40"], "tcpPorts": "80,443", "category": "Optimize",
       "required": true, "expressRoute": true},
      {"id": 11, "serviceArea": "Skype", "ips": ["13.107.64.0/18"], "udpPorts": "3478-3481",
       "category": "Optimize", "required": true, "expressRoute": true},
      {"id": 46, "serviceArea": "Common", "urls": ["*.office.net"], "tcpPorts": "443",
       "category": "Default", "required": false, "expressRoute": false, "notes": "ignored"}
    ]"#;

    #[test]
    fn sets_sort_by_category_without_ipv6_or_udp_only_sets() {
        let l = lists(&parse(SETS).expect("parses")).expect("compiles");
        let names: Vec<String> = l
            .optimize_allow
            .entries
            .iter()
            .map(|d| d.to_string())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(names.contains(&"outlook.office365.com".to_string()));
        assert!(names.contains(&"13.107.6.152/31".to_string()));
        assert_eq!(l.default.entries.len(), 1);
        assert_eq!(l.udp_only, vec![11]);
    }

    #[test]
    fn a_bad_entry_names_its_set() {
        let json = r#"[{"id": 7, "serviceArea": "Common", "urls": ["bad host!"], "tcpPorts": "443",
            "category": "Allow", "required": true, "expressRoute": false}]"#;
        let e = lists(&parse(json).expect("parses")).expect_err("refused");
        assert_eq!(e.field, "m365[id=7]");
    }
}
