#!/usr/bin/env bash
# Breakout edge benchmark: the edge against squid, tinyproxy and a direct
# connection, on the same local nginx origin, with the same load tools, in one
# run. See BENCHMARKS.md at the repository root for what each figure means.
#
#   deploy/bench/run.sh                 # everything, RUNS=3
#   RUNS=1 DURATION=5 SKIP_EDGE=1 deploy/bench/run.sh
#
# Everything listens on 127.0.0.1 only, every load is bounded in time and in
# count, and every process the script starts is stopped on exit.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/../.." && pwd)
cd "$ROOT"

# ---------------------------------------------------------------- settings
RUNS=${RUNS:-3}                  # repetitions; medians are reported
DURATION=${DURATION:-10}         # seconds of wrk load per small-response figure
WARMUP=${WARMUP:-2}              # seconds of unmeasured wrk load before it
CONNS=${CONNS:-50}               # wrk connections
THREADS=${THREADS:-1}            # wrk threads
IDLE_TUNNELS=${IDLE_TUNNELS:-10000}  # idle CONNECT tunnels per RSS figure
IDLE_SETUP_TIMEOUT=${IDLE_SETUP_TIMEOUT:-180}  # seconds to open them all
IDLE_SETTLE=${IDLE_SETTLE:-2}    # seconds between the last tunnel and the RSS reading
BIG_MB=${BIG_MB:-1024}           # size of the bulk file, MiB
BULK_TIMEOUT=${BULK_TIMEOUT:-300}  # seconds allowed per bulk download
BASE_PORT=${BASE_PORT:-18100}    # origin, edge, edge admin, squid, tinyproxy = BASE_PORT+0..4
SKIP_EDGE=${SKIP_EDGE:-0}
SKIP_SQUID=${SKIP_SQUID:-0}
SKIP_TINYPROXY=${SKIP_TINYPROXY:-0}
SKIP_DIRECT=${SKIP_DIRECT:-0}
SKIP_SMALL=${SKIP_SMALL:-0}
SKIP_BULK=${SKIP_BULK:-0}
SKIP_IDLE=${SKIP_IDLE:-0}
SKIP_SHORT=${SKIP_SHORT:-0}
SHORT_CONNS=${SHORT_CONNS:-50}   # concurrent short CONNECT sessions (new connections/s figure)
SHORT_THREADS=${SHORT_THREADS:-1}  # connect-bench client threads sharing them
SHORT_ADDRS=${SHORT_ADDRS:-4}    # loopback addresses the short sessions spread over (see connect-bench)
EDGE_WORKERS=${EDGE_WORKERS:-1}  # the edge's serving threads (--workers): squid.conf.in says `workers 1`
KEEP_WORKDIR=${KEEP_WORKDIR:-0}  # keep the temp dir (configs, logs, raw output)
OUT_DIR=${OUT_DIR:-$BENCH_DIR/out}

ORIGIN_PORT=$BASE_PORT
EDGE_PORT=$((BASE_PORT + 1))
EDGE_ADMIN_PORT=$((BASE_PORT + 2))
SQUID_PORT=$((BASE_PORT + 3))
TINYPROXY_PORT=$((BASE_PORT + 4))
ORIGIN="127.0.0.1:$ORIGIN_PORT"

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ------------------------------------------------------------ prerequisites
need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found (apt-get install -y $2)"; }
need wrk wrk
need curl curl
need python3 python3
need ss iproute2
need pgrep procps
NGINX=$(command -v nginx || true)
[ -n "$NGINX" ] || { [ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx; } || true
[ -n "$NGINX" ] || die "nginx not found (apt-get install -y nginx-light)"
SQUID=$(command -v squid || echo /usr/sbin/squid)
if [ "$SKIP_SQUID" != 1 ] && [ ! -x "$SQUID" ]; then
  die "squid not found (apt-get install -y squid, or SKIP_SQUID=1)"
fi
TINYPROXY=$(command -v tinyproxy || echo /usr/bin/tinyproxy)
if [ "$SKIP_TINYPROXY" != 1 ] && [ ! -x "$TINYPROXY" ]; then
  log "tinyproxy not installed: skipping it (apt-get install -y tinyproxy to add it)"
  SKIP_TINYPROXY=1
fi
CLK_TCK=$(getconf CLK_TCK)

# File descriptors: each tunnel costs a proxy two (client and origin side).
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -ge 65536 ]; then ulimit -n 65536; else ulimit -n "$hard"; fi
NOFILE=$(ulimit -n)
# A 200-descriptor reserve for listeners, logs and the process itself: 9,900 at a 20,000 limit.
max_tunnels=$(( (NOFILE - 200) / 2 / 100 * 100 ))
if [ "$IDLE_TUNNELS" -gt "$max_tunnels" ]; then
  log "open-files limit is $NOFILE (hard limit $hard): a proxy needs 2 per tunnel," \
      "so IDLE_TUNNELS is lowered from $IDLE_TUNNELS to $max_tunnels"
  IDLE_TUNNELS=$max_tunnels
