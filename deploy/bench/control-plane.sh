#!/usr/bin/env bash
# Control-plane write benchmark: acknowledged writes/s and p50/p99 latency through the API on a
# 1-node and a 3-node cluster (1 and 16 concurrent clients), and kill -9 leader failover time.
# Knobs: DURATION (s per run, default 10), RUNS (default 3, median reported), FAILOVERS (3);
# BREAKOUT_CONTROL_BIN runs another build of the server (e.g. for before/after figures).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --locked -p breakout-control -p breakout-tests --bins
exec "${CARGO_TARGET_DIR:-target}/release/control-bench"
