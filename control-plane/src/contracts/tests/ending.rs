//! Art. 12 cancellation and 10-5 option stop: when the end takes effect, what it takes along.

use super::*;
use crate::contracts::OptionKind::*;

#[test]
fn a_cancellation_takes_effect_on_the_later_of_notice_plus_30_days_and_the_named_day() {
    // (billing start, notice day, requested end, effective end, inside the minimum term?)
    let cases = [
        ("2025-01-15", "2025-01-15", None, "2025-02-14", true),
        ("2025-01-15", "2025-01-16", None, "2025-02-15", false),
        (
            "2025-01-15",
            "2025-01-15",
            Some("2025-02-15"),
            "2025-02-15",
            false,
        ),
        (
            "2025-01-15",
            "2025-01-15",
            Some("2025-01-20"),
            "2025-02-14",
            true,
        ),
        // Notice on the last day of the term (Feb 14): it ends 30 days later, after the term.
        ("2025-01-15", "2025-02-14", None, "2025-03-16", false),
        // Jan 31 + one month is Feb 28 (2025) or Feb 29 (2024).
        ("2025-01-31", "2025-01-31", None, "2025-03-02", false),
        ("2024-01-31", "2024-01-31", None, "2024-03-01", false),
        ("2025-01-29", "2025-01-29", None, "2025-02-28", false),
        ("2024-01-30", "2024-01-30", None, "2024-02-29", false),
        ("2024-01-31", "2024-01-30", None, "2024-02-29", false),
        ("2024-01-31", "2024-01-29", None, "2024-02-28", true),
        (
            "2025-12-31",
            "2025-12-31",
            Some("2026-01-15"),
            "2026-01-30",
            true,
        ),
        (
            "2025-12-31",
            "2025-12-31",
            Some("2026-01-31"),
            "2026-01-31",
            false,
        ),
    ];
    for (start, notice, requested, effective, early) in cases {
        let mut w = World::new();
        w.ok(notice.min(start), add(starting(bypass(20_000), start)));
        w.ok(notice, cancel("c1", end(requested)));
        let t = &w.contract("c1").term;
        assert_eq!(
            t.effective_end,
            Some(day(effective)),
            "{start} {notice} {requested:?}"
        );
        assert_eq!(
            (t.notice, t.requested_end),
            (Some(day(notice)), requested.map(day))
        );
        assert_eq!(t.end_reason, Some(EndReason::Notice));
        let inside = t.min_term_end.is_some_and(|m| day(effective) < m);
        assert_eq!(
            inside, early,
            "{start} {notice}: term ends {:?}",
            t.min_term_end
        );
    }
}

#[test]
fn a_contract_is_served_until_the_day_before_its_end_takes_effect() {
    let mut w = World::serving("2025-01-15");
    w.ok("2025-02-01", cancel("c1", end(None)));
    let t = &w.contract("c1").term;
    assert_eq!(t.effective_end, Some(day("2025-03-03")));
    let states: Vec<_> = ["2025-02-01", "2025-03-02", "2025-03-03"]
        .iter()
        .map(|d| t.status(day(d)))
        .collect();
    assert_eq!(states, [Status::Ending, Status::Ending, Status::Ended]);
    assert!(w.effective("2025-03-02").in_service);
    let after = w.effective("2025-03-03");
    assert!(!after.in_service);
    assert_eq!(
        after.reasons_not_in_service,
        ["art. 6-1: no list-template contract in force"]
    );
    // The bypass is still in force: its limit and region remain, for billing and display.
    assert_eq!(after.session_limit, Some(20_000));
}

#[test]
fn cancelling_twice_or_an_unknown_contract_is_refused() {
    let mut w = World::serving("2025-01-15");
    w.ok("2025-01-20", cancel("c1", end(None)));
    let msg = w.refused(
        "2025-01-21",
        cancel("c1", end(Some("2025-06-01"))),
        ErrorKind::Conflict,
    );
    assert_eq!(msg, "art. 12: contract c1 already ends on 2025-02-19");
    let msg = w.refused("2025-03-01", cancel("c1", end(None)), ErrorKind::Conflict);
    assert_eq!(msg, "art. 12: contract c1 already ended on 2025-02-19");
    w.refused("2025-03-01", cancel("c7", end(None)), ErrorKind::NotFound);
}

#[test]
fn a_bypass_ends_only_with_the_options_that_need_it() {
    let mut w = World::new();
    w.ok("2025-01-15", add(template(TemplateItem::Microsoft365)));
    w.ok(
        "2025-01-15",
        add(with_options(
            bypass(20_000),
            &[InitialSetup, Pac, AccessControl],
        )),
    );
    w.ok("2025-01-20", stop(AccessControl, end(Some("2025-02-01"))));
    // Access control already stops (Feb 19) before the bypass would (Mar 3); the others outlive it.
    let msg = w.refused("2025-02-01", cancel("c2", end(None)), ErrorKind::Conflict);
    assert_eq!(msg, "art. 6-4: options initial-setup (o1), pac (o2) need the cloud bypass, which would end on 2025-03-03; stop them first or cancel with stop_options");
    let notice = EndRequest {
        stop_options: true,
        provider_fault: true,
        ..end(None)
    };
    w.ok("2025-02-01", cancel("c2", notice));
    let ends: Vec<_> =
        w.tc.options
            .iter()
            .map(|o| (o.kind, o.term.effective_end, o.term.provider_fault))
            .collect();
    assert_eq!(
        ends,
        [
            (InitialSetup, Some(day("2025-03-03")), true),
            (Pac, Some(day("2025-03-03")), true),
            (AccessControl, Some(day("2025-02-19")), false),
        ]
    );
    let msg = w.refused(
        "2025-02-01",
        cancel(
            "c1",
            EndRequest {
                stop_options: true,
                ..end(None)
            },
        ),
        ErrorKind::Invalid,
    );
    assert!(
        msg.starts_with("art. 6-4: stop_options: only ending a cloud-bypass contract"),
        "{msg}"
    );
}

#[test]
fn an_option_stops_on_the_later_of_notice_plus_30_days_and_the_named_day() {
    // (requested end, effective end)
    let cases = [
        (None, "2025-03-03"),
        (Some("2025-02-10"), "2025-03-03"),
        (Some("2025-04-01"), "2025-04-01"),
    ];
    for (requested, effective) in cases {
        let mut w = World::serving("2025-01-15");
        w.ok("2025-01-15", add_option(Pac));
        w.ok("2025-02-01", stop(Pac, end(requested)));
        assert_eq!(w.option(Pac).term.effective_end, Some(day(effective)));
        let msg = w.refused("2025-02-02", stop(Pac, end(None)), ErrorKind::Conflict);
        assert_eq!(
            msg,
            format!("art. 10-5: option pac (o1) already ends on {effective}")
        );
    }
    let mut w = World::serving("2025-01-15");
    let msg = w.refused("2025-01-15", stop(Pac, end(None)), ErrorKind::NotFound);
    assert_eq!(msg, "tenant acme holds no pac option");
}

#[test]
fn a_stopped_option_may_be_ordered_again_once_it_has_ended() {
    let mut w = World::serving("2025-01-15");
    w.ok("2025-01-15", add_option(Pac));
    w.ok("2025-01-15", stop(Pac, end(None)));
    w.refused("2025-02-13", add_option(Pac), ErrorKind::Conflict);
    w.ok("2025-02-14", add_option(Pac));
    assert_eq!(w.option(Pac).id, "o2");
    assert_eq!(w.tc.held_ids(day("2025-02-14")), ["c1", "c2", "o2"]);
}
