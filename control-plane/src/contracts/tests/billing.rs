//! Art. 13, 14, annex 1 and 2: the price book and a month's bill.

use super::*;
use crate::contracts::billing::prorate;
use crate::contracts::rules::withdraw;
use crate::contracts::OptionKind::*;

/// Round numbers: a template is ¥3,100 a month (¥100 a day in a 31-day month), the
/// 20,000-session bypass ¥31,000, the 40,000 one ¥62,000.
fn book() -> PriceBook {
    let fees = |initial, monthly| Fees {
        initial,
        monthly,
        one_time: 0,
    };
    let bypass = |capacity: u32| Fees {
        initial: 50_000,
        monthly: u64::from(capacity / 20_000) * 31_000,
        one_time: 5_000,
    };
    PriceBook {
        list_template: TemplateItem::ALL
            .iter()
            .map(|i| (*i, fees(10_000, 3_100)))
            .collect(),
        cloud_bypass: model::capacities().map(|c| (c, bypass(c))).collect(),
        external_integration: fees(20_000, 6_200),
        options: [
            (InternetAccess, fees(30_000, 15_500)),
            (AccessControl, fees(0, 3_100)),
            (Pac, fees(10_000, 6_200)),
            (ListUpdateApi, fees(0, 3_100)),
            (InitialSetup, fees(100_000, 0)),
        ]
        .into_iter()
        .collect(),
    }
}

fn books(pairs: &[(&str, PriceBook)]) -> PriceBooks {
    pairs
        .iter()
        .map(|(from, prices)| {
            let record = PriceBookRecord {
                effective_from: day(from),
                version: 1,
                prices: prices.clone(),
            };
            (day(from), record)
        })
        .collect()
}

fn bill(w: &World, month: &str) -> Bill {
    let month: YearMonth = month.parse().expect("month");
    preview(&w.tc, &books(&[("2020-01-01", book())]), month).expect("bill")
}

/// `(kind, subject, amount)` of each line.
fn summary(b: &Bill) -> Vec<(LineKind, String, u64)> {
    b.lines
        .iter()
        .map(|l| (l.kind, l.subject.clone(), l.amount))
        .collect()
}

fn line(kind: LineKind, subject: &str, amount: u64) -> (LineKind, String, u64) {
    (kind, subject.to_string(), amount)
}

#[test]
fn the_first_month_has_initial_fees_and_prorated_monthly_fees() {
    let mut w = World::new();
    w.ok("2025-01-15", add(template(TemplateItem::Microsoft365)));
    w.ok(
        "2025-01-15",
        add(with_options(bypass(20_000), &[InitialSetup])),
    );
    let jan = bill(&w, "2025-01");
    assert_eq!(
        summary(&jan),
        [
            line(LineKind::Initial, "c1", 10_000),
            line(LineKind::Initial, "c2", 50_000),
            line(LineKind::Initial, "o1", 100_000),
            line(LineKind::Monthly, "c1", 1_700), // 17 of 31 days
            line(LineKind::Monthly, "c2", 17_000),
        ]
    );
    assert_eq!(jan.total, 178_700);
    let m = &jan.lines[4];
    assert_eq!(
        (m.from, m.to, m.days),
        (Some(day("2025-01-15")), Some(day("2025-01-31")), Some(17))
    );
    assert_eq!(m.rule, "art. 13, annex 1-2(1): monthly fee from the billing start date (2025-01-15); 17 of 31 days: 31000 × 17 / 31, rounded down");
    assert!(
        jan.lines[2].rule.starts_with(
            "art. 13, annex 1-1(2): initial fee, due when the order was accepted (2025-01-15)"
        ),
        "{}",
        jan.lines[2].rule
    );

    let feb = bill(&w, "2025-02");
    assert_eq!(
        summary(&feb),
        [
            line(LineKind::Monthly, "c1", 3_100),
            line(LineKind::Monthly, "c2", 31_000)
        ]
    );
    assert!(
        feb.lines[1].rule.ends_with("; the whole month"),
        "{}",
        feb.lines[1].rule
    );
    assert!(bill(&w, "2024-12").lines.is_empty());
}

#[test]
fn proration_is_by_the_days_of_the_calendar_month_rounded_down() {
    // (monthly, days, days in month, amount)
    let cases = [
        (3_100, 17, 31, 1_700),
        (3_100, 20, 29, 2_137), // leap February: 2,137.93…
        (3_100, 20, 28, 2_214), // 2,214.28…
        (31_000, 29, 29, 31_000),
        (31_000, 1, 30, 1_033),
        (0, 10, 30, 0),
        (u64::MAX, 31, 31, u64::MAX),
    ];
    for (monthly, days, of, amount) in cases {
        assert_eq!(
            prorate(monthly, days, of),
            amount,
            "{monthly} × {days} / {of}"
        );
    }
}

