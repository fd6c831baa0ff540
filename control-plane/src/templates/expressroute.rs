//! Azure ExpressRoute template: the Microsoft 365 sets with `expressRoute: true`, grouped as
//! Microsoft's BGP community table does, plus optional Azure Service Tags files the operator
//! drops in a directory.

use ipnet::IpNet;
use serde::Deserialize;

use super::instance::{set_prefix, WORLDWIDE};
use super::m365::{normalise, parse_sets, source_name, AdapterError};
use super::model::{Category, EndpointSet, TemplateContent};
use crate::contracts::TemplateItem;

/// Microsoft's BGP communities for Microsoft 365 over ExpressRoute, by serviceArea. A new
/// serviceArea (none is mapped yet) lands in "other Microsoft 365 services".
pub fn community(service_area: &str) -> &'static str {
    match service_area {
        "Exchange" => "12076:5010 Exchange",
        "SharePoint" => "12076:5020 SharePoint",
        "Skype" => "12076:5030 Skype/Teams",
        "CRM" | "Dynamics" => "12076:5040 CRM",
        _ => "12076:5100 Other Microsoft 365",
    }
}

/// The community groups this module may assign, in table order (for docs and the API).
pub const COMMUNITIES: &[&str] = &[
    "12076:5010 Exchange",
    "12076:5020 SharePoint",
    "12076:5030 Skype/Teams",
    "12076:5040 CRM",
    "12076:5050 Azure global services",
    "12076:5060 Entra ID",
    "12076:5070 Azure Resource Manager",
    "12076:5100 Other Microsoft 365",
    "12076:5220 Defender for Identity",
    "12076:5250 PSTN",
];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServiceTags {
    change_number: u64,
    cloud: String,
    values: Vec<ServiceTag>,
}

