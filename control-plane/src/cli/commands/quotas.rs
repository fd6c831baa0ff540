//! `tenant quotas ID` and `tenant set-quotas ID …` (docs/api.md#quotas).

use serde_json::{Map, Value};

use super::Invocation;
use crate::cli::client::Call;
use crate::cli::error::CliError;
use crate::cli::quota_args::SetQuotas;
use crate::cli::table::Table;
use crate::cli::view::{get, text};

/// `tenant quotas ID`: each quota's limit, default and what the tenant holds.
pub async fn show(inv: &Invocation, id: &str) -> Result<(), CliError> {
    let answer = inv
        .send(Call::get(&["v1", "tenants", id, "quotas"]))
        .await?;
    inv.show(&answer, render);
    Ok(())
}

/// `tenant set-quotas ID …`: the tenant's overrides with the named quotas changed, written
/// under `If-Match` (the version read, unless `--if-match` says otherwise).
pub async fn set(inv: &Invocation, args: SetQuotas) -> Result<(), CliError> {
    let named = args.named();
    if named.is_empty() {
        return Err(CliError::Usage(
            "name at least one quota to change (--lists, --entries, …)".into(),
        ));
    }
    let path = ["v1", "tenants", args.id.as_str(), "quotas"];
    let current = inv.send(Call::get(&path)).await?;
    let mut overrides = match get(&current, "overrides") {
        Value::Object(o) => o.clone(),
        _ => Map::new(),
    };
    let mut said = Vec::new();
    for (name, value) in named {
        match value.0 {
            Some(n) => {
                overrides.insert(name.into(), n.into());
                said.push(format!("{name} {n}"));
            }
            None => {
                overrides.remove(name);
                said.push(format!("{name} default"));
            }
        }
    }
    let mut call = Call::put(&path, Value::Object(overrides)).if_match(args.if_match.version);
    if let Some(v) = get(&current, "changed_version").as_u64() {
        call = call.if_match_or(v);
    }
    let answer = inv.send(call).await?;
    inv.done(&answer, &format!("tenant {}: {}", args.id, said.join(", ")));
    Ok(())
}

fn render(answer: &Value) -> String {
    let mut table = Table::new(&["QUOTA", "LIMIT", "DEFAULT", "USED"]);
    if let Value::Object(quotas) = get(answer, "quotas") {
        for (name, q) in quotas {
            table.row(vec![
                name.clone(),
                text(get(q, "limit")),
                text(get(q, "default")),
                text(get(q, "used")),
            ]);
        }
    }
    table.render()
}
