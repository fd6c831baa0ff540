//! The day change: what edges are given is decided for the state's day (the log's clock,
//! [`State::policy_day`]), so when the wall clock reaches a day on which a contract starts or
//! ends or a capacity change takes effect, that day needs a store version of its own. The
//! leader proposes a [`Tick`] then (from [`super::pump`], every round), and every node's
//! feed rebuilds at the new version; versions keep increasing and mean the same on every node.

use crate::clock::day_of;
use crate::state::{tick_due, Command, Outcome, Request, State, Tick};
use crate::store::{Consistency, Store, StoreError};

/// Who the audit log names for a tick.
pub const TICK_ACTOR: &str = "control-plane";

/// The tick to propose at `now_ms` (the caller's clock), if one is due for `state`.
pub fn due(state: &State, now_ms: u64) -> Option<Request> {
    let day = tick_due(state, day_of(now_ms))?;
    Some(Request {
        actor: TICK_ACTOR.to_string(),
        at_ms: now_ms,
        command: Command::Tick(Tick { day }),
    })
}

/// Proposes a tick if one is due at `now_ms`; the new version when one was written. Call on
/// the leader (a follower's store refuses writes).
pub async fn tick_if_due(store: &dyn Store, now_ms: u64) -> Result<Option<u64>, StoreError> {
    let state = store.read(Consistency::Stale).await?;
    let Some(req) = due(&state, now_ms) else {
        return Ok(None);
    };
    let day = req.command.clone();
    let applied = store.write(req).await?;
    tracing::info!(
        ?day,
        version = applied.version,
        "the day changed what edges are given"
    );
    Ok(match applied.outcome {
        Outcome::Done { version } => Some(version),
        Outcome::Rejected { .. } => None,
    })
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::state::{
        region_policy_at, serve_commands, ContractChange, CreateRegion, CreateTenant,
    };
    use crate::store::memory::MemoryStore;
    use crate::store::NodeAddr;

    fn ms(day: &str) -> u64 {
        let d: NaiveDate = day.parse().expect("a day");
        let noon = d.and_hms_opt(12, 0, 0).expect("noon").and_utc();
        u64::try_from(noon.timestamp_millis()).expect("after 1970")
    }

    async fn write(store: &MemoryStore, day: &str, command: Command) -> u64 {
        let req = Request {
            actor: "test".into(),
            at_ms: ms(day),
            command,
        };
        match store.write(req).await.expect("write").outcome {
            Outcome::Done { version } => version,
            rejected => panic!("{rejected:?}"),
        }
    }

    #[tokio::test]
    async fn a_tick_is_written_only_when_the_day_changes_what_edges_get() {
        let store = MemoryStore::new(1, NodeAddr::default());
        let region = Command::CreateRegion(CreateRegion {
            name: "tokyo".into(),
            description: None,
        });
        write(&store, "2025-01-15", region).await;
        let tenant: breakout_policy::Tenant = serde_json::from_value(serde_json::json!({
            "id": "acme", "region": "tokyo", "source_cidrs": ["10.0.0.0/16"],
            "session_limit": 1
        }))
        .expect("a tenant");
        write(
            &store,
            "2025-01-15",
            Command::CreateTenant(CreateTenant { tenant }),
        )
        .await;
        for command in serve_commands("acme", 40_000) {
            write(&store, "2025-01-15", command).await;
        }
        let cancel = Command::Contract(ContractChange {
            tenant: "acme".into(),
            request: crate::contracts::ContractRequest::Cancel {
                contract: "c2".into(),
                end: Default::default(),
            },
        });
        let before = write(&store, "2025-01-15", cancel).await;

        // Nothing changes until the bypass ends on Feb 14 (notice + 30 days): no tick.
        for day in ["2025-01-15", "2025-01-16", "2025-02-13"] {
            assert_eq!(tick_if_due(&*store, ms(day)).await.expect("tick"), None);
        }
        let read = || async { store.read(Consistency::Stale).await.expect("read") };
        let state = read().await;
        assert_eq!(state.version, before);
        let served = |s: &State| region_policy_at(s, "tokyo", s.policy_day()).tenants.len();
        assert_eq!(served(&state), 1);

        // Feb 14 (or any later day first seen): one tick, and the state's day moves on.
        let tick = tick_if_due(&*store, ms("2025-02-20")).await.expect("tick");
        assert_eq!(tick, Some(before + 1));
        let state = read().await;
        assert_eq!(
            state.policy_day(),
            "2025-02-20".parse::<NaiveDate>().unwrap()
        );
        assert_eq!(served(&state), 0);
        let last = state.audit.last().expect("audited");
        assert_eq!(
            (
                last.action.as_str(),
                last.target.as_str(),
                last.actor.as_str()
            ),
            ("clock.tick", "day/2025-02-20", TICK_ACTOR)
        );
        // Done once: nothing is due any more.
        assert_eq!(
            tick_if_due(&*store, ms("2025-03-01")).await.expect("tick"),
            None
        );
    }
}
