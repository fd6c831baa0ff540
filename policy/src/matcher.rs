//! The compiled destination matcher. (Interface fixed; internals being written.)

use std::collections::BTreeMap;

use serde::Serialize;

use crate::action::Action;
use crate::canon::{Host, HostError};
use crate::error::PolicyError;
use crate::model::{NamedList, Tenant};

/// One tenant's rules, compiled for O(labels) lookups.
#[derive(Debug)]
pub struct Matcher {
    default_action: Action,
}

/// What the matcher decided for one request: borrowed from the matcher, cheap to copy.
#[derive(Clone, Copy, Debug)]
pub struct Decision<'m> {
    pub action: &'m Action,
    /// Index of the rule that matched; `None` means the default action applied.
    pub rule: Option<usize>,
}

/// A decision with everything that made it, for operators (`explain`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Explanation {
    pub host: String,
    pub port: u16,
    pub action: Action,
    pub rule: Option<usize>,
    pub rule_label: String,
    /// The list the matching entry came from; `None` for an inline destination or the default.
    pub list: Option<String>,
    /// The destination entry that matched, as written canonically.
    pub entry: Option<String>,
}

impl Matcher {
    pub fn compile(tenant: &Tenant, _shared: &BTreeMap<String, NamedList>) -> Result<Matcher, PolicyError> {
        Ok(Matcher { default_action: tenant.default_action.clone() })
    }

    pub fn decide(&self, _host: &Host<'_>, _port: u16) -> Decision<'_> {
        Decision { action: &self.default_action, rule: None }
    }

    pub fn rule_label(&self, rule: Option<usize>) -> &str {
        match rule {
            None => "default",
            Some(_) => "rule",
        }
    }

    pub fn explain(&self, host: &str, port: u16) -> Result<Explanation, HostError> {
        let h = crate::canon::canonical_host(host)?;
        let d = self.decide(&h, port);
        Ok(Explanation {
            host: h.to_string(),
            port,
            action: d.action.clone(),
            rule: d.rule,
            rule_label: self.rule_label(d.rule).to_string(),
            list: None,
            entry: None,
        })
    }
}
