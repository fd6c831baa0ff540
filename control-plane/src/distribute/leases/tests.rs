use breakout_policy::wire::TenantUsage;
use breakout_policy::{Action, SourceCidr, Tenant};

use super::*;
use crate::state::{apply, serve_commands, Command, Outcome, Request, TenantPatch};
use crate::state::{CreateRegion, CreateTenant, UpdateTenant};
use breakout_policy::wire::Report;

mod blocks;
mod floors;

/// Regions tokyo and osaka; acme in tokyo, in service with a 20,000-session cloud bypass capped
/// at `limit` by the operator.
fn state(limit: u32) -> State {
    let tenant = tenant("acme", "10.0.0.0/8");
    let cap = TenantPatch {
        session_cap: Some(Some(limit)),
        ..TenantPatch::default()
    };
    let mut commands = vec![
        Command::CreateRegion(CreateRegion {
            name: "tokyo".into(),
            description: None,
        }),
        Command::CreateRegion(CreateRegion {
            name: "osaka".into(),
            description: None,
        }),
        Command::CreateTenant(CreateTenant { tenant }),
    ];
    commands.extend(serve_commands("acme", 20_000));
    commands.push(Command::UpdateTenant(UpdateTenant {
        id: "acme".into(),
        if_match: None,
        patch: cap,
    }));
    applied(commands)
}

/// A tenant of region tokyo with source network `cidr`.
fn tenant(id: &str, cidr: &str) -> Tenant {
    Tenant {
        id: id.into(),
        region: Some("tokyo".into()),
        source_cidrs: vec![cidr.parse::<SourceCidr>().expect("cidr")],
        session_limit: 1,
        upstreams: Default::default(),
        rules: Vec::new(),
        default_action: Action::Direct,
        lists: Default::default(),
        egress_address: None,
        pac: None,
    }
}

/// The state after `commands`, each of which must be done.
fn applied(commands: Vec<Command>) -> State {
    let mut s = State::default();
    for (i, command) in commands.into_iter().enumerate() {
        let req = Request {
            actor: "test".into(),
            at_ms: 0,
            command,
        };
        let outcome = apply(&mut s, i as u64 + 1, &req);
        assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
    }
    s
}

fn report(
    edge: &str,
    region: &str,
    active: u32,
    refused: u32,
    holding: (u64, u32),
) -> RelayedReport {
    let usage = TenantUsage {
        active,
        refused,
        holding_epoch: holding.0,
        holding_sessions: holding.1,
    };
    RelayedReport {
        edge_id: edge.into(),
        region: region.into(),
        age_ms: 0,
        report: Report {
            seq: 1,
            tenants: BTreeMap::from([("acme".to_string(), usage)]),
            ..Report::default()
        },
    }
}

fn hub() -> Arc<LeaseHub> {
    LeaseHub::new(&Registry::new(), QuotaConfig::default()).expect("hub")
}

#[test]
fn only_a_leader_answers_and_its_epochs_carry_the_term() {
    let hub = hub();
    assert!(hub.exchange(Vec::new(), &[]).is_none());
    assert!(hub.usage().is_none());
    hub.set_leading(true, 1);
    let reports = vec![
        report("tk-1", "tokyo", 0, 0, (0, 0)),
        report("tk-2", "tokyo", 0, 0, (0, 0)),
        report("os-1", "osaka", 0, 0, (0, 0)),
    ];
    assert_eq!(
        hub.exchange(reports.clone(), &[]).map(|a| a.grants),
        Some(Vec::new())
    );
    hub.round(&state(100));
    let grants = hub.exchange(reports, &[]).expect("leading").grants;
    let ids: Vec<&str> = grants.iter().map(|g| g.edge_id.as_str()).collect();
    assert_eq!(
        ids,
        ["tk-1", "tk-2"],
        "osaka's edge gets nothing of a tokyo tenant"
    );
    for g in &grants {
        assert_eq!(g.grants.epoch >> 32, 1);
        let acme = g.grants.grants["acme"];
        assert!(acme.sessions >= 1 && acme.floor == 50, "{acme:?}");
        let ttl = QuotaConfig::default().ttl_ms - TRANSIT_MARGIN.as_millis() as u64;
        assert!(acme.ttl_ms <= ttl, "{acme:?}");
    }
    let usage = hub.usage().expect("usage");
    assert_eq!(usage.len(), 1);
    assert_eq!((usage[0].limit, usage[0].edges), (100, 2));
    assert!(usage[0].granted <= 100);
    hub.set_leading(false, 1);
    assert!(hub.usage().is_none());
}

