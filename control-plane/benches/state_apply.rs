//! Applying writes while a reader holds the state: the cost the Raft state machine pays per
//! applied batch (`Arc::make_mut` on the published `Arc<State>`), without disk or network.
//!
//! `cargo bench -p breakout-control --bench state_apply` builds a state of `TENANTS` tenants
//! with a `LIST`-entry list each and a full audit log, then applies `WRITES` region creations
//! one batch each, twice: with no reader, and with a reader holding the previous state at every
//! batch (what an API handler or the edge feed does). Prints the median µs per write of `RUNS`
//! runs of each. Uses only the state's public API and the log's JSON, so the same file builds
//! against older versions of the crate for before/after figures.

use std::sync::Arc;
use std::time::Instant;

use breakout_control::state::{apply, Outcome, Request, State};
use serde_json::json;

mod common;

use common::{env, median};

fn request(command: serde_json::Value) -> Request {
    serde_json::from_value(
        json!({ "actor": "bench", "at_ms": 1_767_225_600_000u64, "command": command }),
    )
    .expect("a request")
}

/// A state with `tenants` tenants of `list` entries each, and a full audit log.
fn populated(tenants: usize, list: usize) -> (State, u64) {
    let mut state = State::default();
    let mut index = 0;
    let mut write = |state: &mut State, command: serde_json::Value| {
        index += 1;
        let outcome = apply(state, index, &request(command));
        assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
    };
    write(
        &mut state,
        json!({"op": "create_region", "name": "tokyo", "description": null}),
    );
    for t in 0..tenants {
        let entries: Vec<String> = (0..list)
            .map(|i| format!("h{i}.t{t}.example.com"))
            .collect();
        write(
            &mut state,
            json!({"op": "create_tenant", "tenant": {
            "id": format!("t{t}"), "region": "tokyo",
            "source_cidrs": [format!("10.{}.{}.0/24", t / 256, t % 256)], "session_limit": 10,
            "lists": { "saas": entries } }}),
        );
    }
    for i in 0..10_000 {
        write(
            &mut state,
            json!({"op": "create_region", "name": format!("fill-{i}"), "description": null}),
        );
    }
    (state, index)
}

/// µs per write for `writes` region creations, each its own batch; `reader` keeps the
/// previous state alive across each batch.
fn run(base: &State, first: u64, writes: usize, reader: bool) -> f64 {
    let mut current = Arc::new(base.clone());
    let mut held: Option<Arc<State>> = None;
    let started = Instant::now();
    for i in 0..writes {
        if reader {
            held = Some(Arc::clone(&current));
        }
        let req =
            request(json!({"op": "create_region", "name": format!("w-{i}"), "description": null}));
        let state = Arc::make_mut(&mut current);
        let outcome = apply(state, first + 1 + i as u64, &req);
        assert!(matches!(outcome, Outcome::Done { .. }));
    }
    drop(held);
    started.elapsed().as_secs_f64() * 1e6 / writes as f64
}

fn main() {
    let (tenants, list) = (env("TENANTS", 200), env("LIST", 2_000));
    let (writes, runs) = (env("WRITES", 2_000), env("RUNS", 5));
    let (state, index) = populated(tenants, list);
    let mut free = Vec::new();
    let mut read = Vec::new();
    for _ in 0..runs {
        free.push(run(&state, index, writes, false));
        read.push(run(&state, index, writes, true));
    }
    let fmt = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "state: {tenants} tenants x {list} list entries, {} audit events",
        state.audit.len()
    );
    println!("µs per write, median of {runs} runs of {writes} writes (one write per batch):");
    println!(
        "  no reader:               {:>10.1}  ({})",
        median(free.clone()),
        fmt(&free)
    );
    println!(
        "  reader holds each state: {:>10.1}  ({})",
        median(read.clone()),
        fmt(&read)
    );
}