fi

# ------------------------------------------------------- process management
WORKDIR=$(mktemp -d /tmp/breakout-bench.XXXXXX)
chmod 755 "$WORKDIR"
declare -A PIDS=()

# start NAME LOGFILE CMD...: run CMD in its own session (so that it and any
# children it forks can be stopped as one group), remember its pid.
start() {
  local name=$1 logfile=$2; shift 2
  setsid "$@" >"$logfile" 2>&1 </dev/null &
  PIDS[$name]=$!
}

stop() {
  local name=$1 pid=${PIDS[$1]:-} i
  [ -n "$pid" ] || return 0
  unset "PIDS[$name]"
  local target=$pid
  # setsid made it a session and group leader; only then signal the group.
  [ "$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')" = "$pid" ] && target=-$pid
  kill -TERM -- "$target" 2>/dev/null || true
  for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "$target" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$? name
  trap - EXIT INT TERM
  for name in "${!PIDS[@]}"; do stop "$name"; done
  if [ "$KEEP_WORKDIR" = 1 ] || [ "$rc" != 0 ]; then
    rm -f "$WORKDIR/www/big"  # the only large file; configs and logs stay
    log "work dir kept: $WORKDIR"
  else
    rm -rf "$WORKDIR"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

alive() { kill -0 "${PIDS[$1]}" 2>/dev/null; }

port_free() { [ -z "$(ss -Hltn "sport = :$1")" ]; }

# wait_port NAME PORT LOGFILE: until PORT accepts connections (30 s deadline).
wait_port() {
  local name=$1 port=$2 logfile=$3 deadline=$((SECONDS + 30))
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    alive "$name" || { tail -20 "$logfile" >&2; die "$name exited during start-up"; }
    [ $SECONDS -lt $deadline ] || { tail -20 "$logfile" >&2; die "$name is not listening on $port after 30 s"; }
    sleep 0.1
  done
}

fill() {  # fill TEMPLATE OUT: replace @NAME@ with the value of shell variable NAME
  python3 - "$1" "$2" <<'EOF'
import os, re, sys
text = open(sys.argv[1]).read()
def sub(m):
    v = os.environ.get(m.group(1))
    if v is None:
        sys.exit(f"template {sys.argv[1]}: @{m.group(1)}@ has no value")
    return v
open(sys.argv[2], "w").write(re.sub(r"@([A-Z_]+)@", sub, text))
EOF
}

cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
origin_ticks() {  # origin_ticks "PID ...": summed CPU ticks of the nginx workers
  local p sum=0
  for p in $1; do sum=$((sum + $(cpu_ticks "$p"))); done
  echo "$sum"
}
# Nanoseconds the process's threads spent ready to run but waiting for a core (schedstat's
# run_delay): how long the machine's run queue held it up, beside the CPU it used. Kernels built
# without CONFIG_SCHEDSTATS count it only while delay accounting is on
# (`sysctl kernel.task_delayacct=1`); with it off the figure is NA, not 0.
runq_ns() {
  if [ "$(cat /proc/sys/kernel/task_delayacct 2>/dev/null || echo 1)" = 0 ]; then echo NA; return; fi
  cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $2 } END { printf "%d", s }'
}
per_unit_us() {  # per_unit_us NS0 NS1 N: (NS1 - NS0) / N in µs, or NA
  case "$1$2" in *NA*) echo NA; return ;; esac
  awk -v d=$(($2 - $1)) -v n="$3" 'BEGIN { printf "%.3f", d / 1e3 / n }'
}
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
fd_count() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

