#!/usr/bin/env bash
# Proves the image is real without a Docker engine or a registry (CI, .ci/k8s.sh): builds the
# root filesystem with deploy/image/build.sh (what the Dockerfile's build stage runs), builds the
# Dockerfile's runtime stage with podman from it (`--build-context build=…`: the rust base image
# is never pulled), then runs every binary from the image's own files (`podman image mount`,
# copied out, `chroot` as user 65532): `--version`, and a short real start of a control plane,
# an edge fed by it, and breakoutctl talking to it. `podman run` does not work on these
# machines (cgroups), chroot does.
#
# usage: deploy/image/ci-check.sh [PROFILE]   (default dev: CI needs the files, not the speed)
set -euo pipefail
cd "$(dirname "$0")/../.."
profile=${1:-dev}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
image=localhost/breakout:$version
work=$(mktemp -d /tmp/breakout-image.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  podman image unmount "$image" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT
fail() { echo "image check: $*" >&2; exit 1; }

commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
# No debug info in CI's debug build: a third less to compile and link, same code.
BREAKOUT_COMMIT=$commit CARGO_PROFILE_DEV_DEBUG=0 bash deploy/image/build.sh "$work/ctx/out" "$profile"
mkdir -p "$work/empty"
podman build -q --build-context "build=$work/ctx" --build-arg "VERSION=$version" \
  --build-arg "BREAKOUT_COMMIT=$commit" -f deploy/image/Dockerfile -t "$image" "$work/empty" >/dev/null

user=$(podman image inspect "$image" --format '{{.Config.User}}')
[[ $user =~ ^[1-9][0-9]*:[1-9][0-9]*$ ]] || fail "the image's user is '$user', not a numeric non-root uid:gid"
label=$(podman image inspect "$image" --format '{{index .Labels "org.opencontainers.image.version"}}')
[ "$label" = "$version" ] || fail "org.opencontainers.image.version is '$label', not $version"

root=$work/root
mkdir -p "$root"
cp -a "$(podman image mount "$image")/." "$root/"
podman image unmount "$image" >/dev/null
for sh in bin/sh bin/bash usr/bin/sh; do
  [ ! -e "$root/$sh" ] || fail "the image has a shell: /$sh"
done
[ "$(stat -c %u "$root/var/lib/breakout")" = "${user%%:*}" ] || fail "/var/lib/breakout is not the image user's"
# What every container runtime puts into a container: the device nodes (random numbers come
# from /dev/urandom when the static binary cannot call getrandom(2) through libc).
mkdir -p "$root/dev"
mknod -m 666 "$root/dev/null" c 1 3
mknod -m 666 "$root/dev/urandom" c 1 9
mknod -m 666 "$root/dev/random" c 1 8
# …and /etc/hosts (Kubernetes mounts it, with /etc/resolv.conf): names are used below, so the
# binaries must resolve without glibc's resolver, which cannot load in a static binary.
printf '127.0.0.1 localhost\n' >"$root/etc/hosts"

# Each binary runs from the image alone (no libc there: static or it fails), as the image user.
run() { chroot --userspec="$user" "$root" "$@"; }
for b in breakout-control breakoutctl breakout-edge; do
  out=$(run "/usr/local/bin/$b" --version) || fail "$b --version failed"
  [[ $out == *"$version"* ]] || fail "$b --version printed '$out'"
  echo "image check: $out"
done

# A short real start: control plane, breakoutctl against it, an edge fed by it over QUIC.
data=/var/lib/breakout
# Started with chroot itself (not through a shell function) so that $! is the binary's pid.
chroot --userspec="$user" "$root" /usr/local/bin/breakout-control --data-dir "$data/cp" --api-listen 127.0.0.1:0 \
  --raft-listen 127.0.0.1:0 --edge-listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 \
  --addr-file "$data/cp.addrs.json" >"$work/cp.log" 2>&1 &
pids+=($!)
wait_file() {
  for _ in $(seq 1 300); do [ -s "$1" ] && return 0; sleep 0.1; done
  fail "$2 (see $3): $(tail -5 "$3")"
}
wait_file "$root$data/cp.addrs.json" "the control plane did not start" "$work/cp.log"
addr() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }
api=$(addr "$root$data/cp.addrs.json" api)
edge_ep=$(addr "$root$data/cp.addrs.json" edge)
metrics=$(addr "$root$data/cp.addrs.json" metrics)
for _ in $(seq 1 100); do curl -sf "http://$api/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "http://$api/readyz" >/dev/null || fail "the control plane never became ready"
ctl() { run /usr/local/bin/breakoutctl --server "http://localhost:${api##*:}" --token-file "$data/cp/admin.token" "$@"; }
ctl region create lab >/dev/null || fail "breakoutctl region create failed"
# Outputs are read whole before they are searched: `cmd | grep -q` under pipefail fails when
# grep exits at its match while cmd is still writing (SIGPIPE), as /metrics did once.
regions=$(ctl region list) || fail "breakoutctl region list failed"
grep -q lab <<<"$regions" || fail "breakoutctl region list does not show the region"

chroot --userspec="$user" "$root" /usr/local/bin/breakout-edge --control-plane "localhost:${edge_ep##*:}" --region lab --node-id image-check \
  --ca-file "$data/cp/edge-tls/ca.pem" --edge-token-file "$data/cp/admin.token" \
  --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --addr-file "$data/edge.addrs.json" \
  >"$work/edge.log" 2>&1 &
pids+=($!)
wait_file "$root$data/edge.addrs.json" "the edge did not start" "$work/edge.log"
admin=$(addr "$root$data/edge.addrs.json" admin)
for _ in $(seq 1 100); do curl -sf "http://$admin/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "http://$admin/readyz" >/dev/null || fail "the edge never got its configuration: $(tail -5 "$work/edge.log")"
edges=$(ctl edge list) || fail "breakoutctl edge list failed"
grep -q image-check <<<"$edges" || fail "the control plane does not list the edge"
scrape=$(curl -sf "http://$metrics/metrics") || fail "the control plane's /metrics did not answer"
grep -qF "breakout_build_info{commit=\"$commit\",version=\"$version\"} 1" <<<"$scrape" \
  || fail "breakout_build_info does not name this build: $(grep build_info <<<"$scrape")"

# The edge first (it drains), then the control plane.
names=(control-plane edge)
for i in 1 0; do
  kill -TERM "${pids[$i]}"
  status=0
  wait "${pids[$i]}" || status=$?
  [ "$status" = 0 ] || fail "the ${names[$i]} exited with $status on SIGTERM: $(tail -3 "$work/${names[$i]/control-plane/cp}.log")"
done
pids=()
echo "image check: $image ($(du -sh "$root" | cut -f1)) runs as $user: control plane, breakoutctl and edge started from the image's files"
