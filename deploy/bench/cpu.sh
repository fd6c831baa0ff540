#!/usr/bin/env bash
# The edge's CPU per request and per new session, counted in instructions.
#
#   deploy/bench/cpu.sh LABEL=EDGE_BIN [LABEL=EDGE_BIN ...]
#   RUNS=3 DURATION=10 deploy/bench/cpu.sh before=/tmp/edge-old after=target/release/breakout-edge
#   PROFILE_DIR=/tmp/prof deploy/bench/cpu.sh ...   also keeps every callgrind dump there
#
# Wall-clock and CPU-time figures move with whatever else the machine runs; instruction counts
# do not. Each edge binary runs under valgrind's callgrind (user-space instructions, every
# thread; the kernel's share of each syscall is not counted), and the counters are zeroed
# before and dumped after each load:
#   request: wrk, CONNS keep-alive connections sending absolute-form
#            GET http://origin.bench:PORT/small (100-byte body; the name is a static host of the
#            edge) for DURATION s: instructions / requests completed (all 2xx, or the run fails).
#   session: connect-bench, CONNS concurrent short sessions (CONNECT 127.0.0.1:PORT, one GET
#            through the tunnel, close) for DURATION s: instructions / sessions completed.
# The same nginx origin, edge settings (access log off, one tenant) and load tools as
# deploy/bench/run.sh. Prints one line per binary and run, then the medians.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/../.." && pwd)
RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
CONNS=${CONNS:-4}
EDGE_WORKERS=${EDGE_WORKERS:-1}  # the edge's --workers, as in run.sh
BASE_PORT=${BASE_PORT:-18200}
ORIGIN_PORT=$BASE_PORT
EDGE_PORT=$((BASE_PORT + 1))
EDGE_ADMIN_PORT=$((BASE_PORT + 2))
ORIGIN="127.0.0.1:$ORIGIN_PORT"

