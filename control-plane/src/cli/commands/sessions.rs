//! `sessions [--tenant T] [--region R]`.

use serde_json::Value;

use super::Invocation;
use crate::cli::args::SessionsArgs;
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
}