#[test]
fn an_edge_that_reports_the_round_it_holds_gets_a_renewal_not_its_grants_again() {
    let hub = hub();
    hub.set_leading(true, 1);
    let st = state(100);
    let first = report("tk-1", "tokyo", 0, 0, (0, 0));
    hub.exchange(vec![first.clone()], &[]);
    hub.round(&st);
    let answer = |r: &RelayedReport| {
        let mut grants = hub.exchange(vec![r.clone()], &[]).expect("leading").grants;
        grants.pop().expect("tk-1's grants").grants
    };
    let whole = answer(&first);
    assert!(
        whole.renew.is_none(),
        "it reported holding nothing: all listed"
    );
    // The edge reports holding each frame's grants; the first is lowered once it is idle
    // (10% busy headroom, then 1%), the one after stays as it is.
    let mut held = whole;
    let mut holding = first;
    for seq in 2..4 {
        let acme = held.grants.get("acme").copied();
        let sessions = acme.map_or(holding.report.tenants["acme"].holding_sessions, |g| {
            g.sessions
        });
        holding = report("tk-1", "tokyo", 0, 0, (held.epoch, sessions));
        (holding.report.seq, holding.report.grants_epoch) = (seq, held.epoch);
        hub.exchange(vec![holding.clone()], &[]);
        hub.round(&st);
        let next = answer(&holding);
        assert!(next.epoch > held.epoch);
        assert_eq!(next.renew.as_ref().map(|r| r.from), Some(held.epoch));
        held = next;
    }
    assert!(
        held.grants.is_empty(),
        "unchanged: renewed, not listed: {:?}",
        held.grants
    );
    // Between two rounds the edge, given this round's frame, is not answered again.
    let between = hub.exchange(vec![holding.clone()], &[]).expect("leading");
    assert!(between.grants.is_empty(), "{:?}", between.grants);
    // A report naming a round the leader no longer keeps (it came late) is answered from the
    // frame answered before (`after_a_late_report_answers_renew_from_the_frame_sent`).
    holding.report.grants_epoch = 1;
    hub.round(&st);
    let again = answer(&holding);
    assert_eq!(again.renew.as_ref().map(|r| r.from), Some(held.epoch));
}

#[test]
fn a_busy_edge_grows_to_the_whole_limit_and_the_sum_stays_within_it() {
    let hub = hub();
    hub.set_leading(true, 1);
    let st = state(100);
    let (mut busy, mut idle) = ((0, 0), (0, 0));
    for _ in 0..40 {
        let reports = vec![
            report("tk-1", "tokyo", busy.1, 5, busy),
            report("tk-2", "tokyo", 0, 0, idle),
        ];
        hub.exchange(reports.clone(), &[]);
        hub.round(&st);
        let grants = hub.exchange(reports, &[]).expect("leading").grants;
        let sum: u32 = grants
            .iter()
            .map(|g| g.grants.grants["acme"].sessions)
            .sum();
        assert!(sum <= 100, "{grants:?}");
        let held = |id: &str| {
            let g = &grants
                .iter()
                .find(|g| g.edge_id == id)
                .expect("edge")
                .grants;
            (g.epoch, g.grants["acme"].sessions)
        };
        (busy, idle) = (held("tk-1"), held("tk-2"));
    }
    assert!(busy.1 >= 95, "the busy edge reached {}", busy.1);
}

#[test]
fn a_later_term_renews_what_edges_hold_but_grants_nothing_new_at_first() {
    let hub = hub();
    hub.set_leading(true, 3);
    let reports = vec![report("tk-1", "tokyo", 35, 3, ((2 << 32) | 9, 40))];
    hub.exchange(reports.clone(), &[]);
    hub.round(&state(100));
    let grants = hub.exchange(reports, &[]).expect("leading").grants;
    assert_eq!(grants[0].grants.grants["acme"].sessions, 40);
    assert_eq!(grants[0].grants.epoch >> 32, 3);
}

/// Issue 14: every round rebuilt every region's whole policy (rules, lists, template
/// subscriptions) under the lease mutex only to read the limits. The limits are now a table
/// built once per store version; a round at the same version reuses it, a new version (here
/// the operator's cap lowered) gives a new one.
#[test]
fn limits_are_read_once_per_store_version_not_rebuilt_every_round() {
    let hub = hub();
    hub.set_leading(true, 1);
    let st = state(100);
    hub.round(&st);
    let first = hub.limits(&st);
    hub.round(&st);
    assert!(
        Arc::ptr_eq(&first, &hub.limits(&st)),
        "rebuilt at the same version"
    );
    let tokyo = ("tokyo".to_string(), vec![("acme".to_string(), 100)]);
    assert_eq!(first.regions, [("osaka".to_string(), Vec::new()), tokyo]);

    let mut lowered = st.clone();
    let cap = TenantPatch {
        session_cap: Some(Some(60)),
        ..TenantPatch::default()
    };
    let req = Request {
        actor: "test".into(),
        at_ms: 0,
        command: Command::UpdateTenant(UpdateTenant {
            id: "acme".into(),
            if_match: None,
            patch: cap,
        }),
    };
    let outcome = apply(&mut lowered, st.version + 1, &req);
    assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
    hub.round(&lowered);
    assert_eq!(hub.usage().expect("leading")[0].limit, 60);
}