RAW=$WORKDIR/raw.tsv
: >"$RAW"
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RAW"; }

for p in "$ORIGIN_PORT" "$EDGE_PORT" "$EDGE_ADMIN_PORT" "$SQUID_PORT" "$TINYPROXY_PORT"; do
  port_free "$p" || die "port $p is in use (set BASE_PORT to use other ports)"
done

# ------------------------------------------------------------------ origin
export WORKDIR NOFILE ORIGIN_PORT SQUID_PORT TINYPROXY_PORT
# The origin also listens on 127.0.0.2.. for the short sessions spread over addresses.
ORIGIN_LISTEN=""
for i in $(seq 1 "$SHORT_ADDRS"); do
  ORIGIN_LISTEN+="listen 127.0.0.$i:$ORIGIN_PORT backlog=4096; "
done
export ORIGIN_LISTEN
export NGINX_CONNS=$((IDLE_TUNNELS + 2000))
export TINYPROXY_MAXCLIENTS=$((IDLE_TUNNELS + 1000))
# 100-byte body: 99 printable bytes and a newline.
export SMALL_BODY
SMALL_BODY="$(printf 'breakout-bench small response %069d' 0)\\n"
mkdir -p "$WORKDIR"/nginx "$WORKDIR"/www "$WORKDIR"/squid "$WORKDIR"/tinyproxy "$WORKDIR"/edge
chown proxy "$WORKDIR/squid" 2>/dev/null || chmod 777 "$WORKDIR/squid"
chmod 777 "$WORKDIR/tinyproxy"
BIG_BYTES=$((BIG_MB * 1024 * 1024))
log "writing the ${BIG_MB} MiB bulk file (random bytes)"
head -c "$BIG_BYTES" /dev/urandom >"$WORKDIR/www/big"
chmod 644 "$WORKDIR/www/big"
fill "$BENCH_DIR/nginx.conf.in" "$WORKDIR/nginx/nginx.conf"
"$NGINX" -t -q -p "$WORKDIR/nginx" -c "$WORKDIR/nginx/nginx.conf" 2>"$WORKDIR/nginx/test.log" \
  || { cat "$WORKDIR/nginx/test.log" >&2; die "nginx config test failed"; }
start nginx "$WORKDIR/nginx/stderr.log" "$NGINX" -p "$WORKDIR/nginx" -c "$WORKDIR/nginx/nginx.conf"
wait_port nginx "$ORIGIN_PORT" "$WORKDIR/nginx/stderr.log"
small_len=$(curl -sS -m 5 "http://$ORIGIN/small" | wc -c)
log "origin up on $ORIGIN (/small is $small_len bytes)"
# Read the big file once so that every target finds it in the page cache.
curl -sS -m "$BULK_TIMEOUT" "http://$ORIGIN/big" -o /dev/null

# ------------------------------------------------------------------ targets
TARGETS=()
[ "$SKIP_EDGE" = 1 ] || TARGETS+=(edge)
[ "$SKIP_SQUID" = 1 ] || TARGETS+=(squid)
[ "$SKIP_TINYPROXY" = 1 ] || TARGETS+=(tinyproxy)
[ "$SKIP_DIRECT" = 1 ] || TARGETS+=(direct)
[ "${#TARGETS[@]}" -gt 0 ] || die "every target is skipped"

if [ "$SKIP_SHORT" != 1 ] && [ -z "${CONNECT_BENCH_BIN:-}" ]; then
  log "building connect-bench (cargo build --release -p breakout-tests --bin connect-bench)"
  cargo build --release -p breakout-tests --bin connect-bench >&2
  CONNECT_BENCH_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/connect-bench