#[test]
fn a_leap_february_is_prorated_over_29_days() {
    let mut w = World::new();
    w.ok("2024-02-01", add(starting(bypass(20_000), "2024-02-10")));
    let feb = bill(&w, "2024-02");
    assert_eq!(
        summary(&feb),
        [
            line(LineKind::Initial, "c1", 50_000),
            line(LineKind::Monthly, "c1", 21_379)
        ]
    );
    assert_eq!(feb.lines[1].days, Some(20));
}

#[test]
fn a_capacity_change_splits_the_month_and_costs_a_one_time_fee() {
    let mut w = World::serving("2025-01-01");
    w.ok("2025-02-10", change("c2", 40_000, Some("2025-02-20")));
    let feb = bill(&w, "2025-02");
    assert_eq!(
        summary(&feb),
        [
            line(LineKind::Monthly, "c1", 3_100),
            line(LineKind::Monthly, "c2", 21_035), // 31,000 × 19 / 28
            line(LineKind::Monthly, "c2", 19_928), // 62,000 × 9 / 28
            line(LineKind::OneTime, "c2", 5_000),
        ]
    );
    assert_eq!(
        feb.lines[2].description,
        "cloud-bypass plan 1, 40,000 sessions"
    );
    assert_eq!(
        feb.lines[3].description,
        "cloud-bypass plan 1: 20,000 → 40,000 sessions from 2025-02-20"
    );
    assert!(
        feb.lines[3]
            .rule
            .starts_with("art. 9, art. 13, annex 1-3: one-time fee"),
        "{}",
        feb.lines[3].rule
    );
}

#[test]
fn a_new_price_book_applies_from_its_day() {
    let mut w = World::new();
    w.ok("2025-01-01", add(template(TemplateItem::Microsoft365)));
    let mut dearer = book();
    dearer.list_template.insert(
        TemplateItem::Microsoft365,
        Fees {
            initial: 0,
            monthly: 6_200,
            one_time: 0,
        },
    );
    let feb: YearMonth = "2025-02".parse().expect("month");
    let b = preview(
        &w.tc,
        &books(&[("2020-01-01", book()), ("2025-02-15", dearer)]),
        feb,
    )
    .expect("bill");
    assert_eq!(
        summary(&b),
        [
            line(LineKind::Monthly, "c1", 1_550),
            line(LineKind::Monthly, "c1", 3_100)
        ]
    );
}

#[test]
fn ending_inside_the_minimum_term_owes_the_rest_of_it_unless_it_is_the_providers_fault() {
    // Ordered Jan 10 to start Feb 1 (term until Feb 28), cancelled at once: ends Feb 9.
    for fault in [false, true] {
        let mut w = World::new();
        w.ok(
            "2025-01-10",
            add(starting(template(TemplateItem::Microsoft365), "2025-02-01")),
        );
        w.ok(
            "2025-01-10",
            cancel(
                "c1",
                EndRequest {
                    provider_fault: fault,
                    ..end(None)
                },
            ),
        );
        let feb = bill(&w, "2025-02");
        let owed = if fault { 0 } else { 2_214 }; // 3,100 × 20 / 28
        assert_eq!(
            summary(&feb),
            [
                line(LineKind::Monthly, "c1", 885),
                line(LineKind::EarlyTermination, "c1", owed)
            ]
        );
        let early = &feb.lines[1];
        assert_eq!(
            (early.from, early.to, early.days),
            (Some(day("2025-02-09")), Some(day("2025-02-28")), Some(20))
        );
        let rule = if fault {
            "art. 14-1, annex 2: waived"
        } else {
            "art. 14-1, annex 2: monthly fees for the rest of the minimum term, which runs until 2025-02-28"
        };
        assert!(early.rule.starts_with(rule), "{}", early.rule);
        assert_eq!(
            summary(&bill(&w, "2025-01")),
            [line(LineKind::Initial, "c1", 10_000)]
        );
        assert!(bill(&w, "2025-03").lines.is_empty());
    }
}

