//! `edge list`.

use serde_json::Value;

use super::Invocation;
use crate::cli::args::EdgeCmd;
use crate::cli::client::Call;
use crate::cli::error::CliError;
use crate::cli::table::Table;
use crate::cli::view::{field, get, items};

pub async fn run(inv: &Invocation, cmd: EdgeCmd) -> Result<(), CliError> {
    match cmd {
        EdgeCmd::List { region } => {
            let call = Call::get(&["v1", "edges"]).query("region", region);
            let answer = inv.send(call).await?;
            inv.show(&answer, render_edges);
        }
    }
    Ok(())
}

/// One row per edge; ages are relative to the answer's `now_ms`. An edge whose connection ended
/// shows `no` under CONNECTED, and SEEN says how long ago it was last heard from (how stale its
/// configuration and grants may be). A trailing line names nodes that did not answer (their
/// edges are missing).
pub fn render_edges(answer: &Value) -> String {
    let now = get(answer, "now_ms").as_u64().unwrap_or(0);
    let age = |v: &Value, key: &str| match get(v, key).as_u64() {
        Some(at) => ago(now.saturating_sub(at)),
        None => "-".into(),
    };
    let mut t = Table::new(&[
        "EDGE",
        "REGION",
        "ADDRESS",
        "NODE",
        "CONNECTED",
        "SEEN",
        "APPLIED",
        "LAG",
        "REPORT",
        "SESSIONS",
        "NACK",
    ]);
    for e in items(answer) {
        let nack = get(e, "last_nack");
        let nack = if nack.is_object() {
            format!("v{}: {}", field(nack, "version"), field(nack, "reason"))
        } else {
            "-".into()
        };
        t.row(vec![
            field(e, "edge_id"),
            field(e, "region"),
            field(e, "address"),
            field(e, "control_node"),
            match get(e, "connected").as_bool() {
                Some(false) => "no".into(),
                _ => age(e, "connected_since_ms"),
            },
            age(e, "last_seen_ms"),
            field(e, "applied_version"),
            field(e, "lag"),
            age(e, "last_report_ms"),
            field(e, "sessions"),
            nack,
        ]);
    }
    let mut out = t.render();
    let unreachable = get(answer, "unreachable");
    if unreachable.as_array().is_some_and(|a| !a.is_empty()) {
        out.push_str(&format!(
            "not answering (their edges are missing): node {}\n",
            field(answer, "unreachable")
        ));
    }
    out
}

/// `850ms`, `12s`, `3m04s`, `2h05m`.
fn ago(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0 => format!("{ms}ms"),
        1..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn edges_print_one_row_each_with_ages_and_nacks() {
        let answer = json!({"version": 12, "now_ms": 10_000_000, "items": [
            {"edge_id": "tk-1", "region": "tokyo", "address": "10.0.0.5:4433",
             "control_node": 2, "connected_since_ms": 10_000_000 - 184_000, "applied_version": 12,
             "connected": true, "last_seen_ms": 10_000_000 - 400,
             "synced_through": 12, "lag": 0, "last_report_ms": 10_000_000 - 400, "sessions": 17,
             "last_nack": null, "tenants": {}},
            {"edge_id": "tk-2", "region": "tokyo", "address": "10.0.0.6:4433",
             "control_node": 1, "connected_since_ms": 10_000_000 - 7_500_000,
             "connected": false, "last_seen_ms": 10_000_000 - 125_000,
             "applied_version": 9, "synced_through": 9, "lag": 3, "last_report_ms": null,
             "sessions": null, "last_nack": {"version": 11, "reason": "bad egress", "at_ms": 1},
             "tenants": {}},
        ], "unreachable": [3]});
        assert_eq!(
            render_edges(&answer),
            "EDGE  REGION  ADDRESS        NODE  CONNECTED  SEEN   APPLIED  LAG  REPORT  SESSIONS  NACK\n\
             tk-1  tokyo   10.0.0.5:4433  2     3m04s      400ms  12       0    400ms   17        -\n\
             tk-2  tokyo   10.0.0.6:4433  1     no         2m05s  9        3    -       -         v11: bad egress\n\
             not answering (their edges are missing): node 3\n"
        );
    }

    #[test]
    fn no_edges_prints_the_header_only() {
        let answer = json!({"version": 1, "now_ms": 5, "items": [], "unreachable": []});
        assert!(render_edges(&answer).starts_with("EDGE  REGION"));
        assert_eq!(render_edges(&answer).lines().count(), 1);
    }
}