/// Issue 16 (clock jumps): lease time was the wall clock. Stepped forward, every grant an edge
/// still held looked expired and its capacity went to another edge (over-admission); stepped
/// back, expired grants stayed counted for the whole jump. Leases now count on the monotonic
/// clock: a wall-clock step in either direction changes nothing, and grants still expire
/// after their lifetime.
#[test]
fn a_wall_clock_step_neither_frees_nor_freezes_what_edges_hold() {
    use crate::clock::ManualClock;
    for step_ms in [3_600_000i64, -3_600_000] {
        let clock = ManualClock::new(1_700_000_000_000);
        let hub = hub();
        hub.set_clock(clock.clone());
        hub.set_leading(true, 1);
        let st = state(100);
        // tk-1 grows to nearly the whole limit and holds it.
        let mut busy = (0, 0);
        for _ in 0..40 {
            let reports = vec![
                report("tk-1", "tokyo", busy.1, 5, busy),
                report("tk-2", "tokyo", 0, 0, (0, 0)),
            ];
            hub.exchange(reports.clone(), &[]);
            hub.round(&st);
            let grants = hub.exchange(reports, &[]).expect("leading").grants;
            let g = &grants
                .iter()
                .find(|g| g.edge_id == "tk-1")
                .expect("tk-1")
                .grants;
            busy = (g.epoch, g.grants["acme"].sessions);
            clock.advance(Duration::from_millis(100));
        }
        assert!(busy.1 >= 90, "tk-1 reached {}", busy.1);
        // The wall clock steps; tk-2 now wants sessions while tk-1 still holds its grant.
        clock.step_wall(step_ms);
        let reports = vec![
            report("tk-1", "tokyo", busy.1, 0, busy),
            report("tk-2", "tokyo", 0, 40, (0, 0)),
        ];
        hub.exchange(reports.clone(), &[]);
        hub.round(&st);
        let grants = hub.exchange(reports, &[]).expect("leading").grants;
        let tk2 = grants
            .iter()
            .find(|g| g.edge_id == "tk-2")
            .map_or(0, |g| g.grants.grants["acme"].sessions);
        assert!(
            busy.1 + tk2 <= 100,
            "wall clock stepped {step_ms} ms: tk-1 holds {}, tk-2 was granted {tk2}",
            busy.1
        );
        // tk-1 goes silent: its grant expires after its lifetime on the monotonic clock, and
        // tk-2 gets the capacity back.
        clock.advance(Duration::from_millis(QuotaConfig::default().ttl_ms) + REPORT_TTL);
        let mut tk2 = (0, 0);
        for _ in 0..40 {
            let reports = vec![report("tk-2", "tokyo", tk2.1, 40, tk2)];
            hub.exchange(reports.clone(), &[]);
            hub.round(&st);
            let grants = hub.exchange(reports, &[]).expect("leading").grants;
            let g = &grants[0].grants;
            tk2 = (g.epoch, g.grants["acme"].sessions);
            clock.advance(Duration::from_millis(100));
        }
        assert!(
            tk2.1 >= 90,
            "wall clock stepped {step_ms} ms: tk-2 got back only {}",
            tk2.1
        );
    }
}

#[test]
fn sparse_reports_are_merged_and_one_on_another_base_is_asked_for_whole() {
    use breakout_policy::outcome::{Reason, RefusalCounts};
    let hub = hub();
    hub.set_leading(true, 1);
    let st = state(100);
    let first = report("tk-1", "tokyo", 5, 0, (0, 0));
    let answer = hub.exchange(vec![first.clone()], &[]).expect("leading");
    assert!(answer.sparse && answer.whole.is_empty(), "{answer:?}");
    // seq 2 on seq 1, listing acme's refusals only: its 5 sessions are carried over.
    let mut counts = RefusalCounts::default();
    counts.add(Reason::SessionLimit, 2);
    let mut next = first.clone();
    next.report = Report {
        seq: 2,
        base: Some(1),
        refusals: BTreeMap::from([("acme".to_string(), counts)]),
        ..Report::default()
    };
    let answer = hub.exchange(vec![next], &[]).expect("leading");
    assert!(answer.whole.is_empty(), "merged: {answer:?}");
    hub.round(&st);
    let usage = hub.usage().expect("leading");
    assert_eq!((usage[0].sessions, usage[0].edges), (5, 1));
    let refused = hub.refusals.of_tenant("acme", hub.wall_ms());
    assert_eq!(
        refused[0].since_edge_start.get(Reason::SessionLimit),
        2,
        "the tally reads the merged report"
    );
    // Based on a report this leader never had (it is new; one was lost on the way).
    let mut lost = first.clone();
    lost.report = Report {
        seq: 9,
        base: Some(8),
        ..Report::default()
    };
    let mut unknown = report("tk-2", "tokyo", 1, 0, (0, 0));
    unknown.report.base = Some(7);
    let answer = hub.exchange(vec![lost, unknown], &[]).expect("leading");
    assert_eq!(answer.whole, ["tk-1", "tk-2"]);
    hub.round(&st);
    let usage = hub.usage().expect("leading");
    assert_eq!(
        (usage[0].sessions, usage[0].edges),
        (5, 1),
        "the report held stays; nothing is made of the unknown one"
    );
    let count = |kind: &str| hub.metrics.reports.with_label_values(&[kind]).get();
    assert_eq!(
        (count("whole"), count("sparse"), count("unmerged")),
        (1, 1, 2)
    );
}

