use super::*;

fn addr() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1], 50000))
}

fn report(active: &[(&str, u32)]) -> Report {
    Report {
        seq: 1,
        tenants: active
            .iter()
            .map(|(t, n)| {
                let usage = TenantUsage {
                    active: *n,
                    ..TenantUsage::default()
                };
                (t.to_string(), usage)
            })
            .collect(),
        ..Report::default()
    }
}

#[test]
fn a_connection_is_listed_while_its_handle_lives() {
    let reg = EdgeRegistry::new(2);
    let h = reg.connect("e1", "tokyo", addr(), 1000);
    h.synced(Some(5), Some(7));
    let list = reg.list(Instant::now());
    assert_eq!(list.len(), 1);
    let e = &list[0];
    assert_eq!(
        (
            e.control_node,
            e.region.as_str(),
            e.applied_version,
            e.synced_through
        ),
        (2, "tokyo", Some(5), Some(7))
    );
    drop(h);
    let list = reg.list(Instant::now());
    assert_eq!(list.len(), 1, "listed as disconnected");
    assert!(!list[0].connected);
    assert_eq!(list[0].last_seen_ms, Some(1000));
    assert_eq!(reg.relay(Instant::now(), false), Relay::default());
    assert!(
        reg.list(Instant::now() + GONE_KEEP).is_empty(),
        "pruned after GONE_KEEP"
    );
}

#[test]
fn every_frame_moves_last_seen_forward() {
    let reg = EdgeRegistry::new(1);
    let h = reg.connect("e1", "tokyo", addr(), 1000);
    h.seen(5000);
    h.seen(4000);
    assert_eq!(reg.list(Instant::now())[0].last_seen_ms, Some(5000));
    assert!(reg.list(Instant::now())[0].connected);
}

#[test]
fn a_reconnect_replaces_the_entry_and_the_old_handle_no_longer_touches_it() {
    let reg = EdgeRegistry::new(1);
    let old = reg.connect("e1", "tokyo", addr(), 1000);
    let new = reg.connect("e1", "tokyo", addr(), 2000);
    old.synced(Some(1), Some(1));
    drop(old);
    let list = reg.list(Instant::now());
    assert_eq!(
        list.len(),
        1,
        "the old connection's end keeps the new entry"
    );
    assert_eq!(list[0].connected_since_ms, 2000);
    assert_eq!(list[0].applied_version, None);
    assert!(list[0].connected);
    drop(new);
}

#[test]
fn reports_count_until_their_ttl() {
    let reg = EdgeRegistry::new(1);
    let h = reg.connect("e1", "tokyo", addr(), 0);
    let t0 = Instant::now();
    h.reported(report(&[("a", 3), ("b", 4)]), t0, 123);
    let e = &reg.list(t0 + Duration::from_secs(1))[0];
    assert_eq!((e.sessions, e.last_report_ms), (Some(7), Some(123)));
    assert_eq!(e.tenants["b"].active, 4);
    let e = &reg.list(t0 + REPORT_TTL + Duration::from_millis(1))[0];
    assert_eq!((e.sessions, e.last_report_ms), (None, Some(123)));
    assert!(e.tenants.is_empty());
}

#[test]
fn each_report_is_relayed_once_and_its_edge_asks_for_grants_while_it_is_fresh() {
    let reg = EdgeRegistry::new(1);
    let h = reg.connect("e1", "tokyo", addr(), 0);
    let t0 = Instant::now();
    h.reported(report(&[("a", 3)]), t0, 1);
    let first = reg.relay(t0, false);
    assert_eq!(first.edges, ["e1"]);
    assert_eq!(first.reports.len(), 1);
    assert_eq!(first.reports[0].report.tenants["a"].active, 3);
    let again = reg.relay(t0, false);
    assert_eq!(
        (again.edges.len(), again.reports.len()),
        (1, 0),
        "sent already"
    );
    let mut sparse = report(&[]);
    (sparse.seq, sparse.base) = (2, Some(1));
    h.reported(sparse, t0, 2);
    let merged = reg.relay(t0, false);
    assert_eq!(
        merged.reports[0].report.tenants["a"].active, 3,
        "carried over"
    );
    assert_eq!(merged.reports[0].report.base, None, "relayed whole");
    let mut elsewhere = report(&[]);
    (elsewhere.seq, elsewhere.base) = (9, Some(7));
    h.reported(elsewhere, t0, 3);
    assert!(
        reg.relay(t0, false).reports.is_empty(),
        "not on the last report: dropped"
    );
    assert_eq!(
        reg.relay(t0 + REPORT_TTL + Duration::from_millis(1), false),
        Relay::default()
    );
}

/// A report of `seq` based on `base` listing `active` (sparse).
fn sparse(seq: u64, base: u64, active: &[(&str, u32)]) -> Report {
    let mut r = report(active);
    (r.seq, r.base) = (seq, Some(base));
    r
}