#[derive(Deserialize)]
struct ServiceTag {
    name: String,
    properties: TagProperties,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TagProperties {
    #[serde(default)]
    region: String,
    #[serde(default)]
    system_service: String,
    #[serde(default)]
    address_prefixes: Vec<String>,
}

/// The sets of one Service Tags file (`ServiceTags_Public_YYYYMMDD.json`), one per tag, and its
/// version (`{cloud}:{changeNumber}`).
pub fn service_tag_sets(json: &str) -> Result<(String, Vec<EndpointSet>), AdapterError> {
    let tags: ServiceTags = serde_json::from_str(json).map_err(|e| AdapterError::Unparsable {
        source_name: "azure service tags".into(),
        why: e.to_string(),
    })?;
    let mut sets = Vec::new();
    for tag in tags.values {
        let id = format!("servicetag:{}", tag.name);
        let cidrs = tag
            .properties
            .address_prefixes
            .iter()
            .map(|p| {
                p.parse::<IpNet>()
                    .map(|n| n.trunc())
                    .map_err(|e| AdapterError::BadEntry {
                        source_name: "azure service tags".into(),
                        set: id.clone(),
                        entry: p.clone(),
                        why: e.to_string(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let service = match tag.properties.system_service.as_str() {
            "" => tag.name.clone(),
            s => s.to_string(),
        };
        let region = match tag.properties.region.as_str() {
            "" => String::new(),
            r => format!(" ({r})"),
        };
        sets.push(EndpointSet {
            id,
            group: format!("service tag {service}{region}"),
            category: Category::new("Allow"),
            required: false,
            tcp_ports: Some("443".into()),
            udp_ports: None,
            express_route: true,
            notes: None,
            hosts: Vec::new(),
            cidrs,
        });
    }
    Ok((format!("{}:{}", tags.cloud, tags.change_number), sets))
}

/// The `azure-expressroute` sets of `instance`: its M365 answer's ExpressRoute sets, regrouped
/// by BGP community (the serviceArea stays in the notes), plus every Service Tags file given
/// (Azure's public cloud: they go with the Worldwide instance, see [`tags_for`]).
pub fn instance_template(
    m365_json: &str,
    m365_version: &str,
    instance: &str,
    service_tags: &[&str],
) -> Result<TemplateContent, AdapterError> {
    let source = source_name(TemplateItem::AzureExpressroute, instance);
    let prefix = set_prefix(instance);
    let mut sets = Vec::new();
    for vendor in parse_sets(m365_json, &source)?
        .iter()
        .filter(|s| s.express_route)
    {
        let mut set = normalise(vendor, &prefix, &source)?;
        let area = std::mem::replace(&mut set.group, community(&vendor.service_area).into());
        set.notes = Some(match set.notes.take() {
            Some(n) => format!("serviceArea {area}; {n}"),
            None => format!("serviceArea {area}"),
        });
        sets.push(set);
    }
    let mut version = m365_version.to_string();
    for file in service_tags {
        let (v, more) = service_tag_sets(file)?;
        version.push('+');
        version.push_str(&v);
        sets.extend(more);
    }
    Ok(TemplateContent::new(
        TemplateItem::AzureExpressroute,
        version,
        sets,
    ))
}

/// The Service Tags files that go with `instance`: those of Azure's public cloud, with the
/// Worldwide instance. Files of other clouds are left out (and logged by the caller): which
/// Microsoft 365 instance a sovereign cloud's tags belong to is not something to guess.
pub fn tags_for<'a>(instance: &str, files: &'a [String]) -> (Vec<&'a str>, Vec<String>) {
    #[derive(Deserialize)]
    struct Cloud {
        #[serde(default)]
        cloud: String,
    }
    let mut kept = Vec::new();
    let mut skipped = Vec::new();
    for f in files {
        let cloud = serde_json::from_str::<Cloud>(f).map_or_else(|_| String::new(), |c| c.cloud);
        match (instance == WORLDWIDE, cloud.as_str()) {
            (true, "Public") => kept.push(f.as_str()),
            // Unparsable: the adapter says why (quarantine), with Worldwide's tags.
            (true, "") => kept.push(f.as_str()),
            (_, "Public" | "") => {}
            (_, other) => skipped.push(other.to_string()),
        }
    }
    (kept, skipped)
}

/// What the Service Tags files add to the template's version (`+{cloud}:{changeNumber}` each,
/// `+unparsable` for a file that is not), as [`instance_template`] writes it.
pub fn tags_version(files: &[&str]) -> String {
    files
        .iter()
        .map(|f| match service_tag_sets(f) {
            Ok((v, _)) => format!("+{v}"),
            Err(_) => "+unparsable".to_string(),
        })
        .collect()
}

/// The `azure-expressroute` template of one Worldwide answer and Service Tags files.
pub fn template(
    m365_json: &str,
    m365_version: &str,
    service_tags: &[&str],
) -> Result<TemplateContent, AdapterError> {
    instance_template(m365_json, m365_version, WORLDWIDE, service_tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    const M365: &str = include_str!("../../../tests/fixtures/m365-worldwide-endpoints.json");
    const TAGS: &str = r#"{"changeNumber": 412, "cloud": "Public", "values": [
      {"name": "AzureFrontDoor.Frontend", "id": "AzureFrontDoor.Frontend", "properties": {
        "changeNumber": 9, "region": "", "regionId": 0, "platform": "Azure",
        "systemService": "AzureFrontDoor", "addressPrefixes": ["13.107.208.0/24", "2620:1ec:bdf::/48"],
        "networkFeatures": ["API", "NSG"]}}]}"#;

    #[test]
    fn only_expressroute_sets_grouped_by_community() {
        let t = template(M365, "2025010100", &[]).expect("parses");
        assert!(!t.sets.is_empty());
        assert!(t.sets.iter().all(|s| s.express_route));
        let exchange = t.sets.iter().find(|s| s.id == "m365:1").expect("set 1");
        assert_eq!(exchange.group, "12076:5010 Exchange");
        assert_eq!(exchange.notes.as_deref(), Some("serviceArea Exchange"));
        assert!(t
            .sets
            .iter()
            .all(|s| COMMUNITIES.contains(&s.group.as_str())));
        let all = super::super::m365::template(M365, "1").expect("parses");
        assert!(t.sets.len() < all.sets.len());
    }

    #[test]
    fn service_tag_files_add_sets_and_version() {
        let t = template(M365, "2025010100", &[TAGS]).expect("parses");
        assert_eq!(t.source_version, "2025010100+Public:412");
        let tag = t
            .sets
            .iter()
            .find(|s| s.id == "servicetag:AzureFrontDoor.Frontend")
            .expect("tag set");
        assert_eq!(tag.group, "service tag AzureFrontDoor");
        assert_eq!(tag.cidrs.len(), 2);
        assert!(template(M365, "1", &["{\"values\": ["]).is_err());
    }

    /// Issue 13, item 3: an unparsable answer held back from `azure-expressroute` was
    /// quarantined with a reason naming `microsoft365`.
    #[test]
    fn errors_name_the_template_and_the_instance_they_are_about() {
        let e = instance_template("{\"cut", "1", "China", &[]).expect_err("unparsable");
        assert!(
            e.to_string()
                .starts_with("azure-expressroute: Microsoft 365 endpoints of instance China: "),
            "{e}"
        );
        let e = crate::templates::m365::instance_template("[1", "1", "USGovDoD").expect_err("bad");
        assert!(
            e.to_string()
                .starts_with("microsoft365: Microsoft 365 endpoints of instance USGovDoD: "),
            "{e}"
        );
    }

    #[test]
    fn sets_of_other_instances_carry_their_instance_in_the_id() {
        let china = instance_template(M365, "1", "China", &[]).expect("parses");
        assert!(china.sets.iter().all(|s| s.id.starts_with("m365-China:")));
    }

    #[test]
    fn public_cloud_service_tags_go_with_worldwide_only() {
        let gov = TAGS.replace("\"Public\"", "\"AzureUSGovernment\"");
        let files = [TAGS.to_string(), gov];
        let (kept, skipped) = tags_for("Worldwide", &files);
        assert_eq!(
            (kept.len(), skipped),
            (1, vec!["AzureUSGovernment".to_string()])
        );
        let (kept, _) = tags_for("China", &files);
        assert!(kept.is_empty());
    }
}
