//! Art. 11: withdrawing a template item.

use super::*;
use crate::contracts::rules::{check_withdrawal, withdraw};

#[test]
fn withdrawal_ends_the_items_contracts_on_its_day_as_the_providers_doing() {
    let mut w = World::serving("2025-01-15");
    w.ok("2025-01-15", add(template(TemplateItem::GoogleWorkspace)));
    let next =
        withdraw(&w.tc, TemplateItem::Microsoft365, day("2025-03-01"), 99).expect("affected");
    let c1 = next.contracts.iter().find(|c| c.id == "c1").expect("c1");
    assert_eq!(c1.term.effective_end, Some(day("2025-03-01")));
    assert_eq!(
        (c1.term.end_reason, c1.term.provider_fault),
        (Some(EndReason::Withdrawn), true)
    );
    assert_eq!(c1.changed_version, 99);
    // The other contracts are untouched.
    let others: Vec<_> = next.contracts.iter().filter(|c| c.id != "c1").collect();
    assert!(
        others.iter().all(|c| c.term.effective_end.is_none()),
        "{others:?}"
    );
    assert!(withdraw(
        &next,
        TemplateItem::AzureExpressroute,
        day("2025-03-01"),
        100
    )
    .is_none());
}

#[test]
fn a_tenant_left_without_a_template_drops_out_of_service_on_the_withdrawal_day() {
    // (other templates held, in service on the day?)
    let cases: [(&[TemplateItem], bool); 2] =
        [(&[], false), (&[TemplateItem::AzureExpressroute], true)];
    for (others, served) in cases {
        let mut w = World::serving("2025-01-15");
        for item in others {
            w.ok("2025-01-15", add(template(*item)));
        }
        w.tc =
            withdraw(&w.tc, TemplateItem::Microsoft365, day("2025-03-01"), 50).expect("affected");
        assert!(w.effective("2025-02-28").in_service);
        let on = w.effective("2025-03-01");
        assert_eq!(on.in_service, served, "{others:?}: {on:?}");
        assert_eq!(on.session_limit, Some(20_000), "the bypass itself runs on");
    }
}

#[test]
fn a_contract_already_ending_sooner_keeps_its_end_and_reason() {
    let mut w = World::serving("2025-01-15");
    w.ok("2025-01-20", cancel("c1", end(None)));
    assert_eq!(w.contract("c1").term.effective_end, Some(day("2025-02-19")));
    assert!(withdraw(&w.tc, TemplateItem::Microsoft365, day("2025-03-01"), 60).is_none());
    // A withdrawal before a scheduled end brings the end forward, as the provider's doing.
    let next =
        withdraw(&w.tc, TemplateItem::Microsoft365, day("2025-02-01"), 61).expect("affected");
    let t = &next.contracts[0].term;
    assert_eq!(
        (t.effective_end, t.end_reason, t.provider_fault),
        (Some(day("2025-02-01")), Some(EndReason::Withdrawn), true)
    );
}

#[test]
fn an_item_is_withdrawn_once_and_never_retroactively() {
    let mut withdrawn = BTreeMap::new();
    let today = day("2025-01-15");
    check_withdrawal(&withdrawn, TemplateItem::GoogleWorkspace, today, today)
        .expect("today is fine");
    let err = check_withdrawal(
        &withdrawn,
        TemplateItem::GoogleWorkspace,
        day("2025-01-14"),
        today,
    )
    .unwrap_err();
    assert_eq!(
        (err.kind, err.to_string().as_str()),
        (
            ErrorKind::Invalid,
            "art. 11: effective: 2025-01-14 is in the past (today is 2025-01-15)"
        )
    );
    withdrawn.insert(TemplateItem::GoogleWorkspace, day("2025-02-01"));
    let err = check_withdrawal(
        &withdrawn,
        TemplateItem::GoogleWorkspace,
        day("2025-03-01"),
        today,
    )
    .unwrap_err();
    assert_eq!(
        (err.kind, err.to_string().as_str()),
        (
            ErrorKind::Conflict,
            "art. 11: template google-workspace is already withdrawn from 2025-02-01"
        )
    );
}
