//! State machine tests: one behaviour per test, built from the small helpers below.

mod audit;
mod contracts;
mod idempotency;
mod import;
mod input;
mod instances;
mod lists;
mod quotas;
mod regions;
mod service;
mod sources;
mod templates;
mod tenants;
mod tokens;
mod updates;
mod webhooks;

use breakout_policy::{Action, Destination, NamedList, Rule, SourceCidr, Tenant};

use super::{
    apply, ClientWrite, Command, IdempotencyKey, Outcome, RejectKind, Request, State, TenantPatch,
};
use crate::state::{CreateRegion, CreateTenant, CreateToken, PutList, UpdateTenant};

/// Applies commands as consecutive log entries, the way a Raft node would.
struct Log {
    state: State,
    next: u64,
    /// The proposer's clock for the next entries (`None`: one second per entry from the epoch).
    clock_ms: Option<u64>,
}

impl Log {
    fn new() -> Self {
        Log {
            state: State::default(),
            next: 1,
            clock_ms: None,
        }
    }

    /// Proposes the next entries at noon UTC of `day` (`YYYY-MM-DD`).
    fn on(&mut self, day: &str) -> &mut Self {
        let date: chrono::NaiveDate = day.parse().expect("a YYYY-MM-DD day");
        let noon = date.and_hms_opt(12, 0, 0).expect("noon").and_utc();
        self.clock_ms = Some(u64::try_from(noon.timestamp_millis()).expect("after 1970"));
        self
    }

    fn apply(&mut self, command: Command) -> Outcome {
        let index = self.next;
        self.next += 1;
        let req = Request {
            actor: "operator".into(),
            at_ms: self.clock_ms.unwrap_or(1_000 * index),
            command,
        };
        apply(&mut self.state, index, &req)
    }

    /// Applies `command` as a client's write (held to quotas) by `actor`, with `key`.
    fn client(&mut self, actor: &str, command: Command, key: Option<IdempotencyKey>) -> Outcome {
        let index = self.next;
        self.next += 1;
        let req = Request {
            actor: actor.into(),
            at_ms: self.clock_ms.unwrap_or(1_000 * index),
            command: Command::Client(Box::new(ClientWrite {
                idempotency: key,
                command,
            })),
        };
        apply(&mut self.state, index, &req)
    }

    /// Applies and insists it was done.
    fn ok(&mut self, command: Command) -> u64 {
        match self.apply(command) {
            Outcome::Done { version } => version,
            other => panic!("expected done, got {other:?}"),
        }
    }

    /// Applies and insists on a rejection of `kind`; returns the message.
    fn rejected(&mut self, command: Command, kind: RejectKind) -> String {
        match self.apply(command) {
            Outcome::Rejected { kind: k, message } if k == kind => message,
            other => panic!("expected {kind:?}, got {other:?}"),
        }
    }

    /// A log with regions `tokyo` and `osaka` and tenant `acme` (10.0.0.0/16) in tokyo.
    fn with_acme() -> Self {
        let mut log = Log::new();
        log.ok(region("tokyo"));
        log.ok(region("osaka"));
        log.ok(create(tenant("acme", "tokyo", &["10.0.0.0/16"])));
        log
    }
}

fn region(name: &str) -> Command {
    Command::CreateRegion(CreateRegion {
        name: name.into(),
        description: None,
    })
}

fn create(tenant: Tenant) -> Command {
    Command::CreateTenant(CreateTenant { tenant })
}

fn update(id: &str, if_match: Option<u64>, patch: TenantPatch) -> Command {
    Command::UpdateTenant(UpdateTenant {
        id: id.into(),
        if_match,
        patch,
    })
}

fn tenant(id: &str, region: &str, cidrs: &[&str]) -> Tenant {
    Tenant {
        id: id.into(),
        region: Some(region.into()),
        source_cidrs: cidrs
            .iter()
            .map(|c| c.parse::<SourceCidr>().unwrap())
            .collect(),
        session_limit: 100,
        upstreams: Default::default(),
        rules: Vec::new(),
        default_action: Action::Direct,
        lists: Default::default(),
        egress_address: None,
        pac: None,
    }
}

fn list(entries: &[&str]) -> NamedList {
    NamedList::new(
        entries
            .iter()
            .map(|e| e.parse::<Destination>().unwrap())
            .collect(),
    )
}

fn rule_using(list: &str) -> Rule {
    Rule {
        name: Some("bypass".into()),
        action: Action::Direct,
        destinations: Vec::new(),
        lists: vec![list.into()],
        ports: Vec::new(),
    }
}

fn put_list(tenant: &str, name: &str, l: NamedList, if_match: Option<u64>) -> Command {
    Command::PutList(PutList {
        tenant: tenant.into(),
        name: name.into(),
        list: l,
        if_match,
    })
}

fn token(id: &str, tenant: &str) -> Command {
    Command::CreateToken(CreateToken {
        id: id.into(),
        tenant: tenant.into(),
        hash: "ab".repeat(32),
        label: None,
        expires_at_ms: None,
    })
}

/// The state without what every entry moves on (version, day and audit), to show nothing else
/// moved.
fn content(state: &State) -> State {
    State {
        version: 0,
        day: None,
        audit: Default::default(),
        ..state.clone()
    }
}
