//! The simulated provider's state, built in-process through the control plane's own state
//! machine (`breakout_control::state::apply`, the function every node applies the Raft log
//! with) and loaded with one `POST /v1/store/import`: 100,000 tenants through the API would take
//! hours here, and the import is itself a write that goes through `apply` on every node.
//!
//! Shape: `regions` regions, `tenants` tenants spread round-robin over them, each with one source
//! address, a parent proxy as its default, three rules of its own, and contracts that put it in
//! service; 90% subscribe to the Microsoft 365 template (two versions are recorded, the second
//! live, so a rollback is a template change that touches 90% of tenants); every 50th tenant has
//! a 1,000-entry blocklist.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use breakout_control::contracts::TemplateItem;
use breakout_control::state::{
    apply, serve_commands, Command, CreateRegion, CreateTenant, Fetched, Outcome, RecordTemplate,
    Request, SetSubscription, State,
};
use breakout_control::templates::m365::template;
use breakout_control::templates::select::Subscription;
use breakout_control::templates::TemplateContent;
use breakout_policy::{Action, NamedList, Rule, Tenant};

const M365: &str = include_str!("../../../fixtures/m365-worldwide-endpoints.json");
const ITEM: TemplateItem = TemplateItem::Microsoft365;
/// Every this-many-th tenant has a 1,000-entry blocklist.
pub const BLOCKLIST_EVERY: usize = 50;
pub const BLOCKLIST_ENTRIES: usize = 1_000;
/// Tenants `i` whose [`spread`] is this do not subscribe to the template (10%).
const SKIP_SUBSCRIPTION: u64 = 7;

/// The sizes of the simulated fleet's data.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub tenants: usize,
    pub regions: usize,
}

pub fn region_name(i: usize) -> String {
    format!("r{i:02}")
}

pub fn tenant_id(i: usize) -> String {
    format!("t{i:06}")
}

/// Region of tenant `i`.
pub fn region_of(i: usize, regions: usize) -> usize {
    i % regions
}

