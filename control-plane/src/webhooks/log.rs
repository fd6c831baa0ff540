//! The delivery log: every attempt, per tenant, bounded, in this node's memory (the leader's
//! is the one the API shows).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use serde::Serialize;

/// Attempts kept per tenant; older ones are dropped first.
pub const KEEP: usize = 200;

/// One delivery attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Attempt {
    pub webhook: String,
    pub url: String,
    /// The store version whose change was delivered.
    pub version: u64,
    /// 1 for the first try.
    pub attempt: u32,
    pub at_ms: u64,
    /// The receiver's status, if it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why the attempt failed without a status (timeout, refused, queue full).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A 2xx answer: the delivery is done.
    pub delivered: bool,
}

/// Attempts by tenant.
#[derive(Debug, Default)]
pub struct DeliveryLog {
    // A std mutex held for in-memory work only, never across an await.
    tenants: Mutex<HashMap<String, VecDeque<Attempt>>>,
}

impl DeliveryLog {
    pub fn push(&self, tenant: &str, attempt: Attempt) {
        let mut map = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
        let log = map.entry(tenant.to_string()).or_default();
        log.push_back(attempt);
        while log.len() > KEEP {
            log.pop_front();
        }
    }

    /// `tenant`'s attempts, oldest first.
    pub fn of(&self, tenant: &str) -> Vec<Attempt> {
        let map = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
        map.get(tenant)
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default()
    }
}