fi
[ "$SKIP_SHORT" = 1 ] || [ -x "$CONNECT_BENCH_BIN" ] || die "CONNECT_BENCH_BIN=$CONNECT_BENCH_BIN is not an executable"
if [ "$SKIP_EDGE" != 1 ]; then
  if [ -z "${EDGE_BIN:-}" ]; then
    log "building breakout-edge (cargo build --release -p breakout-edge)"
    cargo build --release -p breakout-edge >&2
    EDGE_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/breakout-edge
  fi
  [ -x "$EDGE_BIN" ] || die "EDGE_BIN=$EDGE_BIN is not an executable"
  # Run a private copy, so that a rebuild during the run cannot swap binaries.
  cp "$EDGE_BIN" "$WORKDIR/edge/breakout-edge"
  EDGE_RUN=$WORKDIR/edge/breakout-edge
  export EDGE_PORT EDGE_ADMIN_PORT
  fill "$BENCH_DIR/edge.toml.in" "$WORKDIR/edge/edge.toml"
fi
if [ "$SKIP_SQUID" != 1 ]; then
  fill "$BENCH_DIR/squid.conf.in" "$WORKDIR/squid/squid.conf"
  "$SQUID" -k parse -f "$WORKDIR/squid/squid.conf" >"$WORKDIR/squid/parse.log" 2>&1 \
    || { tail -20 "$WORKDIR/squid/parse.log" >&2; die "squid config does not parse"; }
fi
if [ "$SKIP_TINYPROXY" != 1 ]; then
  fill "$BENCH_DIR/tinyproxy.conf.in" "$WORKDIR/tinyproxy/tinyproxy.conf"
fi

proxy_port() {
  case $1 in
    edge) echo "$EDGE_PORT" ;; squid) echo "$SQUID_PORT" ;; tinyproxy) echo "$TINYPROXY_PORT" ;;
  esac
}

start_target() {  # start_target NAME: start a fresh proxy process, wait until it serves
  local t=$1 logfile="$WORKDIR/$1/run.log"
  case $t in
    edge)
      start edge "$logfile" "$EDGE_RUN" --config "$WORKDIR/edge/edge.toml" --workers "$EDGE_WORKERS"
      local deadline=$((SECONDS + 30))
      until curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$EDGE_ADMIN_PORT/readyz" 2>/dev/null; do
        alive edge || { tail -20 "$logfile" >&2; die "breakout-edge exited during start-up"; }
        [ $SECONDS -lt $deadline ] || { tail -20 "$logfile" >&2; die "breakout-edge not ready after 30 s"; }
        sleep 0.1
      done
      ;;
    squid)
      start squid "$logfile" "$SQUID" -N -f "$WORKDIR/squid/squid.conf"
      wait_port squid "$SQUID_PORT" "$logfile"
      ;;
    tinyproxy)
      start tinyproxy "$logfile" "$TINYPROXY" -d -c "$WORKDIR/tinyproxy/tinyproxy.conf"
      wait_port tinyproxy "$TINYPROXY_PORT" "$logfile"
      ;;
  esac
  # Both request kinds once through the fresh process: fails fast if the proxy
  # does not forward, and keeps one-time start-up work out of the figures.
  local port; port=$(proxy_port "$t")
  curl -fsS -m 10 -x "http://127.0.0.1:$port" "http://$ORIGIN/small" -o /dev/null \
    || { tail -20 "$logfile" >&2; die "$t does not forward GET http://$ORIGIN/small"; }
  curl -fsS -m 10 -p -x "http://127.0.0.1:$port" "http://$ORIGIN/small" -o /dev/null \
    || { tail -20 "$logfile" >&2; die "$t does not tunnel CONNECT $ORIGIN"; }
}

