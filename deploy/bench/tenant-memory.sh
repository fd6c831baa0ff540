#!/usr/bin/env bash
# Tenant state and memory (issue 13, item 6): the RSS and the Raft file (raft.redb) of one
# control-plane node while one tenant fills LISTS lists of ENTRIES entries each, and after the
# operator deletes them again.
#
#   deploy/bench/tenant-memory.sh [BIN]
#
# BIN is the breakout-control binary to measure (default: $CARGO_TARGET_DIR/release/
# breakout-control, built by `cargo build --release -p breakout-control`). A server with
# per-tenant quotas has them raised for the tenant first (PUT /v1/tenants/acme/quotas), so both
# builds take the same load; QUOTAS=default keeps the defaults to show where they stop it.
# Knobs: LISTS (20), ENTRIES (100000), SETTLE (seconds watched after the deletes, 30).
# Prints one line per phase; the last line of a phase is what BENCHMARKS.md records.
set -euo pipefail
BIN=${1:-${CARGO_TARGET_DIR:-target}/release/breakout-control}
LISTS=${LISTS:-20}
ENTRIES=${ENTRIES:-100000}
SETTLE=${SETTLE:-30}
QUOTAS=${QUOTAS:-raised}
TOKEN=bench-admin-token-0123456789

work=$(mktemp -d)
pid=
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

extra=()
# Builds with a metrics listener: none, so that two runs never share a port.
if "$BIN" --help | grep -q -- --metrics-listen; then extra+=(--metrics-listen off); fi
BREAKOUT_ADMIN_TOKEN=$TOKEN "$BIN" --data-dir "$work/data" --api-listen 127.0.0.1:0 \
    --raft-listen 127.0.0.1:0 --edge-listen off --addr-file "$work/addrs.json" "${extra[@]}" \
    2>"$work/stderr.log" &
pid=$!
for _ in $(seq 1 300); do
    [ -s "$work/addrs.json" ] && break
    sleep 0.1
done
api=$(jq -r .api "$work/addrs.json")

# call METHOD PATH [BODY|@FILE] -> HTTP status
call() {
    local args=(-sS -o "$work/answer.json" -w '%{http_code}' -X "$1"
        -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json')
    [ $# -ge 3 ] && args+=(--data-binary "$3")
    curl "${args[@]}" "http://$api$2"
}
for _ in $(seq 1 300); do
    [ "$(call GET /readyz)" = 200 ] && break
    sleep 0.1
done

rss_mb() { awk '/VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$pid/status"; }
raft_mb() { awk '{ printf "%.1f", $1 / 1048576 }' <<<"$(stat -c %s "$work/data/raft.redb")"; }
report() { printf '%-34s RSS %5s MB   raft.redb %7s MB\n' "$1" "$(rss_mb)" "$(raft_mb)"; }

echo "binary: $BIN"
echo "load: $LISTS lists x $ENTRIES entries, quotas: $QUOTAS"
[ "$(call POST /v1/regions '{"name":"bench"}')" = 201 ]
[ "$(call POST /v1/tenants '{"id":"acme","region":"bench","source_cidrs":["10.0.0.0/16"],"session_limit":10}')" = 201 ]
if [ "$QUOTAS" = raised ]; then
    code=$(call PUT /v1/tenants/acme/quotas '{"lists":1000,"entries":100000000,"bytes":100000000000}')
    echo "quotas raised: HTTP $code (404: this server has no quotas)"
fi
report "start"

accepted=0
for i in $(seq 1 "$LISTS"); do
    python3 -c "import json, sys; json.dump(['h%d.l$i.example.com' % j for j in range($ENTRIES)], sys.stdout)" \
        >"$work/list.json"
    code=$(call PUT "/v1/tenants/acme/lists/l$i" "@$work/list.json")
    if [ "$code" = 200 ]; then
        accepted=$((accepted + 1))
    else
        echo "list l$i: HTTP $code $(head -c 300 "$work/answer.json")"
    fi
done
report "after $accepted lists accepted"

for i in $(seq 1 "$LISTS"); do
    call DELETE "/v1/tenants/acme/lists/l$i" >/dev/null
done
report "just after deleting them"
for s in $(seq 1 "$SETTLE"); do
    sleep 1
    if [ $((s % 10)) = 0 ]; then report "${s} s after deleting"; fi
done

# Diagnosis: how much of what stays is the allocator keeping freed memory (glibc's malloc_trim
# called in the process through gdb), and where the rest lives (anonymous vs file mappings).
if [ "${TRIM_PROBE:-0}" = 1 ]; then
    awk '/^Rss:|^Anonymous:/ { s[$1] += $2 } END { for (k in s) printf "  smaps %s %.0f MB\n", k, s[k] / 1024 }' \
        "/proc/$pid/smaps"
    gdb -p "$pid" -batch -ex 'call (int) malloc_trim(0)' >/dev/null 2>&1 || echo "  (gdb failed)"
    report "after malloc_trim(0) through gdb"
fi
