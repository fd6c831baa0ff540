//! Tenants' webhook registrations (docs/integration.md, "Webhooks"): a URL and the HMAC secret
//! deliveries to it are signed with. The secret is kept (signing needs it), never shown by the
//! API and never printed: [`Secret`]'s `Debug` hides it.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::apply::{Reject, Step};
use super::tenants::find;
use super::State;

/// Most webhooks one tenant may register.
pub const MAX_WEBHOOKS: usize = 10;
/// Longest webhook URL.
const MAX_URL: usize = 2048;
/// Bounds of a secret's length, in bytes.
const SECRET_LEN: std::ops::RangeInclusive<usize> = 16..=256;

/// A webhook's signing secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// One registered webhook.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    pub secret: Secret,
    pub created_version: u64,
}

pub(super) fn create(
    state: &mut State,
    index: u64,
    tenant: &str,
    id: &str,
    url: &str,
    secret: &Secret,
) -> Step {
    find(state, tenant)?;
    let id_ok =
        (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !id_ok {
        return Err(Reject::invalid(format!(
            "id: webhook id {id:?} must be 1-64 characters of letters, digits and '-'"
        )));
    }
    check_url(url)?;
    if !SECRET_LEN.contains(&secret.0.len()) {
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
            url: url.to_string(),
            secret: secret.clone(),
            created_version: index,
        },
    );
    Ok(())
}

pub(super) fn delete(state: &mut State, tenant: &str, id: &str) -> Step {
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
