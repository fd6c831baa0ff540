//! Microsoft 365 instances (Worldwide, China, USGovDoD, USGovGCCHigh) inside the two templates
//! built from Microsoft's web service (`microsoft365`, `azure-expressroute`): each instance is
//! fetched, versioned, guarded and subscribed to on its own, within one template's versions.
//!
//! A set's instance is part of its id: `m365:46` is Worldwide's set 46, `m365-China:46`
//! China's; Service Tags sets (`servicetag:…`, Azure's public cloud) go with Worldwide. Content
//! recorded before instances were versioned apart has no per-instance versions: its
//! `source_version` is Worldwide's (or `Worldwide=…;China=…` for several instances), so old
//! log entries and snapshots read as they were written.

use std::collections::{BTreeMap, BTreeSet};

use super::model::{EndpointSet, TemplateContent};
use crate::contracts::TemplateItem;

pub const WORLDWIDE: &str = "Worldwide";

/// The instances Microsoft's web service publishes.
pub const INSTANCES: &[&str] = &["Worldwide", "China", "USGovDoD", "USGovGCCHigh"];

/// Whether `item`'s sets come per Microsoft 365 instance.
pub fn has_instances(item: TemplateItem) -> bool {
    matches!(
        item,
        TemplateItem::Microsoft365 | TemplateItem::AzureExpressroute
    )
}

/// The id prefix of `instance`'s sets: `m365` for Worldwide, `m365-{instance}` otherwise
/// (never the position of the instance in the poller's configuration).
pub fn set_prefix(instance: &str) -> String {
    if instance == WORLDWIDE {
        "m365".to_string()
    } else {
        format!("m365-{instance}")
    }
}

/// The instance `set` belongs to (from its id); `None` for sets of templates without instances.
pub fn of(set: &EndpointSet) -> Option<&str> {
    let (prefix, _) = set.id.split_once(':')?;
    match prefix {
        "m365" | "servicetag" => Some(WORLDWIDE),
        p => p.strip_prefix("m365-"),
    }
}

/// The instances `content` holds sets of.
pub fn present(content: &TemplateContent) -> BTreeSet<&str> {
    content.sets.iter().filter_map(of).collect()
}

/// The vendor version `instance`'s sets were fetched at in `content`, if it holds them.
pub fn version_of(content: &TemplateContent, instance: &str) -> Option<String> {
    if !content.instances.is_empty() {
        return content.instances.get(instance).cloned();
    }
    version_in(&content.source_version, instance)
}

/// `instance`'s version in a source version written before per-instance versions:
/// `Worldwide=…;China=…` for several instances, else the version of Worldwide.
pub fn version_in(source_version: &str, instance: &str) -> Option<String> {
    if source_version.contains('=') {
        return source_version.split(';').find_map(|pair| {
            let (i, v) = pair.split_once('=')?;
            (i == instance).then(|| v.to_string())
        });
    }
    (instance == WORLDWIDE).then(|| source_version.to_string())
}

/// Only `instance`'s sets of `content` (its version as `source_version`).
pub fn part(content: &TemplateContent, instance: &str) -> TemplateContent {
    let sets = content
        .sets
        .iter()
        .filter(|s| of(s) == Some(instance))
        .cloned()
        .collect();
    let version = version_of(content, instance).unwrap_or_default();
    TemplateContent::new(content.item, version, sets)
}

/// `live` (if any) with `instance`'s sets replaced by those of `fetched` (whose
/// `source_version` is the instance's vendor version). Every other instance keeps its sets and
/// its version.
pub fn merge(
    live: Option<&TemplateContent>,
    instance: &str,
    fetched: &TemplateContent,
) -> TemplateContent {
    let mut versions: BTreeMap<String, String> = BTreeMap::new();
    let mut sets: Vec<EndpointSet> = Vec::new();
    if let Some(live) = live {
        for other in present(live).into_iter().filter(|i| *i != instance) {
            if let Some(v) = version_of(live, other) {
                versions.insert(other.to_string(), v);
            }
        }
        sets.extend(
            live.sets
                .iter()
                .filter(|s| of(s) != Some(instance))
                .cloned(),
        );
    }
    versions.insert(instance.to_string(), fetched.source_version.clone());
    sets.extend(fetched.sets.iter().cloned());
    let source_version = match versions.iter().collect::<Vec<_>>().as_slice() {
        [(_, v)] => (*v).clone(),
        many => many
            .iter()
            .map(|(i, v)| format!("{i}={v}"))
            .collect::<Vec<_>>()
            .join(";"),
    };
    let mut merged = TemplateContent::new(fetched.item, source_version, sets);
    merged.instances = versions;
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::templates::model::test_set;

    fn content(source_version: &str, ids: &[&str]) -> TemplateContent {
        let sets = ids
            .iter()
            .map(|id| test_set(id, "Exchange", "Optimize", &["outlook.example"]))
            .collect();
        TemplateContent::new(TemplateItem::Microsoft365, source_version.into(), sets)
    }

    #[test]
    fn the_instance_is_read_from_the_set_id() {
        let c = content(
            "1",
            &[
                "m365:1",
                "m365-China:1",
                "servicetag:AzureCloud",
                "google:mail",
            ],
        );
        let of: Vec<Option<&str>> = c.sets.iter().map(of).collect();
        assert_eq!(
            of,
            [None, Some("China"), Some("Worldwide"), Some("Worldwide")]
        );
    }

    #[test]
    fn old_source_versions_read_as_worldwide_or_per_instance_pairs() {
        assert_eq!(
            version_in("2025010100", "Worldwide").as_deref(),
            Some("2025010100")
        );
        assert_eq!(version_in("2025010100", "China"), None);
        let pairs = "Worldwide=2025010100;China=2025010200";
        assert_eq!(version_in(pairs, "China").as_deref(), Some("2025010200"));
        assert_eq!(version_in(pairs, "USGovDoD"), None);
    }

    #[test]
    fn merging_one_instance_keeps_the_others_and_their_versions() {
        let live = content("2025010100", &["m365:1", "m365:2"]);
        let china = content("2025010100", &["m365-China:1"]);
        let both = merge(Some(&live), "China", &china);
        assert_eq!(both.sets.len(), 3);
        assert_eq!(both.source_version, "China=2025010100;Worldwide=2025010100");
        assert_eq!(version_of(&both, "China").as_deref(), Some("2025010100"));
        let ww = content("2025020100", &["m365:1"]);
        let next = merge(Some(&both), "Worldwide", &ww);
        let ids: Vec<&str> = next.sets.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["m365-China:1", "m365:1"]);
        assert_eq!(
            version_of(&next, "Worldwide").as_deref(),
            Some("2025020100")
        );
        assert_eq!(version_of(&next, "China").as_deref(), Some("2025010100"));
        assert_eq!(part(&next, "China").sets.len(), 1);
        assert_eq!(part(&next, "China").source_version, "2025010100");
    }
}
