//! `webhook add|list|delete|deliveries`.

use serde_json::{json, Value};

use super::{read_input, Invocation};
use crate::cli::args::WebhookCmd;
use crate::cli::client::Call;
use crate::cli::error::CliError;
use crate::cli::table::Table;
use crate::cli::view::{field, items};

pub async fn run(inv: &Invocation, cmd: WebhookCmd) -> Result<(), CliError> {
    match cmd {
        WebhookCmd::Add {
            tenant,
            url,
            secret_file,
        } => {
            let secret = read_input(&secret_file)?.trim().to_string();
            let body = json!({ "url": url, "secret": secret });
            let call = Call::post(&["v1", "tenants", &tenant, "webhooks"], body);
            let answer = inv.send(call).await?;
            let id = field(&answer, "id");
            inv.done(&answer, &format!("tenant {tenant}: webhook {id} added"));
        }
        WebhookCmd::List { tenant } => {
            let answer = inv
                .send(Call::get(&["v1", "tenants", &tenant, "webhooks"]))
                .await?;
            inv.show(&answer, render_webhooks);
        }
        WebhookCmd::Delete { tenant, id } => {
            let call = Call::delete(&["v1", "tenants", &tenant, "webhooks", &id]);
            let answer = inv.send(call).await?;
            inv.done(&answer, &format!("tenant {tenant}: webhook {id} deleted"));
        }
        WebhookCmd::Deliveries { tenant } => {
            let call = Call::get(&["v1", "tenants", &tenant, "webhook-deliveries"]);
            let answer = inv.send(call).await?;
            inv.show(&answer, render_deliveries);
        }
    }
    Ok(())
}

pub fn render_webhooks(answer: &Value) -> String {
    let mut t = Table::new(&["ID", "URL", "CREATED"]);
    for h in items(answer) {
        t.row(vec![
            field(h, "id"),
            field(h, "url"),
            field(h, "created_version"),
        ]);
    }
    t.render()
}

pub fn render_deliveries(answer: &Value) -> String {
    let mut t = Table::new(&["WEBHOOK", "VERSION", "ATTEMPT", "RESULT"]);
    for a in items(answer) {
        let result = if a["delivered"] == true {
            format!("delivered ({})", field(a, "status"))
        } else if a.get("status").is_some() {
            format!("failed: status {}", field(a, "status"))
        } else {
            format!("failed: {}", field(a, "error"))
        };
        t.row(vec![
            field(a, "webhook"),
            field(a, "version"),
            field(a, "attempt"),
            result,
        ]);
    }
    t.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_say_what_happened_to_each_attempt() {
        let answer = json!({ "items": [
            { "webhook": "a1", "version": 7, "attempt": 1, "status": 500, "delivered": false },
            { "webhook": "a1", "version": 7, "attempt": 2, "status": 200, "delivered": true },
            { "webhook": "b2", "version": 7, "attempt": 1, "error": "no answer within 5000 ms",
              "delivered": false },
        ]});
        let text = render_deliveries(&answer);
        assert!(text.contains("failed: status 500"), "{text}");
        assert!(text.contains("delivered (200)"), "{text}");
        assert!(text.contains("failed: no answer within 5000 ms"), "{text}");
    }
}
