//! Destination rules as the running edge applies them: patterns, specificity, lists, ports.

use breakout_tests::{EdgeConfig, Ports, Rule, Tenant, World, TENANT};

/// Standard hosts and ports, one tenant `acme` with default `upstream:corp` and `rules`.
fn world_with_rules(rules: Vec<Rule>, lists: &[(&str, &[&str])]) -> World {
    World::start_with(move |c, p: Ports| {
        let mut t = Tenant::new(TENANT, "127.0.0.1/32", "upstream:corp").upstream("corp", p.parent);
        t.rules = rules;
        for (name, entries) in lists {
            t = t.list(name, entries);
        }
        let mut c = EdgeConfig {
            tenants: vec![t],
            ..c
        };
        for h in [
            "a.wild.test",
            "b.a.wild.test",
            "wild.test",
            "listed.test",
            "x.star.test",
        ] {
            c = c.host(h, "127.0.0.1");
        }
        c
    })
}

/// Fetches `name` on the origin's port; returns "direct", "upstream" or the status as text.
fn route(w: &World, name: &str) -> String {
    let out = w.curl(&w.url_via(name, "/")).run();
    match (out.status(), out.header("x-origin"), out.header("x-parent")) {
        (200, Some("yes"), _) => "direct".into(),
        (200, _, Some("yes")) => "upstream".into(),
        (s, _, _) => format!("status {s}"),
    }
}

#[test]
fn subdomain_pattern_matches_subdomains_but_not_the_apex() {
    let w = world_with_rules(vec![Rule::new("wild", "direct", &["*.wild.test"])], &[]);
    assert_eq!(route(&w, "a.wild.test"), "direct");
    assert_eq!(route(&w, "b.a.wild.test"), "direct");
    assert_eq!(route(&w, "wild.test"), "upstream");
}

#[test]
fn exact_destination_beats_an_earlier_pattern() {
    let w = world_with_rules(
        vec![
            Rule::new("wide-block", "block", &["*.wild.test"]),
            Rule::new("exact-direct", "direct", &["a.wild.test"]),
        ],
        &[],
    );
    assert_eq!(route(&w, "a.wild.test"), "direct");
    assert_eq!(route(&w, "b.a.wild.test"), "status 403");
}

#[test]
fn longer_pattern_beats_shorter_pattern() {
    let w = world_with_rules(
        vec![
            Rule::new("short", "block", &["*.wild.test"]),
            Rule::new("long", "direct", &["*.a.wild.test"]),
        ],
        &[],
    );
    assert_eq!(route(&w, "b.a.wild.test"), "direct");
    assert_eq!(route(&w, "a.wild.test"), "status 403");
}

#[test]
fn equal_specificity_tie_goes_to_the_earlier_rule() {
    let w = world_with_rules(
        vec![
            Rule::new("first", "direct", &["origin.test"]),
            Rule::new("second", "block", &["origin.test"]),
        ],
        &[],
    );
    assert_eq!(route(&w, "origin.test"), "direct");
}

#[test]
fn list_entries_are_matched_through_rule_lists() {
    let rule = Rule {
        destinations: vec![],
        ..Rule::new("listed", "direct", &[])
    }
    .lists(&["mine"]);
    let w = world_with_rules(vec![rule], &[("mine", &["listed.test", "*.star.test"])]);
    assert_eq!(route(&w, "listed.test"), "direct");
    assert_eq!(route(&w, "x.star.test"), "direct");
    assert_eq!(route(&w, "origin.test"), "upstream");
}

#[test]
fn rule_ports_restrict_the_match() {
    let w = world_with_rules(
        vec![Rule::new("only-1", "direct", &["origin.test"]).ports(&[1])],
        &[],
    );
    assert_eq!(
        route(&w, "origin.test"),
        "upstream",
        "origin port is not in the rule's ports"
    );
}

#[test]
fn cidr_destination_matches_ip_literals() {
    let w = world_with_rules(vec![Rule::new("loop", "direct", &["127.0.0.0/8"])], &[]);
    assert_eq!(route(&w, "127.0.0.1"), "direct");
}

#[test]
fn destination_names_match_case_insensitively() {
    let w = world_with_rules(vec![Rule::new("saas", "block", &["origin.test"])], &[]);
    assert_eq!(route(&w, "ORIGIN.Test"), "status 403");
}

#[test]
fn trailing_dot_does_not_escape_a_block_rule() {
    let w = world_with_rules(vec![Rule::new("saas", "block", &["origin.test"])], &[]);
    assert_eq!(route(&w, "origin.test."), "status 403");
}
