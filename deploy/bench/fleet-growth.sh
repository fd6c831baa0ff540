#!/usr/bin/env bash
# How the fleet figures grow (issue 18): deploy/bench/fleet.sh at every EDGES × TENANTS of the
# grid below (REGIONS 20), RUNS times each; every run's `fleet-json:` line is appended to
# $OUT (default deploy/bench/fleet-growth.jsonl) — a run that fails (a phase past CONVERGE_SECS,
# an import that never lands; a reconnect that did not finish still gives its figures, with
# reconnect_pending > 0 and reconnect_s null) is recorded as {"edges","tenants","failed":<its last line>} and
# the grid goes on — then deploy/bench/fleet_plot.py draws docs/fleet-scale.svg from the medians.
# Knobs: EDGES_GRID ("100 1000"), TENANTS_GRID ("1000 10000 100000"), RUNS (3), and fleet.sh's
# own (CONVERGE_SECS bounds each phase of each run).
set -uo pipefail
cd "$(dirname "$0")/../.."
out="${OUT:-deploy/bench/fleet-growth.jsonl}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
for edges in ${EDGES_GRID:-100 1000}; do
  for tenants in ${TENANTS_GRID:-1000 10000 100000}; do
    for run in $(seq "${RUNS:-3}"); do
      echo "== edges=$edges tenants=$tenants run $run: $(uptime)"
      EDGES=$edges TENANTS=$tenants deploy/bench/fleet.sh 2>&1 | tee "$log"
      if grep -q '^fleet-json: ' "$log"; then
        # Also a run whose reconnect did not finish: its JSON says reconnect_pending.
        sed -n 's/^fleet-json: //p' "$log" >> "$out"
      else
        why="$(grep -v '^ *$' "$log" | grep -v '^Stack\|^stack\|^note:\|^ *[0-9]*:\|^ *at ' | tail -1)"
        python3 -c 'import json,sys; print(json.dumps({"edges": int(sys.argv[1]),
          "tenants": int(sys.argv[2]), "failed": sys.argv[3]}))' "$edges" "$tenants" "$why" >> "$out"
      fi
    done
  done
done
python3 deploy/bench/fleet_plot.py "$out" docs/fleet-scale.svg
