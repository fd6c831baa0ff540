#!/usr/bin/env bash
# Issue #16's reliability suite, the parts beyond `cargo test` (docs/reliability.md): the API
# against its own OpenAPI document (schemathesis, as a tenant and as the operator) and every
# cargo-fuzz target for FUZZ_SECONDS (60) each. The fault tests themselves (partitions, disk,
# edges, template sources, tenant isolation, abuse) are cargo tests: `cargo test --workspace`
# runs them. Long runs, one command:
#   FAULT_MINUTES=60 FUZZ_SECONDS=3600 bash .ci/reliability.sh
# also runs the partition and edge-cut tests again for FAULT_MINUTES each. Figures of the run
# are collected in $RELIABILITY_REPORT (default: target/reliability-report.jsonl).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
target_dir=${CARGO_TARGET_DIR:-target}
mkdir -p "$target_dir"
# .ci/run sets it before `cargo test`, so the fault tests' figures are in the same report.
if [ -z "${RELIABILITY_REPORT:-}" ]; then
  export RELIABILITY_REPORT=$target_dir/reliability-report.jsonl
  : >"$RELIABILITY_REPORT"
fi

# schemathesis from PyPI, pinned.
python3 -c 'import schemathesis' 2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check 'schemathesis==4.32.5'

# `--tests`: the features .ci/run builds with (it says why), so nothing is rebuilt there.
cargo build --workspace --bins --tests --locked --quiet
python3 .ci/reliability/api_conformance.py "$target_dir/debug"
bash .ci/reliability/fuzz.sh

if [ -n "${FAULT_MINUTES:-}" ]; then
  cargo test --locked --workspace --test faults_partition --test faults_edge_cut \
    --test faults_disk --test faults_edge --test faults_templates -- --test-threads 1
fi

echo "reliability: done in $(( $(date +%s) - started ))s; figures in $RELIABILITY_REPORT:"
cat "$RELIABILITY_REPORT"
