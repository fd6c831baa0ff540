#!/usr/bin/env bash
# Builds the image's root filesystem from this checkout: the three binaries (breakout-control,
# breakoutctl, breakout-edge) linked statically, the CA bundle for HTTPS to the vendors, a
# passwd/group naming the non-root user 65532, and the data directory.
#
# The Dockerfile's build stage runs exactly this, and so does CI (deploy/image/ci-check.sh)
# before it builds the runtime stage of the same Dockerfile with podman: one script, one
# Dockerfile, so what CI proves is what users build (see README.md here).
#
# usage: deploy/image/build.sh OUT [PROFILE]    (PROFILE: release (default) or dev)
# Writes OUT/rootfs/ (copied to / in the image) and OUT/data/ (/var/lib/breakout, owned by 65532).
set -euo pipefail
out=${1:?usage: build.sh OUT [PROFILE]}
profile=${2:-release}
cd "$(dirname "$0")/../.."

# glibc's static libc: no dynamic loader and no libc in the image. Names are resolved with
# hickory (glibc's NSS does not work statically), so nothing needs getaddrinfo.
target=$(rustc -vV | sed -n 's/^host: //p')
case $target in
  *-linux-gnu) ;;
  *) echo "build.sh: static builds are set up for *-linux-gnu hosts, not $target" >&2; exit 1 ;;
esac
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
  cargo build --locked --profile "$profile" --target "$target" \
  -p breakout-control -p breakout-edge --bins
case $profile in dev) dir=debug ;; *) dir=$profile ;; esac
bin=${CARGO_TARGET_DIR:-target}/$target/$dir

rm -rf "$out"
mkdir -p "$out/rootfs/usr/local/bin" "$out/rootfs/etc/ssl/certs" "$out/rootfs/tmp" "$out/data"
for b in breakout-control breakoutctl breakout-edge; do
  install -m 0755 "$bin/$b" "$out/rootfs/usr/local/bin/$b"
done
bundle=/etc/ssl/certs/ca-certificates.crt
[ -f "$bundle" ] || { echo "build.sh: $bundle missing (install ca-certificates)" >&2; exit 1; }
install -m 0644 "$bundle" "$out/rootfs/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/:/sbin/nologin\nbreakout:x:65532:65532:breakout:/var/lib/breakout:/sbin/nologin\n' \
  >"$out/rootfs/etc/passwd"
printf 'root:x:0:\nbreakout:x:65532:\n' >"$out/rootfs/etc/group"
chmod 1777 "$out/rootfs/tmp"
chmod 0700 "$out/data"
echo "build.sh: image root filesystem in $out ($profile, $target)"
