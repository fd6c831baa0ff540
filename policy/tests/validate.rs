//! `validate`: each check, and the field path it reports.

use breakout_policy::validate::{validate, validate_tenant};
use breakout_policy::{RegionPolicy, Tenant};

const POLICY: &str = r#"
region = "eu-west"

[lists]
m365 = ["*.sharepoint.com", "outlook.office365.com"]

[[tenants]]
id = "acme"
region = "eu-west"
source_cidrs = ["198.51.100.0/24", "203.0.113.8/29"]
session_limit = 100
default_action = "upstream:corp"
egress_address = "192.0.2.10"
upstreams = { corp = "proxy.acme.example:3128", v6 = "[2001:db8::1]:8080" }

[[tenants.rules]]
name = "m365"
action = "direct"
lists = ["m365", "own"]
ports = [443]

[[tenants.rules]]
action = "block"
destinations = ["*.bad.example"]

[tenants.lists]
own = ["intranet.acme.example"]

[[tenants]]
id = "globex.eu_2"
source_cidrs = ["198.51.101.0/24"]
session_limit = 10
"#;

fn policy() -> RegionPolicy {
    toml::from_str(POLICY).expect("test policy parses")
}

fn acme(p: &mut RegionPolicy) -> &mut Tenant {
    std::sync::Arc::make_mut(&mut p.tenants[0])
}

/// Applies `change` to the valid policy and returns the (field, message) it is refused with.
fn refused(change: impl FnOnce(&mut RegionPolicy)) -> (String, String) {
    let mut p = policy();
    change(&mut p);
    let err = validate(&p).expect_err("policy should be refused");
    (err.field, err.message)
}

#[test]
fn the_example_policy_is_valid() {
    validate(&policy()).expect("valid");
}

#[test]
fn schema_and_region_are_checked() {
    assert_eq!(refused(|p| p.schema = 2).0, "schema");
    assert_eq!(refused(|p| p.region = " ".into()).0, "region");
    assert_eq!(
        refused(|p| acme(p).region = Some("us-east".into())).0,
        "tenants[acme].region"
    );
}

#[test]
fn tenant_ids_must_be_unique_short_and_plain() {
    assert_eq!(refused(|p| acme(p).id = String::new()).0, "tenants[0].id");
    assert_eq!(
        refused(|p| std::sync::Arc::make_mut(&mut p.tenants[1]).id = "acme".into()).0,
        "tenants[acme].id"
    );
    assert_eq!(
        refused(|p| acme(p).id = "ac me".into()).0,
        "tenants[ac me].id"
    );
    assert_eq!(
        refused(|p| acme(p).id = "ac/me".into()).0,
        "tenants[ac/me].id"
    );
    let long = "a".repeat(65);
    assert_eq!(
        refused(|p| acme(p).id = long.clone()).0,
        format!("tenants[{long}].id")
    );
    let mut p = policy();
    acme(&mut p).id = "a".repeat(64);
    validate(&p).expect("64 characters are allowed");
}

#[test]
fn a_tenant_needs_a_source_network() {
    assert_eq!(
        refused(|p| acme(p).source_cidrs.clear()).0,
        "tenants[acme].source_cidrs"
    );
}

#[test]
fn overlapping_source_networks_name_the_other_tenant() {
    let (field, message) = refused(|p| {
        std::sync::Arc::make_mut(&mut p.tenants[1])
            .source_cidrs
            .push("203.0.113.12/30".parse().unwrap())
    });
    assert_eq!(field, "tenants[globex.eu_2].source_cidrs[1]");
    assert!(
        message.contains("\"acme\"") && message.contains("203.0.113.8/29"),
        "{message}"
    );

    // A wider network registered by the other tenant is an overlap too, whichever sorts first.
    let (field, message) = refused(|p| {
        std::sync::Arc::make_mut(&mut p.tenants[1])
            .source_cidrs
            .push("198.51.0.0/16".parse().unwrap())
    });
    assert_eq!(field, "tenants[acme].source_cidrs[0]");
    assert!(message.contains("\"globex.eu_2\""), "{message}");

    // The same tenant may register nested networks.
    let mut p = policy();
    acme(&mut p)
        .source_cidrs
        .push("198.51.100.128/25".parse().unwrap());
    validate(&p).expect("own networks may nest");
}

#[test]
fn upstream_actions_must_name_a_defined_upstream() {
    let (field, _) = refused(|p| acme(p).default_action = "upstream:nope".parse().unwrap());
    assert_eq!(field, "tenants[acme].default_action");
    let (field, message) = refused(|p| acme(p).rules[1].action = "upstream:nope".parse().unwrap());
    assert_eq!(field, "tenants[acme].rules[1].action");
    assert!(message.contains("\"nope\""), "{message}");
}

#[test]
fn upstream_addresses_are_host_and_port() {
    for bad in [
        "proxy",
        "proxy:",
        ":3128",
        "proxy:0",
        "proxy:65536",
        "2001:db8::1:80",
        "[::1]",
        "[zz]:80",
        "a b:80",
    ] {
        let (field, _) = refused(|p| {
            acme(p).upstreams.insert("corp".into(), bad.into());
        });
        assert_eq!(field, "tenants[acme].upstreams[corp]", "{bad:?}");
    }
    let mut p = policy();
    acme(&mut p)
        .upstreams
        .insert("corp".into(), "10.0.0.1:65535".into());
    validate(&p).expect("IPv4 upstream");
}

#[test]
fn rules_need_destinations_known_lists_and_real_ports() {
    let (field, _) = refused(|p| {
        let r = &mut acme(p).rules[1];
        r.destinations.clear();
    });
    assert_eq!(field, "tenants[acme].rules[1]");
    let (field, message) = refused(|p| acme(p).rules[0].lists.push("missing".into()));
    assert_eq!(field, "tenants[acme].rules[0].lists[2]");
    assert!(message.contains("\"missing\""), "{message}");
    assert_eq!(
        refused(|p| acme(p).rules[0].ports.push(0)).0,
        "tenants[acme].rules[0].ports[1]"
    );
}

#[test]
fn egress_address_must_be_usable_as_a_source() {
    for bad in ["0.0.0.0", "224.0.0.1", "255.255.255.255"] {
        let (field, _) = refused(|p| acme(p).egress_address = Some(bad.parse().unwrap()));
        assert_eq!(field, "tenants[acme].egress_address", "{bad}");
    }
}

#[test]
fn validate_tenant_reports_paths_relative_to_the_tenant() {
    let p = policy();
    let mut t = p.tenants[0].clone();
    validate_tenant(&t, "eu-west", &p.lists).expect("valid");
    std::sync::Arc::make_mut(&mut t).rules[0]
        .lists
        .push("missing".into());
    let err = validate_tenant(&t, "eu-west", &p.lists).unwrap_err();
    assert_eq!(err.field, "rules[0].lists[2]");
    assert!(validate_tenant(&p.tenants[0], "us-east", &p.lists).is_err());
}
