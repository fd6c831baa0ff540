//! `source-ip list|set|add|remove`: a tenant's registered source networks.

use serde_json::{json, Value};

use super::{update_tenant, Invocation};
use crate::cli::args::SourceIpCmd;
use crate::cli::client::Call;
use crate::cli::error::CliError;
use crate::cli::table::Table;
use crate::cli::view::{strings, tenant};

pub async fn run(inv: &Invocation, cmd: SourceIpCmd) -> Result<(), CliError> {
    match cmd {
        SourceIpCmd::List { id } => {
            let answer = inv.send(Call::get(&["v1", "tenants", &id])).await?;
            inv.show(&answer, |v| render_cidrs(tenant(v)));
        }
        SourceIpCmd::Set {
            id,
            cidrs,
            if_match,
        } => {
            let call = put(&id, cidrs).if_match(if_match.version);
            let answer = inv.send(call).await?;
            inv.done(&answer, &format!("tenant {id}: source networks replaced"));
        }
        SourceIpCmd::Add { id, cidr } => {
            let answer = update_tenant(inv, &id, true, |t| {
                let mut cidrs = strings(t, "source_cidrs");
                if cidrs.contains(&cidr) {
                    return Ok(None);
                }
                cidrs.push(cidr.clone());
                Ok(Some(put(&id, cidrs)))
            })
            .await?;
            match answer {
                Some(a) => inv.done(&a, &format!("tenant {id}: {cidr} added")),
                None => inv.done(
                    &Value::Null,
                    &format!("tenant {id}: {cidr} is already registered"),
                ),
            }
        }
        SourceIpCmd::Remove { id, cidr } => {
            let answer = update_tenant(inv, &id, true, |t| {
                let mut cidrs = strings(t, "source_cidrs");
                let Some(at) = cidrs.iter().position(|c| *c == cidr) else {
                    return Err(CliError::Other(format!(
                        "tenant {id} has no source network {cidr} (it has {})",
                        cidrs.join(", ")
                    )));
                };
                cidrs.remove(at);
                Ok(Some(put(&id, cidrs)))
            })
            .await?;
            inv.done(
                &answer.unwrap_or_default(),
                &format!("tenant {id}: {cidr} removed"),
            );
        }
    }
    Ok(())
}

fn put(id: &str, cidrs: Vec<String>) -> Call {
    Call::put(&["v1", "tenants", id, "source-cidrs"], json!(cidrs))
}

pub fn render_cidrs(t: &Value) -> String {
    let mut table = Table::new(&["CIDR"]);
    for c in strings(t, "source_cidrs") {
        table.row(vec![c]);
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_networks_print_one_per_row() {
        let t = json!({"source_cidrs": ["10.0.0.0/16", "192.0.2.0/24"]});
        assert_eq!(render_cidrs(&t), "CIDR\n10.0.0.0/16\n192.0.2.0/24\n");
    }
}
