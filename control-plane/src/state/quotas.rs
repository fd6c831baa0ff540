//! Per-tenant quotas (docs/api.md#quotas): how much a tenant may hold, what it holds, and the
//! check a client's write passes. Pure reads over the state.
//!
//! The check runs after the command, on the state it made: a write that leaves any of the
//! tenant's figures over its limit *and* higher than before is refused (and undone). So a
//! tenant already over a quota the operator lowered can still delete and shrink, and one
//! check covers every command that adds to a tenant, whatever its shape. Only client writes
//! (the API's, [`super::ClientWrite`]) are checked: an entry from before quotas existed
//! replays as it was decided.

use std::fmt;
use std::io;

use serde::Serialize;

use super::model::{Quotas, RejectKind, State, MAX_LIST_ENTRIES};
use super::step::{Apply, LogEntry, Reject, Step};

/// One thing a tenant's quotas bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Quota {
    Lists,
    ListEntries,
    Entries,
    Bytes,
    Rules,
    Webhooks,
    Tokens,
}

impl Quota {
    pub const ALL: [Quota; 7] = [
        Quota::Lists,
        Quota::ListEntries,
        Quota::Entries,
        Quota::Bytes,
        Quota::Rules,
        Quota::Webhooks,
        Quota::Tokens,
    ];

    /// The field's name in [`Quotas`] and in messages.
    pub fn name(self) -> &'static str {
        match self {
            Quota::Lists => "lists",
            Quota::ListEntries => "list_entries",
            Quota::Entries => "entries",
            Quota::Bytes => "bytes",
            Quota::Rules => "rules",
            Quota::Webhooks => "webhooks",
            Quota::Tokens => "tokens",
        }
    }

    /// The limit of a tenant the operator set nothing for.
    pub const fn default_limit(self) -> u64 {
        match self {
            Quota::Lists => 50,
            Quota::ListEntries => MAX_LIST_ENTRIES as u64,
            Quota::Entries => 200_000,
            Quota::Bytes => 16 * 1024 * 1024,
            Quota::Rules => 1_000,
            Quota::Webhooks => 10,
            Quota::Tokens => 20,
        }
    }

    /// What the figure counts, for messages.
    fn counts(self) -> &'static str {
        match self {
            Quota::Lists => "named lists",
            Quota::ListEntries => "entries in one list",
            Quota::Entries => "destinations (list entries and rules' own destinations)",
            Quota::Bytes => "bytes of configuration",
            Quota::Rules => "rules",
            Quota::Webhooks => "webhooks",
            Quota::Tokens => "API tokens",
        }
    }

    /// The operator's override of this quota in `q`.
    pub fn set_in(self, q: &Quotas) -> Option<u64> {
        match self {
            Quota::Lists => q.lists,
            Quota::ListEntries => q.list_entries,
            Quota::Entries => q.entries,
            Quota::Bytes => q.bytes,
            Quota::Rules => q.rules,
            Quota::Webhooks => q.webhooks,
            Quota::Tokens => q.tokens,
        }
    }
}

impl fmt::Display for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Quotas {
    /// The limit in force for `quota`: the override, else the default.
    pub fn limit(&self, quota: Quota) -> u64 {
        quota.set_in(self).unwrap_or_else(|| quota.default_limit())
    }

    /// An operator's overrides are possible: a list never holds more than an edge compiles.
    pub(super) fn check(&self) -> Step {
        match self.list_entries {
            Some(n) if n > MAX_LIST_ENTRIES as u64 => Err(Reject::invalid(format!(
                "quotas.list_entries: {n}; a list holds at most {MAX_LIST_ENTRIES} entries \
                 whatever the quota"
            ))),
            _ => Ok(()),
        }
    }
}

/// What a tenant holds, figure by figure (in [`Quota::ALL`] order).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage([u64; 7]);

impl Usage {
    pub fn of(&self, quota: Quota) -> u64 {
        self.0[quota as usize]
    }
}

