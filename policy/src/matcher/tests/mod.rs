//! Matcher unit tests; helpers here, cases in the submodules.

use std::collections::BTreeMap;

use super::*;
use crate::canon::canonical_host;

mod inputs;
mod precedence;

fn rule(name: &str, action: &str, destinations: &[&str]) -> Rule {
    Rule {
        name: Some(name.to_string()),
        action: action.parse().expect("test action"),
        destinations: destinations
            .iter()
            .map(|d| d.parse().expect("test destination"))
            .collect(),
        lists: Vec::new(),
        ports: Vec::new(),
    }
}

fn on_ports(mut r: Rule, ports: &[u16]) -> Rule {
    r.ports = ports.to_vec();
    r
}

fn with_lists(mut r: Rule, lists: &[&str]) -> Rule {
    r.lists = lists.iter().map(|l| l.to_string()).collect();
    r
}

fn list(entries: &[&str]) -> NamedList {
    NamedList::new(
        entries
            .iter()
            .map(|d| d.parse().expect("test entry"))
            .collect(),
    )
}

fn tenant(rules: Vec<Rule>) -> Tenant {
    Tenant {
        id: "acme".into(),
        region: None,
        source_cidrs: Vec::new(),
        session_limit: 10,
        upstreams: BTreeMap::from([("corp".to_string(), "proxy.corp.example:3128".to_string())]),
        rules,
        default_action: Action::Block,
        lists: BTreeMap::new(),
        egress_address: None,
        pac: None,
    }
}

fn matcher(rules: Vec<Rule>) -> Matcher {
    Matcher::compile(&tenant(rules), &BTreeMap::new()).expect("compiles")
}

/// The label of the rule that decides `host:port` ("default" when none does).
fn winner(m: &Matcher, host: &str, port: u16) -> String {
    let h = canonical_host(host).expect("test host");
    m.rule_label(m.decide(&h, port).rule).to_string()
}
