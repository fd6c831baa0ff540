//! Who may order what: art. 1, 3, 5, 6, 10-3, 11, 13.

use super::*;
use crate::contracts::OptionKind::*;

const TODAY: &str = "2025-01-15";

#[test]
fn a_tenant_is_in_service_only_with_a_template_and_a_bypass_or_integration() {
    // (contracts ordered, in service?, reasons)
    let cases: [(&[ContractOrder], bool, usize); 6] = [
        (&[], false, 2),
        (&[template(TemplateItem::Microsoft365)], false, 1),
        (&[bypass(20_000)], false, 1),
        (&[order(ContractKind::ExternalIntegration)], false, 1),
        (
            &[template(TemplateItem::GoogleWorkspace), bypass(40_000)],
            true,
            0,
        ),
        (
            &[
                template(TemplateItem::AzureExpressroute),
                order(ContractKind::ExternalIntegration),
            ],
            true,
            0,
        ),
    ];
    for (orders, in_service, reasons) in cases {
        let mut w = World::new();
        for o in orders {
            w.ok(TODAY, add(o.clone()));
        }
        let e = w.effective(TODAY);
        assert_eq!(e.in_service, in_service, "{orders:?}");
        assert_eq!(e.reasons_not_in_service.len(), reasons, "{e:?}");
        assert!(
            e.reasons_not_in_service
                .iter()
                .all(|r| r.starts_with("art. 6-1: ")),
            "{e:?}"
        );
    }
}

#[test]
fn service_and_limit_start_on_the_billing_start_day() {
    let mut w = World::new();
    w.ok(
        TODAY,
        add(starting(template(TemplateItem::Microsoft365), "2025-02-01")),
    );
    w.ok(TODAY, add(starting(bypass(40_000), "2025-02-01")));
    let before = w.effective("2025-01-31");
    assert!(
        !before.in_service && before.session_limit.is_none(),
        "{before:?}"
    );
    let after = w.effective("2025-02-01");
    assert!(after.in_service, "{after:?}");
    assert_eq!(
        (after.session_limit, after.region.as_deref()),
        (Some(40_000), Some("tokyo"))
    );
    assert_eq!(
        w.contract("c2").term.status(day("2025-01-31")),
        Status::Pending
    );
}

#[test]
fn cloud_bypass_needs_the_private_backbone_attribute() {
    let mut w = World::new();
    w.ok(TODAY, attributes(false, None));
    let msg = w.refused(TODAY, add(bypass(20_000)), ErrorKind::Conflict);
    assert!(
        msg.starts_with("art. 6-2: a cloud-bypass contract needs a private-backbone"),
        "{msg}"
    );
    w.ok(TODAY, attributes(true, None));
    w.ok(TODAY, add(bypass(20_000)));
    // And the attribute stays while the bypass is held.
    let msg = w.refused(TODAY, attributes(false, None), ErrorKind::Conflict);
    assert!(
        msg.starts_with("art. 6-2: tenant acme holds cloud-bypass contract c1"),
        "{msg}"
    );
}

#[test]
fn internet_access_needs_a_bypass_and_a_contract_from_2020_05_01() {
    // (internet-access contract date, accepted?)
    let cases = [
        (None, false),
        (Some("2019-12-31"), false),
        (Some("2020-04-30"), false),
        (Some("2020-05-01"), true),
        (Some("2020-05-02"), true),
        (Some("2024-02-29"), true),
    ];
    for (date, accepted) in cases {
        let mut w = World::serving(TODAY);
        w.ok(TODAY, attributes(true, date));
        if accepted {
            w.ok(TODAY, add_option(InternetAccess));
            assert!(w.effective(TODAY).internet_access);
        } else {
            let msg = w.refused(TODAY, add_option(InternetAccess), ErrorKind::Conflict);
            assert!(msg.starts_with("art. 6-3: option internet-access needs an internet-access contract made on or after 2020-05-01"), "{msg}");
        }
    }
    let mut w = World::new();
    w.ok(TODAY, attributes(true, Some("2021-01-01")));
    let msg = w.refused(TODAY, add_option(InternetAccess), ErrorKind::Conflict);
    assert_eq!(
        msg,
        "art. 6-3: option internet-access needs a cloud-bypass contract; tenant acme holds none"
    );
}

#[test]
fn the_internet_access_date_cannot_be_dropped_while_the_option_is_held() {
    let mut w = World::serving(TODAY);
    w.ok(TODAY, attributes(true, Some("2020-05-01")));
    w.ok(TODAY, add_option(InternetAccess));
    for date in [None, Some("2020-04-30")] {
        let msg = w.refused(TODAY, attributes(true, date), ErrorKind::Conflict);
        assert!(
            msg.starts_with("art. 6-3: option internet-access (o1) needs"),
            "{msg}"
        );
    }
    w.ok(TODAY, attributes(true, Some("2022-06-01")));
}

