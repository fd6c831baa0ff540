//! The real Microsoft 365 worldwide endpoint list (`tests/fixtures`), turned into a tenant the way
//! a template would: Optimize and Allow sets go direct, Default sets go to the corporate proxy.
//! Shared by the integration tests and the matcher benchmark (included with `#[path]`).
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use breakout_policy::{Action, Destination, NamedList, Rule, Tenant};
use serde::Deserialize;

pub const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/m365-worldwide-endpoints.json"
);

/// One endpoint set of `GET /endpoints/Worldwide`. `serviceArea` stays a string: Microsoft adds
/// new values over time.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSet {
    pub id: u32,
    pub service_area: String,
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
}

pub fn load() -> Vec<EndpointSet> {
    let text = std::fs::read_to_string(FIXTURE).expect("read the M365 fixture");
    serde_json::from_str(&text).expect("parse the M365 fixture")
}

/// The shared lists built from the endpoint sets, and what could not be expressed.
pub struct M365Lists {
    /// URLs and IPv4 ranges of Optimize and Allow sets.
    pub optimize_allow: NamedList,
    /// URLs of Default sets (Microsoft publishes no addresses for them).
    pub default: NamedList,
    /// Sets with no TCP ports (Teams media over UDP): a web proxy cannot steer them, so they are
    /// reported here instead of being dropped silently.
    pub udp_only: Vec<u32>,
}

pub const OPTIMIZE_ALLOW: &str = "m365-optimize-allow";
pub const DEFAULT: &str = "m365-default";

pub fn lists(sets: &[EndpointSet]) -> M365Lists {
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
        for url in &set.urls {
            target.insert(url.parse::<Destination>().expect("fixture URL parses"));
        }
        // IPv6 ranges cannot be destinations (IPv6 hosts always take the default action).
        for ip in set.ips.iter().filter(|ip| !ip.contains(':')) {
            target.insert(ip.parse::<Destination>().expect("fixture range parses"));
        }
    }
    M365Lists {
        optimize_allow: NamedList {
            entries: optimize_allow.into_iter().collect(),
        },
        default: NamedList {
            entries: default.into_iter().collect(),
        },
        udp_only,
    }
}

/// The shared lists plus a tenant with two rules: `m365-optimize-allow` (direct) and
/// `m365-default` (upstream `corp`); anything else is blocked.
pub fn tenant() -> (Tenant, BTreeMap<String, NamedList>, M365Lists) {
    let l = lists(&load());
    let shared = BTreeMap::from([
        (OPTIMIZE_ALLOW.to_string(), l.optimize_allow.clone()),
        (DEFAULT.to_string(), l.default.clone()),
    ]);
    let rule = |name: &str, action: Action| Rule {
        name: Some(name.to_string()),
        action,
        destinations: Vec::new(),
        lists: vec![name.to_string()],
        ports: Vec::new(),
    };
    let tenant = Tenant {
        id: "contoso".into(),
        region: None,
        source_cidrs: vec!["198.51.100.0/24".parse().expect("literal")],
        session_limit: 1000,
        upstreams: BTreeMap::from([("corp".to_string(), "proxy.contoso.example:3128".to_string())]),
        rules: vec![
            rule(OPTIMIZE_ALLOW, Action::Direct),
            rule(DEFAULT, Action::Upstream("corp".into())),
        ],
        default_action: Action::Block,
        lists: BTreeMap::new(),
        egress_address: None,
    };
    (tenant, shared, l)
}
