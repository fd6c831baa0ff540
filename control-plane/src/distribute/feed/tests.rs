use breakout_policy::Tenant;
use chrono::NaiveDate;

use super::*;
use crate::contracts::TemplateItem;
use crate::state::{
    apply, serve_commands, Command, ContractChange, CreateRegion, CreateTenant, DeleteTenant,
    Fetched, Outcome, RecordTemplate, Request, RollbackTemplate, SetSubscription, TenantPatch,
    Tick, UpdateTenant,
};
use crate::templates::select::Subscription;

mod lists;
mod prebuild;

/// Applies commands as consecutive log entries, each on its day.
struct Log(State);

impl Log {
    fn new() -> Self {
        let mut log = Log(State::default());
        log.on("2025-01-15", region("tokyo"));
        log.on("2025-01-15", region("osaka"));
        log
    }

    fn on(&mut self, day: &str, command: Command) -> u64 {
        let d: NaiveDate = day.parse().expect("a day");
        let noon = d.and_hms_opt(12, 0, 0).expect("noon").and_utc();
        let req = Request {
            actor: "test".into(),
            at_ms: u64::try_from(noon.timestamp_millis()).expect("after 1970"),
            command,
        };
        let index = self.0.version + 1;
        let outcome = apply(&mut self.0, index, &req);
        assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
        index
    }
}

fn region(name: &str) -> Command {
    Command::CreateRegion(CreateRegion {
        name: name.into(),
        description: None,
    })
}

fn tenant(id: &str, region: &str, cidr: &str) -> Command {
    let tenant: Tenant = serde_json::from_value(serde_json::json!({
        "id": id, "region": region, "source_cidrs": [cidr], "session_limit": 1
    }))
    .expect("a tenant");
    Command::CreateTenant(CreateTenant { tenant })
}

fn ids(built: &Built) -> Vec<&str> {
    built.policy.tenants.iter().map(|t| t.id.as_str()).collect()
}

#[test]
fn the_hash_ignores_the_version_but_not_the_content() {
    let mut log = Log::new();
    let a = Built::new(&log.0, "tokyo");
    log.on("2025-01-15", region("nagoya"));
    let b = Built::new(&log.0, "tokyo");
    assert_eq!((a.version + 1, a.hash), (b.version, b.hash));
    assert_ne!(a.hash, Built::new(&log.0, "osaka").hash);
}

#[test]
fn one_build_per_version_and_the_frame_carries_it() {
    let mut log = Log::new();
    let feeds = RegionFeeds::default();
    let first = feeds.get(&log.0, "tokyo");
    assert!(Arc::ptr_eq(&first, &feeds.get(&log.0, "tokyo")));
    let v = log.on("2025-01-15", region("nagoya"));
    let next = feeds.get(&log.0, "tokyo");
    assert_eq!(next.version, v);
    let bytes = next.frame().expect("encodes");
    let (frame, _) = wire::decode(&bytes, wire::MAX_FRAME)
        .expect("decodes")
        .expect("whole");
    let Frame::Snapshot(s) = frame else {
        panic!("not a snapshot: {frame:?}")
    };
    assert_eq!((s.version, s.policy.version), (v, v));
}

/// Builds of `plan` counted in `registry`.
fn builds(registry: &prometheus::Registry, plan: &str) -> u64 {
    let text = prometheus::TextEncoder::new()
        .encode_to_string(&registry.gather())
        .expect("text");
    let series = format!("breakout_control_region_build_seconds_count{{plan=\"{plan}\"}} ");
    let line = text.lines().find_map(|l| l.strip_prefix(series.as_str()));
    line.expect("exported").parse::<u64>().expect("a count")
}

