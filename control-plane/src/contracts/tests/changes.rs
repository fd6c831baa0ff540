//! Art. 9: changing the capacity item, and the session limit that follows it.

use super::*;

const TODAY: &str = "2025-01-15";

#[test]
fn capacity_changes_only_within_the_same_plan() {
    // (ordered, changed to, accepted? or the message)
    type Want = Result<(), (ErrorKind, &'static str)>;
    let cases: [(u32, u32, Want); 8] = [
        (20_000, 40_000, Ok(())),
        (200_000, 20_000, Ok(())),
        (400_000, 1_000_000, Ok(())),
        (1_000_000, 800_000, Ok(())),
        (
            200_000,
            400_000,
            Err((
                ErrorKind::Conflict,
                "art. 9: capacity may change only within the same plan (plan 1 → plan 2 refused)",
            )),
        ),
        (
            400_000,
            200_000,
            Err((
                ErrorKind::Conflict,
                "art. 9: capacity may change only within the same plan (plan 2 → plan 1 refused)",
            )),
        ),
        (
            20_000,
            50_000,
            Err((
                ErrorKind::Invalid,
                "art. 3: capacity: 50,000 sessions is not an item",
            )),
        ),
        (
            40_000,
            40_000,
            Err((
                ErrorKind::Invalid,
                "art. 9: capacity: contract c2 already has the 40,000-session item",
            )),
        ),
    ];
    for (ordered, to, want) in cases {
        let mut w = World::new();
        w.ok(TODAY, add(template(TemplateItem::Microsoft365)));
        w.ok(TODAY, add(bypass(ordered)));
        match want {
            Ok(()) => {
                w.ok(TODAY, change("c2", to, None));
                assert_eq!(w.effective(TODAY).session_limit, Some(to));
                let ch = &w.contract("c2").capacity_changes[0];
                assert_eq!(
                    (ch.from, ch.to, ch.accepted, ch.effective),
                    (ordered, to, day(TODAY), day(TODAY))
                );
            }
            Err((kind, start)) => {
                let msg = w.refused(TODAY, change("c2", to, None), kind);
                assert!(msg.starts_with(start), "{ordered} → {to}: {msg}");
            }
        }
    }
}

#[test]
fn the_session_limit_follows_the_item_from_the_changes_effective_day() {
    let mut w = World::serving(TODAY);
    w.ok(TODAY, change("c2", 120_000, Some("2025-02-01")));
    let limits: Vec<_> = ["2025-01-15", "2025-01-31", "2025-02-01", "2025-03-01"]
        .iter()
        .map(|d| w.effective(d).session_limit)
        .collect();
    assert_eq!(
        limits,
        [Some(20_000), Some(20_000), Some(120_000), Some(120_000)]
    );
    // The minimum term does not restart with a change (it is not a new contract).
    assert_eq!(w.contract("c2").term.min_term_end, Some(day("2025-02-15")));
}

#[test]
fn one_scheduled_change_at_a_time_and_none_in_the_past() {
    let mut w = World::serving(TODAY);
    let msg = w.refused(
        TODAY,
        change("c2", 40_000, Some("2025-01-14")),
        ErrorKind::Invalid,
    );
    assert_eq!(
        msg,
        "art. 9: effective: 2025-01-14 is in the past (today is 2025-01-15)"
    );
    w.ok(TODAY, change("c2", 40_000, Some("2025-02-01")));
    let msg = w.refused(
        "2025-01-20",
        change("c2", 120_000, None),
        ErrorKind::Conflict,
    );
    assert_eq!(
        msg,
        "art. 9: a change of c2 to 40,000 sessions from 2025-02-01 is already scheduled"
    );
    // Once it has taken effect, the next change compares with it.
    let msg = w.refused("2025-02-01", change("c2", 40_000, None), ErrorKind::Invalid);
    assert!(msg.contains("already has the 40,000-session item"), "{msg}");
    w.ok("2025-02-01", change("c2", 200_000, None));
    assert_eq!(w.effective("2025-02-01").session_limit, Some(200_000));
}

#[test]
fn only_a_held_cloud_bypass_changes_its_item() {
    let mut w = World::serving(TODAY);
    let msg = w.refused(TODAY, change("c1", 40_000, None), ErrorKind::Conflict);
    assert_eq!(msg, "art. 9: c1 is a list-template microsoft365 contract; only a cloud bypass has a capacity item");
    let msg = w.refused(TODAY, change("c9", 40_000, None), ErrorKind::NotFound);
    assert_eq!(msg, "tenant acme has no contract c9");
    w.ok(TODAY, cancel("c2", end(None)));
    let msg = w.refused(TODAY, change("c2", 40_000, None), ErrorKind::Conflict);
    assert_eq!(
        msg,
        "art. 9: contract c2 ends on 2025-02-14; its capacity item can no longer change"
    );
    let msg = w.refused(
        "2025-03-01",
        change("c2", 40_000, None),
        ErrorKind::Conflict,
    );
    assert_eq!(
        msg,
        "art. 9: contract c2 ended on 2025-02-14; its capacity item can no longer change"
    );
}

#[test]
fn each_change_records_the_version_that_made_it() {
    let mut w = World::serving(TODAY);
    w.ok(TODAY, change("c2", 40_000, None));
    let c = w.contract("c2");
    assert_eq!(c.changed_version, w.version);
    assert_eq!(c.capacity_changes[0].version, w.version);
    assert!(c.created_version < c.changed_version);
}
