//! `pac set|clear|show`: a tenant's PAC settings and a preview of the file its edges serve.

use std::collections::BTreeMap;

use breakout_policy::pac::{render_for_edge, Pac};
use breakout_policy::Tenant;
use serde_json::Value;

use super::{read_json, Ctx};
use crate::cli::args::PacCmd;
use crate::cli::client::Call;
use crate::cli::error::CliError;
use crate::cli::print;
use crate::cli::view::{changed_version, tenant};

pub async fn run(ctx: &Ctx, cmd: PacCmd) -> Result<(), CliError> {
    match cmd {
        PacCmd::Set { tenant, file } => {
            let body = read_json(&file)?;
            let answer = ctx
                .send(Call::put(&["v1", "tenants", &tenant, "pac"], body))
                .await?;
            ctx.done(&answer, &format!("PAC settings of tenant {tenant} set"));
        }
        PacCmd::Clear { tenant } => {
            let answer = ctx
                .send(Call::put(&["v1", "tenants", &tenant, "pac"], Value::Null))
                .await?;
            ctx.done(&answer, &format!("PAC settings of tenant {tenant} removed"));
        }
        PacCmd::Show { tenant: id, edge } => {
            let view = ctx.send(Call::get(&["v1", "tenants", &id])).await?;
            let pac = preview(&view, edge.as_deref())?;
            print(&pac.text);
        }
    }
    Ok(())
}

/// Renders the PAC of the tenant in `view` (a `GET /v1/tenants/{id}` answer) with the same call
/// the edges make ([`render_for_edge`]). The store has no shared lists, so none are passed. The
/// header's version is the tenant's `changed_version`; an edge writes the configuration version
/// it runs, so only the header line and `sha256` can differ (`body_sha256` is the same).
pub fn preview(view: &Value, edge: Option<&str>) -> Result<Pac, CliError> {
    let mut t = tenant(view).clone();
    let version = changed_version(view).unwrap_or(0);
    if let Some(obj) = t.as_object_mut() {
        for extra in [
            "effective",
            "session_cap",
            "created_version",
            "changed_version",
        ] {
            obj.remove(extra);
        }
    }
    let t: Tenant = serde_json::from_value(t)
        .map_err(|e| CliError::Other(format!("the server's tenant does not parse: {e}")))?;
    let settings = t.pac.as_ref().ok_or_else(|| {
        CliError::Usage(format!(
            "tenant {} has no PAC settings; set them with `breakoutctl pac set`",
            t.id
        ))
    })?;
    if settings.proxies.is_empty() && edge.is_none() {
        return Err(CliError::Usage(format!(
            "tenant {}'s PAC settings name no proxies, so each edge writes its own address; \
             pass --edge HOST:PORT to preview one",
            t.id
        )));
    }
    let edge = edge.unwrap_or_default();
    match render_for_edge(&t, &BTreeMap::new(), version, edge) {
        Some(result) => result.map_err(|e| CliError::Other(format!("tenant {}: {e}", t.id))),
        None => unreachable!("settings checked above"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn view(pac: Value) -> Value {
        json!({
            "id": "acme", "region": "tokyo", "source_cidrs": ["10.0.0.0/8"],
            "session_limit": 10, "default_action": "direct",
            "rules": [{"action": "block", "destinations": ["*.blocked.example"]}],
            "pac": pac,
            "effective": {"in_service": true}, "created_version": 3, "changed_version": 7,
        })
    }

    #[test]
    fn preview_renders_like_the_edge() {
        let pac = preview(&view(json!({"proxies": ["edge.example:3128"]})), None).expect("pac");
        assert!(pac.text.contains("policy version 7"), "{}", pac.text);
        assert!(pac.text.contains("PROXY edge.example:3128"));
        assert_eq!(pac.tenant, "acme");
    }

    #[test]
    fn preview_without_proxies_needs_an_edge() {
        let err = preview(&view(json!({})), None).expect_err("no proxies");
        assert!(err.to_string().contains("--edge"), "{err}");
        let pac = preview(&view(json!({})), Some("192.0.2.1:3128")).expect("pac");
        assert!(pac.text.contains("PROXY 192.0.2.1:3128"));
    }

    #[test]
    fn preview_without_settings_says_so() {
        let mut v = view(json!(null));
        v.as_object_mut().map(|o| o.remove("pac"));
        let err = preview(&v, None).expect_err("no settings");
        assert!(err.to_string().contains("no PAC settings"), "{err}");
    }
}
