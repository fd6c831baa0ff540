//! Per-tenant quotas on client writes: a clear refusal naming the quota, its limit and the
//! usage; operator overrides; shrinking is always allowed; old (bare) entries are not held.

use super::*;
use crate::state::{CreateWebhook, Quota, Quotas, Secret, MAX_LIST_ENTRIES};

fn entries(prefix: &str, n: usize) -> NamedList {
    NamedList::new(
        (0..n)
            .map(|i| Destination::Exact(format!("h{i}.{prefix}.example")))
            .collect(),
    )
}

/// Applies as acme's operator-side client write and insists on a quota refusal; the message.
fn over(log: &mut Log, command: Command) -> String {
    match log.client("operator", command, None) {
        Outcome::Rejected {
            kind: RejectKind::QuotaExceeded,
            message,
        } => message,
        other => panic!("expected a quota refusal, got {other:?}"),
    }
}

fn done(log: &mut Log, command: Command) {
    let outcome = log.client("operator", command, None);
    assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
}

fn set_quotas(log: &mut Log, quotas: Quotas) {
    done(
        log,
        update(
            "acme",
            None,
            TenantPatch {
                quotas: Some(Some(quotas)),
                ..TenantPatch::default()
            },
        ),
    );
}

#[test]
fn full_lists_stop_at_the_total_entries_quota_naming_limit_and_usage() {
    // The defect (issue 13, item 6): a tenant could create any number of 100,000-entry lists.
    let mut log = Log::with_acme();
    let full = MAX_LIST_ENTRIES;
    done(&mut log, put_list("acme", "l1", entries("a", full), None));
    done(&mut log, put_list("acme", "l2", entries("b", full), None));
    let before = content(&log.state);
    let msg = over(&mut log, put_list("acme", "l3", entries("c", full), None));
    assert_eq!(
        msg,
        "quota entries exceeded: tenant acme would hold 300000 destinations (list entries and \
         rules' own destinations), over its limit of 200000 (it holds 200000 now); remove some \
         first, or ask the operator to raise the quota"
    );
    assert_eq!(
        content(&log.state),
        before,
        "a refused write changes nothing"
    );
}

#[test]
fn each_quota_refuses_growth_past_its_limit() {
    let mut log = Log::with_acme();
    set_quotas(
        &mut log,
        Quotas {
            lists: Some(2),
            list_entries: Some(3),
            rules: Some(2),
            tokens: Some(1),
            webhooks: Some(1),
            ..Quotas::default()
        },
    );
    done(&mut log, put_list("acme", "a", list(&["a.example"]), None));
    done(&mut log, put_list("acme", "b", list(&["b.example"]), None));
    let msg = over(&mut log, put_list("acme", "c", list(&[]), None));
    assert!(msg.starts_with("quota lists exceeded: tenant acme would hold 3 named lists, over its limit of 2 (it holds 2 now)"), "{msg}");
    let big = list(&["1.example", "2.example", "3.example", "4.example"]);
    let msg = over(&mut log, put_list("acme", "a", big, None));
    assert!(
        msg.starts_with(
            "quota list_entries exceeded: list a of tenant acme would hold 4 entries, over its \
             limit of 3 per list (it holds 1 now)"
        ),
        "{msg}"
    );

    let rules = vec![rule_using("a"), rule_using("b"), rule_using("a")];
    let patch = TenantPatch {
        rules: Some(rules),
        ..TenantPatch::default()
    };
    let msg = over(&mut log, update("acme", None, patch));
    assert!(msg.starts_with("quota rules exceeded"), "{msg}");

    done(&mut log, token("t1", "acme"));
    let msg = over(&mut log, token("t2", "acme"));
    assert!(msg.starts_with("quota tokens exceeded"), "{msg}");

    let hook = |id: &str| {
        Command::CreateWebhook(CreateWebhook {
            tenant: "acme".into(),
            id: id.into(),
            url: "https://hooks.example/x".into(),
            secret: Secret("0123456789abcdef".into()),
        })
    };
    done(&mut log, hook("h1"));
    let outcome = log.client("operator", hook("h2"), None);
    assert!(
        matches!(&outcome, Outcome::Rejected { message, .. } if message.contains("1 webhooks already")),
        "{outcome:?}"
    );
}

#[test]
fn bytes_bound_the_configuration_however_it_is_spread() {
    let mut log = Log::with_acme();
    set_quotas(
        &mut log,
        Quotas {
            bytes: Some(2_000),
            ..Quotas::default()
        },
    );
    // Labels of 50 characters (a label may hold 63): the bytes, not the count, are too many.
    let long: Vec<String> = (0..20)
        .map(|i| format!("{}.{}{i}.example", "x".repeat(50), "y".repeat(50)))
        .collect();
    let refs: Vec<&str> = long.iter().map(String::as_str).collect();
    let msg = over(&mut log, put_list("acme", "long", list(&refs), None));
    assert!(msg.starts_with("quota bytes exceeded"), "{msg}");
}

#[test]
fn the_operator_raises_a_quota_and_a_tenant_over_a_lowered_one_may_still_shrink() {
    let mut log = Log::with_acme();
    set_quotas(
        &mut log,
        Quotas {
            list_entries: Some(2),
            ..Quotas::default()
        },
    );
    over(
        &mut log,
        put_list(
            "acme",
            "a",
            list(&["1.example", "2.example", "3.example"]),
            None,
        ),
    );
    set_quotas(
        &mut log,
        Quotas {
            list_entries: Some(3),
            ..Quotas::default()
        },
    );
    done(
        &mut log,
        put_list(
            "acme",
            "a",
            list(&["1.example", "2.example", "3.example"]),
            None,
        ),
    );
    set_quotas(
        &mut log,
        Quotas {
            list_entries: Some(1),
            ..Quotas::default()
        },
    );
    // Over the lowered quota: shrinking is allowed, growing is not.
    done(
        &mut log,
        put_list("acme", "a", list(&["1.example", "2.example"]), None),
    );
    over(
        &mut log,
        put_list("acme", "b", list(&["1.example", "2.example"]), None),
    );
    // `null` returns every quota to its default.
    done(
        &mut log,
        update(
            "acme",
            None,
            TenantPatch {
                quotas: Some(None),
                ..TenantPatch::default()
            },
        ),
    );
    assert_eq!(log.state.tenants["acme"].quotas, Quotas::default());
    assert_eq!(
        log.state.tenants["acme"].quotas.limit(Quota::ListEntries),
        MAX_LIST_ENTRIES as u64
    );
}

#[test]
fn an_override_above_what_an_edge_compiles_is_invalid() {
    let quotas = Quotas {
        list_entries: Some(MAX_LIST_ENTRIES as u64 + 1),
        ..Quotas::default()
    };
    let cmd = update(
        "acme",
        None,
        TenantPatch {
            quotas: Some(Some(quotas)),
            ..TenantPatch::default()
        },
    );
    let err = cmd.check_input().expect_err("refused");
    assert!(
        err.message.starts_with("quotas.list_entries:"),
        "{}",
        err.message
    );
}

#[test]
fn entries_written_before_quotas_replay_as_they_were_decided() {
    // A bare command (an old log's entry) is not held to quotas.
    let mut log = Log::with_acme();
    for i in 0..3 {
        log.ok(put_list(
            "acme",
            &format!("l{i}"),
            entries(&i.to_string(), 80_000),
            None,
        ));
    }
    assert_eq!(log.state.tenants["acme"].tenant.lists.len(), 3);
}