log() { printf '[cpu %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
[ $# -gt 0 ] || die "usage: cpu.sh LABEL=EDGE_BIN [LABEL=EDGE_BIN ...]"
for tool in valgrind callgrind_control wrk curl python3; do
  command -v "$tool" >/dev/null || die "$tool not found (apt-get install -y valgrind wrk curl python3)"
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || die "nginx not found (apt-get install -y nginx-light)"
CONNECT_BENCH_BIN=${CONNECT_BENCH_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/connect-bench}
[ -x "$CONNECT_BENCH_BIN" ] || die "no connect-bench at $CONNECT_BENCH_BIN (cargo build --release -p breakout-tests --bin connect-bench)"

WORKDIR=$(mktemp -d /tmp/breakout-cpu.XXXXXX)
chmod 755 "$WORKDIR"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORKDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ origin
export WORKDIR NOFILE=4096 NGINX_CONNS=4096 ORIGIN_LISTEN="listen 127.0.0.1:$ORIGIN_PORT backlog=4096;"
export SMALL_BODY
SMALL_BODY="$(printf 'breakout-bench small response %069d' 0)\\n"
mkdir -p "$WORKDIR/nginx" "$WORKDIR/www" "$WORKDIR/edge"
fill() {  # fill TEMPLATE OUT: replace @NAME@ with the value of shell variable NAME
  python3 - "$1" "$2" <<'EOF'
import os, re, sys
text = open(sys.argv[1]).read()
open(sys.argv[2], "w").write(re.sub(r"@([A-Z_]+)@", lambda m: os.environ[m.group(1)], text))
EOF
}
fill "$BENCH_DIR/nginx.conf.in" "$WORKDIR/nginx/nginx.conf"
"$NGINX" -p "$WORKDIR/nginx" -c "$WORKDIR/nginx/nginx.conf" >"$WORKDIR/nginx/stderr.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -fsS -m 1 -o /dev/null "http://$ORIGIN/small" 2>/dev/null && break; sleep 0.1; done
curl -fsS -m 2 -o /dev/null "http://$ORIGIN/small" || die "nginx origin not up"

export EDGE_PORT EDGE_ADMIN_PORT ORIGIN_PORT
fill "$BENCH_DIR/edge.toml.in" "$WORKDIR/edge/edge.toml"
# Requests name the origin, as clients do (a static host: no DNS in the count).
ORIGIN_NAME="origin.bench:$ORIGIN_PORT"
printf '\n[static_hosts]\n"origin.bench" = "127.0.0.1"\n' >>"$WORKDIR/edge/edge.toml"

# The instructions counted since the last zeroing (dumps the counters of every thread).
dump_ir() {  # dump_ir PID NAME
  local before after f
  before=$(ls "$WORKDIR"/callgrind.out.* 2>/dev/null | wc -l)
  callgrind_control --dump="$2" "$1" >/dev/null 2>&1
  for _ in $(seq 300); do
    after=$(ls "$WORKDIR"/callgrind.out.* 2>/dev/null | wc -l)
    [ "$after" -gt "$before" ] && break
    sleep 0.1
  done
  f=$(ls -t "$WORKDIR"/callgrind.out.* | head -1)
  sleep 0.5
  # PROFILE_DIR: keep each dump for callgrind_annotate (per-function counts).
  [ -z "${PROFILE_DIR:-}" ] || cp "$f" "$PROFILE_DIR/$LABEL_RUN.$2.callgrind"
  awk '/^(summary|totals):/ { print $2; exit }' "$f"
}

measure() {  # measure LABEL BIN RUN: prints "LABEL RUN instr_per_request instr_per_session"
  local label=$1 bin=$2 run=$3 pid ir n sockerr readerr non2xx errors
  LABEL_RUN=$label.$run
  cp "$bin" "$WORKDIR/edge/breakout-edge"
  (cd "$WORKDIR" && exec valgrind --tool=callgrind --compress-strings=no --compress-pos=no --callgrind-out-file="$WORKDIR/callgrind.out.%p" \
    "$WORKDIR/edge/breakout-edge" --config "$WORKDIR/edge/edge.toml" --workers "$EDGE_WORKERS") >"$WORKDIR/edge/run.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  for _ in $(seq 600); do
    curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$EDGE_ADMIN_PORT/readyz" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { tail -20 "$WORKDIR/edge/run.log" >&2; die "$label exited"; }
    sleep 0.2
  done
  # Warm-up: both paths once, so one-time work stays out of the counts.
  curl -fsS -m 30 -x "http://127.0.0.1:$EDGE_PORT" "http://$ORIGIN_NAME/small" -o /dev/null
  curl -fsS -m 30 -p -x "http://127.0.0.1:$EDGE_PORT" "http://$ORIGIN/small" -o /dev/null

  callgrind_control --zero "$pid" >/dev/null 2>&1
  BENCH_ORIGIN=$ORIGIN_NAME BENCH_MODE=proxy BENCH_PATH=/small \
    wrk -t1 -c"$CONNS" -d"${DURATION}s" -s "$BENCH_DIR/abs.lua" "http://127.0.0.1:$EDGE_PORT" >"$WORKDIR/wrk.txt"
  ir=$(dump_ir "$pid" request)
  read -r n _ _ _ sockerr readerr non2xx < <(python3 "$BENCH_DIR/summarize.py" wrk "$WORKDIR/wrk.txt")
  # Only answered, successful requests may count: a refusal costs less than a request.
  [ "$non2xx" = 0 ] && [ "$sockerr" = 0 ] || die "$label: wrk saw $non2xx non-2xx answers, $sockerr socket errors"
  local per_request=$((ir / n)) requests=$n

  callgrind_control --zero "$pid" >/dev/null 2>&1
  "$CONNECT_BENCH_BIN" "127.0.0.1:$EDGE_PORT" "$ORIGIN" /small "$CONNS" "$DURATION" 0 1 1 >"$WORKDIR/cb.txt"
  ir=$(dump_ir "$pid" session)
  n=$(awk '{ for (i = 1; i < NF; i++) if ($i == "connections") print $(i + 1) }' "$WORKDIR/cb.txt")
  errors=$(awk '{ for (i = 1; i < NF; i++) if ($i == "errors") print $(i + 1) }' "$WORKDIR/cb.txt")
  [ "$errors" = 0 ] || die "$label: connect-bench saw $errors failed sessions"
  local per_session=$((ir / n))
  log "$label: $requests requests, $n sessions"

  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$WORKDIR"/callgrind.out.*
  printf '%s\t%s\t%s\t%s\n' "$label" "$run" "$per_request" "$per_session"
}

RESULTS=$WORKDIR/results.tsv
: >"$RESULTS"
for run in $(seq "$RUNS"); do
  for spec in "$@"; do
    label=${spec%%=*}
    bin=${spec#*=}
    [ -x "$bin" ] || die "$bin is not an executable"
    log "run $run: $label"
    measure "$label" "$bin" "$run" | tee -a "$RESULTS"
  done
done
python3 - "$RESULTS" <<'EOF'
import statistics, sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().split("\n") if l]
labels = list(dict.fromkeys(r[0] for r in rows))
print("\nlabel\tinstructions/request (median)\tinstructions/new session (median)\truns")
for lab in labels:
    req = [int(r[2]) for r in rows if r[0] == lab]
    ses = [int(r[3]) for r in rows if r[0] == lab]
    print(f"{lab}\t{statistics.median(req):.0f}\t{statistics.median(ses):.0f}\t{len(req)}")
EOF