# ------------------------------------------------------------- measurements
measure_small() {  # measure_small RUN TARGET
  local run=$1 t=$2 url mode pid="" c0 c1 out="$WORKDIR/wrk-$1-$2.txt"
  if [ "$t" = direct ]; then
    url="http://$ORIGIN"; mode=direct
  else
    url="http://127.0.0.1:$(proxy_port "$t")"; mode=proxy; pid=${PIDS[$t]}
  fi
  export BENCH_ORIGIN=$ORIGIN BENCH_MODE=$mode BENCH_PATH=/small
  if [ "$WARMUP" -gt 0 ]; then
    timeout $((WARMUP + 30)) wrk -t"$THREADS" -c"$CONNS" -d"${WARMUP}s" -s "$BENCH_DIR/abs.lua" "$url" >/dev/null
  fi
  local q0 q1
  [ -z "$pid" ] || { c0=$(cpu_ticks "$pid"); q0=$(runq_ns "$pid"); }
  timeout $((DURATION + 30)) wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency \
    -s "$BENCH_DIR/abs.lua" "$url" >"$out"
  [ -z "$pid" ] || { c1=$(cpu_ticks "$pid"); q1=$(runq_ns "$pid"); }
  local requests rps p50 p99 sockerr readerr non2xx
  read -r requests rps p50 p99 sockerr readerr non2xx < <(python3 "$BENCH_DIR/summarize.py" wrk "$out")
  # tinyproxy closes the client connection after every response without
  # announcing it (no "Connection: close"), which wrk counts as a read error
  # after the complete 200 response; it then reconnects. For tinyproxy those
  # are expected and its figure is one connection per request.
  local readerr_limit=$((requests / 100))
  [ "$t" != tinyproxy ] || readerr_limit=$requests
  if [ "$requests" -eq 0 ] || [ "$non2xx" -gt 0 ] || [ $((sockerr * 100)) -gt "$requests" ] \
     || [ "$readerr" -gt "$readerr_limit" ]; then
    log "$t small: rejected ($requests requests, $non2xx non-2xx, $readerr read errors, $sockerr other socket errors):"
    sed 's/^/    /' "$out" >&2
    rps=NA p50=NA p99=NA
  fi
  record "$run" "$t" rps "$rps"
  record "$run" "$t" p50_ms "$p50"
  record "$run" "$t" p99_ms "$p99"
  local cpu=NA
  if [ -n "$pid" ] && [ "$rps" != NA ]; then
    cpu=$(awk -v d=$((c1 - c0)) -v hz="$CLK_TCK" -v n="$requests" 'BEGIN { printf "%.3f", d / hz * 1e6 / n }')
    record "$run" "$t" cpu_us_per_req "$cpu"
    record "$run" "$t" runq_us_per_req "$(per_unit_us "$q0" "$q1" "$requests")"
  fi
  log "$t small: $rps req/s, p50 $p50 ms, p99 $p99 ms$([ -z "$pid" ] || echo ", CPU $cpu µs/req") ($requests requests, $readerr read errors)"
}

measure_short() {  # measure_short RUN TARGET: new connections/s with short CONNECT sessions
  local run=$1 t=$2 pid=${PIDS[$2]} port c0 c1 out="$WORKDIR/short-$1-$2.txt"
  port=$(proxy_port "$t")
  if [ "$WARMUP" -gt 0 ]; then
    timeout $((WARMUP + 30)) "$CONNECT_BENCH_BIN" "127.0.0.1:$port" "$ORIGIN" /small \
      "$SHORT_CONNS" "$WARMUP" 0 "$SHORT_THREADS" "$SHORT_ADDRS" >/dev/null || true
  fi
  # The origin's CPU too (its workers are the nginx master's children): on a machine shared by
  # the load generator, the origin and the proxy, their cost per session bounds any ratio.
  local o0 o1 workers
  workers=$(pgrep -P "${PIDS[nginx]}" | tr '\n' ' ')
  o0=$(origin_ticks "$workers")
  c0=$(cpu_ticks "$pid")
  local q0 q1
  q0=$(runq_ns "$pid")
  timeout $((DURATION + 30)) "$CONNECT_BENCH_BIN" "127.0.0.1:$port" "$ORIGIN" /small \
    "$SHORT_CONNS" "$DURATION" 0 "$SHORT_THREADS" "$SHORT_ADDRS" >"$out" || true
  c1=$(cpu_ticks "$pid")
  q1=$(runq_ns "$pid")
  o1=$(origin_ticks "$workers")
  local conns=0 errors=0 cps=NA p50=NA p99=NA cpu=NA client=NA origin=NA runq=NA
  read -r _ conns _ errors _ cps _ p50 _ p99 _ client <"$out" || true
  if [ "${conns:-0}" -gt 0 ] && [ $((errors * 100)) -le "$conns" ]; then
    cpu=$(awk -v d=$((c1 - c0)) -v hz="$CLK_TCK" -v n="$conns" 'BEGIN { printf "%.3f", d / hz * 1e6 / n }')
    origin=$(awk -v d=$((o1 - o0)) -v hz="$CLK_TCK" -v n="$conns" 'BEGIN { printf "%.3f", d / hz * 1e6 / n }')
    runq=$(per_unit_us "$q0" "$q1" "$conns")
  else
    log "$t short: rejected ($(cat "$out"))"
    cps=NA p50=NA p99=NA client=NA
  fi
  record "$run" "$t" short_cps "$cps"
  record "$run" "$t" short_p50_ms "$p50"
  record "$run" "$t" short_p99_ms "$p99"
  record "$run" "$t" cpu_us_per_conn "$cpu"
  record "$run" "$t" origin_cpu_us_per_conn "$origin"
  record "$run" "$t" runq_us_per_conn "$runq"
  record "$run" "$t" client_cpu_us_per_conn "${client:-NA}"
  log "$t short: $cps conn/s, p50 $p50 ms, p99 $p99 ms, CPU $cpu µs/conn, origin $origin, client ${client:-NA} ($conns sessions, $errors errors)"
}

