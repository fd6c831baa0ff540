use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;

use breakout_policy::wire::{Report, TenantUsage};

use super::*;

/// The edge's side, as `breakout_edge::quota::Quotas::receive` keeps it (without time).
#[derive(Default)]
struct Edge {
    held: HashMap<String, (u64, Grant)>,
    applied: u64,
}

impl Edge {
    fn receive(&mut self, g: &Grants) {
        if let Some(r) = g.renew.as_ref().filter(|_| g.epoch >= self.applied) {
            for (t, (epoch, _)) in self.held.iter_mut() {
                let base = *epoch == r.from || r.also.contains(epoch);
                if base && !g.grants.contains_key(t) && !r.ends.contains(t) {
                    *epoch = g.epoch;
                }
            }
        }
        for (t, grant) in &g.grants {
            if self.held.get(t).is_some_and(|(e, _)| *e > g.epoch) {
                continue;
            }
            self.held.insert(t.clone(), (g.epoch, *grant));
        }
        self.applied = self.applied.max(g.epoch);
    }

    fn report(&self) -> Merged {
        Merged::new(Report {
            grants_epoch: self.applied,
            tenants: self
                .held
                .iter()
                .map(|(t, (epoch, g))| {
                    let usage = TenantUsage {
                        holding_epoch: *epoch,
                        holding_sessions: g.sessions,
                        ..TenantUsage::default()
                    };
                    (t.clone(), usage)
                })
                .collect(),
            ..Report::default()
        })
    }
}

const TTL: u64 = 9_000;

fn round(rng: &mut StdRng, prev: &[(Arc<str>, Grant)]) -> Vec<(Arc<str>, Grant)> {
    let mut out = Vec::new();
    for i in 0..8 {
        if rng.random_range(0..8) == 0 {
            continue;
        }
        let t: Arc<str> = Arc::from(format!("t{i}").as_str());
        let old = prev.iter().find(|(p, _)| *p == t).map(|(_, g)| *g);
        let g = match old {
            Some(g) if rng.random_range(0..4) != 0 => g,
            _ => Grant {
                sessions: rng.random_range(0..5) as u32,
                ttl_ms: TTL,
                floor: rng.random_range(0..2) as u32,
            },
        };
        out.push((t, g));
    }
    out
}

/// Whatever frames reach the edge and however old the report they were made from: every grant
/// it holds is one the leader issued in that epoch; and the first frame made from a report of
/// the edge's present state, or any frame when none was lost, leaves it holding exactly that
/// round's grants. Frames after the first since a report are made from the one before when the
/// report's round is gone (as the leader does, `EdgeEntry::sent`).
#[test]
fn an_edge_holds_only_what_was_issued_and_catches_up_from_a_fresh_report() {
    let mut rng = StdRng::seed_from_u64(0x2545_F491_4F6C_DD1D);
    for trial in 0..400 {
        // Half the runs lose frames; without loss the edge is current after every frame,
        // however old the report the frame was made from.
        let lossy = trial % 2 == 0;
        let mut issued: HashMap<u64, Vec<(Arc<str>, Grant)>> = HashMap::new();
        let mut edge = Edge::default();
        let mut report = edge.report();
        let mut sent: Option<u64> = None;
        let mut prev: Vec<(Arc<str>, Grant)> = Vec::new();
        for epoch in 1..30u64 {
            let now = round(&mut rng, &prev);
            issued.insert(epoch, now.clone());
            // The leader keeps this round and the four before.
            let kept: Vec<Issued<'_>> = (epoch.saturating_sub(4)..=epoch)
                .filter_map(|e| {
                    Some(Issued {
                        epoch: e,
                        grants: issued.get(&e)?,
                    })
                })
                .collect();
            let cur = Issued {
                epoch,
                grants: &now,
            };
            let (frame, _) = frame(&cur, &kept, Some(&report), sent, TTL);
            let fresh = sent.is_none() && report.to_report() == edge.report().to_report();
            sent = Some(epoch);
            match rng.random_range(0..5) {
                0 if lossy => {} // lost
                _ => edge.receive(&frame),
            }
            if (fresh || !lossy) && edge.applied == epoch {
                let mut holds: Vec<_> = edge
                    .held
                    .iter()
                    .filter(|(_, (e, _))| *e == epoch)
                    .map(|(t, (_, g))| (t.to_string(), *g))
                    .collect();
                holds.sort_by(|a, b| a.0.cmp(&b.0));
                let mut want: Vec<_> = now.iter().map(|(t, g)| (t.to_string(), *g)).collect();
                want.sort_by(|a, b| a.0.cmp(&b.0));
                assert_eq!(holds, want, "epoch {epoch}: not what was issued");
            }
            for (t, (e, g)) in &edge.held {
                let from = issued[e].iter().find(|(i, _)| &**i == t).map(|(_, g)| *g);
                assert_eq!(from, Some(*g), "{t} held at {e} was never issued so");
            }
            // Reports go every other round or less often.
            if rng.random_range(0..3) == 0 {
                report = edge.report();
                sent = None;
            }
            prev = now;
        }
    }
}

