//! What the client has sent of an exchange so far: counted by its request body (or tunnel) as
//! bytes pass, read by its access-log record when the exchange ends.

use std::sync::atomic::{AtomicBool, AtomicU64};

#[derive(Debug, Default)]
pub struct Transfer {
    pub bytes: AtomicU64,
    /// The client's request body broke (bad chunking, early close).
    pub failed: AtomicBool,
}