measure_bulk() {  # measure_bulk RUN TARGET
  local run=$1 t=$2 proxy_args=() result code size speed mbps=NA
  [ "$t" = direct ] || proxy_args=(-p -x "http://127.0.0.1:$(proxy_port "$t")")
  result=$(curl -sS --max-time "$BULK_TIMEOUT" "${proxy_args[@]}" "http://$ORIGIN/big" \
    -o /dev/null -w '%{http_code} %{size_download} %{speed_download}') || true
  read -r code size speed <<<"$result"
  if [ "${code:-}" = 200 ] && [ "${size:-0}" = "$BIG_BYTES" ]; then
    mbps=$(awk -v s="$speed" 'BEGIN { printf "%.1f", s / 1e6 }')
  else
    log "$t bulk: rejected (curl: '$result', expected 200 and $BIG_BYTES bytes)"
  fi
  record "$run" "$t" bulk_MBps "$mbps"
  log "$t bulk: $mbps MB/s"
}

measure_idle() {  # measure_idle RUN TARGET
  local run=$1 t=$2 pid=${PIDS[$2]} port status="$WORKDIR/idle-$1-$2.json"
  port=$(proxy_port "$t")
  local rss0 fd0 rss1 ok est deadline
  rss0=$(rss_kib "$pid"); fd0=$(fd_count "$pid")
  rm -f "$status"
  start holder "$WORKDIR/idle-$run-$t.log" python3 "$BENCH_DIR/idle_tunnels.py" \
    --proxy "127.0.0.1:$port" --target "$ORIGIN" -n "$IDLE_TUNNELS" \
    --status "$status" --hold $((IDLE_SETUP_TIMEOUT + 120))
  deadline=$((SECONDS + IDLE_SETUP_TIMEOUT))
  until [ -s "$status" ]; do
    alive holder || { cat "$WORKDIR/idle-$run-$t.log" >&2; die "idle-tunnel holder exited early"; }
    [ $SECONDS -lt $deadline ] || { log "$t idle: tunnels not set up within ${IDLE_SETUP_TIMEOUT}s"; break; }
    sleep 0.2
  done
  sleep "$IDLE_SETTLE"
  rss1=$(rss_kib "$pid")
  est=$(ss -Htn state established "( sport = :$ORIGIN_PORT )" | wc -l)
  ok=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ok"])' "$status" 2>/dev/null || echo 0)
  stop holder
  local kib=NA
  if [ "$ok" -gt 0 ]; then
    kib=$(awk -v a="$rss0" -v b="$rss1" -v n="$ok" 'BEGIN { printf "%.2f", (b - a) / n }')
  fi
  if [ "$ok" -lt "$IDLE_TUNNELS" ]; then
    log "$t idle: only $ok of $IDLE_TUNNELS tunnels established: $(cat "$status" 2>/dev/null)"
  fi
  record "$run" "$t" idle_kib_per_tunnel "$kib"
  record "$run" "$t" idle_tunnels_ok "$ok"
  record "$run" "$t" origin_conns "$est"
  log "$t idle: $ok tunnels, VmRSS $rss0 -> $rss1 KiB = $kib KiB/tunnel ($est connections open at the origin)"
  # Let the proxy and the origin close the tunnels before the next figure.
  deadline=$((SECONDS + 60))
  while [ "$(fd_count "$pid")" -gt $((fd0 + 20)) ] && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
}

