//! The real Microsoft 365 worldwide endpoint list (`tests/fixtures`), turned into a tenant the way
//! a template would: Optimize and Allow sets go direct, Default sets go to the corporate proxy.
//! Shared by the integration tests and the matcher benchmark (included with `#[path]`). The
//! parsing and list building are `breakout_policy::m365`.
#![allow(dead_code)]

use std::collections::BTreeMap;

use breakout_policy::{Action, NamedList, Rule, Tenant};

pub use breakout_policy::m365::{EndpointSet, M365Lists, DEFAULT, OPTIMIZE_ALLOW};

pub const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/m365-worldwide-endpoints.json"
);

pub fn load() -> Vec<EndpointSet> {
    let text = std::fs::read_to_string(FIXTURE).expect("read the M365 fixture");
    breakout_policy::m365::parse(&text).expect("parse the M365 fixture")
}

pub fn lists(sets: &[EndpointSet]) -> M365Lists {
    breakout_policy::m365::lists(sets).expect("the fixture's entries parse")
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
        pac: None,
    };
    (tenant, shared, l)
}
