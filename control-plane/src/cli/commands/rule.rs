//! `rule list|set|add|remove`: a tenant's ordered rules.

use serde_json::{json, Value};

use super::{read_json, update_tenant, Invocation};
use crate::cli::args::{RuleAdd, RuleCmd};
use crate::cli::client::Call;
use crate::cli::error::CliError;
use crate::cli::table::Table;
use crate::cli::view::{field, get, items, tenant};

pub async fn run(inv: &Invocation, cmd: RuleCmd) -> Result<(), CliError> {
    match cmd {
        RuleCmd::List { id } => {
            let answer = inv.send(Call::get(&["v1", "tenants", &id])).await?;
            inv.show(&answer, |v| render_rules(tenant(v)));
        }
        RuleCmd::Set { id, file, if_match } => {
            let rules = read_json(&file)?;
            if !rules.is_array() {
                return Err(CliError::Usage(format!(
                    "{}: expected a JSON array of rules",
                    file.display()
                )));
            }
            let call =
                Call::put(&["v1", "tenants", &id, "rules"], rules).if_match(if_match.version);
            let answer = inv.send(call).await?;
            inv.done(&answer, &format!("tenant {id}: rules replaced"));
        }
        RuleCmd::Add(args) => {
            let new = rule_of(&args);
            let id = args.id;
            // Appending means the same on a tenant that changed meanwhile: safe to retry.
            let mut at = 0;
            let answer = update_tenant(inv, &id, true, |t| {
                let mut rules = items(get(t, "rules")).to_vec();
                at = rules.len();
                rules.push(new.clone());
                Ok(Some(put_rules(&id, rules)))
            })
            .await?;
            inv.done(
                &answer.unwrap_or_default(),
                &format!("tenant {id}: rule {at} added"),
            );
        }
        RuleCmd::Remove {
            id,
            index,
            if_match,
        } => {
            // An index means "the rule I saw": never retried onto a tenant that changed.
            let answer = update_tenant(inv, &id, false, |t| {
                let mut rules = items(get(t, "rules")).to_vec();
                if index >= rules.len() {
                    return Err(CliError::Other(format!(
                        "tenant {id} has {} rule(s); there is no rule {index}",
                        rules.len()
                    )));
                }
                rules.remove(index);
                Ok(Some(put_rules(&id, rules).if_match(if_match.version)))
            })
            .await?;
            inv.done(
                &answer.unwrap_or_default(),
                &format!("tenant {id}: rule {index} removed"),
            );
        }
    }
    Ok(())
}

fn put_rules(id: &str, rules: Vec<Value>) -> Call {
    Call::put(&["v1", "tenants", id, "rules"], Value::Array(rules))
}

/// The rule JSON that `rule add` describes.
pub fn rule_of(args: &RuleAdd) -> Value {
    let mut r = json!({ "action": args.action, "destinations": args.dest, "lists": args.list });
    if !args.port.is_empty() {
        r["ports"] = json!(args.port);
    }
    if let Some(n) = &args.name {
        r["name"] = json!(n);
    }
    r
}

/// The tenant's rules with the index that `rule remove` and error paths (`rules[2]`) use.
pub fn render_rules(t: &Value) -> String {
    let mut table = Table::new(&["INDEX", "NAME", "ACTION", "DESTINATIONS", "LISTS", "PORTS"]);
    for (i, r) in items(get(t, "rules")).iter().enumerate() {
        table.row(vec![
            i.to_string(),
            field(r, "name"),
            field(r, "action"),
            field(r, "destinations"),
            field(r, "lists"),
            field(r, "ports"),
        ]);
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_print_with_their_index() {
        let t = json!({"rules": [
            {"action": "block", "destinations": ["ads.example", "*.tracker.example"]},
            {"name": "saas", "action": "direct", "lists": ["m365"], "ports": [80, 443]},
        ]});
        assert_eq!(
            render_rules(&t),
            "INDEX  NAME  ACTION  DESTINATIONS                   LISTS  PORTS\n\
             0      -     block   ads.example,*.tracker.example  -      -\n\
             1      saas  direct  -                              m365   80,443\n"
        );
    }

    #[test]
    fn added_rule_is_in_the_edge_model() {
        let args = RuleAdd {
            id: "acme".into(),
            action: "upstream:corp".into(),
            dest: vec!["*.example.com".into()],
            list: vec!["m365".into()],
            port: vec![443],
            name: Some("corp".into()),
        };
        let rule: breakout_policy::Rule = serde_json::from_value(rule_of(&args)).unwrap();
        assert_eq!(rule.ports, [443]);
        assert_eq!(rule.lists, ["m365"]);
    }
}