/// A session that read an older state than the region's newest build gets that build: no build
/// of its own (which would be whole, the served cache having moved on).
#[test]
fn an_older_state_gets_the_newer_build_not_a_whole_one() {
    let registry = prometheus::Registry::new();
    let feeds = RegionFeeds::with_build_times(BuildTimes::register(&registry).expect("register"));
    let mut log = Log::new();
    log.on("2025-01-15", tenant("acme", "tokyo", "10.0.0.0/16"));
    let older = log.0.clone();
    log.on("2025-01-15", tenant("beta", "tokyo", "10.1.0.0/16"));
    let newer = feeds.get(&log.0, "tokyo");
    assert_eq!(newer.version, log.0.version);
    let got = feeds.get(&older, "tokyo");
    assert!(
        Arc::ptr_eq(&newer, &got),
        "{} for {}",
        got.version,
        older.version
    );
    assert_eq!(
        (builds(&registry, "parts"), builds(&registry, "whole")),
        (1, 0)
    );
}

/// Builds are timed on `/metrics` by plan; a version that leaves the region's content as it was
/// is not a build.
#[test]
fn builds_are_timed_and_unchanged_versions_are_not_builds() {
    let registry = prometheus::Registry::new();
    let times = BuildTimes::register(&registry).expect("register");
    let feeds = RegionFeeds::with_build_times(times);
    let count = |plan: &str| builds(&registry, plan);
    let mut log = Log::new();
    feeds.get(&log.0, "tokyo");
    assert_eq!((count("parts"), count("whole")), (1, 0));
    log.on("2025-01-15", region("nagoya"));
    feeds.get(&log.0, "tokyo");
    assert_eq!(count("parts"), 1, "tokyo's content did not change");
    log.on("2025-01-15", tenant("acme", "tokyo", "10.0.0.0/16"));
    let built = feeds.get(&log.0, "tokyo");
    assert_eq!((count("parts"), count("whole")), (2, 0));
    assert_eq!(
        built.policy().out_of_service.len(),
        1,
        "acme has no contracts"
    );
}

#[tokio::test]
async fn a_snapshot_is_encoded_when_sent_and_its_size_known_before() {
    let mut log = Log::new();
    log.on("2025-01-15", tenant("acme", "tokyo", "10.0.0.0/16"));
    let feeds = Arc::new(RegionFeeds::default());
    let state = Arc::new(log.0.clone());
    let built = feeds
        .get_off_runtime(Arc::clone(&state), "tokyo")
        .await
        .expect("built");
    assert!(built.frame.get().is_none(), "getting it encodes nothing");
    let estimate = built.snapshot_size();
    let snapshot = built.frame_off_runtime().await.expect("encodes");
    assert!(
        estimate < snapshot.len() && snapshot.len() - estimate < 300,
        "estimated {estimate}, encoded {}",
        snapshot.len()
    );
    assert_eq!(built.snapshot_size(), snapshot.len(), "exact once encoded");
    let again = built.frame_off_runtime().await.expect("cached");
    assert_eq!(snapshot.as_ptr(), again.as_ptr(), "encoded once");
    // The next version of the same content carries the measure over.
    log.on("2025-01-15", region("nagoya"));
    let next = feeds
        .get_off_runtime(Arc::new(log.0.clone()), "tokyo")
        .await
        .expect("built");
    assert_eq!((next.hash, next.snapshot_size()), (built.hash, estimate));
}

#[test]
fn the_update_frame_turns_the_previous_policy_into_the_new_one() {
    let mut log = Log::new();
    for (i, id) in ["acme", "beta", "core", "dyna"].into_iter().enumerate() {
        log.on("2025-01-15", tenant(id, "tokyo", &format!("10.{i}.0.0/16")));
        for c in serve_commands(id, 20_000) {
            log.on("2025-01-15", c);
        }
    }
    let old = Built::new(&log.0, "tokyo");
    log.on("2025-01-15", tenant("kobe", "osaka", "10.9.0.0/16"));
    let new = Built::new(&log.0, "tokyo");
    let bytes = new.update_frame(&old).expect("an update");
    let again = new.update_frame(&old).expect("cached");
    assert_eq!(
        bytes.as_ptr(),
        again.as_ptr(),
        "the same bytes, not encoded again"
    );
    let snapshot = new.frame().expect("encodes");
    assert!(
        super::super::cursor::prefer_update(bytes.len(), snapshot.len()),
        "{} vs {}",
        bytes.len(),
        snapshot.len()
    );
    let (frame, _) = wire::decode(&bytes, wire::MAX_FRAME)
        .expect("decodes")
        .expect("whole");
    let Frame::Update(u) = frame else {
        panic!("not an update: {frame:?}")
    };
    assert_eq!((u.from, u.to), (old.version, new.version));
    assert!(u.changes.tenants.is_empty(), "only foreign sources changed");
    assert_eq!(delta::apply(&old.policy, &u.changes), new.policy());
    // Never backwards, never across regions.
    assert!(old.update_frame(&new).is_none());
    assert!(new.update_frame(&Built::new(&log.0, "osaka")).is_none());
}