/// Tenant `i`'s decile, scattered independently of its region (`i % regions`): with `i % 10`
/// the non-subscribers of 20 regions all fell in regions 7 and 17, whose content a template
/// change then left alone (and whose edges, rightly, were sent nothing).
fn spread(i: usize) -> u64 {
    ((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) % 10
}

/// Whether tenant `i` subscribes to the Microsoft 365 template.
pub fn subscribes(i: usize) -> bool {
    spread(i) != SKIP_SUBSCRIPTION
}

/// Whether some tenant of region `r` subscribes: a template change changes exactly those
/// regions' content (the others' edges are not sent anything: "unchanged content is not
/// resent", docs/distribution.md).
pub fn region_subscribes(r: usize, shape: Shape) -> bool {
    (r..shape.tenants).step_by(shape.regions).any(subscribes)
}

/// How many tenants of region `r` have a blocklist (with `i % regions` for the region and every
/// 50th tenant listing, they gather in the regions that divide evenly: 0 and 10 of 20).
pub fn region_blocklists(r: usize, shape: Shape) -> usize {
    (r..shape.tenants)
        .step_by(shape.regions)
        .filter(|i| i.is_multiple_of(BLOCKLIST_EVERY))
        .count()
}

/// Tenant `i`'s own rules (the rule changes the benchmark makes replace these).
pub fn rules(i: usize, generation: u64) -> Vec<Rule> {
    let parse = |s: String| s.parse().expect("a destination");
    let mut rules = vec![
        Rule {
            name: Some("intranet".into()),
            action: Action::Direct,
            destinations: vec![
                parse(format!("intranet-{i}.corp.example")),
                parse(format!("*.apps-{i}.corp.example")),
            ],
            lists: Vec::new(),
            ports: Vec::new(),
        },
        Rule {
            name: Some("ads".into()),
            action: Action::Block,
            destinations: (0..5)
                .map(|k| parse(format!("*.ads{k}-{}.example", (i + k) % 97)))
                .collect(),
            lists: Vec::new(),
            ports: Vec::new(),
        },
        Rule {
            name: Some(format!("change-{generation}")),
            action: Action::Direct,
            destinations: vec![parse(format!("g{generation}.partner-{i}.example"))],
            lists: Vec::new(),
            ports: vec![443],
        },
    ];
    if i.is_multiple_of(BLOCKLIST_EVERY) {
        rules.push(Rule {
            name: Some("blocklist".into()),
            action: Action::Block,
            destinations: Vec::new(),
            lists: vec!["blocklist".into()],
            ports: Vec::new(),
        });
    }
    rules
}

fn tenant(i: usize, regions: usize) -> Result<Tenant> {
    let mut lists = BTreeMap::new();
    if i.is_multiple_of(BLOCKLIST_EVERY) {
        let entries = (0..BLOCKLIST_ENTRIES)
            .map(|k| format!("bad{k}-{i}.example").parse())
            .collect::<Result<Vec<_>, _>>()?;
        lists.insert("blocklist".to_string(), NamedList::new(entries));
    }
    let source = format!("10.{}.{}.{}/32", (i >> 16) & 255, (i >> 8) & 255, i & 255);
    Ok(Tenant {
        id: tenant_id(i),
        region: Some(region_name(region_of(i, regions))),
        source_cidrs: vec![source.parse()?],
        session_limit: 1_000,
        upstreams: BTreeMap::from([("corp".to_string(), format!("proxy-{i}.corp.example:8080"))]),
        rules: rules(i, 0),
        default_action: Action::Upstream("corp".into()),
        lists,
        egress_address: None,
        pac: None,
    })
}

/// Version 0 of the template (the fixture) and version 1 (one host removed: a vendor's usual
/// monthly change).
fn template_versions() -> Result<[TemplateContent; 2]> {
    let v0 = template(M365, "2026110100").context("the Microsoft 365 fixture")?;
    // One host fewer (the guard quarantines hosts outside the vendor's domains, so nothing is
    // invented; a drop well under its shrink limit passes): a host that no other set lists, in
    // a set with several. Dropping one another set also lists (as `outlook.office365.com`, the
    // first set's last) compiles to the same lists: a template version that changes no tenant,
    // no region and sends edges nothing, which the template phase then waited for in vain.
    let mut sets = v0.sets.clone();
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for h in sets.iter().flat_map(|s| &s.hosts) {
        *count.entry(h.clone()).or_default() += 1;
    }
    let only_here = sets.iter_mut().filter(|s| s.hosts.len() > 1).find_map(|s| {
        let k = s.hosts.iter().position(|h| count[h] == 1)?;
        Some((s, k))
    });
    let (set, k) = only_here.context("a host that one set alone lists")?;
    set.hosts.remove(k);
    let v1 = TemplateContent::new(ITEM, "2026120100".into(), sets);
    Ok([v0, v1])
}

/// Applies commands as consecutive log entries at `at_ms`.
struct Log {
    state: State,
    at_ms: u64,
}

impl Log {
    fn ok(&mut self, command: Command) -> Result<()> {
        let req = Request {
            actor: "fleet-sim".into(),
            at_ms: self.at_ms,
            command,
        };
        let index = self.state.version + 1;
        match apply(&mut self.state, index, &req) {
            Outcome::Done { .. } => Ok(()),
            other => bail!("populating: {other:?}"),
        }
    }
}

/// The whole state, as `apply` makes it from the commands above.
pub fn build(shape: Shape) -> Result<State> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("the clock")?;
    let mut log = Log {
        state: State::default(),
        at_ms: now.as_millis() as u64,
    };
    for content in template_versions()? {
        let source_version = content.source_version.clone();
        log.ok(Command::RecordTemplate(RecordTemplate {
            item: ITEM,
            fetched: Fetched {
                source_version,
                fetched_at_ms: log.at_ms,
                error: None,
                content: Some(content),
                instance: None,
            },
            max_shrink_percent: 20,
        }))?;
    }
    for r in 0..shape.regions {
        log.ok(Command::CreateRegion(CreateRegion {
            name: region_name(r),
            description: None,
        }))?;
    }
    for i in 0..shape.tenants {
        log.ok(Command::CreateTenant(CreateTenant {
            tenant: tenant(i, shape.regions)?,
        }))?;
        for c in serve_commands(&tenant_id(i), 20_000) {
            log.ok(c)?;
        }
        if subscribes(i) {
            log.ok(Command::SetSubscription(SetSubscription {
                tenant: tenant_id(i),
                item: ITEM,
                subscription: Some(Subscription {
                    groups: Vec::new(),
                    categories: Vec::new(),
                    required_only: false,
                    action: Action::Direct,
                    add: Vec::new(),
                    exclude: Vec::new(),
                    pin: None,
                    instance: None,
                }),
            }))?;
        }
    }
    Ok(log.state)
}

/// The dump `POST /v1/store/import` takes.
pub fn dump(state: &State) -> Result<Vec<u8>> {
    let body = serde_json::json!({
        "format": breakout_control::api::store_dump::FORMAT,
        "version": state.version,
        "state": state,
    });
    Ok(serde_json::to_vec(&body)?)
}
