use std::collections::BTreeMap;

use super::*;
use crate::{Action, Rule};

fn dests(entries: &[&str]) -> Vec<Destination> {
    entries.iter().map(|e| e.parse().expect("entry")).collect()
}

fn rule(name: &str, action: Action, inline: &[&str], lists: &[&str]) -> Rule {
    Rule {
        name: Some(name.into()),
        action,
        destinations: dests(inline),
        lists: lists.iter().map(|s| s.to_string()).collect(),
        ports: Vec::new(),
    }
}

fn tenant(rules: Vec<Rule>, lists: &[(&str, &[&str])]) -> Tenant {
    Tenant {
        id: "acme".into(),
        region: None,
        source_cidrs: Vec::new(),
        session_limit: 1,
        upstreams: BTreeMap::new(),
        rules,
        default_action: Action::Block,
        lists: lists
            .iter()
            .map(|(n, e)| (n.to_string(), NamedList::new(dests(e))))
            .collect(),
        egress_address: None,
        pac: None,
    }
}

fn values(entries: &[&Entry]) -> Vec<String> {
    entries.iter().map(|e| e.dest.to_string()).collect()
}

#[test]
fn the_first_rule_naming_a_destination_decides_it_and_order_is_by_action_then_value() {
    let t = tenant(
        vec![
            rule("deny", Action::Block, &["bad.example.com"], &["blocklist"]),
            rule("saas", Action::Direct, &["bad.example.com"], &["m365"]),
        ],
        &[("blocklist", &["z.example.net", "10.0.0.0/8"])],
    );
    let shared = BTreeMap::from([(
        "m365".to_string(),
        NamedList::new(dests(&["*.office.com", "outlook.office365.com"])),
    )]);
    let all = effective(&t, &shared);
    let got: Vec<(String, String, String)> = all
        .iter()
        .map(|e| (e.action.clone(), e.dest.to_string(), e.source.clone()))
        .collect();
    let want = [
        ("block", "bad.example.com", "rule:deny"),
        ("block", "z.example.net", "list:blocklist"),
        ("block", "10.0.0.0/8", "list:blocklist"),
        ("direct", "outlook.office365.com", "list:m365"),
        ("direct", "*.office.com", "list:m365"),
    ];
    let want: Vec<(String, String, String)> = want
        .iter()
        .map(|(a, v, s)| (a.to_string(), v.to_string(), s.to_string()))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn filters_select_action_and_kind() {
    let t = tenant(
        vec![
            rule("a", Action::Direct, &["a.example", "192.0.2.0/24"], &[]),
            rule("b", Action::Upstream("corp".into()), &["b.example"], &[]),
        ],
        &[],
    );
    let all = effective(&t, &BTreeMap::new());
    let f = |action: Option<&str>, kind: Option<KindFilter>| Filter {
        action: action.map(str::to_string),
        kind,
    };
    assert_eq!(
        values(&f(Some("direct"), None).apply(&all)),
        ["a.example", "192.0.2.0/24"]
    );
    assert_eq!(
        values(&f(Some("upstream"), None).apply(&all)),
        ["b.example"]
    );
    assert_eq!(
        values(&f(Some("upstream:corp"), Some(KindFilter::Hosts)).apply(&all)),
        ["b.example"]
    );
    assert_eq!(
        values(&f(None, Some(KindFilter::Cidrs)).apply(&all)),
        ["192.0.2.0/24"]
    );
}

fn entries(list: &[&str]) -> Vec<Entry> {
    let t = tenant(vec![rule("r", Action::Direct, list, &[])], &[]);
    effective(&t, &BTreeMap::new())
}

#[test]
fn text_keeps_whole_label_wildcards_and_counts_what_it_cannot_express() {
    let all = entries(&[
        "a.example.com",
        "*.example.org",
        "autodiscover.*.onmicrosoft.com",
        "*cdn.onenote.net",
        "192.0.2.7",
    ]);
    let refs: Vec<&Entry> = all.iter().collect();
    let out = render_text(&refs);
    assert_eq!(
        out.text,
        "a.example.com\n*.example.org\nautodiscover.*.onmicrosoft.com\n192.0.2.7\n"
    );
    assert_eq!(out.omitted, 1);
}

#[test]
fn squid_drops_covered_entries_and_keeps_the_covering_one() {
    let all = entries(&[
        "*.example.com",
        "www.example.com",
        "example.com",
        "*.a.example.com",
        "other.net",
        "*.cdn.example.org",
        "x.example.org",
        "autodiscover.*.example.com",
        "*cdn.example.net",
    ]);
    let refs: Vec<&Entry> = all.iter().collect();
    let out = render_squid(&refs);
    assert_eq!(
        out.text,
        ".cdn.example.org\n.example.com\nother.net\nx.example.org\n"
    );
    assert_eq!(out.covered, 3);
    assert_eq!(out.to_regex, 2);
    let regex = render_squid_regex(&refs);
    assert_eq!(regex.text, "^[^.]*cdn\\.example\\.net$\n");
    assert_eq!(regex.covered, 1);
}

#[test]
fn csv_quotes_per_rfc_4180() {
    let mut t = tenant(
        vec![rule("a, \"quoted\"", Action::Direct, &["a.example"], &[])],
        &[],
    );
    t.rules[0].ports = vec![443, 8443];
    let all = effective(&t, &BTreeMap::new());
    let refs: Vec<&Entry> = all.iter().collect();
    assert_eq!(
        render_csv(&refs),
        "action,kind,value,source,ports\r\n\
         direct,host,a.example,\"rule:a, \"\"quoted\"\"\",443 8443\r\n"
    );
}

#[test]
fn json_names_kind_and_source_and_deltas_list_both_sides() {
    let old = entries(&["a.example", "b.example"]);
    let new = entries(&["b.example", "c.example"]);
    let refs: Vec<&Entry> = new.iter().collect();
    let v: serde_json::Value = serde_json::from_str(&render_json("acme", &refs)).expect("json");
    assert_eq!(v["tenant"], "acme");
    assert_eq!(v["entries"][0]["value"], "b.example");
    assert_eq!(v["entries"][0]["kind"], "host");
    assert_eq!(v["entries"][0]["source"], "rule:r");
    assert_eq!(v["entries"][0]["action"], "direct");
    let delta = Delta::between(&old, &new);
    let v: serde_json::Value =
        serde_json::from_str(&render_delta_json("acme", 5, 7, &delta)).expect("json");
    assert_eq!(v["since"], 5);
    assert_eq!(v["added"][0]["value"], "c.example");
    assert_eq!(v["removed"][0]["value"], "a.example");
    assert!(Delta::between(&new, &new).is_empty());
}