# -------------------------------------------------------------------- meta
META=$WORKDIR/meta.tsv
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
settings="RUNS=$RUNS DURATION=$DURATION WARMUP=$WARMUP CONNS=$CONNS THREADS=$THREADS SHORT_CONNS=$SHORT_CONNS SHORT_THREADS=$SHORT_THREADS SHORT_ADDRS=$SHORT_ADDRS EDGE_WORKERS=$EDGE_WORKERS IDLE_TUNNELS=$IDLE_TUNNELS BIG_MB=$BIG_MB"
{
  printf 'title\tBreakout edge benchmark, %s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
  printf 'command\t`%s deploy/bench/run.sh`\n' "$settings"
  printf 'machine\t%s cores, %s, kernel %s, %s GiB RAM\n' "$(nproc)" \
    "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" "$(uname -r)" \
    "$(awk '/^MemTotal:/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)"
  printf 'load tools\t%s; %s\n' "$(wrk -v 2>&1 | head -1 | awk '{ print $1, $2 }')" \
    "$(curl --version | head -1 | awk '{ print $1, $2 }')"
  printf 'origin\t%s, 1 worker, /small = %s bytes, /big = %s MiB (sendfile)\n' \
    "$("$NGINX" -v 2>&1 | sed 's/^nginx version: //')" "$small_len" "$BIG_MB"
  if [ "$SKIP_EDGE" != 1 ]; then
    printf 'edge\t%s (%s, sha256 %s; access_log off, --workers %s)\n' "${EDGE_BIN#"$ROOT"/}" \
      "$(date -u -r "$EDGE_BIN" '+built %Y-%m-%d %H:%M UTC')" "$(sha256sum "$EDGE_BIN" | cut -c1-12)" "$EDGE_WORKERS"
  fi
  [ "$SKIP_SQUID" = 1 ] || printf 'squid\t%s (cache deny all, no cache_dir, access_log none, workers 1)\n' \
    "$("$SQUID" -v | head -1 | sed 's/^Squid Cache: //')"
  [ "$SKIP_TINYPROXY" = 1 ] || printf 'tinyproxy\t%s\n' "$("$TINYPROXY" -v 2>&1 | head -1)"
  printf 'idle tunnels\t%s per proxy (open-files limit %s)\n' "$IDLE_TUNNELS" "$NOFILE"
  printf 'load at start\t%s\n' "$(uptime | sed 's/.*load average/load average/')"
} >"$META"

# -------------------------------------------------------------------- runs
log "targets: ${TARGETS[*]}; $settings"
for run in $(seq 1 "$RUNS"); do
  # Rotate the order each run so that drift on a shared machine does not
  # always land on the same target.
  n=${#TARGETS[@]}
  for i in $(seq 0 $((n - 1))); do
    t=${TARGETS[$(( (i + run - 1) % n ))]}
    log "run $run/$RUNS: $t ($(uptime | sed "s/.*load average/load average/"))"
    if [ "$t" != direct ]; then
      start_target "$t"
      [ "$SKIP_IDLE" = 1 ] || measure_idle "$run" "$t"
    fi
    [ "$SKIP_SMALL" = 1 ] || measure_small "$run" "$t"
    [ "$SKIP_SHORT" = 1 ] || [ "$t" = direct ] || measure_short "$run" "$t"
    [ "$SKIP_BULK" = 1 ] || measure_bulk "$run" "$t"
    [ "$t" = direct ] || stop "$t"
  done
done

# ------------------------------------------------------------------ report
mkdir -p "$OUT_DIR"
REPORT=$OUT_DIR/$STAMP.md
printf 'load at end\t%s\n' "$(uptime | sed 's/.*load average/load average/')" >>"$META"
python3 "$BENCH_DIR/summarize.py" report "$RAW" "$META" >"$REPORT"
cp "$RAW" "$OUT_DIR/$STAMP.raw.tsv"
echo
cat "$REPORT"
echo
log "report written to ${REPORT#"$ROOT"/}"
