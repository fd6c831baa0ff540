#!/usr/bin/env bash
# Control-plane write benchmark (issue 15), one run: acknowledged writes/s and p50/p99 latency
# with 1 and 16 concurrent clients of raw etcd (1 and 3 members), Breakout on etcd (one
# instance on each of those etcds) and Breakout on its own Raft (1 and 3 nodes), interleaved
# round by round, medians of RUNS rounds, ratios against raw etcd with as many members measured
# in the same run; then kill -9 of the Raft leader to the next acknowledged write.
# Needs Debian etcd-server (etcd) and etcd-client (etcdctl); everything runs on 127.0.0.1 with
# data dirs under $TMPDIR (default /tmp: put it on the disk you mean to measure, not a tmpfs).
# Knobs: DURATION (s per measurement, default 5), RUNS (rounds, default 3), FAILOVERS (3; 0
# skips); BREAKOUT_CONTROL_BIN runs another build of the server (before/after figures).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --locked -p breakout-control -p breakout-tests --bins
# Every client is one address: the per-address API limit (1,000 requests/s by default) would
# measure the limiter, not the store.
export BREAKOUT_API_RATE_PER_SOURCE=0
echo "start: $(date -u +%FT%TZ) $(uptime)"
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown); etcd: $(etcd --version | head -1)"
"${CARGO_TARGET_DIR:-target}/release/control-bench"
echo "end: $(date -u +%FT%TZ) $(uptime)"
