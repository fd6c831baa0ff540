//! Breakout control plane: the source of truth for regions, tenants, their rules and lists.
//!
//! `state` is the pure state machine (`apply(request) -> outcome`), `store` replicates it
//! (openraft on local disk; etcd later) behind the [`store::Store`] trait, and `api` serves it
//! over HTTP to operators, tenants and `breakoutctl`; `distribute` sends each region's policy to
//! its edges over QUIC.
// `deny`, not `forbid`: the one exception is the call of malloc_trim(3) in
// `store::raft::compact`, allowed there alone.
#![deny(unsafe_code)]

pub mod api;
pub mod cli;
pub mod clock;
pub mod console;
pub mod contracts;
pub mod crypto;
pub mod dev;
pub mod distribute;
pub mod dns;
pub mod formation;
pub mod http_client;
pub mod metrics;
pub mod node_tokens;
pub mod notify;
pub mod pac_diff;
pub mod quota;
pub mod state;
pub mod store;
pub mod templates;
pub mod webhooks;
