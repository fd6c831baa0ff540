//! Where candidates come from and how hosts are read: lists, IDN, case, explain.

use super::*;

#[test]
fn lists_resolve_in_the_tenant_first_then_shared() {
    let mut t = tenant(vec![with_lists(
        rule("lists", "direct", &[]),
        &["common", "vendor"],
    )]);
    t.lists
        .insert("common".into(), list(&["tenant.example.com"]));
    let shared = BTreeMap::from([
        ("common".to_string(), list(&["shared.example.com"])),
        ("vendor".to_string(), list(&["*.vendor.example"])),
    ]);
    let m = Matcher::compile(&t, &shared).expect("compiles");
    assert_eq!(winner(&m, "tenant.example.com", 443), "lists");
    assert_eq!(
        winner(&m, "shared.example.com", 443),
        "default",
        "tenant list shadows shared"
    );
    assert_eq!(winner(&m, "cdn.vendor.example", 443), "lists");
    assert_eq!(
        m.explain("cdn.vendor.example", 443)
            .unwrap()
            .list
            .as_deref(),
        Some("vendor")
    );
}

#[test]
fn unknown_list_is_a_compile_error_naming_the_rule_and_the_list() {
    let t = tenant(vec![
        rule("inline", "direct", &["a.example.com"]),
        with_lists(rule("m365", "direct", &[]), &["nope"]),
    ]);
    let err = Matcher::compile(&t, &BTreeMap::new()).unwrap_err();
    assert_eq!(err.field, "rules[1].lists[0]");
    assert!(
        err.message.contains("\"m365\"") && err.message.contains("\"nope\""),
        "{err}"
    );
}

#[test]
fn idn_rule_matches_the_a_label_request_and_the_unicode_one() {
    let m = matcher(vec![rule("books", "direct", &["bücher.example"])]);
    assert_eq!(winner(&m, "xn--bcher-kva.example", 443), "books");
    assert_eq!(winner(&m, "BÜCHER.example", 443), "books");
    assert_eq!(
        m.explain("bücher.example", 443).unwrap().entry.as_deref(),
        Some("xn--bcher-kva.example")
    );
}

#[test]
fn case_and_trailing_dot_do_not_matter() {
    let m = matcher(vec![rule(
        "exo",
        "direct",
        &["Outlook.Office365.com.", "*.SharePoint.com"],
    )]);
    assert_eq!(winner(&m, "OUTLOOK.office365.COM.", 443), "exo");
    assert_eq!(winner(&m, "Contoso.SHAREPOINT.com.", 443), "exo");
}

#[test]
fn directly_built_destinations_are_canonicalised() {
    let mut r = rule("raw", "direct", &[]);
    r.destinations = vec![
        Destination::Exact("Foo.Example.COM.".into()),
        Destination::Pattern("A*.Example.com".into()),
        Destination::Exact("10.0.0.1".into()),
    ];
    let m = matcher(vec![r]);
    assert_eq!(winner(&m, "foo.example.com", 443), "raw");
    assert_eq!(winner(&m, "ab.example.com", 443), "raw");
    assert_eq!(winner(&m, "10.0.0.1", 443), "raw");
}

#[test]
fn invalid_directly_built_destination_is_a_compile_error() {
    let mut r = rule("raw", "direct", &[]);
    r.destinations = vec![Destination::Pattern("a.*".into())];
    let err = Matcher::compile(&tenant(vec![r]), &BTreeMap::new()).unwrap_err();
    assert_eq!(err.field, "rules[0].destinations[0]");

    // In lists: a tenant list is named by its own path, a shared one by the rule's reference.
    let bad = NamedList::new(vec![Destination::Exact("a b".into())]);
    let mut t = tenant(vec![with_lists(
        rule("l", "direct", &[]),
        &["own", "shared"],
    )]);
    t.lists.insert("own".into(), bad.clone());
    let err = Matcher::compile(&t, &BTreeMap::new()).unwrap_err();
    assert_eq!(err.field, "lists[own].entries[0]");
    t.lists.clear();
    t.lists.insert("own".into(), list(&["ok.example"]));
    let err = Matcher::compile(&t, &BTreeMap::from([("shared".into(), bad)])).unwrap_err();
    assert_eq!(err.field, "rules[0].lists[1]");
    assert!(
        err.message.starts_with("shared list \"shared\", entry 0:"),
        "{err}"
    );
}

#[test]
fn explain_names_the_rule_list_and_entry() {
    let mut t = tenant(vec![
        rule("inline", "block", &["*.bad.example.com"]),
        with_lists(rule("saas", "upstream:corp", &[]), &["saas"]),
    ]);
    t.lists
        .insert("saas".into(), list(&["autodiscover.*.onmicrosoft.com"]));
    let m = Matcher::compile(&t, &BTreeMap::new()).expect("compiles");

    let e = m
        .explain("AutoDiscover.Contoso.onmicrosoft.com.", 443)
        .unwrap();
    assert_eq!(
        e,
        Explanation {
            host: "autodiscover.contoso.onmicrosoft.com".into(),
            port: 443,
            action: Action::Upstream("corp".into()),
            rule: Some(1),
            rule_label: "saas".into(),
            list: Some("saas".into()),
            entry: Some("autodiscover.*.onmicrosoft.com".into()),
        }
    );
    let e = m.explain("x.bad.example.com", 8080).unwrap();
    assert_eq!(
        (e.list, e.entry.as_deref()),
        (None, Some("*.bad.example.com"))
    );

    let e = m.explain("[2001:db8::1]", 443).unwrap();
    assert_eq!(
        (e.rule, e.rule_label.as_str(), e.entry),
        (None, "default", None)
    );
    assert_eq!(
        (e.host.as_str(), e.action),
        ("[2001:db8::1]", Action::Block)
    );
    assert!(m.explain("a b", 443).is_err());
}

#[test]
fn rule_labels_default_to_the_index() {
    let mut unnamed = rule("", "direct", &["a.example.com"]);
    unnamed.name = None;
    let m = matcher(vec![rule("named", "direct", &["b.example.com"]), unnamed]);
    assert_eq!(m.rule_label(Some(0)), "named");
    assert_eq!(m.rule_label(Some(1)), "rules[1]");
    assert_eq!(m.rule_label(None), "default");
    assert_eq!(m.rule_label(Some(99)), "default");
    assert_eq!(m.default_action(), &Action::Block);
}

#[test]
fn stats_count_the_tables() {
    let m = matcher(vec![
        rule(
            "a",
            "direct",
            &[
                "a.example.com",
                "*.example.com",
                "x*.example.com",
                "10.0.0.0/8",
            ],
        ),
        rule("b", "direct", &["a.example.com"]),
    ]);
    let s = m.stats();
    assert_eq!(
        (s.rules, s.entries, s.names, s.patterns, s.cidrs),
        (2, 5, 2, 1, 1)
    );
}
