//! The control plane's integration tests, one binary: each file of `tests/` is a module here
//! (linked once instead of once per file: 27 binaries of ~85 MB each filled a CI disk).
//! Run one file's tests with `cargo test -p breakout-control --test suite raft_crash::`.

mod api_common;
mod console_common;
mod raft_support;

mod api_auth;
mod api_billing;
mod api_binary;
mod api_cluster;
mod api_contracts;
mod api_explain;
mod api_idempotency;
mod api_import;
mod api_integration;
mod api_isolation;
mod api_limits;
mod api_list_update;
mod api_openapi;
mod api_openapi_agreement;
mod api_pac;
mod api_payloads;
mod api_writes;
mod cli_retry;
mod console;
mod console_pages;
mod distribute_server;
mod layers;
mod log_format;
mod raft_cluster;
mod raft_crash;
mod raft_large_write;
mod raft_single_node;
