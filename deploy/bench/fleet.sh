#!/usr/bin/env bash
# Fleet benchmark (issue 18): a 3-node control plane (release binaries on 127.0.0.1) and EDGES
# simulated edges in one process (tests/src/bin/fleet-sim: real QUIC sessions running the edge's
# own sync code), over REGIONS regions and TENANTS tenants. Ends with one line:
#   fleet: edges=N tenants=M rule_p99_ms=X template_all_s=Y reconnect_s=Z
# Knobs: EDGES (1000), TENANTS (100000), REGIONS (20), RULE_WRITES (30), TEMPLATE_WRITES (4),
# STEADY_SECS (10), RECONNECT (1: kill the leader at the end; 0: skip), CONVERGE_SECS (600),
# CONNECT_WAVE (0: all at once; N: edges first connect N at a time, each wave once the one
# before is configured, so the simulator holds at most N snapshots in flight).
# BREAKOUT_CONTROL_BIN runs another breakout-control binary (e.g. an older build to compare).
# The nodes inherit the environment: where the cores are oversubscribed (the full size on 2
# cores), BREAKOUT_RAFT_ELECTION_TIMEOUT_MS=2000 keeps one leader through the run (with the
# default 500 ms, a starved follower called elections every few seconds: BENCHMARKS.md).
# 1,000 QUIC sessions need ~2,100 descriptors: the script raises the soft limit.
set -euo pipefail
cd "$(dirname "$0")/../.."
export EDGES="${EDGES:-1000}" TENANTS="${TENANTS:-100000}" REGIONS="${REGIONS:-20}"
target="${CARGO_TARGET_DIR:-target}"
cargo build --release --locked -p breakout-control -p breakout-tests \
  --bin breakout-control --bin breakoutctl --bin fleet-sim
ulimit -n "$(ulimit -Hn)"
uptime
exec "$target/release/fleet-sim"
