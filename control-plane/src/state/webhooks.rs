//! Tenants' webhook registrations (docs/integration.md, "Webhooks"): a URL and the HMAC secret
//! deliveries to it are signed with ([`Webhook`], [`Secret`]).

use serde::{Deserialize, Serialize};

use super::model::{Secret, State, Webhook};
use super::step::{find, Apply, LogEntry, Reject, Step};

/// Most webhooks one tenant may register.
pub const MAX_WEBHOOKS: usize = 10;
/// Longest webhook URL.
const MAX_URL: usize = 2048;
/// Bounds of a secret's length, in bytes.
const SECRET_LEN: std::ops::RangeInclusive<usize> = 16..=256;

/// Registers a webhook of `tenant`: `url` gets each change of its exported destinations,
/// signed with `secret`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreateWebhook {
    pub tenant: String,
    pub id: String,
    pub url: String,
    pub secret: Secret,
}

impl Apply for CreateWebhook {
    fn apply(&self, state: &mut State, entry: &LogEntry) -> Step {
        let (tenant, id) = (self.tenant.as_str(), self.id.as_str());
        find(state, tenant)?;
        let id_ok = (1..=64).contains(&id.len())
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !id_ok {
            return Err(Reject::invalid(format!(
                "id: webhook id {id:?} must be 1-64 characters of letters, digits and '-'"
            )));
        }
        check_url(&self.url)?;
        if !SECRET_LEN.contains(&self.secret.0.len()) {
            return Err(Reject::invalid(format!(
                "secret: must be {} to {} bytes long",
                SECRET_LEN.start(),
                SECRET_LEN.end()
            )));
        }
        let hooks = state.webhooks.entry(tenant.to_string()).or_default();
        if hooks.contains_key(id) {
            return Err(Reject::conflict(format!("webhook {id} already exists")));
        }
        if hooks.len() >= MAX_WEBHOOKS {
            return Err(Reject::conflict(format!(
                "tenant {tenant} has {MAX_WEBHOOKS} webhooks already; delete one first"
            )));
        }
        hooks.insert(
            id.to_string(),
            Webhook {
                id: id.to_string(),
                url: self.url.clone(),
                secret: self.secret.clone(),
                created_version: entry.index,
            },
        );
        Ok(())
    }

    fn audit(&self) -> (&'static str, String) {
        let (tenant, id) = (&self.tenant, &self.id);
        ("webhook.create", format!("tenant/{tenant}/webhook/{id}"))
    }
}

/// Deletes one of a tenant's webhooks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeleteWebhook {
    pub tenant: String,
    pub id: String,
}

impl Apply for DeleteWebhook {
    fn apply(&self, state: &mut State, _: &LogEntry) -> Step {
        let (tenant, id) = (self.tenant.as_str(), self.id.as_str());
        let removed = state
            .webhooks
            .get_mut(tenant)
            .and_then(|hooks| hooks.remove(id));
        if removed.is_none() {
            return Err(Reject::not_found(format!(
                "tenant {tenant} has no webhook {id}"
            )));
        }
        if state.webhooks.get(tenant).is_some_and(|h| h.is_empty()) {
            state.webhooks.remove(tenant);
        }
        Ok(())
    }

    fn audit(&self) -> (&'static str, String) {
        let (tenant, id) = (&self.tenant, &self.id);
        ("webhook.delete", format!("tenant/{tenant}/webhook/{id}"))
    }
}

/// An absolute `http` or `https` URL with a host, without credentials.
fn check_url(raw: &str) -> Step {
    let bad = |why: &str| Err(Reject::invalid(format!("url: {raw:?} {why}")));
    if raw.len() > MAX_URL {
        return bad("is longer than 2048 characters");
    }
    let Ok(url) = url::Url::parse(raw) else {
        return bad("is not an absolute URL");
    };
    if !matches!(url.scheme(), "http" | "https") {
        return bad("must be http or https");
    }
    if url.host_str().is_none_or(str::is_empty) {
        return bad("has no host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return bad("must not carry credentials; the signature authenticates deliveries");
    }
    Ok(())
}
