#!/usr/bin/env bash
# A multi-region Breakout deployment on one machine, as separate processes on 127.0.0.1:
# 3 control-plane nodes (Raft) and two regions (tokyo, osaka) with two edges each.
#
#   deploy/local/cluster.sh start     # build if needed, start everything, print addresses
#   deploy/local/cluster.sh status    # processes, cluster status, edges
#   deploy/local/cluster.sh stop      # SIGTERM every process started here
#
# State lives in $BREAKOUT_LOCAL_DIR (default ./.breakout-cluster); `stop` keeps it, so a
# later `start` resumes the same cluster. Remove the directory to start afresh.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DIR=${BREAKOUT_LOCAL_DIR:-$ROOT/.breakout-cluster}
BIN=${BREAKOUT_BIN_DIR:-$ROOT/target/release}
CONTROL=$BIN/breakout-control
EDGE=$BIN/breakout-edge
CTL=$BIN/breakoutctl
EDGE_ENDPOINTS=127.0.0.1:7443,127.0.0.1:7444,127.0.0.1:7445
# id region proxy-port admin-port
EDGES="tk-1 tokyo 3128 9101
tk-2 tokyo 3129 9102
os-1 osaka 3138 9111
os-2 osaka 3139 9112"

ctl() { BREAKOUT_TOKEN=$(cat "$DIR/admin.token") "$CTL" --server http://127.0.0.1:7171 "$@"; }

alive() { [[ -f "$DIR/pids/$1.pid" ]] && kill -0 "$(cat "$DIR/pids/$1.pid")" 2>/dev/null; }

launch() { # name command...
    local name=$1; shift
    if alive "$name"; then echo "$name already running"; return; fi
    "$@" >"$DIR/logs/$name.log" 2>&1 &
    echo $! >"$DIR/pids/$name.pid"
}

wait_http() { # url what
    for _ in $(seq 1 150); do
        if curl -fsS --noproxy '*' -o /dev/null "$1" 2>/dev/null; then return 0; fi
        sleep 0.2
    done
    echo "timed out waiting for $2 ($1); see $DIR/logs" >&2
    exit 1
}

start() {
    if [[ ! -x $CONTROL || ! -x $EDGE || ! -x $CTL ]]; then
        (cd "$ROOT" && cargo build --release -p breakout-control -p breakout-edge)
    fi
    mkdir -p "$DIR/logs" "$DIR/pids"
    chmod 700 "$DIR"
    [[ -f $DIR/ca/ca.pem ]] || "$CONTROL" dev-ca --out "$DIR/ca" >/dev/null
    if [[ ! -f $DIR/admin.token ]]; then
        (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DIR/admin.token")
    fi
    local fresh=false
    [[ -d $DIR/control-1 ]] || fresh=true
    for n in 1 2 3; do
        local join=()
        [[ $n != 1 ]] && join=(--join)
        launch "control-$n" "$CONTROL" --node-id "$n" --data-dir "$DIR/control-$n" \
            --api-listen "127.0.0.1:7${n}71" --raft-listen "127.0.0.1:7${n}72" \
            --edge-listen "127.0.0.1:$((7442 + n))" --metrics-listen "127.0.0.1:7${n}73" \
            --edge-cert "$DIR/ca/server.pem" --edge-key "$DIR/ca/server.key" \
            --admin-token-file "$DIR/admin.token" "${join[@]}"
    done
    wait_http http://127.0.0.1:7171/readyz "control-1"
    if $fresh; then
        for n in 2 3; do
            wait_http "http://127.0.0.1:7${n}71/healthz" "control-$n"
            ctl cluster add-node "$n" "127.0.0.1:7${n}71" >/dev/null
        done
        ctl region create tokyo >/dev/null
        ctl region create osaka >/dev/null
    fi
    while read -r id region port admin; do
        launch "edge-$id" "$EDGE" --control-plane "$EDGE_ENDPOINTS" --region "$region" \
            --node-id "$id" --ca-file "$DIR/ca/ca.pem" --edge-token-file "$DIR/admin.token" \
            --listen "127.0.0.1:$port" --admin-listen "127.0.0.1:$admin"
    done <<<"$EDGES"
    while read -r id _ _ admin; do
        wait_http "http://127.0.0.1:$admin/healthz" "edge $id"
    done <<<"$EDGES"
    echo "control plane: http://127.0.0.1:7171 (also :7271, :7371); metrics :7173/metrics (:7273, :7373); token: $DIR/admin.token"
    echo "edges: tokyo 127.0.0.1:3128 127.0.0.1:3129, osaka 127.0.0.1:3138 127.0.0.1:3139"
    echo "try:   export BREAKOUT_TOKEN=\$(cat $DIR/admin.token) BREAKOUT_SERVER=http://127.0.0.1:7171"
    echo "       $CTL tenant create acme --region tokyo --source-cidr 127.0.0.1/32 --session-limit 100 --default-action direct"
    echo "       $CTL tenant attributes acme --private-backbone true"
    echo "       $CTL contract add acme list-template --item microsoft365"
    echo "       $CTL contract add acme cloud-bypass --capacity 20000   # now in service (art. 6-1)"
    echo "       $CTL edge list; $CTL sessions"
}

stop() {
    for f in "$DIR"/pids/*.pid; do
        [[ -e $f ]] || continue
        local pid; pid=$(cat "$f")
        kill -TERM "$pid" 2>/dev/null || true
        rm -f "$f"
    done
    echo "stopped (state kept in $DIR)"
}

status() {
    for f in "$DIR"/pids/*.pid; do
        [[ -e $f ]] || continue
        local name; name=$(basename "$f" .pid)
        if alive "$name"; then echo "$name: running (pid $(cat "$f"))"; else echo "$name: dead"; fi
    done
    ctl cluster status || true
    ctl edge list || true
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
