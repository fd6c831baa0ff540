#!/usr/bin/env bash
# Distribution benchmark (issue 5): propagation of API writes to edges (p50/p99 over WRITES
# writes, 3 control-plane nodes, 4 edges in 2 regions) and region-wide quota accuracy (peak
# sessions / limit under skewed load, the share of the limit one busy edge reaches).
# Knobs: WRITES (default 200), LIMIT (the tenant's session limit, default 200), QUOTA_SECS
# (seconds per quota phase, default 20).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --locked -p breakout-control -p breakout-edge -p breakout-tests --bins
exec target/release/distribution-bench
