#!/usr/bin/env bash
# The fleet benchmark (fleet.sh) with the leader's /metrics scraped SCRAPES times (5) once the
# edges have connected, as an operator's Prometheus would: per scrape, curl's wall time, the
# page's bytes, and the leader's CPU during it beyond its rate over the 2 s before (its
# "excess"). BENCHMARKS.md, "The leader's per-tenant gauges". The scrapes fall inside the
# steady window: that run's other figures are not comparable. Every knob of fleet.sh applies.
set -euo pipefail
cd "$(dirname "$0")/../.."
export EDGES="${EDGES:-500}" TENANTS="${TENANTS:-100000}" STEADY_SECS="${STEADY_SECS:-10}"
log=$(mktemp)
page=$(mktemp)
trap 'rm -f "$log" "$page"' EXIT
deploy/bench/fleet.sh >"$log" 2>&1 &
bench=$!
until grep -q '^connect:' "$log"; do
  kill -0 "$bench" 2>/dev/null || { cat "$log"; wait "$bench"; exit $?; }
  sleep 0.2
done
node=$(grep -o 'leader: node [0-9]*' "$log" | head -1 | awk '{print $3}')
pid=$(pgrep -f -- "--node-id $node( |\$)" | head -1)
port=""
for p in $(ss -ltnpH | grep "pid=$pid," | awk '{print $4}' | sed 's/.*://'); do
  code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$p/metrics" || true)
  if [ "$code" = 200 ]; then port=$p; break; fi
done
[ -n "$port" ] || { echo "fleet-scrape: no /metrics listener on node $node (pid $pid)" >&2; exit 1; }
hz=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
now() { date +%s.%N; }
for i in $(seq 1 "${SCRAPES:-5}"); do
  c0=$(cpu); t0=$(now); sleep 2; c1=$(cpu); t1=$(now)
  bytes=$(curl -s -m 30 -o "$page" -w '%{size_download}' "http://127.0.0.1:$port/metrics")
  c2=$(cpu); t2=$(now)
  awk -v i="$i" -v b="$bytes" -v hz="$hz" -v c0="$c0" -v c1="$c1" -v c2="$c2" \
    -v t0="$t0" -v t1="$t1" -v t2="$t2" 'BEGIN {
      rate = (c1 - c0) / hz / (t1 - t0); during = (c2 - c1) / hz; wall = t2 - t1
      printf "fleet-scrape %d: wall %.3f s, %d bytes, leader CPU %.2f s, baseline %.2f cores, excess %.2f s\n",
        i, wall, b, during, rate, during - rate * wall }'
done
echo "fleet-scrape: the page's largest families (samples):"
grep -v '^#' "$page" | sed 's/[{ ].*//' | sort | uniq -c | sort -rn | head -5
wait "$bench"
grep -E '^(fleet|steady)' "$log"