#[test]
fn other_options_need_a_cloud_bypass() {
    for kind in [AccessControl, Pac, ListUpdateApi] {
        let mut w = World::new();
        w.ok(TODAY, add(template(TemplateItem::Microsoft365)));
        w.ok(TODAY, add(order(ContractKind::ExternalIntegration)));
        let msg = w.refused(TODAY, add_option(kind), ErrorKind::Conflict);
        assert_eq!(
            msg,
            format!(
                "art. 6-4: option {kind} needs a cloud-bypass contract; tenant acme holds none"
            )
        );
        w.ok(TODAY, add(bypass(20_000)));
        w.ok(TODAY, add_option(kind));
        let msg = w.refused(TODAY, add_option(kind), ErrorKind::Conflict);
        assert!(
            msg.starts_with(&format!("art. 10: tenant acme already holds option {kind}")),
            "{msg}"
        );
    }
}

#[test]
fn no_new_option_for_a_bypass_that_is_ending() {
    let mut w = World::serving(TODAY);
    w.ok(TODAY, cancel("c2", end(None)));
    let msg = w.refused(TODAY, add_option(Pac), ErrorKind::Conflict);
    assert_eq!(
        msg,
        "art. 6-4: option pac needs a cloud-bypass contract; c2 ends on 2025-02-14"
    );
}

#[test]
fn initial_setup_only_in_the_same_request_as_the_bypass() {
    let mut w = World::new();
    w.ok(TODAY, add(template(TemplateItem::Microsoft365)));
    w.ok(
        TODAY,
        add(with_options(bypass(20_000), &[InitialSetup, Pac])),
    );
    let setup = w.option(InitialSetup);
    assert_eq!((setup.id.as_str(), setup.term.min_term_end), ("o1", None));
    assert_eq!(w.option(Pac).term.min_term_end, Some(day("2025-02-15")));

    // Later, on its own, it is refused whether or not a bypass is held.
    let msg = w.refused(TODAY, add_option(InitialSetup), ErrorKind::Invalid);
    assert!(
        msg.starts_with("art. 10-3: initial setup must be ordered in the same request"),
        "{msg}"
    );
    let msg = w.refused(
        TODAY,
        add(with_options(
            template(TemplateItem::GoogleWorkspace),
            &[InitialSetup],
        )),
        ErrorKind::Invalid,
    );
    assert!(
        msg.starts_with("art. 6-4: options: ordered only with a cloud-bypass contract"),
        "{msg}"
    );
    let mut w = World::new();
    let msg = w.refused(
        TODAY,
        add(with_options(bypass(20_000), &[Pac, Pac])),
        ErrorKind::Invalid,
    );
    assert_eq!(msg, "art. 10: options[1]: pac is listed twice");
}

#[test]
fn a_refused_option_in_the_order_refuses_the_whole_order() {
    let mut w = World::new();
    let before = w.tc.clone();
    let msg = w.refused(
        TODAY,
        add(with_options(bypass(20_000), &[Pac, InternetAccess])),
        ErrorKind::Conflict,
    );
    assert!(msg.starts_with("art. 6-3: "), "{msg}");
    assert_eq!(w.tc, before);
}

#[test]
fn capacity_items_and_plans_come_from_art_3() {
    // (capacity, plan asked, accepted plan or the message's start)
    type Want = Result<u8, &'static str>;
    let cases: [(Option<u32>, Option<u8>, Want); 7] = [
        (Some(20_000), None, Ok(1)),
        (Some(200_000), Some(1), Ok(1)),
        (Some(400_000), None, Ok(2)),
        (Some(1_000_000), Some(2), Ok(2)),
        (Some(30_000), None, Err("art. 3: capacity: 30,000 sessions is not an item (plan 1: 20,000, 40,000, 120,000, 200,000; plan 2: 400,000, 800,000, 1,000,000)")),
        (Some(400_000), Some(1), Err("art. 3: plan: 400,000 sessions is an item of plan 2, not plan 1")),
        (None, Some(1), Err("art. 3: capacity: required for a cloud-bypass contract")),
    ];
    for (capacity, plan, want) in cases {
        let mut w = World::new();
        let o = ContractOrder {
            capacity,
            plan,
            ..order(ContractKind::CloudBypass)
        };
        match want {
            Ok(plan) => {
                w.ok(TODAY, add(o));
                assert!(
                    matches!(w.contract("c1").service, Service::CloudBypass { plan: p, .. } if p == plan)
                );
            }
            Err(start) => {
                let msg = w.refused(TODAY, add(o), ErrorKind::Invalid);
                assert!(msg.starts_with(start), "{msg}");
            }
        }
    }
}