/// A leader six rounds on, with edge tk-1 of tokyo (acme idle) having reported once before
/// any grant: round 1, which a late report of tk-1 will name, is no longer kept.
fn leading_past_round_one() -> (Arc<LeaseHub>, State, RelayedReport) {
    let hub = hub();
    hub.set_leading(true, 1);
    let st = state(100);
    let late = report("tk-1", "tokyo", 0, 0, (0, 0));
    hub.exchange(vec![late.clone()], &[]);
    for _ in 0..6 {
        hub.round(&st);
    }
    (hub, st, late)
}

/// After a report naming a round no longer kept, the first answer lists every grant; the ones
/// after it renew from the answer before (`EdgeEntry::sent`), and so does the first answer to
/// the next report if it is as late. A report holding nothing (the edge restarted) is answered
/// with every grant again.
#[test]
fn after_a_late_report_answers_renew_from_the_frame_sent() {
    let (hub, st, mut late) = leading_past_round_one();
    let edge = ["tk-1".to_string()];
    let answer = |reports: Vec<RelayedReport>, also: &[String]| {
        let mut grants = hub.exchange(reports, also).expect("leading").grants;
        grants.pop().expect("tk-1's grants").grants
    };
    // It reports holding round 1, long gone.
    (late.report.seq, late.report.grants_epoch) = (2, (1 << 32) | 1);
    let whole = answer(vec![late.clone()], &[]);
    assert!(whole.renew.is_none() && whole.grants.contains_key("acme"));
    hub.round(&st);
    let next = answer(Vec::new(), &edge);
    assert!(next.epoch > whole.epoch);
    assert_eq!(next.renew.as_ref().map(|r| r.from), Some(whole.epoch));
    // A new report, as late: renewed from the answer before, not whole again.
    late.report.seq = 3;
    hub.round(&st);
    let again = answer(vec![late.clone()], &[]);
    assert_eq!(again.renew.as_ref().map(|r| r.from), Some(next.epoch));
    assert!(!again.grants.contains_key("acme"), "unchanged: renewed");
    // The edge restarted: it holds nothing, and gets everything.
    (late.report.seq, late.report.grants_epoch) = (1, 0);
    hub.round(&st);
    let fresh = answer(vec![late], &[]);
    assert!(fresh.renew.is_none() && fresh.grants.contains_key("acme"));
    let frames = |base: &str| hub.metrics.frames.with_label_values(&[base]).get();
    assert_eq!((frames("whole"), frames("sent")), (2, 2));
}

/// With its reports always late, an edge is answered from the frame sent before at most
/// `FRAMES_FROM_SENT` times in a row; then one frame lists every grant (what an edge that
/// missed one of those frames lacks), and the chain starts again.
#[test]
fn answers_from_the_frame_sent_are_bounded_by_a_whole_one() {
    let (hub, st, mut late) = leading_past_round_one();
    // It reports holding round 1, long gone, every second (every other frame).
    late.report.grants_epoch = (1 << 32) | 1;
    let mut whole = Vec::new();
    for k in 0..2 * FRAMES_FROM_SENT + 2 {
        hub.round(&st);
        let answer = if k % 2 == 0 {
            late.report.seq += 1;
            hub.exchange(vec![late.clone()], &[])
        } else {
            hub.exchange(Vec::new(), &["tk-1".to_string()])
        };
        let mut grants = answer.expect("leading").grants;
        let frame = grants.pop().expect("tk-1's grants").grants;
        assert!(grants.is_empty(), "one frame per exchange");
        if frame.renew.is_none() {
            assert!(frame.grants.contains_key("acme"), "whole: {frame:?}");
            whole.push(k);
        }
    }
    assert_eq!(whole, [0, FRAMES_FROM_SENT + 1]);
}
