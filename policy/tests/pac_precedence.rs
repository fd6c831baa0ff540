//! The matcher's precedence cases (`policy/src/matcher/tests/precedence.rs`), case for case,
//! through a generated PAC evaluated by pacparser: each rule gets its own proxy in the PAC, so
//! the answer names the rule that decided, and it must be the rule the matcher picks.

mod pac_support;

use std::collections::BTreeMap;

use breakout_policy::pac::PacSettings;
use breakout_policy::{Action, Rule, Tenant};
use pac_support::{check, pacparser, probe, Request};

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

/// Asserts that for each `(host, port, rule label)` the PAC's answer names that rule
/// (`"default"` when none matches), and that every answer equals the oracle's.
fn winners(rules: Vec<Rule>, cases: &[(&str, u16, &str)]) {
    let tenant = Tenant {
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
    };
    let mut settings = PacSettings::with_proxies(["edge.example:3128"]);
    settings.plain_hostnames_direct = false;
    settings.private_ranges_direct = false;
    let (t, s) = probe(&tenant, &settings);
    let reqs: Vec<Request> = cases
        .iter()
        .map(|(host, port, _)| {
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            let in_url = match bare.contains(':') {
                true => format!("[{bare}]"),
                false => bare.to_string(),
            };
            Request::new(format!("http://{in_url}:{port}/"), bare)
        })
        .collect();
    let pac = check(&t, &BTreeMap::new(), &s, &reqs, |_| None);
    let (got, _dir) = pacparser(&pac.text, &reqs);
    for ((host, port, want), got) in cases.iter().zip(got) {
        let label = match got.strip_prefix("PROXY rule-") {
            Some(rest) => {
                let i: usize = rest.split('.').next().unwrap().parse().unwrap();
                tenant.rules[i].name.clone().unwrap()
            }
            None if got.starts_with("PROXY default.") => "default".into(),
            None => panic!("{host}:{port}: unexpected answer {got:?}"),
        };
        assert_eq!(label, *want, "{host}:{port} ({got})");
    }
}

#[test]
fn exact_beats_pattern_beats_suffix_whatever_the_rule_order() {
    winners(
        vec![
            rule("suffix", "direct", &["*.example.com"]),
            rule("pattern", "upstream:corp", &["a*.example.com"]),
            rule("exact", "block", &["abc.example.com"]),
        ],
        &[
            ("abc.example.com", 443, "exact"),
            ("axe.example.com", 443, "pattern"),
            ("zzz.example.com", 443, "suffix"),
            ("a.zzz.example.com", 443, "suffix"),
        ],
    );
}

#[test]
fn longer_suffix_beats_shorter_and_exact_beats_both() {
    winners(
        vec![
            rule("allow-example", "direct", &["*.example.com"]),
            rule("block-bad", "block", &["*.bad.example.com"]),
            rule("allow-good", "direct", &["good.bad.example.com"]),
        ],
        &[
            ("x.bad.example.com", 443, "block-bad"),
            ("good.bad.example.com", 443, "allow-good"),
            ("bad.example.com", 443, "allow-example"),
            ("x.example.com", 443, "allow-example"),
        ],
    );
}

#[test]
fn pattern_with_longer_anchor_beats_more_literal_characters() {
    winners(
        vec![
            rule("short-anchor", "direct", &["prefix.*.com"]),
            rule("long-anchor", "block", &["*x.ab.com"]),
        ],
        &[
            ("prefix.ab.com", 443, "long-anchor"),
            ("prefix.cd.com", 443, "short-anchor"),
        ],
    );
}

#[test]
fn any_pattern_beats_any_suffix_even_a_longer_one() {
    winners(
        vec![
            rule("suffix", "direct", &["*.b.com"]),
            rule("pattern", "block", &["*.*.com"]),
        ],
        &[
            ("x.b.com", 443, "pattern"),
            ("x.y.b.com", 443, "suffix"),
            ("b.com", 443, "default"),
        ],
    );
}

#[test]
fn pattern_with_more_literal_characters_wins_on_the_same_anchor() {
    winners(
        vec![
            rule("loose", "direct", &["a*.example.com"]),
            rule("tight", "block", &["abc*.example.com"]),
        ],
        &[
            ("abcd.example.com", 443, "tight"),
            ("axyz.example.com", 443, "loose"),
        ],
    );
}

