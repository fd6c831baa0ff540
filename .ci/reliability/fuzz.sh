#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for FUZZ_SECONDS each (FUZZ_JOBS at a time, 3 by
# default: the nine targets in three rounds), from a corpus seeded with fuzz/seeds/<target>/
# and the real fixtures (tests/fixtures/, deploy/lists/, deploy/examples/). A crash fails the
# run; its input is copied to fuzz/regressions/<target>/, which `cargo test` replays
# (tests/tests/fuzz_regressions.rs) once the defect is fixed.
# Figures (executions per target) go to $RELIABILITY_REPORT when set.
set -euo pipefail
cd "$(dirname "$0")/../.."

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_JOBS=${FUZZ_JOBS:-3}
CORPUS=${FUZZ_CORPUS:-fuzz/corpus}
ARTIFACTS=fuzz/artifacts
TARGETS=$(cd fuzz/fuzz_targets && ls *.rs | sed 's/\.rs$//')

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz: the nightly toolchain is needed (libFuzzer): rustup toolchain install nightly" >&2
  exit 1
fi
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked --version 0.13.2

# Copies SRC into the corpus as DEST unless it is there already (a corpus grows across runs).
seed() {
  [ -e "$2" ] || cp "$1" "$2"
}
# Seeds, then the real fixtures where a target reads that kind of file.
for t in $TARGETS; do
  mkdir -p "$CORPUS/$t" "$ARTIFACTS/$t"
  for f in fuzz/seeds/"$t"/*; do seed "$f" "$CORPUS/$t/$(basename "$f")"; done
done
for f in tests/fixtures/m365-*.json deploy/lists/m365-*.json; do
  seed "$f" "$CORPUS/m365_list/$(basename "$(dirname "$f")")-$(basename "$f")"
done
for f in deploy/examples/*.toml; do seed "$f" "$CORPUS/edge_config/$(basename "$f")"; done
for f in tests/fixtures/google-goog.json deploy/lists/google-goog.json deploy/lists/google-cloud.json; do
  seed "$f" "$CORPUS/google_list/$(basename "$(dirname "$f")")-$(basename "$f")"
done

# Built once (optimised, with debug assertions and overflow checks: cargo-fuzz's default unless
# told `--release`; no sanitizer: the fuzzed code is safe Rust, and libFuzzer's coverage
# guidance does not need one), then run.
# FUZZ_TARGET_DIR: where the nightly build goes (default: CARGO_TARGET_DIR, else fuzz/target).
FUZZ_TARGET_DIR=${FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:-fuzz/target}}
CARGO_TARGET_DIR=$FUZZ_TARGET_DIR cargo +nightly fuzz build --sanitizer none --debug-assertions --fuzz-dir fuzz
BIN_DIR=$(find "$FUZZ_TARGET_DIR" -path '*/release/request_head' -type f \
  -printf '%h\n' | head -1)

run_one() {
  local t=$1 log="$ARTIFACTS/$1.log"
  "$BIN_DIR/$t" "$CORPUS/$t" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 \
    -max_len=1048576 -timeout=20 -artifact_prefix="$ARTIFACTS/$t/" -print_final_stats=1 \
    >"$log" 2>&1
}

failed=()
running=()
for t in $TARGETS; do
  run_one "$t" & running+=("$!:$t")
  if [ ${#running[@]} -ge "$FUZZ_JOBS" ]; then
    entry=${running[0]}; running=("${running[@]:1}")
    wait "${entry%%:*}" || failed+=("${entry#*:}")
  fi
done
for entry in "${running[@]}"; do
  wait "${entry%%:*}" || failed+=("${entry#*:}")
done

total=0
summary=""
for t in $TARGETS; do
  runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$ARTIFACTS/$t.log" | grep -o '[0-9]*$' | tail -1)
  runs=${runs:-0}
  total=$((total + runs))
  summary="$summary\"$t\": $runs, "
  printf 'fuzz %-14s %12s executions in %ss\n' "$t" "$runs" "$FUZZ_SECONDS"
done
echo "fuzz: $total executions over $(echo $TARGETS | wc -w) targets"
if [ -n "${RELIABILITY_REPORT:-}" ]; then
  echo "{\"test\": \"fuzz\", \"figures\": {\"seconds_per_target\": $FUZZ_SECONDS, ${summary}\"total\": $total}}" >>"$RELIABILITY_REPORT"
fi

if [ ${#failed[@]} -gt 0 ]; then
  for t in "${failed[@]}"; do
    echo "fuzz: $t FAILED; its log: $ARTIFACTS/$t.log" >&2
    tail -40 "$ARTIFACTS/$t.log" >&2
    mkdir -p "fuzz/regressions/$t"
    cp "$ARTIFACTS/$t"/crash-* "$ARTIFACTS/$t"/timeout-* "$ARTIFACTS/$t"/oom-* \
      "fuzz/regressions/$t/" 2>/dev/null || true
  done
  echo "fuzz: crash inputs copied to fuzz/regressions/<target>/ (replayed by cargo test)" >&2
  exit 1
fi
