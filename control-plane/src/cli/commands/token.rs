//! `token create|list|revoke`.

use serde_json::{json, Value};

use super::Invocation;
use crate::cli::args::TokenCmd;
use crate::cli::client::Call;
use crate::cli::error::CliError;
use crate::cli::table::{fields, Table};
use crate::cli::view::{field, items};

pub async fn run(inv: &Invocation, cmd: TokenCmd) -> Result<(), CliError> {
    match cmd {
        TokenCmd::Create {
            tenant,
            label,
            expires_in,
        } => {
            let mut body = json!({ "tenant": tenant });
            if let Some(l) = label {
                body["label"] = json!(l);
            }
            if let Some(s) = expires_in {
                body["expires_in_seconds"] = json!(s);
            }
            let answer = inv.send(Call::post(&["v1", "tokens"], body)).await?;
            inv.show(&answer, render_created);
        }
        TokenCmd::List => {
            let answer = inv.send(Call::get(&["v1", "tokens"])).await?;
            inv.show(&answer, render_tokens);
        }
        TokenCmd::Revoke { id } => {
            let answer = inv.send(Call::delete(&["v1", "tokens", &id])).await?;
            inv.done(&answer, &format!("token {id} revoked"));
        }
    }
    Ok(())
}

pub fn render_created(answer: &Value) -> String {
    let mut out = fields(&[
        ("id", field(answer, "id")),
        ("tenant", field(answer, "tenant")),
        ("token", field(answer, "token")),
    ]);
    out.push_str("Keep the token now: it is stored hashed and cannot be shown again.\n");
    out
}

pub fn render_tokens(answer: &Value) -> String {
    let mut t = Table::new(&["ID", "TENANT", "LABEL", "CREATED"]);
    for k in items(answer) {
        t.row(vec![
            field(k, "id"),
            field(k, "tenant"),
            field(k, "label"),
            field(k, "created_version"),
        ]);
    }
    t.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_token_shows_the_secret_once_with_a_warning() {
        let answer = json!({"id": "ab12", "tenant": "acme", "token": "bk_ab12_s3cret"});
        let out = render_created(&answer);
        assert!(
            out.starts_with("id:      ab12\ntenant:  acme\ntoken:   bk_ab12_s3cret\n"),
            "{out}"
        );
    }

    #[test]
    fn token_list_never_needs_a_secret() {
        let answer = json!({"items": [
            {"id": "ab12", "tenant": "acme", "label": null, "created_version": 4},
        ]});
        assert_eq!(
            render_tokens(&answer),
            "ID    TENANT  LABEL  CREATED\nab12  acme    -      4\n"
        );
    }
}
