//! Floors with headroom (`quota::floor`) seen in the frames: once a region is past 8 edges, an
//! edge joining it changes no grant of the edges already there, so their frames list nothing.

use super::*;

/// What each edge holds of acme: (epoch, sessions) of the last frame that listed or renewed it.
type Held = BTreeMap<String, (u64, u32)>;

/// Every edge of `held` reports holding what it holds, idle; a round; each gets its frame.
/// Answers the frames by edge.
fn step(hub: &LeaseHub, st: &State, held: &mut Held, seq: u64) -> BTreeMap<String, Grants> {
    let reports: Vec<RelayedReport> = held
        .iter()
        .map(|(edge, holding)| {
            let mut r = report(edge, "tokyo", 0, 0, *holding);
            (r.report.seq, r.report.grants_epoch) = (seq, holding.0);
            r
        })
        .collect();
    hub.exchange(reports.clone(), &[]);
    hub.round(st);
    let frames = hub.exchange(reports, &[]).expect("leading").grants;
    let mut by_edge = BTreeMap::new();
    for f in frames {
        let holding = held.get_mut(&f.edge_id).expect("a known edge");
        match f.grants.grants.get("acme") {
            Some(g) => *holding = (f.grants.epoch, g.sessions),
            None if f.grants.renew.is_some() => holding.0 = f.grants.epoch,
            None => {}
        }
        by_edge.insert(f.edge_id, f.grants);
    }
    by_edge
}

#[test]
fn an_edge_joining_a_large_region_relists_nothing_of_the_others() {
    let hub = hub();
    hub.set_leading(true, 1);
    let st = state(1_000);
    let mut held: Held = (1..=12).map(|i| (format!("tk-{i:02}"), (0, 0))).collect();
    let mut frames = BTreeMap::new();
    for seq in 1..6 {
        frames = step(&hub, &st, &mut held, seq);
    }
    assert_eq!(frames.len(), 12, "every edge answered: {frames:?}");
    assert!(
        frames
            .values()
            .all(|f| f.renew.is_some() && f.grants.is_empty()),
        "12 idle edges settle: {frames:?}"
    );
    held.insert("tk-13".into(), (0, 0));
    for seq in 6..9 {
        let frames = step(&hub, &st, &mut held, seq);
        assert_eq!(frames.len(), 13, "every edge answered at {seq}: {frames:?}");
        for (edge, f) in frames.iter().filter(|(e, _)| *e != "tk-13") {
            assert!(
                f.renew.is_some() && f.grants.is_empty(),
                "{edge} at {seq}: {f:?}"
            );
        }
        if seq == 6 {
            let acme = frames["tk-13"].grants["acme"];
            assert_eq!(
                acme.floor,
                1_000 / 18,
                "12 edges: a divisor of 18 covers 13"
            );
        }
    }
}
