#!/usr/bin/env bash
# What the console's browser test (tests/tests/console_chromium.rs, run by `cargo test
# --workspace`) needs: headless Chromium, its WebDriver (chromedriver) and a Japanese font for
# the Japanese pages' screenshots. Called by .ci/run before the tests. Screenshots land in
# $CARGO_TARGET_DIR/console-screenshots (or target/console-screenshots).
set -euo pipefail
packages=(chromium chromium-driver fonts-ipafont-gothic)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
