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
mod distribute_flow;
mod distribute_server;
mod layers;
mod log_format;
mod raft_cluster;
mod raft_crash;
mod raft_large_write;
mod raft_quiet_purge;
mod raft_single_node;

/// With `autotests = false` a file of `tests/` that is not declared above is silently never
/// compiled; this test fails instead, naming it.
#[test]
fn every_test_file_is_a_module_of_the_suite() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let main = std::fs::read_to_string(dir.join("main.rs")).expect("read tests/main.rs");
    let entries = std::fs::read_dir(&dir).expect("read tests/");
    let mut missing = Vec::new();
    for entry in entries {
        let path = entry.expect("dir entry").path();
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let is_module = if path.is_dir() {
            path.join("mod.rs").exists()
        } else {
            path.extension().is_some_and(|e| e == "rs") && name != "main"
        };
        if is_module && !main.lines().any(|l| l.trim() == format!("mod {name};")) {
            missing.push(name.to_owned());
        }
    }
    assert!(
        missing.is_empty(),
        "not declared in tests/main.rs, so never run: {missing:?}"
    );
}