#[test]
fn unknown_regions_are_built_but_not_cached() {
    let feeds = RegionFeeds::default();
    let built = feeds.get(&Log::new().0, "nowhere");
    assert!(built.policy.tenants.is_empty());
    assert!(feeds.cached("nowhere").is_none());
}

#[test]
fn edges_get_only_tenants_in_service_and_refuse_the_others_by_name() {
    let mut log = Log::new();
    log.on("2025-01-15", tenant("acme", "tokyo", "10.0.0.0/16"));
    log.on("2025-01-15", tenant("beta", "tokyo", "10.1.0.0/16"));
    log.on("2025-01-15", tenant("kobe", "osaka", "10.9.0.0/16"));
    for c in serve_commands("acme", 40_000) {
        log.on("2025-01-15", c);
    }
    let built = Built::new(&log.0, "tokyo");
    assert_eq!(ids(&built), ["acme"]);
    assert_eq!(built.policy.tenants[0].session_limit, 40_000);
    let out = &built.policy.out_of_service;
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].tenant, "beta");
    assert_eq!(
        out[0].reason,
        "art. 6-1: no list-template contract in force; art. 6-1: no cloud-bypass or \
         external-integration contract in force"
    );
    assert_eq!(built.policy.foreign_sources[0].tenant, "kobe");
    breakout_policy::validate::validate(&built.policy).expect("valid");

    // beta gets its contracts: served, and no longer refused by name.
    for c in serve_commands("beta", 20_000) {
        log.on("2025-01-16", c);
    }
    let built = Built::new(&log.0, "tokyo");
    assert_eq!(ids(&built), ["acme", "beta"]);
    assert!(built.policy.out_of_service.is_empty());
}

#[test]
fn a_day_change_is_a_new_version_with_new_content_and_a_no_op_tick_is_not() {
    let mut log = Log::new();
    log.on("2025-01-15", tenant("acme", "tokyo", "10.0.0.0/16"));
    for c in serve_commands("acme", 40_000) {
        log.on("2025-01-15", c);
    }
    let capacity = crate::contracts::ContractRequest::ChangeCapacity {
        contract: "c2".into(),
        capacity: 120_000,
        effective: Some("2025-02-01".parse().expect("a day")),
    };
    log.on(
        "2025-01-15",
        Command::Contract(ContractChange {
            tenant: "acme".into(),
            request: capacity,
        }),
    );
    let limit = |b: &Built| b.policy.tenants[0].session_limit;
    let before = Built::new(&log.0, "tokyo");
    assert_eq!(limit(&before), 40_000);

    // A tick on a day that changes nothing: a new version, the same content (not resent).
    let day = |d: &str| {
        Command::Tick(Tick {
            day: d.parse().expect("a day"),
        })
    };
    log.on("2025-01-20", day("2025-01-20"));
    let same = Built::new(&log.0, "tokyo");
    assert_eq!(
        (same.version > before.version, same.hash),
        (true, before.hash)
    );

    // The tick of Feb 1: the new item reaches the edges at that version.
    log.on("2025-02-01", day("2025-02-01"));
    let after = Built::new(&log.0, "tokyo");
    assert_ne!(after.hash, before.hash);
    assert_eq!(limit(&after), 120_000);
}

const M365: &str = include_str!("../../../../tests/fixtures/m365-worldwide-endpoints.json");