#[test]
fn fields_of_another_kind_are_refused_by_name() {
    let mut w = World::new();
    let cases = [
        (ContractOrder { capacity: Some(20_000), ..template(TemplateItem::Microsoft365) }, "art. 3: capacity: a list-template contract has no capacity"),
        (ContractOrder { item: Some(TemplateItem::Microsoft365), ..bypass(20_000) }, "art. 3: item: a cloud-bypass contract has no item"),
        (ContractOrder { region: Some("tokyo".into()), ..order(ContractKind::ExternalIntegration) }, "art. 3: region: a external-integration contract has no region"),
        (order(ContractKind::ListTemplate), "art. 3: item: required for a list-template contract (microsoft365, azure-expressroute, google-workspace)"),
    ];
    for (o, want) in cases {
        assert_eq!(w.refused(TODAY, add(o), ErrorKind::Invalid), want);
    }
}

#[test]
fn the_region_is_the_tenants_and_on_the_operators_list() {
    let mut w = World::new();
    let msg = w.refused(
        TODAY,
        add(ContractOrder {
            region: Some("paris".into()),
            ..bypass(20_000)
        }),
        ErrorKind::Invalid,
    );
    assert_eq!(
        msg,
        "art. 5: region: paris is not in the operator's list of regions (osaka, tokyo)"
    );
    let msg = w.refused(
        TODAY,
        add(ContractOrder {
            region: Some("osaka".into()),
            ..bypass(20_000)
        }),
        ErrorKind::Conflict,
    );
    assert!(
        msg.starts_with("art. 5: tenant acme is pinned to region tokyo; a cloud bypass for osaka"),
        "{msg}"
    );
    w.ok(
        TODAY,
        add(ContractOrder {
            region: Some("tokyo".into()),
            ..bypass(20_000)
        }),
    );
    w.ok(TODAY, add(template(TemplateItem::Microsoft365)));
    assert_eq!(w.effective(TODAY).region.as_deref(), Some("tokyo"));
}

#[test]
fn one_contract_per_function_while_held() {
    let mut w = World::serving(TODAY);
    let cases = [
        (template(TemplateItem::Microsoft365), "art. 1: tenant acme already holds list-template microsoft365 contract c1; one child contract per function"),
        (bypass(40_000), "art. 1: tenant acme already holds cloud-bypass plan 1 contract c2; one child contract per function"),
    ];
    for (o, want) in cases {
        assert_eq!(w.refused(TODAY, add(o), ErrorKind::Conflict), want);
    }
    // Another template item is another function.
    w.ok(TODAY, add(template(TemplateItem::GoogleWorkspace)));
    // Once the first bypass has ended, a new one may be ordered.
    w.ok(TODAY, cancel("c2", end(None)));
    w.refused("2025-02-13", add(bypass(40_000)), ErrorKind::Conflict);
    w.ok("2025-02-14", add(bypass(40_000)));
    assert_eq!(w.effective("2025-02-14").session_limit, Some(40_000));
}

#[test]
fn billing_cannot_start_before_the_order_is_accepted() {
    let mut w = World::new();
    let msg = w.refused(
        TODAY,
        add(starting(bypass(20_000), "2025-01-14")),
        ErrorKind::Invalid,
    );
    assert_eq!(
        msg,
        "art. 13: billing_start: 2025-01-14 is before the order is accepted (2025-01-15)"
    );
    w.ok(TODAY, add(starting(bypass(20_000), TODAY)));
    let t = &w.contract("c1").term;
    assert_eq!(
        (t.applied, t.billing_start, t.min_term_end),
        (day(TODAY), day(TODAY), Some(day("2025-02-15")))
    );
}

#[test]
fn a_withdrawn_item_can_no_longer_be_ordered() {
    let mut w = World::new();
    w.withdrawn
        .insert(TemplateItem::GoogleWorkspace, day("2025-03-01"));
    let msg = w.refused(
        TODAY,
        add(template(TemplateItem::GoogleWorkspace)),
        ErrorKind::Conflict,
    );
    assert_eq!(msg, "art. 11: template google-workspace is withdrawn from 2025-03-01; it can no longer be ordered");
    w.ok(TODAY, add(template(TemplateItem::Microsoft365)));
}
