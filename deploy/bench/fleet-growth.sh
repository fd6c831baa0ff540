#!/usr/bin/env bash
# How the fleet figures grow (issue 18): deploy/bench/fleet.sh at every EDGES × TENANTS of the
# grid below (REGIONS 20), RUNS times each; every run's `fleet-json:` line is appended to
# $OUT (default deploy/bench/fleet-growth.jsonl), then deploy/bench/fleet_plot.py draws
# docs/fleet-scale.svg from the medians. Knobs: EDGES_GRID ("100 1000"), TENANTS_GRID
# ("1000 10000 100000"), RUNS (3), and fleet.sh's own.
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${OUT:-deploy/bench/fleet-growth.jsonl}"
for edges in ${EDGES_GRID:-100 1000}; do
  for tenants in ${TENANTS_GRID:-1000 10000 100000}; do
    for run in $(seq "${RUNS:-3}"); do
      echo "== edges=$edges tenants=$tenants run $run: $(uptime)"
      EDGES=$edges TENANTS=$tenants deploy/bench/fleet.sh | tee /dev/stderr \
        | sed -n 's/^fleet-json: //p' >> "$out"
    done
  done
done
python3 deploy/bench/fleet_plot.py "$out" docs/fleet-scale.svg