fn record_template(source_version: &str, extra_host: Option<&str>) -> Command {
    let mut content = crate::templates::m365::template(M365, source_version).expect("fixture");
    if let Some(h) = extra_host {
        content.sets[0].hosts.push(h.into());
        content = crate::templates::TemplateContent::new(
            TemplateItem::Microsoft365,
            source_version.into(),
            content.sets,
        );
    }
    Command::RecordTemplate(RecordTemplate {
        item: TemplateItem::Microsoft365,
        fetched: Fetched {
            source_version: source_version.into(),
            fetched_at_ms: 1,
            content: Some(content),
            error: None,
            instance: None,
        },
        max_shrink_percent: 20,
    })
}

fn subscribe(id: &str, action: breakout_policy::Action) -> Command {
    Command::SetSubscription(SetSubscription {
        tenant: id.into(),
        item: TemplateItem::Microsoft365,
        subscription: Some(Subscription {
            groups: Vec::new(),
            categories: Vec::new(),
            required_only: false,
            action,
            add: Vec::new(),
            exclude: Vec::new(),
            pin: None,
            instance: None,
        }),
    })
}

fn patch(id: &str, patch: TenantPatch) -> Command {
    Command::UpdateTenant(UpdateTenant {
        id: id.into(),
        if_match: None,
        patch,
    })
}

/// A patch setting `id`'s rules to one rule: `action` for `destination`.
fn rule(id: &str, action: &str, destination: &str) -> Command {
    let rules: Vec<breakout_policy::Rule> = serde_json::from_value(serde_json::json!([
        {"action": action, "destinations": [destination]}
    ]))
    .expect("rules");
    patch(
        id,
        TenantPatch {
            rules: Some(rules),
            ..TenantPatch::default()
        },
    )
}

/// What `feeds` give for both regions equals a whole build of the log's state, and is valid.
fn same_as_whole(feeds: &RegionFeeds, log: &Log) {
    for r in ["tokyo", "osaka"] {
        let got = feeds.get(&log.0, r);
        let whole = Built::new(&log.0, r);
        let at = log.0.version;
        assert_eq!(got.policy(), whole.policy(), "region {r} at {at}");
        assert_eq!(got.hash, whole.hash, "region {r} at {at}");
        breakout_policy::validate::validate(&got.policy()).expect("valid");
    }
}

/// After each write, what the feeds give equals a whole build of that state, for both regions;
/// a region none of whose tenants changed keeps its content object; template lists go shared.
#[test]
fn incremental_builds_equal_whole_builds_and_untouched_regions_keep_their_content() {
    let mut log = Log::new();
    let feeds = RegionFeeds::default();
    let check = |log: &Log| same_as_whole(&feeds, log);
    let direct = breakout_policy::Action::Direct;
    log.on("2025-01-15", record_template("2025010100", None));
    check(&log);
    for (i, id) in ["acme", "beta", "core", "dyna", "kobe"]
        .into_iter()
        .enumerate()
    {
        let region = if i < 4 { "tokyo" } else { "osaka" };
        log.on("2025-01-15", tenant(id, region, &format!("10.{i}.0.0/16")));
        check(&log);
        for c in serve_commands(id, 20_000) {
            log.on("2025-01-15", c);
        }
        check(&log);
        if i != 2 {
            log.on("2025-01-15", subscribe(id, direct.clone()));
            check(&log);
        }
    }
    let tokyo = feeds.get(&log.0, "tokyo");
    assert!(
        tokyo.policy.lists.contains_key("template-microsoft365"),
        "shared"
    );
    assert!(tokyo
        .policy
        .tenants
        .iter()
        .all(|t| !t.lists.contains_key("template-microsoft365")));

    // A rule of an osaka tenant: tokyo keeps its content (same object), osaka is rebuilt.
    let osaka = feeds.get(&log.0, "osaka");
    log.on("2025-01-15", rule("kobe", "block", "ads.example"));
    check(&log);
    assert!(Arc::ptr_eq(
        &tokyo.policy,
        &feeds.get(&log.0, "tokyo").policy
    ));
    assert!(!Arc::ptr_eq(
        &osaka.policy,
        &feeds.get(&log.0, "osaka").policy
    ));

    // Source networks move every region's foreign sources; a new template version, a
    // rollback, a deletion and a new day each rebuild what they touch.
    log.on(
        "2025-01-15",
        patch(
            "acme",
            TenantPatch {
                source_cidrs: Some(vec!["10.200.0.0/16".parse().expect("cidr")]),
                ..TenantPatch::default()
            },
        ),
    );
    check(&log);
    log.on(
        "2025-01-15",
        record_template("2025020100", Some("new.example.com")),
    );
    check(&log);
    log.on(
        "2025-01-15",
        Command::RollbackTemplate(RollbackTemplate {
            item: TemplateItem::Microsoft365,
            to: 0,
        }),
    );
    check(&log);
    // A tenant without contracts comes and goes (one with contracts cannot be deleted).
    log.on("2025-01-15", tenant("temp", "tokyo", "10.77.0.0/16"));
    check(&log);
    log.on(
        "2025-01-15",
        Command::DeleteTenant(DeleteTenant {
            id: "temp".into(),
            if_match: None,
        }),
    );
    check(&log);
    log.on(
        "2025-01-20",
        Command::Tick(Tick {
            day: "2025-01-20".parse().expect("a day"),
        }),
    );
    check(&log);
}

