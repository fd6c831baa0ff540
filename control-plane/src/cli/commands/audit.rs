//! `audit [--since V] [--limit N]`.

use serde_json::Value;

use super::Invocation;
use crate::cli::args::AuditArgs;
use crate::cli::client::Call;
use crate::cli::error::CliError;
use crate::cli::table::{utc, Table};
use crate::cli::view::{field, get, items};

pub async fn run(inv: &Invocation, args: AuditArgs) -> Result<(), CliError> {
    let call = Call::get(&["v1", "audit"])
        .query("since", args.since)
        .query("limit", args.limit);
    let answer = inv.send(call).await?;
    inv.show(&answer, render_audit);
    Ok(())
}

pub fn render_audit(answer: &Value) -> String {
    let mut t = Table::new(&["VERSION", "TIME", "ACTOR", "ACTION", "TARGET", "RESULT"]);
    for e in items(answer) {
        let time = get(e, "at_ms")
            .as_u64()
            .map(utc)
            .unwrap_or_else(|| "-".into());
        t.row(vec![
            field(e, "version"),
            time,
            field(e, "actor"),
            field(e, "action"),
            field(e, "target"),
            field(e, "result"),
        ]);
    }
    t.render()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn audit_rows_show_utc_time_and_result() {
        let answer = json!({"items": [
            {"version": 7, "at_ms": 1_700_000_000_000u64, "actor": "operator",
             "action": "tenant.update", "target": "tenant/acme", "result": "ok"},
            {"version": 8, "at_ms": 1_700_000_001_000u64, "actor": "token/ab12",
             "action": "list.put", "target": "tenant/acme/list/x",
             "result": "tenant acme is at version 12, not 9"},
        ]});
        assert_eq!(
            render_audit(&answer),
            "VERSION  TIME                  ACTOR       ACTION         TARGET              RESULT\n\
             7        2023-11-14T22:13:20Z  operator    tenant.update  tenant/acme         ok\n\
             8        2023-11-14T22:13:21Z  token/ab12  list.put       tenant/acme/list/x  \
             tenant acme is at version 12, not 9\n"
        );
    }
}
