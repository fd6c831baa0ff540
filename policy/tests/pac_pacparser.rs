//! Generated PAC files, evaluated by a real PAC engine (pacparser, SpiderMonkey), against the
//! edge's own matcher: for every request, `FindProxyForURL` must return what
//! `Matcher::decide` decides for the same host and port, through the mapping of docs/pac.md
//! (`pac::Oracle`). The tenant is built from the real lists in `tests/fixtures`.
//!
//! Needs Debian's `python3-pacparser` (run as /usr/bin/python3); without it these tests fail
//! with a message saying so, they never pass silently.

mod pac_support;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use breakout_policy::pac::PacSettings;
use breakout_policy::{Action, Rule, Tenant};
use pac_support::{check, pacparser, probe, requests, settings, tenant, Request};

const EDGES: &str =
    "PROXY edge-1.eu-west.breakout.example:3128; PROXY edge-2.eu-west.breakout.example:3128";
const CORP: &str = "PROXY proxy.contoso.example:3128";

fn no_dns(_: &str) -> Option<Ipv4Addr> {
    None
}

#[test]
fn m365_and_google_tenant_agrees_with_the_matcher() {
    let (t, shared) = tenant();
    let s = settings();
    let reqs = requests(&t, &shared, &s);
    assert!(reqs.len() > 3000, "only {} requests", reqs.len());
    let pac = check(&t, &shared, &s, &reqs, no_dns);
    assert!(pac.stats.bytes < 64 * 1024, "{:?}", pac.stats);

    // The mapping, spelled out: what a browser is told for a few well-known hosts.
    let spot = [
        ("https://outlook.office365.com/", EDGES), // direct: the edge breaks it out
        ("https://contoso.sharepoint.com/", EDGES),
        ("https://x.bad.sharepoint.com/", EDGES), // block: the edge answers 403
        ("https://docs.microsoft.com/", CORP),    // upstream corp, mapped in the settings
        ("https://cdn.odc.officeapps.live.com/", CORP), // shadowed under a direct wildcard
        ("https://contoso-files.sharepoint.com/", EDGES), // upstream partner: not mapped
        ("http://smtp.office365.com:587/", CORP), // port-restricted rule
        ("https://smtp.office365.com/", EDGES),   // ...falls through to the M365 entry
        ("http://x.legacy.example/", EDGES),
        ("https://intranet/", "DIRECT"),            // plain host name
        ("https://hr.corp.contoso.com/", "DIRECT"), // exception
        ("https://x.onprem.sharepoint.com/", "DIRECT"), // exception beats a listed wildcard
        ("https://192.168.1.1/", "DIRECT"),         // private range
        ("https://8.8.8.8/", EDGES),                // Google service range: direct
        ("https://fakeoffice.com/", EDGES),         // default: block
    ];
    let reqs: Vec<Request> = spot
        .iter()
        .map(|(url, _)| {
            let host = url.split('/').nth(2).unwrap().split(':').next().unwrap();
            Request::new(*url, host)
        })
        .collect();
    let (got, _dir) = pacparser(&pac.text, &reqs);
    for ((url, want), got) in spot.iter().zip(&got) {
        assert_eq!(got, want, "{url}");
    }
}

#[test]
fn every_rule_is_told_apart() {
    // Each rule (and the default) gets its own proxy, so every answer names the deciding rule.
    let (t, shared) = tenant();
    let (t, s) = probe(&t, &settings());
    let reqs = requests(&t, &shared, &s);
    check(&t, &shared, &s, &reqs, no_dns);
}

#[test]
fn local_shortcuts_can_be_turned_off() {
    let (t, shared) = tenant();
    let mut s = PacSettings::with_proxies(["edge.example:8080"]);
    s.plain_hostnames_direct = false;
    s.private_ranges_direct = false;
    let reqs = requests(&t, &shared, &settings());
    let pac = check(&t, &shared, &s, &reqs, no_dns);
    let results = pac
        .text
        .lines()
        .find(|l| l.starts_with("var RESULTS"))
        .unwrap();
    assert!(
        !results.contains("DIRECT"),
        "no DIRECT result is needed: {results}"
    );
    let (t, s) = probe(&t, &s);
    check(&t, &shared, &s, &reqs, no_dns);
}

#[test]
fn ip_rules_resolve_names_that_no_name_rule_matches() {
    // pacparser resolves `localhost` through /etc/hosts.
    let rule = |name: &str, action: &str, dest: &str| Rule {
        name: Some(name.into()),
        action: action.parse().unwrap(),
        destinations: vec![dest.parse().unwrap()],
        lists: Vec::new(),
        ports: Vec::new(),
    };
    let t = Tenant {
        id: "dns".into(),
        region: None,
        source_cidrs: Vec::new(),
        session_limit: 1,
        upstreams: BTreeMap::from([("corp".into(), "proxy.corp.example:3128".into())]),
        rules: vec![
            rule("loopback", "upstream:corp", "127.0.0.0/8"),
            rule("named", "direct", "*.example.com"),
        ],
        default_action: Action::Block,
        lists: BTreeMap::new(),
        egress_address: None,
        pac: None,
    };
    let mut s = PacSettings::with_proxies(["edge.example:3128"]);
    s.plain_hostnames_direct = false;
    s.private_ranges_direct = false;
    s.ip_rules = true;
    s.upstream_proxies
        .insert("corp".into(), vec!["proxy.corp.example:3128".into()]);
    let reqs = vec![
        Request::new("https://localhost/", "localhost"),
        Request::new("https://LOCALHOST./", "LOCALHOST."),
        Request::new("https://www.example.com/", "www.example.com"),
        Request::new("https://127.0.0.1/", "127.0.0.1"),
    ];
    let resolved = |h: &str| match h.trim_end_matches('.').eq_ignore_ascii_case("localhost") {
        true => Some(Ipv4Addr::LOCALHOST),
        false => None,
    };
    let pac = check(&t, &BTreeMap::new(), &s, &reqs, resolved);
    let (got, _dir) = pacparser(&pac.text, &reqs[..1]);
    assert_eq!(got, ["PROXY proxy.corp.example:3128"]);
    assert!(pac.text.contains("dnsResolve("));
}
