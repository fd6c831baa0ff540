//! Tenant API tokens: created with the hash of a secret the API generated, revoked by id.

use serde::{Deserialize, Serialize};

use super::input::{check_id, check_text, LABEL_MAX};
use super::model::{State, TokenRecord};
use super::step::{find, Apply, LogEntry, Reject, Step};

/// Longest token id.
const MAX_TOKEN_ID: usize = 64;

/// Stores a tenant token (the hash of its secret).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreateToken {
    pub id: String,
    pub tenant: String,
    pub hash: String,
    pub label: Option<String>,
    /// When the token stops working (Unix ms); `None`: until revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<u64>,
}

impl Apply for CreateToken {
    fn apply(&self, state: &mut State, entry: &LogEntry) -> Step {
        let (id, hash) = (self.id.as_str(), self.hash.as_str());
        find(state, &self.tenant)?;
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
                tenant: self.tenant.clone(),
                // Stored lowercase so that comparing hashes is comparing strings.
                hash: hash.to_ascii_lowercase(),
                label: self.label.clone(),
                created_version: entry.index,
                expires_at_ms: self.expires_at_ms,
            },
        );
        Ok(())
    }

    fn audit(&self) -> (&'static str, String) {
        ("token.create", format!("token/{}", self.id))
    }

    fn check_input(&self) -> Step {
        check_id("id", "token id", &self.id)?;
        match &self.label {
            Some(label) => check_text("label", label, LABEL_MAX),
            None => Ok(()),
        }
    }

    fn tenant(&self) -> Option<&str> {
        Some(&self.tenant)
    }
}

/// Revokes a token by id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RevokeToken {
    pub id: String,
}

impl Apply for RevokeToken {
    fn apply(&self, state: &mut State, _: &LogEntry) -> Step {
        if state.tokens.remove(&self.id).is_none() {
            return Err(Reject::not_found(format!(
                "token {} does not exist",
                self.id
            )));
        }
        Ok(())
    }

    fn audit(&self) -> (&'static str, String) {
        ("token.revoke", format!("token/{}", self.id))
    }
}
