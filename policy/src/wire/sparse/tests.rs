use super::*;
use crate::outcome::{Reason, RefusalCounts};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The next whole report of an edge after `prev`: some tenants come and go, sessions move,
/// refusals happen, and most grants are renewed to the new epoch (some keep an old one).
fn step(rng: &mut StdRng, prev: &Report) -> Report {
    let epoch = prev.grants_epoch + rng.random_range(0..2);
    let mut next = Report {
        seq: prev.seq + 1,
        grants_epoch: epoch,
        ..Report::default()
    };
    for i in 0..12u64 {
        let id = format!("t{i}");
        let old = prev.tenants.get(&id);
        let present = match old {
            Some(_) => rng.random_range(0..10) != 0,
            None => rng.random_range(0..4) == 0,
        };
        if !present {
            continue;
        }
        let mut u = old.map_or_else(TenantUsage::default, |p| {
            carried(p, prev.grants_epoch, epoch)
        });
        match rng.random_range(0..6) {
            0 => u.active = rng.random_range(0..5) as u32,
            1 => u.refused = 1 + rng.random_range(0..3) as u32,
            2 => (u.holding_epoch, u.holding_sessions) = (epoch, rng.random_range(0..9) as u32),
            3 => u.holding_epoch = epoch.saturating_sub(rng.random_range(0..3)),
            _ => {}
        }
        next.tenants.insert(id.clone(), u);
        let mut counts = prev.refusals.get(&id).cloned().unwrap_or_default();
        if rng.random_range(0..4) == 0 {
            counts.add(Reason::BlockedByRule, 1 + rng.random_range(0..2));
        }
        if rng.random_range(0..30) == 0 {
            counts = RefusalCounts::default();
        }
        if counts != RefusalCounts::default() {
            next.refusals.insert(id, counts);
        }
    }
    next
}

#[test]
fn a_sparse_report_merges_back_into_the_whole_one() {
    let mut rng = StdRng::seed_from_u64(0x9E37_79B9_7F4A_7C15);
    let (mut listed, mut whole) = (0usize, 0usize);
    for _ in 0..200 {
        let mut prev = Report::default();
        for _ in 0..20 {
            let full = step(&mut rng, &prev);
            let sparse = sparsify(&prev, &full);
            listed += sparse.tenants.len();
            whole += full.tenants.len();
            assert_eq!(merge(&prev, sparse).expect("same base"), full);
            prev = full;
        }
    }
    assert!(listed < whole, "listed {listed} of {whole}: nothing saved");
}

#[test]
fn an_idle_tenant_whose_grant_was_renewed_is_not_listed() {
    let usage = |epoch| TenantUsage {
        active: 2,
        refused: 0,
        holding_epoch: epoch,
        holding_sessions: 10,
    };
    let prev = Report {
        seq: 4,
        grants_epoch: 7,
        tenants: BTreeMap::from([("a".into(), usage(7)), ("b".into(), usage(7))]),
        ..Report::default()
    };
    let mut full = Report {
        seq: 5,
        grants_epoch: 8,
        tenants: BTreeMap::from([("a".into(), usage(8))]),
        ..Report::default()
    };
    full.tenants.insert("c".into(), usage(0));
    let sparse = sparsify(&prev, &full);
    assert_eq!(sparse.base, Some(4));
    assert_eq!(sparse.tenants.keys().collect::<Vec<_>>(), ["c"]);
    assert_eq!(sparse.removed, ["b"]);
    assert_eq!(merge(&prev, sparse).expect("merge"), full);
}

#[test]
fn a_sparse_report_on_another_base_is_refused() {
    let prev = Report {
        seq: 3,
        ..Report::default()
    };
    let sparse = Report {
        seq: 5,
        base: Some(4),
        ..Report::default()
    };
    assert_eq!(
        merge(&prev, sparse),
        Err(SparseError::BaseMismatch {
            seq: 5,
            base: 4,
            last: 3
        })
    );
    let whole = Report {
        seq: 9,
        ..Report::default()
    };
    assert_eq!(
        merge(&prev, whole.clone()),
        Ok(whole),
        "a whole report stands"
    );
}

/// Any report after `held`'s seq: whole now and then, else sparse and listing anything — tenants
/// removed, refusals, epochs going back, to 0, holdings newer than the frame applied — so
/// [`Merged`] is checked against [`merge_into`] beyond what a working edge sends.
fn any_next(rng: &mut StdRng, held: &Report) -> Report {
    let mut r = Report {
        seq: held.seq + 1 + rng.random_range(0..2),
        grants_epoch: match rng.random_range(0..10) {
            0 => 0,
            1 => held.grants_epoch.saturating_sub(1),
            2..=4 => held.grants_epoch,
            _ => held.grants_epoch + 1,
        },
        base: (rng.random_range(0..8) != 0).then_some(held.seq),
        ..Report::default()
    };
    for i in 0..10u64 {
        let id = format!("t{i}");
        match rng.random_range(0..8) {
            0 if r.base.is_some() => r.removed.push(id),
            1..=3 => {
                let u = TenantUsage {
                    active: rng.random_range(0..3),
                    refused: rng.random_range(0..2) * rng.random_range(1..4),
                    holding_epoch: match rng.random_range(0..4) {
                        0 => 0,
                        1 => r.grants_epoch,
                        2 => r.grants_epoch + rng.random_range(1..3),
                        _ => r.grants_epoch.saturating_sub(rng.random_range(1..3)),
                    },
                    holding_sessions: rng.random_range(0..9),
                };
                r.tenants.insert(id.clone(), u);
                if rng.random_range(0..3) == 0 {
                    let mut counts = RefusalCounts::default();
                    counts.add(Reason::BlockedByRule, 1 + rng.random_range(0..3));
                    r.refusals.insert(id, counts);
                }
            }
            _ => {}
        }
    }
    r
}

#[test]
fn merged_holds_what_merge_into_holds_after_any_reports() {
    let mut rng = StdRng::seed_from_u64(0x2545_F491_4F6C_DD1D);
    let (mut merged_n, mut refused_n) = (0usize, 0usize);
    for _ in 0..300 {
        let mut eager = Report {
            grants_epoch: rng.random_range(0..4),
            ..Report::default()
        };
        let mut lazy = Merged::new(eager.clone());
        for _ in 0..30 {
            let next = any_next(&mut rng, &eager);
            let full = {
                let mut whole = eager.clone();
                merge_into(&mut whole, next.clone()).map(|()| whole)
            };
            let got = lazy.merge(next.clone());
            assert_eq!(got.is_ok(), full.is_ok(), "{next:?}");
            if let Ok(full) = full {
                merged_n += 1;
                refused_n += full.tenants.values().filter(|u| u.refused != 0).count();
                eager = full;
            }
            assert_eq!(lazy.to_report(), eager, "after {next:?}");
            let in_order: Vec<(&String, TenantUsage)> =
                eager.tenants.iter().map(|(t, u)| (t, *u)).collect();
            assert_eq!(lazy.tenants().collect::<Vec<_>>(), in_order, "in id order");
            for (id, u) in &eager.tenants {
                assert_eq!(lazy.get(id), Some(*u));
            }
            assert_eq!(
                (lazy.seq(), lazy.grants_epoch()),
                (eager.seq, eager.grants_epoch)
            );
            let later = step(&mut rng, &eager);
            assert_eq!(lazy.sparsify(&later), sparsify(&eager, &later));
        }
    }
    assert!(
        merged_n > 5_000 && refused_n > 1_000,
        "{merged_n} merges, {refused_n} refusing"
    );
}
