//! Which candidate wins: the precedence order, ties, ports, IPv4 prefixes.

use super::*;

#[test]
fn exact_beats_pattern_beats_suffix_whatever_the_rule_order() {
    let m = matcher(vec![
        rule("suffix", "direct", &["*.example.com"]),
        rule("pattern", "upstream:corp", &["a*.example.com"]),
        rule("exact", "block", &["abc.example.com"]),
    ]);
    assert_eq!(winner(&m, "abc.example.com", 443), "exact");
    assert_eq!(winner(&m, "axe.example.com", 443), "pattern");
    assert_eq!(winner(&m, "zzz.example.com", 443), "suffix");
    assert_eq!(winner(&m, "a.zzz.example.com", 443), "suffix");
}

#[test]
fn longer_suffix_beats_shorter_and_exact_beats_both() {
    let m = matcher(vec![
        rule("allow-example", "direct", &["*.example.com"]),
        rule("block-bad", "block", &["*.bad.example.com"]),
        rule("allow-good", "direct", &["good.bad.example.com"]),
    ]);
    let x = canonical_host("x.bad.example.com").unwrap();
    assert_eq!(m.decide(&x, 443).action, &Action::Block);
    assert_eq!(winner(&m, "x.bad.example.com", 443), "block-bad");
    assert_eq!(winner(&m, "good.bad.example.com", 443), "allow-good");
    assert_eq!(winner(&m, "bad.example.com", 443), "allow-example");
    assert_eq!(winner(&m, "x.example.com", 443), "allow-example");
}

#[test]
fn pattern_with_longer_anchor_beats_more_literal_characters() {
    // Both match `prefix.ab.com`; `*x.ab.com` is anchored on two labels, `prefix.*.com` on one.
    let m = matcher(vec![
        rule("short-anchor", "direct", &["prefix.*.com"]),
        rule("long-anchor", "block", &["*x.ab.com"]),
    ]);
    assert_eq!(winner(&m, "prefix.ab.com", 443), "long-anchor");
    assert_eq!(winner(&m, "prefix.cd.com", 443), "short-anchor");
}

#[test]
fn pattern_with_more_literal_characters_wins_on_the_same_anchor() {
    let m = matcher(vec![
        rule("loose", "direct", &["a*.example.com"]),
        rule("tight", "block", &["abc*.example.com"]),
    ]);
    assert_eq!(winner(&m, "abcd.example.com", 443), "tight");
    assert_eq!(winner(&m, "axyz.example.com", 443), "loose");
}

#[test]
fn earlier_rule_wins_at_equal_specificity() {
    let m = matcher(vec![
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
    ]);
    assert_eq!(winner(&m, "same.example.com", 443), "first");
    assert_eq!(winner(&m, "x.example.net", 443), "first");
    // Both patterns have one literal character on the same anchor.
    assert_eq!(winner(&m, "aa.example.org", 443), "first");
    assert_eq!(winner(&m, "ba.example.org", 443), "second");
}

#[test]
fn suffix_wildcard_is_strict_and_label_aligned() {
    let m = matcher(vec![rule(
        "m365",
        "direct",
        &["*.example.com", "*.office.com"],
    )]);
    assert_eq!(winner(&m, "a.example.com", 443), "m365");
    assert_eq!(winner(&m, "a.b.example.com", 443), "m365");
    assert_eq!(winner(&m, "example.com", 443), "default");
    assert_eq!(winner(&m, "fakeexample.com", 443), "default");
    assert_eq!(winner(&m, "fakeoffice.com", 443), "default");
    assert_eq!(winner(&m, "office.com.evil.net", 443), "default");
}

#[test]
fn pattern_star_stays_within_one_label() {
    let m = matcher(vec![rule(
        "patterns",
        "direct",
        &["*cdn.onenote.net", "autodiscover.*.onmicrosoft.com"],
    )]);
    assert_eq!(winner(&m, "cdn.onenote.net", 443), "patterns");
    assert_eq!(winner(&m, "xcdn.onenote.net", 443), "patterns");
    assert_eq!(winner(&m, "a.xcdn.onenote.net", 443), "default");
    assert_eq!(winner(&m, "cdnx.onenote.net", 443), "default");
    assert_eq!(
        winner(&m, "autodiscover.contoso.onmicrosoft.com", 443),
        "patterns"
    );
    assert_eq!(
        winner(&m, "autodiscover.a.b.onmicrosoft.com", 443),
        "default"
    );
    assert_eq!(winner(&m, "autodiscover.onmicrosoft.com", 443), "default");
    assert_eq!(
        winner(&m, "x.autodiscover.contoso.onmicrosoft.com", 443),
        "default"
    );
}

