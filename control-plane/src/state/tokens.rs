//! Tenant API tokens: created with the hash of a secret the API generated, revoked by id.

use super::apply::{Reject, Step};
use super::tenants::find;
use super::{State, TokenRecord};

/// Longest token id.
const MAX_TOKEN_ID: usize = 64;

pub(super) fn create(
    state: &mut State,
    index: u64,
    id: &str,
    tenant: &str,
    hash: &str,
    label: Option<&str>,
) -> Step {
    find(state, tenant)?;
    // Ids are written into `bk_<id>_<secret>`, so they cannot hold '_'.
    let id_ok = (1..=MAX_TOKEN_ID).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !id_ok {
        return Err(Reject::invalid(format!(
            "id: token id {id:?} must be 1-64 characters of letters, digits and '-'"
        )));
    }
    if state.tokens.contains_key(id) {
        return Err(Reject::conflict(format!("token {id} already exists")));
    }
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Reject::invalid(format!(
            "hash: must be 64 hex characters (a SHA-256), got {} characters",
            hash.len()
        )));
    }
    state.tokens.insert(
        id.to_string(),
        TokenRecord {
            id: id.to_string(),
            tenant: tenant.to_string(),
            // Stored lowercase so that comparing hashes is comparing strings.
            hash: hash.to_ascii_lowercase(),
            label: label.map(str::to_string),
            created_version: index,
            expires_at_ms: None,
        },
    );
    Ok(())
}

/// Sets the expiry of token `id` (just created).
pub(super) fn set_expiry(state: &mut State, id: &str, expires_at_ms: Option<u64>) {
    if let Some(t) = state.tokens.get_mut(id) {
        t.expires_at_ms = expires_at_ms;
    }
}

pub(super) fn revoke(state: &mut State, id: &str) -> Step {
    if state.tokens.remove(id).is_none() {
        return Err(Reject::not_found(format!("token {id} does not exist")));
    }
    Ok(())
}
