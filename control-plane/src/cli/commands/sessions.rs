//! `sessions [--tenant T] [--region R]`; `refusals TENANT [--region R]`.

use serde_json::Value;

use super::Invocation;
use breakout_policy::outcome::Reason;

use crate::cli::args::{RefusalsArgs, SessionsArgs};
use crate::cli::client::Call;
use crate::cli::error::CliError;
use crate::cli::table::Table;
use crate::cli::view::{field, get, items};

pub async fn run(inv: &Invocation, args: SessionsArgs) -> Result<(), CliError> {
    let call = Call::get(&["v1", "sessions"])
        .query("tenant", args.tenant)
        .query("region", args.region);
    let answer = inv.send(call).await?;
    inv.show(&answer, render_sessions);
    Ok(())
}

pub async fn refusals(inv: &Invocation, args: RefusalsArgs) -> Result<(), CliError> {
    let call = Call::get(&["v1", "tenants", args.tenant.as_str(), "refusals"]);
    let mut answer = inv.send(call).await?;
    if let (Some(region), Some(regions)) = (&args.region, answer.get_mut("regions")) {
        if let Some(list) = regions.as_array_mut() {
            list.retain(|r| r.get("region").and_then(Value::as_str) == Some(region));
        }
    }
    inv.show(&answer, render_refusals);
    Ok(())
}

/// One row per (region, reason) that happened: refusals first, then the way out failing and
/// the client's errors; a region with none says so.
pub fn render_refusals(answer: &Value) -> String {
    let mut t = Table::new(&[
        "REGION",
        "REASON",
        "KIND",
        "LAST HOUR",
        "LAST 3H",
        "SINCE EDGE START",
    ]);
    let empty = Vec::new();
    let regions = answer
        .get("regions")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    for r in regions {
        let count = |window: &str, reason: Reason| {
            r.get(window)
                .and_then(|c| c.get(reason.label()))
                .and_then(Value::as_u64)
                .unwrap_or(0)
        };
        let mut rows = 0;
        let mut reasons: Vec<Reason> = Reason::ALL.to_vec();
        reasons.sort_by_key(|x| (x.result() as u8, x.index()));
        for reason in reasons {
            let (hour, three, start) = (
                count("last_hour", reason),
                count("last_3_hours", reason),
                count("since_edge_start", reason),
            );
            if hour + three + start == 0 {
                continue;
            }
            rows += 1;
            t.row(vec![
                field(r, "region"),
                reason.label().to_string(),
                reason.result().label().to_string(),
                hour.to_string(),
                three.to_string(),
                start.to_string(),
            ]);
        }
        if rows == 0 {
            let dash = || "-".to_string();
            t.row(vec![
                field(r, "region"),
                "(none)".into(),
                dash(),
                "0".into(),
                "0".into(),
                "0".into(),
            ]);
        }
    }
    t.render()
}

/// One row per (region, tenant): open sessions against the limit, and what is granted.
pub fn render_sessions(answer: &Value) -> String {
    let mut t = Table::new(&[
        "REGION", "TENANT", "SESSIONS", "LIMIT", "USED", "GRANTED", "REFUSED", "EDGES",
    ]);
    for u in items(answer) {
        let sessions = get(u, "sessions").as_u64().unwrap_or(0);
        let limit = get(u, "limit").as_u64().unwrap_or(0);
        let used = match limit {
            0 => "-".to_string(),
            l => format!("{}%", sessions * 100 / l),
        };
        t.row(vec![
            field(u, "region"),
            field(u, "tenant"),
            sessions.to_string(),
            limit.to_string(),
            used,
            field(u, "granted"),
            field(u, "refused"),
            field(u, "edges"),
        ]);
    }
    t.render()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn one_row_per_region_and_tenant() {
        let answer = json!({"node_id": 1, "items": [
            {"region": "tokyo", "tenant": "acme", "limit": 200, "sessions": 150, "granted": 180,
             "refused": 2, "edges": 2},
        ]});
        assert_eq!(
            render_sessions(&answer),
            "REGION  TENANT  SESSIONS  LIMIT  USED  GRANTED  REFUSED  EDGES\n\
             tokyo   acme    150       200    75%   180      2        2\n"
        );
    }

    #[test]
    fn one_row_per_region_and_reason_refusals_first() {
        let answer = json!({"tenant": "acme", "node_id": 1, "regions": [
            {"region": "tokyo", "edges": 1, "buckets": [],
             "since_edge_start": {"dns_error": 1, "blocked_by_rule": 4},
             "last_hour": {"blocked_by_rule": 3}, "last_3_hours": {"blocked_by_rule": 4}},
            {"region": "osaka", "edges": 0, "buckets": [], "since_edge_start": {},
             "last_hour": {}, "last_3_hours": {}},
        ]});
        assert_eq!(
            render_refusals(&answer),
            "REGION  REASON           KIND            LAST HOUR  LAST 3H  SINCE EDGE START\n\
             tokyo   blocked_by_rule  refused         3          4        4\n\
             tokyo   dns_error        upstream_error  0          0        1\n\
             osaka   (none)           -               0          0        0\n"
        );
    }
}
