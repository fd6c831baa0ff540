#!/usr/bin/env bash
# Capacity across a leader kill (issue 13, item 1): a 3-node control plane, two edges, a tenant
# limit of 40 under load, the leader SIGKILLed; the time until the edges' limits sum to the
# limit again (median of RUNS runs per placement of the edges, default 5; ~45 s a run).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --locked -p breakout-control -p breakout-edge -p breakout-tests --bins
exec "${CARGO_TARGET_DIR:-target}/release/failover-bench"