/// Builds asked for only now and then, several writes apart (as a node whose sessions are busy
/// asks), equal whole builds: the cache's pass over what changed covers every write between.
#[test]
fn builds_several_writes_apart_equal_whole_builds() {
    let day = "2025-01-15";
    let mut log = Log::new();
    let feeds = RegionFeeds::default();
    let check = |log: &Log| same_as_whole(&feeds, log);
    log.on(day, record_template("2025010100", None));
    check(&log);
    for i in 0..12 {
        let id = format!("t{i}");
        let region = if i % 3 == 0 { "osaka" } else { "tokyo" };
        log.on(day, tenant(&id, region, &format!("10.{i}.0.0/16")));
        // Every fourth without contracts: out of service, refused by name.
        if i % 4 != 3 {
            for c in serve_commands(&id, 20_000) {
                log.on(day, c);
            }
        }
        if i % 2 == 0 {
            log.on(day, subscribe(&id, breakout_policy::Action::Direct));
        }
        if i % 3 == 2 {
            check(&log);
        }
    }
    log.on(day, rule("t1", "direct", "partner.example"));
    let sources = TenantPatch {
        source_cidrs: Some(vec!["10.99.0.0/16".parse().expect("cidr")]),
        ..TenantPatch::default()
    };
    log.on(day, patch("t4", sources));
    // Contracts alone: t7 comes into service.
    for c in serve_commands("t7", 20_000) {
        log.on(day, c);
    }
    log.on(
        day,
        Command::DeleteTenant(DeleteTenant {
            id: "t3".into(),
            if_match: None,
        }),
    );
    check(&log);
}

/// A one-tenant write re-makes that tenant alone: every other tenant of the region comes out of
/// the new build as the same object as out of the one before (what keeps a rule change's build
/// in proportion to the change, not to the region: BENCHMARKS.md), whether it holds a shared
/// template list or none.
#[test]
fn a_one_tenant_write_reuses_every_other_tenant_of_the_region() {
    let day = "2025-01-15";
    let mut log = Log::new();
    let feeds = RegionFeeds::default();
    log.on(day, record_template("2025010100", None));
    for (i, id) in ["acme", "beta", "core", "dyna"].into_iter().enumerate() {
        log.on(day, tenant(id, "tokyo", &format!("10.{i}.0.0/16")));
        for c in serve_commands(id, 20_000) {
            log.on(day, c);
        }
        // `core` holds no template list.
        if id != "core" {
            log.on(day, subscribe(id, breakout_policy::Action::Direct));
        }
    }
    let before = feeds.get(&log.0, "tokyo");
    assert_eq!(ids(&before), ["acme", "beta", "core", "dyna"]);
    log.on(day, rule("beta", "block", "ads.example"));
    let after = feeds.get(&log.0, "tokyo");
    same_as_whole(&feeds, &log);
    for (old, new) in before.policy.tenants.iter().zip(&after.policy.tenants) {
        assert_eq!(old.id, new.id);
        assert_eq!(Arc::ptr_eq(old, new), new.id != "beta", "tenant {}", new.id);
    }
}
