//! Breakout edge node: the forward proxy tenants' browsers and devices talk to.
//!
//! Request path (see `docs/architecture.md`): accept → tenant by source address → admission →
//! request checks → policy decision → forward or tunnel → access log and metrics.
// Denied everywhere; only `proxy::splice` (two libc calls, each with a SAFETY note) allows it.
#![deny(unsafe_code)]

pub mod access_log;
pub mod admin;
pub mod admission;
pub mod config;
pub mod drain;
pub mod metrics;
pub mod outcome;
pub mod pac_listener;
pub mod proxy;
pub mod quota;
pub mod reload;
pub mod resolve;
pub mod snapshot;
pub mod sources;
pub mod sync;