#[test]
fn the_rest_of_a_term_across_two_months_is_prorated_in_each() {
    // Billing from Jan 25 (term until Feb 24); cancelled on acceptance Jan 1: ends Jan 31.
    let mut w = World::new();
    w.ok(
        "2025-01-01",
        add(starting(template(TemplateItem::Microsoft365), "2025-01-25")),
    );
    w.ok("2025-01-01", cancel("c1", end(None)));
    let jan = bill(&w, "2025-01");
    // 1 day of January (100) + 24 days of February (3,100 × 24 / 28 = 2,657).
    assert_eq!(
        summary(&jan),
        [
            line(LineKind::Initial, "c1", 10_000),
            line(LineKind::Monthly, "c1", 600),
            line(LineKind::EarlyTermination, "c1", 2_757),
        ]
    );
    assert_eq!(jan.lines[2].days, Some(25));
}

#[test]
fn an_option_stopped_inside_its_term_owes_the_rest_but_initial_setup_has_no_term() {
    let mut w = World::new();
    w.ok("2025-01-10", add(template(TemplateItem::Microsoft365)));
    w.ok(
        "2025-01-10",
        add(starting(
            with_options(bypass(20_000), &[InitialSetup, Pac]),
            "2025-02-01",
        )),
    );
    w.ok("2025-01-10", stop(Pac, end(None)));
    w.ok("2025-01-10", stop(InitialSetup, end(None)));
    let early: Vec<_> = bill(&w, "2025-02")
        .lines
        .into_iter()
        .filter(|l| l.kind == LineKind::EarlyTermination)
        .collect();
    assert_eq!(early.len(), 1, "{early:?}");
    assert_eq!((early[0].subject.as_str(), early[0].amount), ("o2", 4_428)); // 6,200 × 20 / 28
    assert!(
        early[0].rule.starts_with("art. 14-2, annex 2: "),
        "{}",
        early[0].rule
    );
}

#[test]
fn a_withdrawal_inside_the_term_is_waived() {
    let mut w = World::serving("2025-01-15");
    w.tc = withdraw(&w.tc, TemplateItem::Microsoft365, day("2025-02-01"), 40).expect("affected");
    let feb = bill(&w, "2025-02");
    let early: Vec<_> = feb
        .lines
        .iter()
        .filter(|l| l.kind == LineKind::EarlyTermination)
        .collect();
    assert_eq!(early.len(), 1);
    assert_eq!(early[0].amount, 0);
    assert!(early[0].rule.contains("waived"), "{}", early[0].rule);
    assert!(feb
        .lines
        .iter()
        .all(|l| l.subject != "c1" || l.kind != LineKind::Monthly));
}

#[test]
fn without_a_price_book_there_is_no_bill() {
    let w = World::serving("2025-01-15");
    let err = preview(&w.tc, &PriceBooks::new(), "2025-01".parse().expect("month")).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict);
    assert!(
        err.to_string().starts_with("annex 1: no price book is set"),
        "{err}"
    );
}

#[test]
fn a_price_book_must_price_everything_and_keep_annex_1s_zeros() {
    type Spoil = fn(&mut PriceBook);
    let cases: [(Spoil, &str); 7] = [
        (|b| { b.list_template.remove(&TemplateItem::GoogleWorkspace); }, "annex 1: list_template: no fees for google-workspace"),
        (|b| { b.cloud_bypass.remove(&40_000); }, "annex 1: cloud_bypass: no fees for the 40,000-session item"),
        (|b| { b.cloud_bypass.insert(30_000, Fees::default()); }, "annex 1: cloud_bypass[30000]: 30,000 sessions is not a capacity item (art. 3)"),
        (|b| { b.options.remove(&Pac); }, "annex 1: options: no fees for pac"),
        (|b| { b.options.insert(AccessControl, Fees { initial: 1, monthly: 0, one_time: 0 }); }, "annex 1: options[access-control].initial: access-control has no initial fee; it must be 0"),
        (|b| { b.options.insert(ListUpdateApi, Fees { initial: 5, monthly: 0, one_time: 0 }); }, "annex 1: options[list-update-api].initial: list-update-api has no initial fee; it must be 0"),
        (|b| { b.options.insert(InitialSetup, Fees { initial: 0, monthly: 1, one_time: 0 }); }, "annex 1: options[initial-setup].monthly: initial-setup has no monthly fee; it must be 0"),
    ];
    book().validate().expect("the test book is complete");
    for (spoil, want) in cases {
        let mut b = book();
        spoil(&mut b);
        assert_eq!(
            b.validate().map_err(|e| e.to_string()),
            Err(want.to_string())
        );
    }
    let mut b = book();
    b.external_integration.one_time = 1;
    let msg = b.validate().unwrap_err().to_string();
    assert!(
        msg.starts_with(
            "annex 1: external_integration.one_time: only a change of cloud-bypass item"
        ),
        "{msg}"
    );
}
