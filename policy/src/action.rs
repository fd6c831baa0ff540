//! What a rule does with a matching request.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::PolicyError;

/// A rule's action. Written as `direct`, `block` or `upstream:<name>` in configs and on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Action {
    /// Connect to the destination from the edge (local breakout).
    Direct,
    /// Chain to the tenant's named parent proxy.
    Upstream(String),
    /// Refuse with 403.
    Block,
}

impl Action {
    /// A short, stable label for metrics and logs (`direct`, `upstream`, `block`).
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Direct => "direct",
            Action::Upstream(_) => "upstream",
            Action::Block => "block",
        }
    }
}

impl FromStr for Action {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "direct" => Ok(Action::Direct),
            "block" => Ok(Action::Block),
            _ => match s.strip_prefix("upstream:") {
                Some(name) if !name.is_empty() => Ok(Action::Upstream(name.to_string())),
                _ => Err(PolicyError::new(
                    "action",
                    format!("unknown action {s:?}: expected \"direct\", \"block\" or \"upstream:<name>\""),
                )),
            },
        }
    }
}

impl TryFrom<String> for Action {
    type Error = PolicyError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Action> for String {
    fn from(a: Action) -> String {
        a.to_string()
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Direct => f.write_str("direct"),
            Action::Block => f.write_str("block"),
            Action::Upstream(name) => write!(f, "upstream:{name}"),
        }
    }
}