#[test]
fn earlier_rule_wins_at_equal_specificity() {
    winners(
        vec![
            rule(
                "first",
                "direct",
                &["same.example.com", "*.example.net", "a*.example.org"],
            ),
            rule(
                "second",
                "block",
                &["same.example.com", "*.example.net", "*a.example.org"],
            ),
        ],
        &[
            ("same.example.com", 443, "first"),
            ("x.example.net", 443, "first"),
            ("aa.example.org", 443, "first"),
            ("ba.example.org", 443, "second"),
        ],
    );
}

#[test]
fn suffix_wildcard_is_strict_and_label_aligned() {
    winners(
        vec![rule("m365", "direct", &["*.example.com", "*.office.com"])],
        &[
            ("a.example.com", 443, "m365"),
            ("a.b.example.com", 443, "m365"),
            ("example.com", 443, "default"),
            ("fakeexample.com", 443, "default"),
            ("fakeoffice.com", 443, "default"),
            ("office.com.evil.net", 443, "default"),
        ],
    );
}

#[test]
fn pattern_star_stays_within_one_label() {
    winners(
        vec![rule(
            "patterns",
            "direct",
            &["*cdn.onenote.net", "autodiscover.*.onmicrosoft.com"],
        )],
        &[
            ("cdn.onenote.net", 443, "patterns"),
            ("xcdn.onenote.net", 443, "patterns"),
            ("a.xcdn.onenote.net", 443, "default"),
            ("cdnx.onenote.net", 443, "default"),
            ("autodiscover.contoso.onmicrosoft.com", 443, "patterns"),
            ("autodiscover.a.b.onmicrosoft.com", 443, "default"),
            ("autodiscover.onmicrosoft.com", 443, "default"),
            ("x.autodiscover.contoso.onmicrosoft.com", 443, "default"),
        ],
    );
}

#[test]
fn rule_not_covering_the_port_falls_through_to_the_next_candidate() {
    winners(
        vec![
            on_ports(rule("smtp-only", "block", &["mail.example.com"]), &[25]),
            on_ports(
                rule("web-pattern", "upstream:corp", &["mail*.example.com"]),
                &[80],
            ),
            rule("everything", "direct", &["*.example.com"]),
            on_ports(rule("late-exact", "block", &["www.example.com"]), &[8443]),
        ],
        &[
            ("mail.example.com", 25, "smtp-only"),
            ("mail.example.com", 80, "web-pattern"),
            ("mail.example.com", 443, "everything"),
            ("www.example.com", 8443, "late-exact"),
            ("www.example.com", 443, "everything"),
        ],
    );
    winners(
        vec![on_ports(
            rule("smtp", "direct", &["mail.example.com"]),
            &[25],
        )],
        &[("mail.example.com", 443, "default")],
    );
}

#[test]
fn equally_specific_rules_fall_through_in_rule_order() {
    winners(
        vec![
            on_ports(rule("http", "block", &["api.example.com"]), &[80]),
            rule("any", "direct", &["api.example.com"]),
        ],
        &[
            ("api.example.com", 80, "http"),
            ("api.example.com", 443, "any"),
        ],
    );
}

#[test]
fn longest_cidr_prefix_wins_then_earlier_rule() {
    winners(
        vec![
            rule("ten", "direct", &["10.0.0.0/8"]),
            rule("ten-one", "block", &["10.1.0.0/16"]),
            rule("host", "upstream:corp", &["10.1.2.3"]),
            rule("ten-one-again", "direct", &["10.1.0.0/16"]),
            on_ports(rule("web-only", "direct", &["10.1.2.0/24"]), &[80]),
        ],
        &[
            ("10.1.2.3", 443, "host"),
            ("10.1.9.9", 443, "ten-one"),
            ("10.1.2.4", 80, "web-only"),
            ("10.1.2.4", 443, "ten-one"),
            ("10.9.9.9", 443, "ten"),
            ("0x0a.1.2.3", 443, "host"),
            ("11.0.0.1", 443, "default"),
        ],
    );
}

#[test]
fn ip_literals_and_names_never_match_each_other() {
    winners(
        vec![
            rule("names", "direct", &["*.com", "1.2.3.example"]),
            rule("everything-v4", "block", &["0.0.0.0/0"]),
        ],
        &[
            ("[::1]", 443, "default"),
            ("[::ffff:10.0.0.1]", 443, "default"),
            ("192.0.2.1", 443, "everything-v4"),
            ("example.com", 443, "names"),
            ("1.2.3.example", 443, "names"),
        ],
    );
}
