#!/usr/bin/env bash
# The fleet benchmark (fleet.sh) with every simulated edge stopped for STALL seconds (4) right
# after connect: the simulator gets SIGSTOP, then SIGCONT, so every edge's report reaches the
# leader late at once. The steady line that follows shows whether the fleet came back (grants
# in MiB/s, and the share of whole frames: BENCHMARKS.md, "Late reports renew from the frame
# sent"). Defaults to a short run; every knob of fleet.sh applies.
set -euo pipefail
cd "$(dirname "$0")/../.."
export EDGES="${EDGES:-1000}" TENANTS="${TENANTS:-10000}" STEADY_SECS="${STEADY_SECS:-20}" \
  RULE_WRITES="${RULE_WRITES:-10}" TEMPLATE_WRITES="${TEMPLATE_WRITES:-1}" RECONNECT="${RECONNECT:-0}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
deploy/bench/fleet.sh >"$log" 2>&1 &
bench=$!
tail -f "$log" --pid "$bench" &
until grep -q '^connect:' "$log"; do
  kill -0 "$bench" 2>/dev/null || { wait "$bench"; exit $?; }
  sleep 0.2
done
sim=$(pgrep -f "${CARGO_TARGET_DIR:-target}/release/fleet-sim" | head -1)
kill -STOP "$sim"
sleep "${STALL:-4}"
kill -CONT "$sim"
echo "fleet-stall: the simulator was stopped for ${STALL:-4} s after connect"
wait "$bench"
