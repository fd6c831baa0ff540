use std::collections::BTreeMap;

use breakout_policy::Matcher;
use breakout_policy::{Action, SourceCidr, Tenant};

use super::*;
use crate::templates::m365::template;

const M365: &str = include_str!("../../../../tests/fixtures/m365-worldwide-endpoints.json");

fn sub(categories: &[&str]) -> Subscription {
    Subscription {
        groups: Vec::new(),
        categories: categories.iter().map(|c| Category::new(c)).collect(),
        required_only: false,
        action: Action::Direct,
        add: Vec::new(),
        exclude: Vec::new(),
        pin: None,
        instance: None,
    }
}

/// A tenant whose only rules are the compiled subscription, default `upstream:corp`.
fn tenant(c: &Compiled) -> Tenant {
    Tenant {
        id: "acme".into(),
        region: Some("tokyo".into()),
        source_cidrs: vec!["192.0.2.0/24".parse::<SourceCidr>().expect("cidr")],
        session_limit: 10,
        upstreams: BTreeMap::from([("corp".to_string(), "127.0.0.1:3129".to_string())]),
        rules: c.rules.clone(),
        default_action: Action::Upstream("corp".into()),
        lists: c.lists.iter().cloned().collect(),
        egress_address: None,
        pac: None,
    }
}

fn decide(t: &Tenant, host: &str) -> Action {
    let m = Matcher::compile(t, &BTreeMap::new()).expect("compiles");
    m.explain(host, 443).expect("valid host").action
}

#[test]
fn optimize_allow_direct_with_default_hosts_kept_on_the_default_action() {
    let content = template(M365, "1").expect("parses");
    let upstream = Action::Upstream("corp".into());
    let c = compile(
        TemplateItem::Microsoft365,
        &sub(&["Optimize", "Allow"]),
        &content,
        &upstream,
    );
    let t = tenant(&c);
    assert_eq!(decide(&t, "outlook.office365.com"), Action::Direct);
    assert_eq!(decide(&t, "contoso.sharepoint.com"), Action::Direct);
    // Default category, under the Allow wildcard *.officeapps.live.com: the exact entry decides.
    assert_eq!(decide(&t, "cdn.odc.officeapps.live.com"), upstream);
    assert_eq!(decide(&t, "x.officeapps.live.com"), Action::Direct);
    assert_eq!(decide(&t, "example.org"), upstream);
    assert!(c
        .lists
        .iter()
        .any(|(n, _)| n == "template-microsoft365-shadowed"));
}

#[test]
fn filters_overrides_and_udp_only_sets() {
    let content = template(M365, "1").expect("parses");
    let mut s = sub(&[]);
    s.groups = vec!["Exchange".into()];
    s.add = vec!["mail.example.com".parse().expect("dest")];
    s.exclude = vec!["smtp.office365.com".parse().expect("dest")];
    let c = compile(TemplateItem::Microsoft365, &s, &content, &Action::Block);
    let t = tenant(&c);
    assert_eq!(decide(&t, "outlook.office365.com"), Action::Direct);
    assert_eq!(decide(&t, "mail.example.com"), Action::Direct);
    assert_ne!(decide(&t, "smtp.office365.com"), Action::Direct);
    assert_ne!(decide(&t, "contoso.sharepoint.com"), Action::Direct);
    let (_, list) = &c.lists[0];
    assert!(list
        .entries
        .iter()
        .all(|d| !matches!(d, Destination::Cidr(n) if n.to_string() == "13.107.64.0/18")));
}

#[test]
fn required_only_leaves_out_optional_sets() {
    let content = template(M365, "1").expect("parses");
    let mut s = sub(&[]);
    s.required_only = true;
    let all = compile(
        TemplateItem::Microsoft365,
        &sub(&[]),
        &content,
        &Action::Block,
    );
    let req = compile(TemplateItem::Microsoft365, &s, &content, &Action::Block);
    assert!(req.lists[0].1.entries.len() < all.lists[0].1.entries.len());
}