/// What tenant `id` holds in `state` (all zero if there is no such tenant).
pub fn usage(state: &State, id: &str) -> Usage {
    let Some(record) = state.tenants.get(id) else {
        return Usage::default();
    };
    let t = &record.tenant;
    let largest = t.lists.values().map(|l| l.entries.len()).max();
    let listed: usize = t.lists.values().map(|l| l.entries.len()).sum();
    let inline: usize = t.rules.iter().map(|r| r.destinations.len()).sum();
    let tokens = state.tokens.values().filter(|k| k.tenant == id).count();
    let webhooks = state.webhooks.get(id).map_or(0, |h| h.len());
    let mut u = Usage::default();
    u.0[Quota::Lists as usize] = t.lists.len() as u64;
    u.0[Quota::ListEntries as usize] = largest.unwrap_or(0) as u64;
    u.0[Quota::Entries as usize] = (listed + inline) as u64;
    u.0[Quota::Bytes as usize] = json_size(&record.tenant);
    u.0[Quota::Rules as usize] = t.rules.len() as u64;
    u.0[Quota::Webhooks as usize] = webhooks as u64;
    u.0[Quota::Tokens as usize] = tokens as u64;
    u
}

/// The length of `value`'s JSON, counted without building it.
pub fn json_size<T: Serialize + ?Sized>(value: &T) -> u64 {
    struct Count(u64);
    impl io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Plain data with string keys: serializing cannot fail.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

/// Applies a client's `write` and refuses it, leaving `state` as it was, if it takes its
/// tenant over a quota (see the module docs).
pub(super) fn apply_within(state: &mut State, write: &dyn Apply, entry: &LogEntry) -> Step {
    let Some(tenant) = write.tenant() else {
        return write.apply(state, entry);
    };
    let tenant = tenant.to_string();
    // Cheap: the collections are persistent, so this shares everything.
    let before = state.clone();
    write.apply(state, entry)?;
    if let Err(refusal) = check(&before, state, &tenant) {
        *state = before;
        return Err(refusal);
    }
    Ok(())
}

/// `Err` naming the first quota that `after` exceeds for tenant `id` and that grew from
/// `before` (for `list_entries`: a list over the limit that grew, or is new).
fn check(before: &State, after: &State, id: &str) -> Step {
    let Some(record) = after.tenants.get(id) else {
        return Ok(());
    };
    let most = record.quotas.limit(Quota::ListEntries);
    let old_lists = before.tenants.get(id).map(|r| &r.tenant.lists);
    for (name, list) in &record.tenant.lists {
        let was = old_lists
            .and_then(|l| l.get(name))
            .map_or(0, |l| l.entries.len());
        let now = list.entries.len();
        if now as u64 > most && now > was {
            return Err(exceeded(format!(
                "quota list_entries exceeded: list {name} of tenant {id} would hold {now} \
                 entries, over its limit of {most} per list (it holds {was} now); {ASK}"
            )));
        }
    }
    let now = usage(after, id);
    let over: Vec<Quota> = Quota::ALL
        .into_iter()
        .filter(|q| *q != Quota::ListEntries && now.of(*q) > record.quotas.limit(*q))
        .collect();
    if over.is_empty() {
        return Ok(());
    }
    let was = usage(before, id);
    match over.into_iter().find(|q| now.of(*q) > was.of(*q)) {
        None => Ok(()),
        Some(q) => Err(exceeded(format!(
            "quota {q} exceeded: tenant {id} would hold {} {}, over its limit of {} (it holds \
             {} now); {ASK}",
            now.of(q),
            q.counts(),
            record.quotas.limit(q),
            was.of(q),
        ))),
    }
}

/// The end of every quota refusal.
const ASK: &str = "remove some first, or ask the operator to raise the quota";

fn exceeded(message: String) -> Reject {
    Reject {
        kind: RejectKind::QuotaExceeded,
        message,
    }
}