#[test]
fn a_leader_that_takes_sparse_reports_gets_what_changed_since_the_last_relay() {
    let reg = EdgeRegistry::new(1);
    let h = reg.connect("e1", "tokyo", addr(), 0);
    let t0 = Instant::now();
    h.reported(report(&[("a", 3), ("b", 1)]), t0, 1);
    let first = reg.relay(t0, true);
    assert_eq!(
        first.reports[0].report.base, None,
        "nothing relayed before: whole"
    );
    h.reported(sparse(2, 1, &[("b", 2)]), t0, 2);
    let next = reg.relay(t0, true);
    let sent = &next.reports[0].report;
    assert_eq!((sent.seq, sent.base), (2, Some(1)));
    assert_eq!(sent.tenants.keys().collect::<Vec<_>>(), ["b"]);
    // Two reports between relays: both, as they came, in order.
    h.reported(sparse(3, 2, &[("a", 4)]), t0, 3);
    h.reported(sparse(4, 3, &[]), t0, 4);
    let both = reg.relay(t0, true);
    let sent: Vec<_> = both.reports.iter().map(|r| &r.report).collect();
    assert_eq!(
        sent.iter().map(|r| (r.seq, r.base)).collect::<Vec<_>>(),
        [(3, Some(2)), (4, Some(3))]
    );
    assert_eq!(sent[0].tenants.keys().collect::<Vec<_>>(), ["a"]);
    assert_eq!(sent[0].tenants["a"].active, 4);
    assert!(sent[1].tenants.is_empty());
    assert_eq!(both.edges, ["e1"], "the edge named once");
    // A leader that does not take them gets the whole.
    h.reported(sparse(5, 4, &[]), t0, 5);
    assert_eq!(reg.relay(t0, false).reports[0].report.base, None);
    // The leader could not merge one: the newest goes again, whole, and sparse ones follow.
    h.reported(sparse(6, 5, &[]), t0, 6);
    assert_eq!(reg.relay(t0, true).reports[0].report.base, Some(5));
    reg.want_whole(["e1", "not-here"]);
    let again = reg.relay(t0, true);
    let sent = &again.reports[0].report;
    assert_eq!((sent.seq, sent.base), (6, None), "resent whole");
    h.reported(sparse(7, 6, &[]), t0, 7);
    assert_eq!(reg.relay(t0, true).reports[0].report.base, Some(6));
}

/// Whatever reports came, the leader that merges what is relayed, in order, holds the node's
/// whole report.
#[test]
fn the_leader_merging_the_relayed_reports_holds_the_whole_report() {
    let reg = EdgeRegistry::new(1);
    let h = reg.connect("e1", "tokyo", addr(), 0);
    let t0 = Instant::now();
    let mut leader = Report::default();
    let relay_and_merge = |leader: &mut Report| {
        for r in reg.relay(t0, true).reports {
            sparse::merge_into(leader, r.report).expect("based on what the leader holds");
        }
        let node = reg.list(t0)[0].tenants.clone();
        assert_eq!(leader.tenants, node);
    };
    h.reported(report(&[("a", 3), ("b", 1)]), t0, 1);
    relay_and_merge(&mut leader);
    // A whole report joins the chain as a sparse one against the last.
    let mut whole = report(&[("a", 3), ("c", 2)]);
    whole.seq = 2;
    h.reported(whole, t0, 2);
    let sent = reg.relay(t0, true).reports;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].report.base, Some(1));
    assert_eq!(sent[0].report.removed, ["b"]);
    sparse::merge_into(&mut leader, sent[0].report.clone()).expect("merges");
    // More reports than are kept between relays: the newest, whole.
    for seq in 3..(3 + MAX_UNRELAYED as u64 + 1) {
        h.reported(sparse(seq, seq - 1, &[("a", seq as u32)]), t0, seq);
    }
    let sent = reg.relay(t0, true).reports;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].report.base, None, "whole");
    leader = sent[0].report.clone();
    // Then sparse again, each relayed as it came.
    h.reported(sparse(20, 11, &[]), t0, 20);
    h.reported(sparse(21, 20, &[("d", 1)]), t0, 21);
    relay_and_merge(&mut leader);
    assert_eq!(leader.seq, 21);
    // A report not based on the last is dropped: nothing to relay, nothing lost.
    h.reported(sparse(30, 29, &[("e", 1)]), t0, 30);
    assert!(reg.relay(t0, true).reports.is_empty());
    relay_and_merge(&mut leader);
}

#[test]
fn a_nack_shows_until_a_version_at_least_as_new_is_applied() {
    let reg = EdgeRegistry::new(1);
    let h = reg.connect("e1", "tokyo", addr(), 0);
    h.synced(Some(4), Some(4));
    h.nacked(6, &"x".repeat(5000), 99);
    h.synced(Some(4), Some(4));
    let nack = reg.list(Instant::now())[0]
        .last_nack
        .clone()
        .expect("nack kept");
    assert_eq!((nack.version, nack.reason.len()), (6, MAX_REASON));
    h.synced(Some(7), Some(7));
    assert_eq!(reg.list(Instant::now())[0].last_nack, None);
}