#[test]
fn an_edge_that_reported_the_last_round_gets_only_the_change() {
    let g = |sessions| Grant {
        sessions,
        ttl_ms: 1,
        floor: 0,
    };
    let before = vec![(Arc::from("a"), g(5)), (Arc::from("b"), g(5))];
    let now = vec![(Arc::from("a"), g(6))];
    let round = |epoch, grants| Issued { epoch, grants };
    let mut edge = Edge::default();
    let (whole, base) = frame(&round(7, &before), &[], None, None, TTL);
    assert!(whole.renew.is_none() && base == Base::Whole);
    assert_eq!(whole.grants.len(), 2);
    edge.receive(&whole);
    let report = edge.report();
    let kept = [round(7, &before), round(8, &now)];
    let (delta, base) = frame(&round(8, &now), &kept, Some(&report), None, TTL);
    assert_eq!(base, Base::Report);
    assert_eq!(delta.grants.keys().collect::<Vec<_>>(), ["a"]);
    let renew = delta.renew.expect("a renewal");
    assert_eq!(
        (renew.from, renew.also, renew.ends),
        (7, vec![8], vec!["b".to_string()])
    );
    let kept = [round(7, &before), round(8, &before)];
    let (same, _) = frame(&round(8, &before), &kept, Some(&report), None, TTL);
    assert!(same.grants.is_empty(), "nothing changed: one renewal line");
    let (unknown, base) = frame(&round(8, &before), &kept[1..], Some(&report), None, TTL);
    assert_eq!(unknown.grants.len(), 2, "the reported round is gone: whole");
    assert_eq!(base, Base::Whole);
    // Answered round 8 since that report: round 9 is made from 8, the report's 7 being gone.
    edge.receive(&unknown);
    let later = [round(8, &before), round(9, &now)];
    let (next, base) = frame(&round(9, &now), &later, Some(&report), Some(8), TTL);
    assert_eq!(base, Base::Sent);
    assert_eq!(next.grants.keys().collect::<Vec<_>>(), ["a"]);
    let renew = next.renew.as_ref().expect("a renewal");
    assert_eq!((renew.from, &renew.ends), (8, &vec!["b".to_string()]));
    edge.receive(&next);
    let listed = Grant {
        ttl_ms: TTL,
        ..g(6)
    };
    assert_eq!(edge.held.get("a"), Some(&(9, listed)));
    assert_eq!(
        edge.held.get("b").map(|h| h.0),
        Some(8),
        "ended: left to expire"
    );
    // The round answered before is gone too: whole again.
    let (whole, base) = frame(&round(9, &now), &later[1..], Some(&report), Some(8), TTL);
    assert_eq!((whole.grants.len(), base), (1, Base::Whole));
}
