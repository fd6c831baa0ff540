//! A round reads the edges' reports a block of tenants at a time (`edges::read_block`): with
//! more tenants than a block and edges reporting different tenants, each tenant still counts
//! exactly the edges that reported it, and each edge gets a grant for exactly its tenants.

use super::*;

/// Region tokyo with `n` tenants in service, each capped at 100 sessions.
fn many(n: usize) -> State {
    let mut commands = vec![Command::CreateRegion(CreateRegion {
        name: "tokyo".into(),
        description: None,
    })];
    for t in 0..n {
        let id = format!("t{t:04}");
        let tenant = tenant(&id, &format!("10.{}.{}.0/24", t / 256, t % 256));
        commands.push(Command::CreateTenant(CreateTenant { tenant }));
        commands.extend(serve_commands(&id, 20_000));
        commands.push(Command::UpdateTenant(UpdateTenant {
            id,
            if_match: None,
            patch: TenantPatch {
                session_cap: Some(Some(100)),
                ..TenantPatch::default()
            },
        }));
    }
    applied(commands)
}

#[test]
fn every_block_of_tenants_counts_exactly_the_edges_that_reported_them() {
    let tenants = 2 * edges::BLOCK + 22;
    let st = many(tenants);
    let hub = hub();
    hub.set_leading(true, 1);
    // Edge k reports every tenant whose number k + 1 divides, with k + 1 sessions open each.
    let edges = 5;
    let reports: Vec<RelayedReport> = (0..edges)
        .map(|k| {
            let mut r = report(&format!("tk-{k}"), "tokyo", 0, 0, (0, 0));
            r.report.tenants = (0..tenants)
                .filter(|t| t % (k + 1) == 0)
                .map(|t| {
                    let usage = TenantUsage {
                        active: k as u32 + 1,
                        ..TenantUsage::default()
                    };
                    (format!("t{t:04}"), usage)
                })
                .collect();
            r
        })
        .collect();
    hub.exchange(reports.clone(), &[]);
    hub.round(&st);
    let usage = hub.usage().expect("leading");
    assert_eq!(usage.len(), tenants);
    for (t, u) in usage.iter().enumerate() {
        assert_eq!(&*u.tenant, format!("t{t:04}"));
        let on: Vec<usize> = (0..edges).filter(|k| t % (k + 1) == 0).collect();
        assert_eq!(u.edges as usize, on.len(), "{u:?}");
        let open: u64 = on.iter().map(|k| *k as u64 + 1).sum();
        assert_eq!(u.sessions, open, "{u:?}");
    }
    let frames = hub.exchange(reports, &[]).expect("leading").grants;
    assert_eq!(frames.len(), edges, "{frames:?}");
    for f in frames {
        let k: usize = f.edge_id["tk-".len()..].parse().expect("edge number");
        let granted: Vec<&String> = f.grants.grants.keys().collect();
        let reported: Vec<String> = (0..tenants)
            .filter(|t| t % (k + 1) == 0)
            .map(|t| format!("t{t:04}"))
            .collect();
        assert_eq!(
            granted,
            reported.iter().collect::<Vec<_>>(),
            "{}",
            f.edge_id
        );
    }
}

#[test]
fn the_limits_table_is_what_each_region_policy_gives() {
    for st in [state(100), many(70)] {
        let day = st.policy_day();
        let table = crate::state::session_limits_by_region(&st, day);
        let names: Vec<&String> = table.iter().map(|(r, _)| r).collect();
        assert_eq!(names, st.regions.keys().collect::<Vec<_>>());
        for (region, limits) in &table {
            let policy = crate::state::region_policy_at(&st, region, day);
            let expected: Vec<(String, u32)> = (policy.tenants.iter())
                .map(|t| (t.id.clone(), t.session_limit))
                .collect();
            assert_eq!(limits, &expected, "{region}");
        }
        assert!(table.iter().any(|(_, l)| !l.is_empty()), "{table:?}");
    }
}