#[test]
fn rule_not_covering_the_port_falls_through_to_the_next_candidate() {
    let m = matcher(vec![
        on_ports(rule("smtp-only", "block", &["mail.example.com"]), &[25]),
        on_ports(
            rule("web-pattern", "upstream:corp", &["mail*.example.com"]),
            &[80],
        ),
        rule("everything", "direct", &["*.example.com"]),
        on_ports(rule("late-exact", "block", &["www.example.com"]), &[8443]),
    ]);
    assert_eq!(winner(&m, "mail.example.com", 25), "smtp-only");
    assert_eq!(winner(&m, "mail.example.com", 80), "web-pattern");
    assert_eq!(winner(&m, "mail.example.com", 443), "everything");
    assert_eq!(winner(&m, "www.example.com", 8443), "late-exact");
    assert_eq!(winner(&m, "www.example.com", 443), "everything");

    let only_smtp = matcher(vec![on_ports(
        rule("smtp", "direct", &["mail.example.com"]),
        &[25],
    )]);
    assert_eq!(winner(&only_smtp, "mail.example.com", 443), "default");
}

#[test]
fn equally_specific_rules_fall_through_in_rule_order() {
    let m = matcher(vec![
        on_ports(rule("http", "block", &["api.example.com"]), &[80]),
        rule("any", "direct", &["api.example.com"]),
    ]);
    assert_eq!(winner(&m, "api.example.com", 80), "http");
    assert_eq!(winner(&m, "api.example.com", 443), "any");
}

#[test]
fn longest_cidr_prefix_wins_then_earlier_rule() {
    let m = matcher(vec![
        rule("ten", "direct", &["10.0.0.0/8"]),
        rule("ten-one", "block", &["10.1.0.0/16"]),
        rule("host", "upstream:corp", &["10.1.2.3"]),
        rule("ten-one-again", "direct", &["10.1.0.0/16"]),
        on_ports(rule("web-only", "direct", &["10.1.2.0/24"]), &[80]),
    ]);
    assert_eq!(winner(&m, "10.1.2.3", 443), "host");
    assert_eq!(winner(&m, "10.1.9.9", 443), "ten-one");
    assert_eq!(winner(&m, "10.1.2.4", 80), "web-only");
    assert_eq!(
        winner(&m, "10.1.2.4", 443),
        "ten-one",
        "port falls through to a shorter prefix"
    );
    assert_eq!(winner(&m, "10.9.9.9", 443), "ten");
    assert_eq!(
        winner(&m, "0x0a.1.2.3", 443),
        "host",
        "every IPv4 spelling is the address"
    );
    assert_eq!(winner(&m, "11.0.0.1", 443), "default");
}

#[test]
fn ip_literals_and_names_never_match_each_other() {
    let m = matcher(vec![
        rule("names", "direct", &["*.com", "1.2.3.example"]),
        rule("everything-v4", "block", &["0.0.0.0/0"]),
    ]);
    assert_eq!(winner(&m, "[::1]", 443), "default");
    assert_eq!(winner(&m, "[::ffff:10.0.0.1]", 443), "default");
    assert_eq!(winner(&m, "192.0.2.1", 443), "everything-v4");
    assert_eq!(winner(&m, "example.com", 443), "names");
}

#[test]
fn a_suffix_hit_still_yields_to_a_pattern_on_a_shorter_anchor() {
    // `x.b.example.com` hits `*.b.example.com` first (the longer parent), but the pattern anchored
    // at `example.com` outranks any suffix; a name with no pattern below it decides at once.
    let m = matcher(vec![
        rule("suffix", "direct", &["*.b.example.com", "*.other.org"]),
        rule("pattern", "block", &["x.*.example.com"]),
    ]);
    assert_eq!(winner(&m, "x.b.example.com", 443), "pattern");
    assert_eq!(winner(&m, "y.b.example.com", 443), "suffix");
    assert_eq!(winner(&m, "x.other.org", 443), "suffix");
}

#[test]
fn hosts_deeper_and_keys_longer_than_usual_still_match() {
    let long = format!("{}.example.com", "a".repeat(60));
    let m = matcher(vec![
        rule("long-exact", "block", &[&long]),
        rule("long-suffix", "direct", &[&format!("*.{long}")]),
        rule("pattern", "upstream:corp", &["api-*.example.net"]),
    ]);
    assert_eq!(winner(&m, &long, 443), "long-exact");
    assert_eq!(winner(&m, &format!("x.{long}"), 443), "long-suffix");
    let deep = format!("{}x.{long}", "a.b.c.d.e.f.g.h.".repeat(3));
    assert_eq!(winner(&m, &deep, 443), "long-suffix");
    assert_eq!(
        winner(&m, "a.b.c.d.e.f.g.h.api-eu.example.net", 443),
        "default"
    );
    assert_eq!(winner(&m, "api-eu.example.net", 443), "pattern");
    assert_eq!(
        winner(&m, "a.b.c.d.e.f.g.h.i.j.k.unlisted.example", 443),
        "default"
    );
}
