//! Microsoft 365 IP address and URL web service → a `microsoft365` template. Every field of a
//! set is kept; an unknown `serviceArea` or category is just another string.

use breakout_policy::m365::{self, EndpointSet as VendorSet};
use ipnet::IpNet;

use super::dialect::{translate, Dialect};
use super::instance::{set_prefix, WORLDWIDE};
use super::model::{Category, EndpointSet, TemplateContent};
use crate::contracts::TemplateItem;

/// Why a vendor document could not become a template.
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    #[error("{source_name}: unparsable: {why}")]
    Unparsable { source_name: String, why: String },
    #[error("{source_name}: set {set}: entry {entry:?}: {why}")]
    BadEntry {
        source_name: String,
        set: String,
        entry: String,
        why: String,
    },
}

/// The endpoint sets of one instance's `/endpoints/{instance}` answer, unfiltered; errors name
/// `source` (which template the answer was for, and the instance).
pub fn parse_sets(json: &str, source: &str) -> Result<Vec<VendorSet>, AdapterError> {
    m365::parse(json).map_err(|e| AdapterError::Unparsable {
        source_name: source.to_string(),
        why: e.to_string(),
    })
}

/// What an error about `item`'s answer from `instance` names (the quarantine reason says it).
pub fn source_name(item: TemplateItem, instance: &str) -> String {
    format!("{item}: Microsoft 365 endpoints of instance {instance}")
}

/// One vendor set normalised: id `{prefix}:{id}` (the instance's prefix,
/// [`super::instance::set_prefix`]), group = serviceArea.
pub fn normalise(set: &VendorSet, prefix: &str, source: &str) -> Result<EndpointSet, AdapterError> {
    let id = format!("{prefix}:{}", set.id);
    let bad = |entry: &str, why: String| AdapterError::BadEntry {
        source_name: source.to_string(),
        set: id.clone(),
        entry: entry.to_string(),
        why,
    };
    let hosts = set
        .urls
        .iter()
        .map(|u| translate(Dialect::Microsoft, u).map_err(|why| bad(u, why)))
        .collect::<Result<Vec<_>, _>>()?;
    let cidrs = set
        .ips
        .iter()
        .map(|ip| {
            ip.trim()
                .parse::<IpNet>()
                .map(|n| n.trunc())
                .map_err(|e| bad(ip, e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(EndpointSet {
        id: id.clone(),
        group: set.service_area.clone(),
        category: Category::new(&set.category),
        required: set.required,
        tcp_ports: set.tcp_ports.clone().filter(|p| !p.is_empty()),
        udp_ports: set.udp_ports.clone().filter(|p| !p.is_empty()),
        express_route: set.express_route,
        notes: set.notes.clone(),
        hosts,
        cidrs,
    })
}

/// The `microsoft365` sets of `instance`'s answer; `version` is its `/version/{instance}`
/// string.
pub fn instance_template(
    json: &str,
    version: &str,
    instance: &str,
) -> Result<TemplateContent, AdapterError> {
    let source = source_name(TemplateItem::Microsoft365, instance);
    let prefix = set_prefix(instance);
    let sets = parse_sets(json, &source)?
        .iter()
        .map(|s| normalise(s, &prefix, &source))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(TemplateContent::new(
        TemplateItem::Microsoft365,
        version.to_string(),
        sets,
    ))
}

/// The `microsoft365` template of one Worldwide answer.
pub fn template(json: &str, version: &str) -> Result<TemplateContent, AdapterError> {
    instance_template(json, version, WORLDWIDE)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = include_str!("../../../tests/fixtures/m365-worldwide-endpoints.json");

    #[test]
    fn the_real_list_keeps_every_set_and_field() {
        let t = template(FIXTURE, "2025010100").expect("parses");
        let raw: Vec<serde_json::Value> = serde_json::from_str(FIXTURE).expect("json");
        assert_eq!(t.sets.len(), raw.len());
        let s1 = t.sets.iter().find(|s| s.id == "m365:1").expect("set 1");
        assert_eq!(s1.group, "Exchange");
        assert_eq!(s1.category, Category::new("Optimize"));
        assert!(s1.required && s1.express_route);
        assert_eq!(s1.tcp_ports.as_deref(), Some("80,443"));
        assert_eq!(s1.udp_ports.as_deref(), Some("443"));
        assert!(s1.cidrs.iter().any(|c| matches!(c, IpNet::V6(_))));
        assert!(t.sets.iter().any(|s| s.notes.is_some()));
        // Teams media: UDP only, kept and flagged.
        assert!(!t.unsteerable().is_empty());
        let hosts: Vec<&str> = t
            .sets
            .iter()
            .flat_map(|s| &s.hosts)
            .map(|h| h.as_str())
            .collect();
        assert!(hosts.contains(&"autodiscover.*.onmicrosoft.com"));
        assert!(hosts.contains(&"*cdn.onenote.net"));
    }

    #[test]
    fn an_unknown_service_area_does_not_break_the_parser() {
        let json = r#"[{"id": 900, "serviceArea": "Copilot", "serviceAreaDisplayName": "Copilot",
            "urls": ["*.copilot.example"], "tcpPorts": "443", "category": "Frobnicate",
            "required": false, "expressRoute": false, "someNewField": 1}]"#;
        let t = template(json, "1").expect("parses");
        assert_eq!(t.sets[0].group, "Copilot");
        assert_eq!(t.sets[0].category, Category::new("Frobnicate"));
    }

    #[test]
    fn truncated_or_bad_answers_are_errors() {
        let cut = &FIXTURE[..FIXTURE.len() / 2];
        assert!(matches!(
            template(cut, "1"),
            Err(AdapterError::Unparsable { .. })
        ));
        let json = r#"[{"id": 7, "serviceArea": "Common", "urls": ["bad host!"], "tcpPorts": "443",
            "category": "Allow", "required": true, "expressRoute": false}]"#;
        let e = template(json, "1").expect_err("refused");
        assert!(e.to_string().contains("m365:7"), "{e}");
    }
}
